import { assert, describe, it } from "@effect/vitest"
import { SpeckitConfig } from "@speckit/core"
import { Effect } from "effect"

const fails = (input: unknown) => Effect.flip(SpeckitConfig.decode(input, "speckit.config.json"))

describe("SpeckitConfig", () => {
  it.effect("accepts the documented example", () =>
    Effect.gen(function* () {
      const config = yield* SpeckitConfig.decode(
        {
          agents: {
            alpha: { provider: "sim", model: "sim-large", latencyMs: 50, seed: 1 },
            claude: {
              provider: "exec",
              command: ["claude", "-p", "--output-format", "json"],
              format: "claude",
              model: "claude-sonnet-4-5",
              timeoutMs: 600000
            }
          },
          defaults: { agents: ["alpha", "claude"], quorum: "majority" },
          stages: { validate: { agents: ["alpha", "claude"], quorum: "all" } },
          budget: { usd: 2.0 }
        },
        "inline"
      )
      assert.strictEqual(SpeckitConfig.policyFor(config, "validate").quorum, "all")
      assert.strictEqual(SpeckitConfig.policyFor(config, "plan").quorum, "majority")
      assert.deepStrictEqual(SpeckitConfig.policyFor(config, "plan").agents.map(String), ["alpha", "claude"])
      assert.strictEqual(SpeckitConfig.policyFor(config, "plan").onConflict, "halt")
    })
  )

  it.effect("uses the simulated agents when none are configured", () =>
    Effect.gen(function* () {
      const config = yield* SpeckitConfig.decode({ defaults: { quorum: "all" } }, "inline")
      assert.deepStrictEqual(SpeckitConfig.policyFor(config, "audit").agents.map(String), ["alpha", "beta", "gamma"])
    })
  )

  const bad: ReadonlyArray<[string, unknown, string]> = [
    ["an unknown top-level key", { agnets: {} }, "agnets: unknown key"],
    ["an unknown key in an agent", { agents: { a: { provider: "sim", latency: 5 } } }, "agents.a.latency"],
    ["an unknown stage", { stages: { deploy: {} } }, "stages.deploy: unknown key"],
    ["an unknown agent in defaults", { defaults: { agents: ["ghost"] } }, `unknown agent "ghost"`],
    [
      "an unknown agent in a stage",
      { agents: { a: { provider: "sim" } }, stages: { validate: { agents: ["a", "b"] } } },
      `stages.validate.agents[1]: unknown agent "b"`
    ],
    ["a built-in provider with another's fields", { agents: { a: { provider: "sim", command: ["x"] } } }, "agents.a"],
    ["a quorum above the agent count", { agents: { a: { provider: "sim" } }, defaults: { quorum: 2 } }, "quorum"],
    ["a negative budget", { budget: { usd: -1 } }, "budget.usd"],
    ["an invalid agent id", { agents: { "Bad Name": { provider: "sim" } } }, "agent id"]
  ]
  for (const [name, input, mention] of bad) {
    it.effect(`rejects ${name}, saying where`, () =>
      Effect.gen(function* () {
        const error = yield* fails(input)
        assert.strictEqual(error._tag, "ConfigError")
        assert.include(error.message, mention)
        assert.notInclude(error.message, "\n")
      })
    )
  }
})

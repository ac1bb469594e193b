import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { AgentRegistry, AgentId, Providers, SpeckitConfig } from "@speckit/core"
import { Effect } from "effect"
import { AgentProviders } from "../src/index.ts"

const registryOf = (input: unknown) =>
  Effect.gen(function* () {
    const config = yield* SpeckitConfig.decode(input, SpeckitConfig.fileName)
    yield* Providers.validate(config, ".", { providers: AgentProviders.builtins })
    return yield* Effect.gen(function* () {
      return yield* AgentRegistry.AgentRegistry
    }).pipe(Effect.provide(AgentProviders.layer(config, ".")))
  }).pipe(Effect.provide(NodeServices.layer))

describe("AgentProviders", () => {
  it.effect("exec and openai register like any provider, after core's sim", () =>
    Effect.gen(function* () {
      const names = yield* Providers.registry(SpeckitConfig.defaultConfig, ".", {
        providers: AgentProviders.builtins
      }).pipe(
        Effect.map((providers) => [...providers.keys()]),
        Effect.provide(NodeServices.layer)
      )
      assert.deepStrictEqual(names, ["sim", "exec", "openai"])
    })
  )

  it.effect("builds an exec agent that edits files, and an openai agent that does not", () =>
    Effect.gen(function* () {
      const registry = yield* registryOf({
        agents: {
          cli: { provider: "exec", command: ["claude", "-p"], format: "claude", model: "claude-sonnet-4-5" },
          api: { provider: "openai", baseUrl: "http://127.0.0.1:9/v1", model: "gpt-test" }
        }
      })
      const cli = yield* registry.get(AgentId.make("cli"))
      const api = yield* registry.get(AgentId.make("api"))
      assert.strictEqual(cli.provider, "exec")
      assert.isTrue(cli.edits)
      assert.strictEqual(api.provider, "openai")
      assert.notStrictEqual(api.edits, true)
    })
  )

  it.effect("an agent's own keys are checked against its provider: unknown keys and bad values name the key", () =>
    Effect.gen(function* () {
      const message = (agent: unknown) =>
        Effect.map(Effect.flip(registryOf({ agents: { x: agent } })), (e) => e.message)
      assert.include(
        yield* message({ provider: "exec", command: ["x"], comand: ["y"] }),
        "agents.x.comand: unknown key"
      )
      assert.include(yield* message({ provider: "exec", command: [] }), "agents.x.command")
      assert.include(yield* message({ provider: "exec", command: ["x"], format: "json" }), "agents.x.format")
      assert.include(yield* message({ provider: "openai", model: "m" }), "agents.x.baseUrl")
      assert.include(yield* message({ provider: "sim", command: ["x"] }), "agents.x.command: unknown key")
    })
  )

  it.effect("an openai agent whose API key variable is not set", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        registryOf({
          agents: {
            gpt: {
              provider: "openai",
              baseUrl: "https://api.openai.com/v1",
              model: "gpt-5-mini",
              apiKeyEnv: "SPECKIT_TEST_UNSET_OPENAI_KEY"
            }
          }
        })
      )
      assert.include(error.message, "agents.gpt.apiKeyEnv")
      assert.include(error.message, "SPECKIT_TEST_UNSET_OPENAI_KEY is not set")
    })
  )
})

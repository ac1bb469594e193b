import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import {
  type Agent,
  AgentId,
  AgentRegistry,
  Provider,
  Providers,
  RunId,
  Spec,
  SpeckitConfig,
  Stage,
  StageResult
} from "../src/index.ts"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const echoPlugin = join(repoRoot, "examples", "echo-provider")
const fixtures = fileURLToPath(new URL("./fixtures/plugins/", import.meta.url))

const services = NodeServices.layer

/** A temporary workspace with the example plugin installed as a package and a canned answers file. */
const workspace = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = mkdtempSync(join(tmpdir(), "speckit-providers-"))
    mkdirSync(join(dir, "node_modules"))
    symlinkSync(echoPlugin, join(dir, "node_modules", "speckit-provider-echo"), "dir")
    writeFileSync(
      join(dir, "answers.json"),
      JSON.stringify({
        validate: {
          stage: "validate",
          summary: "canned: all checks pass",
          test_strategy: ["canned unit tests"],
          verdict: "pass"
        }
      })
    )
    return dir
  }),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const configOf = (input: unknown) => SpeckitConfig.decode(input, SpeckitConfig.fileName)

const requestFor = (agent: AgentId.AgentId, stage: Stage.Stage): Agent.AgentRequest => ({
  runId: Schema.decodeUnknownSync(RunId.RunId)("run-20250923-100000-abcd"),
  stage,
  agent,
  attempt: 1,
  prompt: `Answer the ${stage} stage.`,
  spec: {
    id: Schema.decodeUnknownSync(Spec.SpecId)("SPEC-1"),
    title: "Password reset",
    text: "# Password reset",
    directory: "/tmp/spec"
  },
  previous: "",
  idempotencyKey: `run-20250923-100000-abcd/${stage}/${agent}/1`
})

/** Builds the registry of a configuration through `Providers.layer`, as the CLI does. */
const registryOf = (input: unknown, root: string) =>
  Effect.gen(function* () {
    const config = yield* configOf(input)
    return yield* Effect.gen(function* () {
      return yield* AgentRegistry.AgentRegistry
    }).pipe(Effect.provide(Providers.layer(config, root)))
  }).pipe(Effect.provide(services))

const configErrorOf = (input: unknown, root: string) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(registryOf(input, root))
    assert.strictEqual(error._tag, "ConfigError")
    return error.message
  })

describe("Providers", () => {
  it.effect(
    "core registers sim; a host's providers register by name like any other, checked against their schema",
    () =>
      Effect.gen(function* () {
        const fake: Provider.ProviderDefinition = Provider.make({
          name: "fake",
          config: Schema.Struct({ level: Schema.Number }),
          make: (id) =>
            Effect.succeed({
              id,
              provider: "fake",
              model: "fake-1",
              call: () => Effect.die("not called")
            })
        })
        const names = yield* Providers.registry(SpeckitConfig.defaultConfig, repoRoot, { providers: [fake] }).pipe(
          Effect.map((providers) => [...providers.keys()])
        )
        assert.deepStrictEqual(names, ["sim", "fake"])
        assert.isTrue(Provider.isProviderDefinition(Providers.sim))
        assert.isTrue(Provider.isProviderDefinition(fake))
        assert.isFalse(Provider.isProviderDefinition({ name: "x" }))
        assert.isFalse(Provider.isProviderDefinition({ name: "", make: () => undefined }))
        assert.isFalse(Provider.isProviderDefinition(null))
        const check = (agent: unknown) =>
          Effect.flatMap(configOf({ agents: { x: agent } }), (config) =>
            Effect.flip(Providers.validate(config, repoRoot, { providers: [fake] }))
          )
        assert.include(
          (yield* check({ provider: "fake", level: 1, bogus: true })).message,
          "agents.x.bogus: unknown key"
        )
        assert.include((yield* check({ provider: "fake", level: "high" })).message, "agents.x.level")
        assert.include((yield* check({ provider: "fake" })).message, "agents.x.level")
        const ok = yield* Effect.flatMap(configOf({ agents: { x: { provider: "fake", level: 2 } } }), (config) =>
          Providers.validate(config, repoRoot, { providers: [fake] })
        )
        assert.isUndefined(ok)
      }).pipe(Effect.provide(services))
  )

  it.effect("loads the example plugin by package name from the workspace and calls its agent on every stage", () =>
    Effect.gen(function* () {
      const root = yield* workspace
      const registry = yield* registryOf(
        {
          plugins: ["speckit-provider-echo"],
          agents: {
            alpha: { provider: "sim", seed: 1, latencyMs: 0 },
            echo: { provider: "echo", model: "echo-test", options: { answers: "answers.json" } }
          }
        },
        root
      )
      assert.deepStrictEqual(registry.ids.map(String), ["alpha", "echo"])
      const echo = yield* registry.get(AgentId.make("echo"))
      assert.strictEqual(echo.provider, "echo")
      assert.strictEqual(echo.model, "echo-test")
      for (const stage of Stage.all) {
        const response = yield* echo.call(requestFor(echo.id, stage))
        assert.strictEqual(response.model, "echo-test")
        const result = yield* StageResult.parse(stage, echo.id, response.text)
        assert.strictEqual(result.stage, stage)
        if (stage === "validate") assert.strictEqual(result.summary, "canned: all checks pass")
      }
    })
  )

  it.effect("loads a plugin by path relative to the workspace (the README's configuration)", () =>
    Effect.gen(function* () {
      const registry = yield* registryOf(
        {
          plugins: ["./examples/echo-provider/index.js"],
          agents: { echo: { provider: "echo" } }
        },
        repoRoot
      )
      const echo = yield* registry.get(AgentId.make("echo"))
      const response = yield* echo.call(requestFor(echo.id, "plan"))
      const result = yield* StageResult.parse("plan", echo.id, response.text)
      assert.strictEqual(result.stage, "plan")
      assert.strictEqual(response.model, "echo-1")
    })
  )

  it.effect("named `providers` export: several providers; agents get their options", () =>
    Effect.gen(function* () {
      const root = yield* workspace
      const registry = yield* registryOf(
        {
          plugins: [relative(root, join(fixtures, "named.js"))],
          agents: {
            up: { provider: "upper", options: { shout: true } },
            down: { provider: "lower", model: "quiet-1" }
          }
        },
        root
      )
      const up = yield* registry.get(AgentId.make("up"))
      const down = yield* registry.get(AgentId.make("down"))
      const upAnswer = JSON.parse((yield* up.call(requestFor(up.id, "plan"))).text)
      assert.deepStrictEqual(upAnswer, { provider: "upper", stage: "plan", options: { shout: true } })
      assert.strictEqual(down.model, "quiet-1")
      assert.deepStrictEqual(JSON.parse((yield* down.call(requestFor(down.id, "tasks"))).text), {
        provider: "lower",
        stage: "tasks",
        options: {}
      })
    })
  )

  it.effect("a plugin agent's untyped failure becomes a typed AgentError", () =>
    Effect.gen(function* () {
      const registry = yield* registryOf(
        { plugins: [join(fixtures, "failing-call.js")], agents: { flaky: { provider: "flaky" } } },
        repoRoot
      )
      const flaky = yield* registry.get(AgentId.make("flaky"))
      const error = yield* Effect.flip(flaky.call(requestFor(flaky.id, "plan")))
      assert.strictEqual(error._tag, "AgentError")
      assert.strictEqual(error.kind, "ServerError")
      assert.include(error.detail, "socket closed by plugin")
    })
  )

  describe("failure messages", () => {
    it.effect("a plugin path that does not exist", () =>
      Effect.gen(function* () {
        const message = yield* configErrorOf(
          { plugins: ["./plugins/missing.js"], agents: { a: { provider: "sim" } } },
          repoRoot
        )
        assert.include(message, 'plugins[0]: plugin "./plugins/missing.js" cannot be loaded: no such file')
      })
    )

    it.effect("a package that is not installed", () =>
      Effect.gen(function* () {
        const root = yield* workspace
        const message = yield* configErrorOf(
          { plugins: ["speckit-provider-echo", "speckit-provider-not-installed"], agents: { a: { provider: "sim" } } },
          root
        )
        assert.include(
          message,
          'plugins[1]: plugin "speckit-provider-not-installed" cannot be loaded: the package is not installed'
        )
      })
    )

    it.effect("a module that throws while loading", () =>
      Effect.gen(function* () {
        const message = yield* configErrorOf(
          { plugins: [join(fixtures, "throws.js")], agents: { a: { provider: "sim" } } },
          repoRoot
        )
        assert.include(message, "cannot be loaded")
        assert.include(message, "boom while loading")
      })
    )

    it.effect("a module without a provider definition", () =>
      Effect.gen(function* () {
        const message = yield* configErrorOf(
          { plugins: [join(fixtures, "no-definition.js")], agents: { a: { provider: "sim" } } },
          repoRoot
        )
        assert.include(message, "no-definition.js")
        assert.include(message, "is not a provider plugin: it exports no provider definition")
      })
    )

    it.effect("a `providers` export holding something that is not a definition", () =>
      Effect.gen(function* () {
        const message = yield* configErrorOf(
          { plugins: [join(fixtures, "bad-providers.js")], agents: { a: { provider: "sim" } } },
          repoRoot
        )
        assert.include(message, "`providers[0]` export is not a provider definition")
      })
    )

    it.effect("a plugin that takes a built-in provider's name", () =>
      Effect.gen(function* () {
        const message = yield* configErrorOf(
          { plugins: [join(fixtures, "builtin-name.js")], agents: { a: { provider: "sim" } } },
          repoRoot
        )
        assert.include(message, 'defines provider "sim", which is already a built-in provider')
        assert.include(message, "plugins[0]")
      })
    )

    it.effect("an unknown provider names the known ones", () =>
      Effect.gen(function* () {
        const root = yield* workspace
        const withoutPlugins = yield* configErrorOf({ agents: { a: { provider: "echo" } } }, root)
        assert.include(withoutPlugins, 'agents.a.provider: unknown provider "echo" (known: sim;')
        const withPlugin = yield* configErrorOf(
          { plugins: ["speckit-provider-echo"], agents: { a: { provider: "nope" } } },
          root
        )
        assert.include(withPlugin, 'unknown provider "nope" (known: sim, echo;')
      })
    )

    it.effect("a provider that cannot build its agent names the agent and the provider", () =>
      Effect.gen(function* () {
        const root = yield* workspace
        const message = yield* configErrorOf(
          {
            plugins: ["speckit-provider-echo"],
            agents: { e: { provider: "echo", options: { answers: "missing-answers.json" } } }
          },
          root
        )
        assert.include(message, 'agents.e: provider "echo" cannot build the agent')
        assert.include(message, "missing-answers.json")
      })
    )
  })
})

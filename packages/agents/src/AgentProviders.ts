/**
 * This package's providers, registered with core's provider registry like any plugin: `exec` (an agent
 * CLI or any program as a subprocess, see `ExecAgent`) and `openai` (an OpenAI-compatible HTTP API, see
 * `OpenAiAgent`). `layer` is the agent registry of a configuration with them.
 *
 * @since 0.3.0
 */
import { Providers, type Provider, type SpeckitConfig } from "@speckit/core"
import { Effect, Layer, Path, Result, Schema } from "effect"
import { FetchHttpClient, type HttpClient } from "effect/http"
import type { ChildProcessSpawner } from "effect/process"
import * as AgentConfigs from "./AgentConfigs.ts"
import * as ExecAgent from "./ExecAgent.ts"
import * as OpenAiAgent from "./OpenAiAgent.ts"
import * as ProcessChecks from "./ProcessChecks.ts"

/** Decodes the provider's own keys of an agent (checked already when the configuration was loaded). */
const own = <A>(schema: Schema.Codec<A, unknown>, id: string, config: SpeckitConfig.AgentConfig) =>
  Effect.suspend(() => {
    const decoded = Schema.decodeUnknownResult(schema)(config)
    return Result.isSuccess(decoded)
      ? Effect.succeed(decoded.success)
      : Effect.fail(new Error(`agents.${id} is not a valid configuration: ${decoded.failure.message}`))
  })

/**
 * The subprocess provider (`exec`); relative `cwd`s resolve against the workspace.
 *
 * @example
 * ```ts
 * import { AgentProviders } from "@speckit/agents"
 *
 * AgentProviders.exec.name // "exec"
 * ```
 *
 * @since 0.3.0
 */
export const exec: Provider.ProviderDefinition<ChildProcessSpawner.ChildProcessSpawner> = {
  name: "exec",
  config: AgentConfigs.ExecConfig,
  preflight: (id, config, context) =>
    Effect.gen(function* () {
      const keys = yield* own(AgentConfigs.ExecConfig, id, config)
      const path = yield* Path.Path
      const cwd = path.resolve(context.workspace, keys.cwd ?? ".")
      const programs = [
        keys.command[0],
        ...(keys.stages?.implement === undefined ? [] : [keys.stages.implement.command[0]])
      ]
      for (const program of new Set(programs)) {
        if ((yield* ProcessChecks.findProgram(program, cwd)) === undefined) {
          return program.includes("/")
            ? `program "${program}" not found (no file ${path.resolve(cwd, program)})`
            : `program "${program}" not found on PATH (install it, or give its path in agents.${id}.command)`
        }
      }
      return undefined
    }).pipe(Effect.catch((error) => Effect.succeed(error.message))),
  make: (id, config, context) =>
    Effect.gen(function* () {
      const keys = yield* own(AgentConfigs.ExecConfig, id, config)
      const path = yield* Path.Path
      return yield* ExecAgent.make({
        id,
        command: keys.command,
        model: config.model,
        timeoutMs: config.timeoutMs,
        cwd: path.resolve(context.workspace, keys.cwd ?? "."),
        env: keys.env,
        format: keys.format,
        killGraceMs: keys.killGraceMs,
        stageCommands: keys.stages?.implement === undefined ? undefined : { implement: keys.stages.implement.command }
      })
    })
}

/**
 * The OpenAI-compatible provider (`openai`).
 *
 * @example
 * ```ts
 * import { AgentProviders } from "@speckit/agents"
 *
 * AgentProviders.openai.name // "openai"
 * ```
 *
 * @since 0.3.0
 */
export const openai: Provider.ProviderDefinition<HttpClient.HttpClient> = {
  name: "openai",
  config: AgentConfigs.OpenAiConfig,
  make: (id, config) =>
    Effect.flatMap(own(AgentConfigs.OpenAiConfig, id, config), (keys) =>
      OpenAiAgent.fromConfig(id, { ...keys, model: config.model, timeoutMs: config.timeoutMs })
    )
}

/**
 * This package's providers.
 *
 * @example
 * ```ts
 * import { AgentProviders } from "@speckit/agents"
 *
 * AgentProviders.builtins.map((provider) => provider.name) // ["exec", "openai"]
 * ```
 *
 * @since 0.3.0
 */
export const builtins: ReadonlyArray<
  Provider.ProviderDefinition<ChildProcessSpawner.ChildProcessSpawner | HttpClient.HttpClient>
> = [exec, openai]

/**
 * The agent registry of a configuration with this package's providers (and core's `sim`, and the
 * configuration's plugins), on the `HttpClient` in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { SpeckitConfig } from "@speckit/core"
 * import { AgentProviders } from "@speckit/agents"
 *
 * const layer = AgentProviders.layerUsingHttpClient(SpeckitConfig.defaultConfig, ".").pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.3.0
 */
export const layerUsingHttpClient = (config: SpeckitConfig.SpeckitConfig, workspace: string) =>
  Providers.layer(config, workspace, { providers: builtins })

/**
 * The agent registry of a configuration with this package's providers; HTTP providers use
 * `FetchHttpClient` (the runtime's `fetch`).
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { AgentProviders } from "@speckit/agents"
 *
 * const layer = AgentProviders.layer(SpeckitConfig.defaultConfig, ".")
 * ```
 *
 * @since 0.3.0
 */
export const layer = (config: SpeckitConfig.SpeckitConfig, workspace: string) =>
  layerUsingHttpClient(config, workspace).pipe(Layer.provide(FetchHttpClient.layer))

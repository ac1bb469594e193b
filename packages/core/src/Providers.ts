/**
 * The provider registry: core's `sim` provider, the providers the host registers (the CLI: `exec`
 * and `openai` from `@speckit/agents`) and those that `plugins` load, all provider definitions alike;
 * the check of every agent's configuration against its provider; and the layer that builds a run's
 * agents.
 *
 * A plugin is an ES module named in `plugins`: a path relative to the workspace (`./providers/echo.js`,
 * `../shared/echo/index.js`, or absolute) or a package name (`speckit-provider-echo`,
 * `@acme/speckit-providers/echo`) resolved from the workspace's `node_modules` (walking up, honouring
 * the package's `exports` with the `import`, `node` and `default` conditions, else `main`); a
 * package not found there is imported by name. It exports provider definitions as
 * {@link Provider} describes (`export default`, `export const provider` or `export const providers`),
 * checked when it is loaded.
 *
 * @since 0.1.0
 */
import { Cause, Effect, FileSystem, Layer, Path, Predicate, Result, Schema } from "effect"
import type * as Agent from "./Agent.ts"
import { AgentError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import { AgentRegistry } from "./AgentRegistry.ts"
import * as Provider from "./Provider.ts"
import * as SimAgent from "./SimAgent.ts"
import * as SpeckitConfig from "./SpeckitConfig.ts"
import { importPlugin } from "./internal/plugins.ts"

const configError = (reason: string) => new SpeckitConfig.ConfigError({ path: SpeckitConfig.fileName, reason })

const isSim = (agent: SpeckitConfig.AgentConfig): agent is typeof SpeckitConfig.SimAgentConfig.Type =>
  agent.provider === "sim"

/**
 * Core's simulated provider, the embedded default (its agents edit worktrees with the file system).
 *
 * @example
 * ```ts
 * import { Providers } from "@speckit/core"
 *
 * Providers.sim.name // "sim"
 * ```
 *
 * @since 0.1.0
 */
export const sim: Provider.ProviderDefinition = {
  name: "sim",
  make: (id, config) =>
    isSim(config)
      ? Effect.gen(function* () {
          const files = { fs: yield* FileSystem.FileSystem, path: yield* Path.Path }
          return SimAgent.make({
            id,
            model: config.model,
            latencyMs: config.latencyMs,
            seed: config.seed,
            flawRate: config.flawRate,
            files
          })
        })
      : Effect.fail(configError(`agents.${id}: not a valid "sim" agent configuration`))
}

/**
 * What a registry is made of besides `sim` and the plugins: the providers the host registers.
 *
 * @since 0.3.0
 */
export interface Options<R> {
  readonly providers?: ReadonlyArray<Provider.ProviderDefinition<R>> | undefined
}

const describe = (error: unknown): string => {
  if (error instanceof Error) {
    const inner = error.cause instanceof Error ? `: ${error.cause.message}` : ""
    return `${error.message}${inner}`
  }
  return String(error)
}

/**
 * Loads provider plugins (see the module). A plugin that cannot be loaded, exports no provider
 * definition, or defines a provider `taken` (by name) already is a configuration error naming it.
 * What a plugin's providers need is up to the host to provide (typed `R` on trust).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Providers } from "@speckit/core"
 *
 * const definitions = Providers.loadPlugins(["./providers/echo.js"], ".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const loadPlugins = <R = never>(
  plugins: ReadonlyArray<string>,
  workspace: string,
  taken: ReadonlyArray<string> = [sim.name]
): Effect.Effect<
  ReadonlyArray<Provider.ProviderDefinition<R>>,
  SpeckitConfig.ConfigError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    const owners = new Map<string, string>(taken.map((name) => [name, "a built-in provider"]))
    const loaded: Array<Provider.ProviderDefinition<R>> = []
    for (const [index, specifier] of plugins.entries()) {
      const fail = (why: string) => Effect.fail(configError(`plugins[${index}]: plugin "${specifier}" ${why}`))
      const imported = yield* importPlugin(specifier, root).pipe(Effect.result)
      if (Result.isFailure(imported)) return yield* fail(imported.failure)
      const definitions = definitionsOf<R>(imported.success)
      if (Predicate.isString(definitions)) return yield* fail(`is not a provider plugin: ${definitions}`)
      for (const definition of definitions) {
        const owner = owners.get(definition.name)
        if (owner !== undefined) {
          return yield* fail(`defines provider "${definition.name}", which is already ${owner}`)
        }
        owners.set(definition.name, `defined by plugin "${specifier}"`)
        loaded.push(definition)
      }
    }
    return loaded
  })

const definitionsOf = <R>(module: unknown): ReadonlyArray<Provider.ProviderDefinition<R>> | string => {
  if (!Predicate.isObject(module)) return "it is not a module"
  const found: Array<Provider.ProviderDefinition<R>> = []
  for (const key of ["default", "provider", "providers"]) {
    const value = module[key]
    if (value === undefined) continue
    const candidates: ReadonlyArray<unknown> = Array.isArray(value) ? value : [value]
    for (const [index, candidate] of candidates.entries()) {
      if (!Provider.isProviderDefinition<R>(candidate)) {
        const where = Array.isArray(value) ? `${key}[${index}]` : key
        return `its \`${where}\` export is not a provider definition ({ name: string, make: function })`
      }
      if (!found.includes(candidate)) found.push(candidate)
    }
  }
  return found.length > 0
    ? found
    : "it exports no provider definition (expected `export default { name, make }`, or a named `provider` or `providers` export)"
}

/**
 * The providers available to a configuration by name: `sim`, the host's, then its plugins'.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Providers, SpeckitConfig } from "@speckit/core"
 *
 * const names = Providers.registry(SpeckitConfig.defaultConfig, ".").pipe(
 *   Effect.map((providers) => [...providers.keys()]),
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
export const registry = <R = never>(
  config: SpeckitConfig.SpeckitConfig,
  workspace: string,
  options: Options<R> = {}
): Effect.Effect<
  ReadonlyMap<string, Provider.ProviderDefinition<R>>,
  SpeckitConfig.ConfigError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const hosted: ReadonlyArray<Provider.ProviderDefinition<R>> = [sim, ...(options.providers ?? [])]
    const names = hosted.map((provider) => provider.name)
    const twice = names.find((name, index) => names.indexOf(name) !== index)
    if (twice !== undefined) return yield* Effect.fail(configError(`provider "${twice}" is registered twice`))
    const plugins = config.plugins ?? []
    const loaded = plugins.length === 0 ? [] : yield* loadPlugins<R>(plugins, workspace, names)
    return new Map([...hosted, ...loaded].map((provider) => [provider.name, provider]))
  })

/** The keys of an agent's configuration that belong to its provider. */
const ownKeys = (agent: SpeckitConfig.AgentConfig): Record<string, unknown> =>
  Object.fromEntries(Object.entries(agent).filter(([key]) => !SpeckitConfig.commonAgentKeys.includes(key)))

/** An agent's `options` (plugin providers' keys), empty when it has none. */
const optionsOf = (agent: SpeckitConfig.AgentConfig): Readonly<Record<string, unknown>> =>
  "options" in agent && Predicate.isObject(agent.options) ? (agent.options as Record<string, unknown>) : {}

const PluginKeys = Schema.Struct({ options: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)) })

/**
 * Checks one agent's configuration against its provider: the provider exists, and the agent's own
 * keys match the provider's `config` schema (or, without one, are only `options`).
 */
const checkAgent = <R>(
  providers: ReadonlyMap<string, Provider.ProviderDefinition<R>>,
  name: string,
  agent: SpeckitConfig.AgentConfig
): string | undefined => {
  const provider = providers.get(agent.provider)
  if (provider === undefined) {
    const known = [...providers.keys()].join(", ")
    return `agents.${name}.provider: unknown provider "${agent.provider}" (known: ${known}; add the plugin that defines it to "plugins")`
  }
  if (isSim(agent)) return undefined
  const decoded = Schema.decodeUnknownResult(provider.config ?? PluginKeys)(ownKeys(agent), {
    onExcessProperty: "error"
  })
  return Result.isFailure(decoded) ? SpeckitConfig.describeIssue(decoded.failure.issue, `agents.${name}`) : undefined
}

/**
 * Checks every agent of a configuration against its provider (see `Provider.ProviderDefinition.config`),
 * before anything runs: an unknown provider or key is a configuration error naming `agents.<id>.<key>`.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Providers, SpeckitConfig } from "@speckit/core"
 *
 * const program = Providers.validate(SpeckitConfig.defaultConfig, ".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.3.0
 */
export const validate = <R = never>(
  config: SpeckitConfig.SpeckitConfig,
  workspace: string,
  options: Options<R> = {}
): Effect.Effect<void, SpeckitConfig.ConfigError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const providers = yield* registry(config, workspace, options)
    for (const [name, agent] of Object.entries(config.agents ?? {})) {
      const problem = checkAgent(providers, name, agent)
      if (problem !== undefined) return yield* Effect.fail(configError(problem))
    }
  })

/**
 * An agent a run would call cannot work here (its provider's `preflight` says why), found before
 * anything is spent.
 *
 * @example
 * ```ts
 * import { Providers } from "@speckit/core"
 *
 * new Providers.AgentUnavailable({ agent: "claude", provider: "exec", reason: 'program "claude" not found' }).message
 * // 'agent claude (exec): program "claude" not found'
 * ```
 *
 * @since 0.3.0
 */
export class AgentUnavailable extends Schema.TaggedError<AgentUnavailable>()("AgentUnavailable", {
  agent: Schema.String,
  provider: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `agent ${this.agent} (${this.provider}): ${this.reason}`
  }
}

/**
 * Runs the providers' `preflight` for the agents a run will call, in order, and fails with the first
 * problem: e.g. an exec agent whose program is on neither `PATH` nor the given path.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { AgentId, Providers, SpeckitConfig } from "@speckit/core"
 *
 * const program = Providers.preflight(SpeckitConfig.defaultConfig, ".", [AgentId.make("alpha")]).pipe(
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @since 0.3.0
 */
export const preflight = <R = never>(
  config: SpeckitConfig.SpeckitConfig,
  workspace: string,
  agents: ReadonlyArray<AgentId>,
  options: Options<R> = {}
): Effect.Effect<void, AgentUnavailable | SpeckitConfig.ConfigError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const providers = yield* registry(config, workspace, options)
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    for (const id of new Set(agents)) {
      const agent = config.agents?.[id]
      const provider = agent === undefined ? undefined : providers.get(agent.provider)
      if (agent === undefined || provider?.preflight === undefined) continue
      const reason = yield* provider.preflight(id, agent, { workspace: root, options: optionsOf(agent) })
      if (reason !== undefined) return yield* new AgentUnavailable({ agent: id, provider: agent.provider, reason })
    }
  })

/** Keeps an agent's failures typed: anything but an `AgentError` becomes a `ServerError`. */
const guardCall = (id: AgentId, provider: string, call: Agent.Agent["call"]): Agent.Agent["call"] => {
  // Made once per agent, not per call.
  const typed = (cause: Cause.Cause<AgentError>): Effect.Effect<never, AgentError> => {
    if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
    const error = Cause.squash(cause)
    return error instanceof AgentError
      ? Effect.fail(error)
      : Effect.fail(
          new AgentError({ agent: id, kind: "ServerError", detail: `provider "${provider}": ${describe(error)}` })
        )
  }
  return (request) =>
    Effect.catchCause(
      Effect.suspend(() => call(request)),
      typed
    )
}

const isAgentLike = (value: unknown): value is Agent.Agent =>
  Predicate.isObject(value) && Predicate.isFunction(value.call) && Predicate.isString(value.model)

/** Builds one agent with its provider; a failure is a configuration error naming both. */
const buildAgent = <R>(
  provider: Provider.ProviderDefinition<R>,
  name: string,
  agent: SpeckitConfig.AgentConfig,
  root: string
) =>
  Effect.gen(function* () {
    const id = name as AgentId
    const built = yield* Effect.suspend(() =>
      provider.make(id, agent, { workspace: root, options: optionsOf(agent) })
    ).pipe(
      Effect.catchCause((cause) => {
        if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
        const error = Cause.squash(cause)
        return Effect.fail(
          error instanceof SpeckitConfig.ConfigError
            ? error
            : configError(`agents.${name}: provider "${provider.name}" cannot build the agent: ${describe(error)}`)
        )
      })
    )
    if (!isAgentLike(built)) {
      return yield* Effect.fail(
        configError(`agents.${name}: provider "${provider.name}" returned no agent ({ model: string, call: function })`)
      )
    }
    // A literal, not a spread of `built`: every agent then has one shape (V8's first spreads make
    // another one), and the code that reads agents stays monomorphic.
    const agentOf: Agent.Agent = {
      id,
      provider: provider.name,
      model: built.model,
      edits: built.edits,
      call: guardCall(id, provider.name, built.call)
    }
    return agentOf
  })

/**
 * Builds the agents a configuration defines, each with the provider its `provider` names, after
 * checking every agent's configuration ({@link validate}).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Providers, SpeckitConfig } from "@speckit/core"
 *
 * const agents = Providers.agentsFrom(SpeckitConfig.defaultConfig, ".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const agentsFrom = <R = never>(
  config: SpeckitConfig.SpeckitConfig,
  workspace: string,
  options: Options<R> = {}
): Effect.Effect<ReadonlyArray<Agent.Agent>, SpeckitConfig.ConfigError, R | Provider.Services> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    const providers = yield* registry(config, root, options)
    const agents: Array<Agent.Agent> = []
    for (const [name, agent] of Object.entries(config.agents ?? {})) {
      const problem = checkAgent(providers, name, agent)
      if (problem !== undefined) return yield* Effect.fail(configError(problem))
      const provider = providers.get(agent.provider)
      if (provider !== undefined) agents.push(yield* buildAgent(provider, name, agent, root))
    }
    return agents
  })

/**
 * The agent registry of a configuration: its agents built with `sim`, the host's providers and its
 * plugins' (see {@link agentsFrom}).
 *
 * @example
 * ```ts
 * import { Providers, SpeckitConfig } from "@speckit/core"
 *
 * const layer = Providers.layer(SpeckitConfig.defaultConfig, ".")
 * ```
 *
 * @since 0.1.0
 */
export const layer = <R = never>(
  config: SpeckitConfig.SpeckitConfig,
  workspace: string,
  options: Options<R> = {}
): Layer.Layer<AgentRegistry, SpeckitConfig.ConfigError, R | Provider.Services> =>
  Layer.effect(AgentRegistry, Effect.map(agentsFrom(config, workspace, options), AgentRegistry.make))

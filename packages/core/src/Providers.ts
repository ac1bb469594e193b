/**
 * The provider registry: built-in providers (`sim`, `exec`, `openai`) and the providers that
 * `plugins` load, and the layer that builds a run's agents from its configuration.
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
import { Cause, Effect, FileSystem, Layer, Path, Predicate, Schema } from "effect"
import { FetchHttpClient, type HttpClient } from "effect/http"
import type * as Agent from "./Agent.ts"
import { AgentError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import { AgentRegistry } from "./AgentRegistry.ts"
import * as ExecAgent from "./ExecAgent.ts"
import * as OpenAiAgent from "./OpenAiAgent.ts"
import * as Provider from "./Provider.ts"
import * as SimAgent from "./SimAgent.ts"
import * as SpeckitConfig from "./SpeckitConfig.ts"

const configError = (reason: string) => new SpeckitConfig.ConfigError({ path: SpeckitConfig.fileName, reason })

const mismatch = (id: AgentId, provider: string) =>
  Effect.fail(configError(`agents.${id}: not a valid "${provider}" agent configuration`))

// The configuration schema gives built-in provider names only to their own config members.
const isSim = (agent: SpeckitConfig.AgentConfig): agent is typeof SpeckitConfig.SimAgentConfig.Type =>
  agent.provider === "sim"

const isExec = (agent: SpeckitConfig.AgentConfig): agent is typeof SpeckitConfig.ExecAgentConfig.Type =>
  agent.provider === "exec" && "command" in agent

const isOpenAi = (agent: SpeckitConfig.AgentConfig): agent is typeof SpeckitConfig.OpenAiAgentConfig.Type =>
  agent.provider === "openai" && "baseUrl" in agent

/**
 * The built-in simulated provider.
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
      : mismatch(id, "sim")
}

/**
 * The built-in subprocess provider; relative `cwd`s resolve against the workspace.
 *
 * @example
 * ```ts
 * import { Providers } from "@speckit/core"
 *
 * Providers.exec.name // "exec"
 * ```
 *
 * @since 0.1.0
 */
export const exec: Provider.ProviderDefinition = {
  name: "exec",
  make: (id, config, context) =>
    Effect.gen(function* () {
      if (!isExec(config)) return yield* mismatch(id, "exec")
      const path = yield* Path.Path
      return yield* ExecAgent.make({
        id,
        command: config.command,
        model: config.model,
        timeoutMs: config.timeoutMs,
        cwd: path.resolve(context.workspace, config.cwd ?? "."),
        env: config.env,
        format: config.format,
        killGraceMs: config.killGraceMs,
        stageCommands:
          config.stages?.implement === undefined ? undefined : { implement: config.stages.implement.command }
      })
    })
}

/**
 * The built-in OpenAI-compatible provider ({@link OpenAiAgent}).
 *
 * @example
 * ```ts
 * import { Providers } from "@speckit/core"
 *
 * Providers.openai.name // "openai"
 * ```
 *
 * @since 0.1.0
 */
export const openai: Provider.ProviderDefinition = {
  name: "openai",
  make: (id, config) => (isOpenAi(config) ? OpenAiAgent.fromConfig(id, config) : mismatch(id, "openai"))
}

/**
 * The built-in providers.
 *
 * @example
 * ```ts
 * import { Providers } from "@speckit/core"
 *
 * Providers.builtins.map((provider) => provider.name) // ["sim", "exec", "openai"]
 * ```
 *
 * @since 0.1.0
 */
export const builtins: ReadonlyArray<Provider.ProviderDefinition> = [sim, exec, openai]

// ---------------------------------------------------------------------------------------------
// Plugins
// ---------------------------------------------------------------------------------------------

const describe = (error: unknown): string => {
  if (error instanceof Error) {
    const inner = error.cause instanceof Error ? `: ${error.cause.message}` : ""
    return `${error.message}${inner}`
  }
  return String(error)
}

const isPathSpecifier = (specifier: string, path: Path.Path) =>
  specifier.startsWith("./") ||
  specifier.startsWith("../") ||
  specifier === "." ||
  specifier === ".." ||
  path.isAbsolute(specifier)

const PackageJson = Schema.Struct({
  main: Schema.optionalKey(Schema.String),
  exports: Schema.optionalKey(Schema.Unknown)
})

const conditions: ReadonlySet<string> = new Set(["import", "node", "default", "module-sync"])

/** Resolves an `exports` target (a string, an array or a conditions object) to a relative path. */
const exportTarget = (target: unknown): string | undefined => {
  if (Predicate.isString(target)) return target
  if (Array.isArray(target)) {
    for (const item of target) {
      const resolved = exportTarget(item)
      if (resolved !== undefined) return resolved
    }
    return undefined
  }
  if (Predicate.isObject(target)) {
    for (const [key, value] of Object.entries(target)) {
      if (conditions.has(key)) {
        const resolved = exportTarget(value)
        if (resolved !== undefined) return resolved
      }
    }
  }
  return undefined
}

/** The entry of a package for a subpath (`.` or `./sub`), per its `exports`, else `main`. */
const packageEntry = (json: typeof PackageJson.Type, subpath: string): string | undefined => {
  const exports = json.exports
  if (exports !== undefined) {
    const isSubpathMap =
      Predicate.isObject(exports) && !Array.isArray(exports) && Object.keys(exports).some((key) => key.startsWith("."))
    if (isSubpathMap) return exportTarget((exports as Record<string, unknown>)[subpath])
    return subpath === "." ? exportTarget(exports) : undefined
  }
  return subpath === "." ? (json.main ?? "index.js") : subpath
}

const splitPackage = (specifier: string): { readonly name: string; readonly subpath: string } | undefined => {
  const match = /^((?:@[^/\s]+\/)?[^/\s@][^/\s]*)(\/.*)?$/.exec(specifier)
  if (match?.[1] === undefined) return undefined
  return { name: match[1], subpath: match[2] === undefined ? "." : `.${match[2]}` }
}

/** Finds a package in `node_modules` from the workspace up; `undefined` when it is not installed there. */
const resolvePackage = (specifier: string, workspace: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const parts = splitPackage(specifier)
    if (parts === undefined) return undefined
    let directory = workspace
    for (;;) {
      const root = path.join(directory, "node_modules", parts.name)
      const manifest = path.join(root, "package.json")
      if (yield* fs.exists(manifest).pipe(Effect.orElseSucceed(() => false))) {
        const text = yield* fs.readFileString(manifest)
        const json = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(PackageJson))(text)
        const entry = packageEntry(json, parts.subpath)
        if (entry === undefined) {
          return yield* Effect.fail(new Error(`${manifest} exports no "${parts.subpath}" entry for ESM imports`))
        }
        return path.resolve(root, entry)
      }
      const parent = path.dirname(directory)
      if (parent === directory) return undefined
      directory = parent
    }
  })

const importModule = (specifier: string): Effect.Effect<unknown, unknown> =>
  Effect.tryPromise({ try: () => import(specifier) as Promise<unknown>, catch: (error) => error })

/** The provider definitions a plugin module exports, or why it exports none. */
const definitionsOf = (module: unknown): ReadonlyArray<Provider.ProviderDefinition> | string => {
  if (!Predicate.isObject(module)) return "it is not a module"
  const found: Array<Provider.ProviderDefinition> = []
  for (const key of ["default", "provider", "providers"]) {
    const value = module[key]
    if (value === undefined) continue
    const candidates: ReadonlyArray<unknown> = Array.isArray(value) ? value : [value]
    for (const [index, candidate] of candidates.entries()) {
      if (!Provider.isProviderDefinition(candidate)) {
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
 * Loads the plugins a configuration lists, in order, and checks that each exports at least one
 * provider definition whose name no built-in provider or earlier plugin has taken. Paths resolve
 * against the workspace; package names from the workspace's `node_modules`.
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
export const loadPlugins = (
  plugins: ReadonlyArray<string>,
  workspace: string
): Effect.Effect<
  ReadonlyArray<Provider.ProviderDefinition>,
  SpeckitConfig.ConfigError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    const owners = new Map<string, string>(builtins.map((provider) => [provider.name, "a built-in provider"]))
    const loaded: Array<Provider.ProviderDefinition> = []
    for (const [index, specifier] of plugins.entries()) {
      const fail = (why: string) => Effect.fail(configError(`plugins[${index}]: plugin "${specifier}" ${why}`))
      let target: string
      let bare = false
      if (specifier.startsWith("file:")) {
        target = specifier
      } else if (isPathSpecifier(specifier, path)) {
        const file = path.resolve(root, specifier)
        if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) {
          return yield* fail(`cannot be loaded: no such file ${file}`)
        }
        const url = yield* path.toFileUrl(file).pipe(Effect.orElseSucceed(() => undefined))
        if (url === undefined) return yield* fail(`is not a valid path (${file})`)
        target = url.href
      } else {
        const resolved = yield* resolvePackage(specifier, root).pipe(Effect.result)
        if (resolved._tag === "Failure") return yield* fail(`cannot be resolved: ${describe(resolved.failure)}`)
        if (resolved.success === undefined) {
          target = specifier
          bare = true
        } else {
          const url = yield* path.toFileUrl(resolved.success).pipe(Effect.orElseSucceed(() => undefined))
          if (url === undefined) return yield* fail(`resolves to an invalid path (${resolved.success})`)
          target = url.href
        }
      }
      const module = yield* importModule(target).pipe(Effect.result)
      if (module._tag === "Failure") {
        const error = module.failure
        const notFound =
          bare &&
          Predicate.isObject(error) &&
          error.code === "ERR_MODULE_NOT_FOUND" &&
          describe(error).includes(specifier)
        if (notFound) {
          return yield* fail(
            `cannot be loaded: the package is not installed (no node_modules/${splitPackage(specifier)?.name ?? specifier} in ${root} or a parent directory)`
          )
        }
        return yield* fail(`cannot be loaded${target === specifier ? "" : ` (${target})`}: ${describe(error)}`)
      }
      const definitions = definitionsOf(module.success)
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

/**
 * The providers available to a configuration by name: the built-ins, then its plugins' providers.
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
export const registry = (
  config: SpeckitConfig.SpeckitConfig,
  workspace: string
): Effect.Effect<
  ReadonlyMap<string, Provider.ProviderDefinition>,
  SpeckitConfig.ConfigError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const plugins = config.plugins ?? []
    const loaded = plugins.length === 0 ? [] : yield* loadPlugins(plugins, workspace)
    return new Map([...builtins, ...loaded].map((provider) => [provider.name, provider]))
  })

/** Keeps a plugin agent's failures typed: anything but an `AgentError` becomes a `ServerError`. */
const guardCall =
  (id: AgentId, provider: string, call: Agent.Agent["call"]): Agent.Agent["call"] =>
  (request) =>
    Effect.suspend(() => call(request)).pipe(
      Effect.catchCause((cause) => {
        if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
        const error = Cause.squash(cause)
        return error instanceof AgentError
          ? Effect.fail(error)
          : Effect.fail(
              new AgentError({ agent: id, kind: "ServerError", detail: `provider "${provider}": ${describe(error)}` })
            )
      })
    )

const isAgentLike = (value: unknown): value is Agent.Agent =>
  Predicate.isObject(value) && Predicate.isFunction(value.call) && Predicate.isString(value.model)

/**
 * Builds the agents a configuration defines, each with the provider its `provider` names. Unknown
 * providers, plugins that fail to load and providers that fail to build an agent are configuration
 * errors naming the agent, the plugin or the provider.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { Providers, SpeckitConfig } from "@speckit/core"
 *
 * const agents = Providers.agentsFrom(SpeckitConfig.defaultConfig, ".").pipe(
 *   Effect.provide(Layer.merge(NodeServices.layer, FetchHttpClient.layer))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const agentsFrom = (
  config: SpeckitConfig.SpeckitConfig,
  workspace: string
): Effect.Effect<ReadonlyArray<Agent.Agent>, SpeckitConfig.ConfigError, Provider.Services> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    const providers = yield* registry(config, root)
    const agents: Array<Agent.Agent> = []
    for (const [name, agentConfig] of Object.entries(config.agents ?? {})) {
      const id = name as AgentId
      const provider = providers.get(agentConfig.provider)
      if (provider === undefined) {
        const known = [...providers.keys()].join(", ")
        return yield* Effect.fail(
          configError(
            `agents.${name}.provider: unknown provider "${agentConfig.provider}" (known: ${known}; add the plugin that defines it to "plugins")`
          )
        )
      }
      const options = "options" in agentConfig && agentConfig.options !== undefined ? agentConfig.options : {}
      const built = yield* Effect.suspend(() => provider.make(id, agentConfig, { workspace: root, options })).pipe(
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
          configError(
            `agents.${name}: provider "${provider.name}" returned no agent ({ model: string, call: function })`
          )
        )
      }
      const isBuiltin = builtins.includes(provider)
      agents.push(
        isBuiltin
          ? built
          : { id, provider: provider.name, model: built.model, call: guardCall(id, provider.name, built.call) }
      )
    }
    return agents
  })

/**
 * The agent registry of a configuration, on the `HttpClient` in context (for the CLI or tests to
 * choose the HTTP client, e.g. the Node one).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { Providers, SpeckitConfig } from "@speckit/core"
 *
 * const layer = Providers.layerUsingHttpClient(SpeckitConfig.defaultConfig, ".").pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
export const layerUsingHttpClient = (
  config: SpeckitConfig.SpeckitConfig,
  workspace: string
): Layer.Layer<AgentRegistry, SpeckitConfig.ConfigError, Provider.Services> =>
  Layer.effect(AgentRegistry, Effect.map(agentsFrom(config, workspace), AgentRegistry.make))

/**
 * The agent registry of a configuration. HTTP providers use `FetchHttpClient` (the runtime's
 * `fetch`, in `effect/http`); use {@link layerUsingHttpClient} to supply another `HttpClient`.
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
export const layer = (
  config: SpeckitConfig.SpeckitConfig,
  workspace: string
): Layer.Layer<AgentRegistry, SpeckitConfig.ConfigError, Exclude<Provider.Services, HttpClient.HttpClient>> =>
  layerUsingHttpClient(config, workspace).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * Agent providers: a named recipe that turns one agent's configuration into an {@link Agent.Agent}.
 * Core defines `sim` (the embedded default); the host registers more (the CLI: `exec` and `openai` from
 * `@speckit/agents`), and plugins (the `plugins` of `speckit.config.json`) are ES modules that export
 * more of them. All are provider definitions alike.
 *
 * A plugin module exports its definitions in any of these ways (all that are present are used):
 *
 * - `export default { name, make }` (or a default export that is an array of definitions);
 * - `export const provider = { name, make }`;
 * - `export const providers = [{ name, make }, ...]`.
 *
 * @since 0.1.0
 */
import type { Effect, FileSystem, Path, Schema } from "effect"
import { Predicate } from "effect"
import type * as Agent from "./Agent.ts"
import type { AgentId } from "./AgentId.ts"
import type * as SpeckitConfig from "./SpeckitConfig.ts"

/**
 * The services every host provides to providers (a provider's own needs, e.g. a process spawner or an
 * HTTP client, are the `R` of its definition, provided by the host that registers it).
 *
 * @example
 * ```ts
 * import type { Provider } from "@speckit/core"
 *
 * type Needs = Provider.Services
 * ```
 *
 * @since 0.1.0
 */
export type Services = FileSystem.FileSystem | Path.Path

/**
 * What a provider gets besides the agent's id and configuration.
 *
 * @example
 * ```ts
 * import type { Provider } from "@speckit/core"
 *
 * const context: Provider.ProviderContext = { workspace: "/work/project", options: { answers: "answers.json" } }
 * ```
 *
 * @since 0.1.0
 */
export interface ProviderContext {
  /** The workspace directory, absolute: resolve the agent's relative paths against it. */
  readonly workspace: string
  /** The agent's `options` from the configuration (empty when it has none; built-in providers have none). */
  readonly options: Readonly<Record<string, unknown>>
}

/**
 * A provider definition: its `name` is the `provider` value agents use in the configuration, and
 * `make` builds one agent. A failure of `make` (any error or defect) is reported as a configuration
 * error naming the agent and the provider.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type Provider, TokenUsage } from "@speckit/core"
 *
 * const echo: Provider.ProviderDefinition = {
 *   name: "echo",
 *   make: (id, config) =>
 *     Effect.succeed({
 *       id,
 *       provider: "echo",
 *       model: config.model ?? "echo-1",
 *       call: (request) => Effect.succeed({ text: request.prompt, usage: TokenUsage.empty, model: "echo-1" })
 *     })
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface ProviderDefinition<R = never> {
  readonly name: string
  /**
   * The schema of this provider's own keys in `agents.<id>` (besides `provider`, `model`, `price`,
   * `timeoutMs`, `retry`, `breaker`), checked when the configuration is loaded: unknown keys are errors
   * naming `agents.<id>.<key>`. Without one, the provider's agents take `options` (passed as is).
   *
   * @since 0.3.0
   */
  readonly config?: Schema.Codec<unknown, unknown> | undefined
  /**
   * What the provider checks before a run spends anything, for each agent a run will call (e.g. that
   * an exec agent's program exists): a problem, in one line naming what is missing, or `undefined`.
   *
   * @since 0.3.0
   */
  readonly preflight?:
    | ((
        id: AgentId,
        config: SpeckitConfig.AgentConfig,
        context: ProviderContext
      ) => Effect.Effect<string | undefined, never, Services>)
    | undefined
  readonly make: (
    id: AgentId,
    config: SpeckitConfig.AgentConfig,
    context: ProviderContext
  ) => Effect.Effect<Agent.Agent, unknown, R | Services>
}

/**
 * Whether a value is a provider definition: an object with a non-empty string `name` (no
 * whitespace) and a `make` function. Plugins are checked with it when they are loaded.
 *
 * @example
 * ```ts
 * import { Provider } from "@speckit/core"
 *
 * Provider.isProviderDefinition({ name: "echo", make: () => undefined }) // true
 * Provider.isProviderDefinition({ name: "echo" }) // false
 * ```
 *
 * @since 0.1.0
 */
export const isProviderDefinition = <R = never>(value: unknown): value is ProviderDefinition<R> =>
  Predicate.isObject(value) &&
  Predicate.isString(value.name) &&
  /^\S+$/.test(value.name) &&
  Predicate.isFunction(value.make)

/**
 * Declares a provider definition with its types checked (an identity function).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Provider, TokenUsage } from "@speckit/core"
 *
 * export default Provider.make({
 *   name: "echo",
 *   make: (id) =>
 *     Effect.succeed({
 *       id,
 *       provider: "echo",
 *       model: "echo-1",
 *       call: (request) => Effect.succeed({ text: request.prompt, usage: TokenUsage.empty, model: "echo-1" })
 *     })
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = <R = never>(definition: ProviderDefinition<R>): ProviderDefinition<R> => definition

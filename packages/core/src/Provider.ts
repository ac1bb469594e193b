/**
 * Agent providers: a named recipe that turns one agent's configuration into an {@link Agent.Agent}.
 * The built-in providers (`sim`, `exec`, `openai`) are provider definitions like any other; plugins
 * (the `plugins` of `speckit.config.json`) are ES modules that export more of them.
 *
 * A plugin module exports its definitions in any of these ways (all that are present are used):
 *
 * - `export default { name, make }` (or a default export that is an array of definitions);
 * - `export const provider = { name, make }`;
 * - `export const providers = [{ name, make }, ...]`.
 *
 * @since 0.1.0
 */
import type { Effect, FileSystem, Path } from "effect"
import { Predicate } from "effect"
import type { HttpClient } from "effect/http"
import type { ChildProcessSpawner } from "effect/process"
import type * as Agent from "./Agent.ts"
import type { AgentId } from "./AgentId.ts"
import type * as SpeckitConfig from "./SpeckitConfig.ts"

/**
 * The services a provider's `make` may use: the host provides all of them.
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
export type Services =
  | HttpClient.HttpClient
  | ChildProcessSpawner.ChildProcessSpawner
  | FileSystem.FileSystem
  | Path.Path

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
export interface ProviderDefinition {
  readonly name: string
  readonly make: (
    id: AgentId,
    config: SpeckitConfig.AgentConfig,
    context: ProviderContext
  ) => Effect.Effect<Agent.Agent, unknown, Services>
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
export const isProviderDefinition = (value: unknown): value is ProviderDefinition =>
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
export const make = (definition: ProviderDefinition): ProviderDefinition => definition

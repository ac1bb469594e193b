/**
 * What the kernel knows of a model's limits: its context window and its output limit, from a
 * catalogue (`@speckit/telemetry` provides one from `tokenlens`). An agent's `contextWindow` and
 * `maxOutputTokens` in the configuration override it.
 *
 * @since 0.3.0
 */
import { Context } from "effect"

/**
 * A model's limits, in tokens; a limit the catalogue does not know is absent.
 *
 * @example
 * ```ts
 * import type { ModelLimits } from "@speckit/core"
 *
 * const limits: ModelLimits.Limits = { contextWindow: 272_000, maxOutputTokens: 128_000 }
 * ```
 *
 * @since 0.3.0
 */
export interface Limits {
  readonly contextWindow?: number | undefined
  readonly maxOutputTokens?: number | undefined
}

/**
 * A catalogue of models' limits.
 *
 * @example
 * ```ts
 * import type { ModelLimits } from "@speckit/core"
 *
 * const fixed: ModelLimits.Service = { source: "fixed", of: () => ({ contextWindow: 32_000 }) }
 * ```
 *
 * @since 0.3.0
 */
export interface Service {
  /** Where the limits come from, for reports. */
  readonly source: string
  readonly of: (model: string) => Limits
}

/**
 * The run's catalogue of model limits. The default knows none (then only an agent's configured
 * `contextWindow` guards its prompts).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ModelLimits } from "@speckit/core"
 *
 * const window = Effect.map(Effect.service(ModelLimits.ModelLimits), (limits) => limits.of("gpt-5-mini").contextWindow)
 * ```
 *
 * @since 0.3.0
 */
export const ModelLimits = Context.Reference<Service>("@speckit/core/ModelLimits", {
  defaultValue: () => ({ source: "none", of: () => ({}) })
})

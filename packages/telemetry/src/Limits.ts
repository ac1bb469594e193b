/**
 * Models' context windows and output limits from the `tokenlens` catalogue, as the kernel's
 * `ModelLimits` (the run's telemetry layer provides it). A model is looked up as configured (e.g.
 * `gpt-5-mini`, `openai/gpt-5-mini`); a model the catalogue does not know has no limits, and then only
 * an agent's configured `contextWindow` guards its prompts.
 *
 * @since 0.3.0
 */
import type { ModelLimits } from "@speckit/core"
import { getContext } from "tokenlens"

const known = new Map<string, ModelLimits.Limits>()

const positive = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined

/**
 * The limits `tokenlens` gives a model: its total (input and output) window and its output limit.
 *
 * @example
 * ```ts
 * import { Limits } from "@speckit/telemetry"
 *
 * Limits.of("gpt-5-mini").contextWindow // 272000 (tokenlens 1.3)
 * ```
 *
 * @since 0.3.0
 */
export const of = (model: string): ModelLimits.Limits => {
  const cached = known.get(model)
  if (cached !== undefined) return cached
  let limits: ModelLimits.Limits = {}
  try {
    const context = getContext({ modelId: model })
    const contextWindow = positive(context.totalMax) ?? positive(context.combinedMax)
    const maxOutputTokens = positive(context.outputMax)
    limits = {
      ...(contextWindow === undefined ? {} : { contextWindow }),
      ...(maxOutputTokens === undefined ? {} : { maxOutputTokens })
    }
  } catch {
    // an id the catalogue cannot parse: no limits known
  }
  known.set(model, limits)
  return limits
}

/**
 * The catalogue as the kernel's `ModelLimits` service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ModelLimits } from "@speckit/core"
 * import { Limits } from "@speckit/telemetry"
 *
 * const program = Effect.provideService(Effect.void, ModelLimits.ModelLimits, Limits.catalogue)
 * ```
 *
 * @since 0.3.0
 */
export const catalogue: ModelLimits.Service = { source: "tokenlens", of }

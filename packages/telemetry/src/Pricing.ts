/**
 * Model prices, in USD per million tokens, and the cost of a call's token usage.
 *
 * @since 0.1.0
 */
import type { SpeckitConfig, TokenUsage } from "@speckit/core"

/**
 * A model price.
 *
 * @since 0.1.0
 */
export type Price = SpeckitConfig.Price

/**
 * Declared prices of the built-in simulated models, so that demo runs show realistic costs.
 *
 * @since 0.1.0
 */
export const simulated: Readonly<Record<string, Price>> = {
  "sim-large": { inputPerMTok: 3, cachedInputPerMTok: 0.3, outputPerMTok: 15 },
  "sim-medium": { inputPerMTok: 1, cachedInputPerMTok: 0.1, outputPerMTok: 5 },
  "sim-small": { inputPerMTok: 0.25, cachedInputPerMTok: 0.025, outputPerMTok: 1.25 }
}

/**
 * The cost of a usage at a price. Cached input tokens are billed at the cached price (the input
 * price when none is given); reasoning tokens are part of output.
 *
 * @example
 * ```ts
 * import { TokenUsage } from "@speckit/core"
 * import { Pricing } from "@speckit/telemetry"
 *
 * Pricing.cost(TokenUsage.make({ input: 1_000_000, cachedInput: 500_000, output: 100_000 }), {
 *   inputPerMTok: 3, cachedInputPerMTok: 0.3, outputPerMTok: 15
 * }) // 1.5 + 0.15 + 1.5 = 3.15
 * ```
 *
 * @since 0.1.0
 */
export const cost = (usage: TokenUsage.TokenUsage, price: Price): number => {
  const cached = Math.min(usage.cachedInput, usage.input)
  const uncached = usage.input - cached
  return (
    (uncached * price.inputPerMTok +
      cached * (price.cachedInputPerMTok ?? price.inputPerMTok) +
      usage.output * price.outputPerMTok) /
    1_000_000
  )
}

/**
 * A price lookup: overrides first, then the simulated models.
 *
 * @example
 * ```ts
 * import { Pricing } from "@speckit/telemetry"
 *
 * const priceOf = Pricing.lookup({ "my-model": { inputPerMTok: 1, outputPerMTok: 2 } })
 * priceOf("sim-large")?.outputPerMTok // 15
 * ```
 *
 * @since 0.1.0
 */
export const lookup =
  (overrides: Readonly<Record<string, Price>> = {}) =>
  (model: string): Price | undefined =>
    overrides[model] ?? simulated[model]

/**
 * Model prices and the cost of a call's token usage. Prices come from a maintained catalogue
 * (`@pydantic/genai-prices`, with cached-input and tiered prices), overridden by `speckit.config.json`
 * (`pricing.models`, per-agent `price`); the built-in simulated models keep their declared prices. A
 * model with no known price is never guessed: {@link checkModels} refuses it before a run starts, unless
 * `pricing.allowUnpriced` is set, and reports then mark it `unpriced`.
 *
 * @since 0.1.0
 */
import type { calcPrice as CalcPrice, ModelPrice } from "@pydantic/genai-prices"
import { createRequire } from "node:module"
import type { SpeckitConfig, TokenUsage } from "@speckit/core"
import { Effect, Schema } from "effect"

/**
 * A model price, in USD per million tokens.
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
 * The cost of a usage at a flat price. Cached input tokens are billed at the cached price (the input
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
 * Where a price came from.
 *
 * @since 0.1.0
 */
export type Source = "agent" | "override" | "simulated" | "catalog"

/**
 * A resolved price: its source, the base per-million prices (for display) and the exact cost function
 * (catalogue prices may be tiered by prompt size).
 *
 * @since 0.1.0
 */
export interface Resolved {
  readonly model: string
  readonly source: Source
  readonly price: Price
  readonly cost: (usage: TokenUsage.TokenUsage) => number
}

/**
 * Prices models: `price(model, agent?)` is `undefined` for a model without a known price.
 *
 * @since 0.1.0
 */
export interface Pricer {
  readonly price: (model: string, agent?: string | undefined) => Resolved | undefined
}

const baseOf = (value: ModelPrice[string]): number | undefined =>
  typeof value === "number" ? value : value === undefined ? undefined : value.base

/** A per-million price at a prompt size: a tiered price applies its highest tier the prompt exceeds. */
const rateAt = (value: ModelPrice[string], inputTokens: number): number => {
  if (value === undefined) return 0
  if (typeof value === "number") return value
  let rate = value.base
  for (const tier of value.tiers) if (inputTokens > tier.start) rate = tier.price
  return rate
}

const catalogCache = new Map<string, Resolved | undefined>()

let calcPrice: typeof CalcPrice | undefined

/**
 * The catalogue's `calcPrice`, loaded (its CommonJS build, synchronously) when a model is first looked
 * up in it: a run of simulated models (priced here) never loads the catalogue.
 */
const catalogPrice: typeof CalcPrice = (...args) => {
  calcPrice ??= (createRequire(import.meta.url)("@pydantic/genai-prices") as { calcPrice: typeof CalcPrice }).calcPrice
  return calcPrice(...args)
}

/**
 * A model's price in the `@pydantic/genai-prices` catalogue (bundled data, no network), or
 * `undefined`. Usage maps to `input_tokens` (cached included), `cache_read_tokens` and `output_tokens`.
 *
 * @example
 * ```ts
 * import { Pricing } from "@speckit/telemetry"
 *
 * Pricing.catalog("gpt-4o")?.price.inputPerMTok // 2.5
 * ```
 *
 * @since 0.1.0
 */
export const catalog = (model: string): Resolved | undefined => {
  if (catalogCache.has(model)) return catalogCache.get(model)
  const found = catalogPrice({ input_tokens: 0, output_tokens: 0 }, model)
  const input = found ? baseOf(found.model_price.input_mtok) : undefined
  const output = found ? baseOf(found.model_price.output_mtok) : undefined
  const cached = found ? baseOf(found.model_price.cache_read_mtok) : undefined
  const resolved: Resolved | undefined =
    found && input !== undefined && output !== undefined
      ? {
          model,
          source: "catalog",
          price: {
            inputPerMTok: input,
            outputPerMTok: output,
            ...(cached === undefined ? {} : { cachedInputPerMTok: cached })
          },
          // the catalogue's prices for this model, resolved once (as `calcPrice` does), applied per call
          cost: (usage) => {
            const prices = found.model_price
            const cachedTokens = Math.min(usage.cachedInput, usage.input)
            const cachedRate = prices.cache_read_mtok === undefined ? prices.input_mtok : prices.cache_read_mtok
            return (
              ((usage.input - cachedTokens) * rateAt(prices.input_mtok, usage.input) +
                cachedTokens * rateAt(cachedRate, usage.input) +
                usage.output * rateAt(prices.output_mtok, usage.input)) /
              1_000_000
            )
          }
        }
      : undefined
  catalogCache.set(model, resolved)
  return resolved
}

const flat = (model: string, source: Source, price: Price): Resolved => ({
  model,
  source,
  price,
  cost: (usage) => cost(usage, price)
})

/**
 * Builds a pricer: the agent's own `price` first, then `pricing.models`, then the simulated models,
 * then the catalogue.
 *
 * @example
 * ```ts
 * import { Pricing } from "@speckit/telemetry"
 *
 * const pricer = Pricing.make({ models: { "my-model": { inputPerMTok: 1, outputPerMTok: 2 } } })
 * pricer.price("sim-large")?.price.outputPerMTok // 15
 * ```
 *
 * @since 0.1.0
 */
export const make = (
  options: {
    readonly models?: Readonly<Record<string, Price>> | undefined
    readonly agents?: Readonly<Record<string, Price>> | undefined
  } = {}
): Pricer => {
  const cache = new Map<string, Resolved | undefined>()
  return {
    price: (model, agent) => {
      const agentPrice = agent === undefined ? undefined : options.agents?.[agent]
      if (agentPrice) return flat(model, "agent", agentPrice)
      const key = model
      if (cache.has(key)) return cache.get(key)
      const override = options.models?.[model]
      const sim = simulated[model]
      const resolved = override
        ? flat(model, "override", override)
        : sim
          ? flat(model, "simulated", sim)
          : catalog(model)
      cache.set(key, resolved)
      return resolved
    }
  }
}

/**
 * The model an agent configuration bills under: its `model`, else the provider's default (`sim-large`
 * for simulated agents, the command for exec agents), else `undefined`.
 *
 * @example
 * ```ts
 * import { Pricing } from "@speckit/telemetry"
 *
 * Pricing.modelOf({ provider: "sim" }) // "sim-large"
 * ```
 *
 * @since 0.1.0
 */
export const modelOf = (agent: SpeckitConfig.AgentConfig): string | undefined => {
  if (agent.model !== undefined) return agent.model
  if (agent.provider === "sim") return "sim-large"
  // An exec agent without a model is billed under its program.
  const command = "command" in agent ? agent.command : undefined
  if (agent.provider === "exec" && Array.isArray(command) && typeof command[0] === "string") return command[0]
  return undefined
}

/**
 * The pricer of a configuration (`pricing.models` and every agent's `price`).
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { Pricing } from "@speckit/telemetry"
 *
 * const pricer = Pricing.fromConfig(SpeckitConfig.defaultConfig)
 * ```
 *
 * @since 0.1.0
 */
export const fromConfig = (config: SpeckitConfig.SpeckitConfig): Pricer => {
  const agents: Record<string, Price> = {}
  for (const [id, agent] of Object.entries(config.agents ?? {})) if (agent.price) agents[id] = agent.price
  return make({ models: config.pricing?.models, agents })
}

/**
 * An agent's model has no known price and `pricing.allowUnpriced` is not set.
 *
 * @since 0.1.0
 */
export class UnpricedModel extends Schema.TaggedError<UnpricedModel>()("UnpricedModel", {
  agent: Schema.String,
  model: Schema.String
}) {
  override get message() {
    return `agent "${this.agent}" uses model "${this.model}", which has no known price; add agents.${this.agent}.price or pricing.models["${this.model}"] to speckit.config.json (USD per million tokens), or set pricing.allowUnpriced to true to run it unpriced`
  }
}

/**
 * The outcome of {@link checkModels}: the agents that will run unpriced (each also a warning line).
 *
 * @since 0.1.0
 */
export interface ModelCheck {
  readonly unpriced: ReadonlyArray<{ readonly agent: string; readonly model: string }>
  readonly warnings: ReadonlyArray<string>
}

/**
 * The start-time price check. Every configured agent's model must have a price (the agent's own
 * `price`, `pricing.models`, a simulated model or the catalogue); otherwise it fails with
 * {@link UnpricedModel} naming the agent and model. There is no exception for exec agents without a
 * `model` (they bill under their command): a local program is declared free with a `price` of zeros.
 * Only `pricing.allowUnpriced` lets unpriced agents run, each with a warning and marked `unpriced` in
 * every report.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { Pricing } from "@speckit/telemetry"
 *
 * const check = Pricing.checkModels(SpeckitConfig.defaultConfig) // succeeds: sim models are priced
 * ```
 *
 * @since 0.1.0
 */
export const checkModels = (config: SpeckitConfig.SpeckitConfig): Effect.Effect<ModelCheck, UnpricedModel> =>
  Effect.suspend(() => {
    const pricer = fromConfig(config)
    const unpriced: Array<{ agent: string; model: string }> = []
    const warnings: Array<string> = []
    for (const [agent, agentConfig] of Object.entries(config.agents ?? {})) {
      const model = modelOf(agentConfig) ?? "(no model)"
      if (pricer.price(model, agent) !== undefined) continue
      if (!config.pricing?.allowUnpriced) return Effect.fail(new UnpricedModel({ agent, model }))
      unpriced.push({ agent, model })
      warnings.push(
        `agent "${agent}" (model "${model}") has no known price: its cost is reported as unpriced, not counted`
      )
    }
    return Effect.succeed({ unpriced, warnings })
  })

/**
 * A flat price lookup: overrides first, then the simulated models, then the catalogue's base prices.
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
    overrides[model] ?? simulated[model] ?? catalog(model)?.price

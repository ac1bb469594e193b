/**
 * Counting prompt tokens with `gpt-tokenizer` (the `o200k_base` encoding of current OpenAI models).
 * Other vendors' tokenizers differ by a few percent; estimates say so through their low–high range.
 * The tokenizer is loaded on the first count (its tables take about 70 MB and a tenth of a second),
 * and a run whose agents are all simulated never counts with it ({@link counterFor}).
 *
 * @since 0.1.0
 */
import { type SpeckitConfig, TokenCounter } from "@speckit/core"
import { createRequire } from "node:module"

interface Tokenizer {
  readonly countTokens: (text: string) => number
}

let tokenizer: Tokenizer | undefined

/** `gpt-tokenizer`, loaded (its CommonJS build, synchronously) on first use. */
const loaded = (): Tokenizer => {
  tokenizer ??= createRequire(import.meta.url)("gpt-tokenizer") as Tokenizer
  return tokenizer
}

const cache = new Map<string, number>()
const cacheLimit = 256

/**
 * The number of tokens in a text. Results are memoized for recent texts (prompts repeat per agent).
 *
 * @example
 * ```ts
 * import { Tokens } from "@speckit/telemetry"
 *
 * Tokens.count("Hello world") // 2
 * ```
 *
 * @since 0.1.0
 */
export const count = (text: string): number => {
  const known = cache.get(text)
  if (known !== undefined) return known
  const counted = loaded().countTokens(text)
  if (cache.size >= cacheLimit) {
    const oldest = cache.keys().next()
    if (!oldest.done) cache.delete(oldest.value)
  }
  cache.set(text, counted)
  return counted
}

/**
 * This tokenizer as the kernel's token counter: provide it as `TokenCounter.TokenCounter` (the run's
 * telemetry layer does) and prompts are counted with it, not estimated.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenCounter } from "@speckit/core"
 * import { Tokens } from "@speckit/telemetry"
 *
 * const program = Effect.provideService(Effect.void, TokenCounter.TokenCounter, Tokens.counter)
 * ```
 *
 * @since 0.3.0
 */
export const counter: TokenCounter.Service = { name: "o200k_base", count }

/**
 * The counter for a run's prompts: the kernel's estimate (`TokenCounter.estimate`) when every
 * configured agent is simulated (simulated agents report their usage with that estimate, and the
 * tokenizer is then never loaded), this tokenizer otherwise.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { Tokens } from "@speckit/telemetry"
 *
 * Tokens.counterFor(SpeckitConfig.defaultConfig).name // "chars/4": the default agents are simulated
 * ```
 *
 * @since 0.3.0
 */
export const counterFor = (config: SpeckitConfig.SpeckitConfig): TokenCounter.Service =>
  Object.values(config.agents ?? {}).every((agent) => agent.provider === "sim") ? TokenCounter.estimate : counter

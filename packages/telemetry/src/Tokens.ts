/**
 * Counting prompt tokens with `gpt-tokenizer` (the `o200k_base` encoding of current OpenAI models).
 * Other vendors' tokenizers differ by a few percent; estimates say so through their low–high range.
 *
 * @since 0.1.0
 */
import type { TokenCounter } from "@speckit/core"
import { countTokens } from "gpt-tokenizer"

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
  const counted = countTokens(text)
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

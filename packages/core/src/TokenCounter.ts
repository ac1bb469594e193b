/**
 * Counting a prompt's tokens before it is sent: for the context guard (does it fit the model's
 * window?) and for the cost of a call stopped in flight (its input is billed). The kernel's default
 * estimates four characters per token; `@speckit/telemetry` provides a real tokenizer.
 *
 * @since 0.3.0
 */
import { Context } from "effect"

/**
 * A token counter.
 *
 * @example
 * ```ts
 * import type { TokenCounter } from "@speckit/core"
 *
 * const words: TokenCounter.Service = { name: "words", count: (text) => text.split(/\s+/).length }
 * ```
 *
 * @since 0.3.0
 */
export interface Service {
  /** What counts (`chars/4`, `o200k_base`, ...), for reports. */
  readonly name: string
  /**
   * The number of tokens of `text`: never more than its UTF-8 byte length (true of byte-level BPE
   * tokenizers and of the estimate), so a prompt of at most `budget / 3` UTF-16 units fits a budget
   * of `budget` tokens without being counted.
   */
  readonly count: (text: string) => number
}

/**
 * The estimate the kernel uses without a tokenizer: one token per four characters, rounded up.
 *
 * @example
 * ```ts
 * import { TokenCounter } from "@speckit/core"
 *
 * TokenCounter.estimate.count("12345678") // 2
 * ```
 *
 * @since 0.3.0
 */
export const estimate: Service = { name: "chars/4", count: (text) => Math.ceil(text.length / 4) }

/**
 * The run's token counter (default {@link estimate}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenCounter } from "@speckit/core"
 *
 * const tokens = Effect.map(Effect.service(TokenCounter.TokenCounter), (counter) => counter.count("Hello world"))
 * ```
 *
 * @since 0.3.0
 */
export const TokenCounter = Context.Reference<Service>("@speckit/core/TokenCounter", { defaultValue: () => estimate })

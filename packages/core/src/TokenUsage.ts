/**
 * Token usage reported for one agent call or summed over many.
 *
 * `input` counts every prompt token, cached ones included; `cachedInput` is the part of `input` served
 * from a prompt cache. `output` counts every generated token, reasoning included; `reasoning` is the
 * part of `output` spent on reasoning.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Schema of token usage.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TokenUsage } from "@speckit/core"
 *
 * Schema.decodeUnknownSync(TokenUsage.TokenUsage)({ input: 10, cachedInput: 0, output: 5, reasoning: 0 })
 * ```
 *
 * @since 0.1.0
 */
export const TokenUsage = Schema.Struct({
  input: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  cachedInput: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  output: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  reasoning: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
})

/**
 * Token usage.
 *
 * @since 0.1.0
 */
export type TokenUsage = typeof TokenUsage.Type

/**
 * No tokens.
 *
 * @example
 * ```ts
 * import { TokenUsage } from "@speckit/core"
 *
 * TokenUsage.empty.input // 0
 * ```
 *
 * @since 0.1.0
 */
export const empty: TokenUsage = { input: 0, cachedInput: 0, output: 0, reasoning: 0 }

/**
 * Builds usage from partial counts, missing ones being zero.
 *
 * @example
 * ```ts
 * import { TokenUsage } from "@speckit/core"
 *
 * TokenUsage.make({ input: 120, output: 40 })
 * ```
 *
 * @since 0.1.0
 */
export const make = (counts: Partial<TokenUsage>): TokenUsage => ({ ...empty, ...counts })

/**
 * Adds two usages.
 *
 * @example
 * ```ts
 * import { TokenUsage } from "@speckit/core"
 *
 * TokenUsage.add(TokenUsage.make({ input: 1 }), TokenUsage.make({ output: 2 })) // { input: 1, output: 2, ... }
 * ```
 *
 * @since 0.1.0
 */
export const add = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  input: a.input + b.input,
  cachedInput: a.cachedInput + b.cachedInput,
  output: a.output + b.output,
  reasoning: a.reasoning + b.reasoning
})

/**
 * All tokens: input plus output.
 *
 * @example
 * ```ts
 * import { TokenUsage } from "@speckit/core"
 *
 * TokenUsage.total(TokenUsage.make({ input: 3, output: 4 })) // 7
 * ```
 *
 * @since 0.1.0
 */
export const total = (usage: TokenUsage): number => usage.input + usage.output

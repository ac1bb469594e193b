/**
 * The fault-specification grammar read from `SPEC_KIT_FAULTS`: which faults to inject, how often,
 * and into which agent or stage. `parse` and `print` are inverse: `parse(print(spec))` gives `spec`.
 *
 * ```text
 * spec   = "" | entry ("," entry)*
 * entry  = fault ":" count ["@" target]
 * fault  = agent_timeout | rate_limit | disconnect | server_error | auth_error
 *        | empty_response | malformed_response | consensus_fail | crash:<point>
 * count  = N    the next N matching attempts (a whole number >= 1)
 *        | P%   each matching attempt with probability P (0 to 100, decimals allowed)
 *        | *    every matching attempt
 * target = an agent id for attempt faults, a stage for consensus_fail; crash entries take none
 * point  = a lower-case name (letters, digits, "_", "-"), e.g. after_answer
 * ```
 *
 * Why one module of this size: it is the grammar above, its parser, its printer (the inverse) and
 * the error a bad spec gets, kept together so that `parse(print(spec))` can be read in one place.
 *
 * @since 0.1.0
 */
import { AgentId, Stage } from "@speckit/core"
import { Result, Schema } from "effect"

/**
 * The faults that make one agent attempt fail, by their names in the grammar.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.attemptKinds.includes("rate_limit") // true
 * ```
 *
 * @since 0.1.0
 */
export const attemptKinds = [
  "agent_timeout",
  "rate_limit",
  "disconnect",
  "server_error",
  "auth_error",
  "empty_response",
  "malformed_response"
] as const

/**
 * A fault that makes one agent attempt fail.
 *
 * @since 0.1.0
 */
export type AttemptKind = (typeof attemptKinds)[number]

/**
 * Whether `value` names an attempt fault.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.isAttemptKind("disconnect") // true
 * FaultSpec.isAttemptKind("crash") // false
 * ```
 *
 * @since 0.1.0
 */
export const isAttemptKind = (value: string): value is AttemptKind =>
  (attemptKinds as ReadonlyArray<string>).includes(value)

/**
 * How often an entry fires: the next `times` matching occasions, with a probability, or always.
 *
 * @since 0.1.0
 */
export type Count =
  | { readonly _tag: "Times"; readonly times: number }
  | { readonly _tag: "Percent"; readonly percent: number }
  | { readonly _tag: "Always" }

/**
 * One entry of a specification.
 *
 * - `Attempt`: an agent attempt fails with `kind`, for one agent or (without `agent`) any agent.
 * - `Consensus`: a stage's consensus fails, for one stage or (without `stage`) any stage.
 * - `Crash`: the process dies at the named crash point.
 *
 * @since 0.1.0
 */
export type FaultEntry =
  | {
      readonly _tag: "Attempt"
      readonly kind: AttemptKind
      readonly count: Count
      readonly agent?: AgentId.AgentId
    }
  | { readonly _tag: "Consensus"; readonly count: Count; readonly stage?: Stage.Stage }
  | { readonly _tag: "Crash"; readonly point: string; readonly count: Count }

/**
 * A parsed fault specification: its entries, in the order they are tried.
 *
 * @since 0.1.0
 */
export interface FaultSpec {
  readonly entries: ReadonlyArray<FaultEntry>
}

/**
 * The specification that injects nothing (the empty string).
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.print(FaultSpec.empty) // ""
 * ```
 *
 * @since 0.1.0
 */
export const empty: FaultSpec = { entries: [] }

/**
 * Builds a specification from entries.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * const spec = FaultSpec.make([FaultSpec.attempt("agent_timeout", FaultSpec.times(3))])
 * FaultSpec.print(spec) // "agent_timeout:3"
 * ```
 *
 * @since 0.1.0
 */
export const make = (entries: ReadonlyArray<FaultEntry>): FaultSpec => ({ entries })

/**
 * The count "the next `n` matching occasions".
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.times(3) // { _tag: "Times", times: 3 }
 * ```
 *
 * @since 0.1.0
 */
export const times = (n: number): Count => ({ _tag: "Times", times: n })

/**
 * The count "each matching occasion with probability `p` percent".
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.percent(20) // { _tag: "Percent", percent: 20 }
 * ```
 *
 * @since 0.1.0
 */
export const percent = (p: number): Count => ({ _tag: "Percent", percent: p })

/**
 * The count "every matching occasion" (`*`).
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.always // { _tag: "Always" }
 * ```
 *
 * @since 0.1.0
 */
export const always: Count = { _tag: "Always" }

/**
 * An attempt-fault entry, for one agent when `agent` is given.
 *
 * @example
 * ```ts
 * import { AgentId } from "@speckit/core"
 * import { FaultSpec } from "@speckit/faults"
 *
 * const entry = FaultSpec.attempt("rate_limit", FaultSpec.times(1), AgentId.make("gemini"))
 * FaultSpec.printEntry(entry) // "rate_limit:1@gemini"
 * ```
 *
 * @since 0.1.0
 */
export const attempt = (kind: AttemptKind, count: Count, agent?: AgentId.AgentId): FaultEntry =>
  agent === undefined ? { _tag: "Attempt", kind, count } : { _tag: "Attempt", kind, count, agent }

/**
 * A consensus-failure entry, for one stage when `stage` is given.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.printEntry(FaultSpec.consensus(FaultSpec.times(1), "audit")) // "consensus_fail:1@audit"
 * ```
 *
 * @since 0.1.0
 */
export const consensus = (count: Count, stage?: Stage.Stage): FaultEntry =>
  stage === undefined ? { _tag: "Consensus", count } : { _tag: "Consensus", count, stage }

/**
 * A crash entry for the named crash point.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.printEntry(FaultSpec.crash("after_answer", FaultSpec.times(1))) // "crash:after_answer:1"
 * ```
 *
 * @since 0.1.0
 */
export const crash = (point: string, count: Count): FaultEntry => ({ _tag: "Crash", point, count })

/**
 * The grammar, as included in every {@link FaultSpecError} message.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * console.log(FaultSpec.grammar)
 * ```
 *
 * @since 0.1.0
 */
export const grammar = [
  "SPEC_KIT_FAULTS grammar:",
  '  spec   = "" | entry ("," entry)*',
  '  entry  = fault ":" count ["@" target]',
  "  fault  = agent_timeout | rate_limit | disconnect | server_error | auth_error",
  "         | empty_response | malformed_response | consensus_fail | crash:<point>",
  "  count  = N (the next N matching attempts, N >= 1) | P% (probability, 0 to 100, decimals allowed)",
  "         | * (always)",
  "  target = an agent id (attempt faults) or a stage (consensus_fail); crash entries take none",
  '  point  = a lower-case name of letters, digits, "_" or "-", starting with a letter',
  "  example: agent_timeout:3,rate_limit:1@gemini,malformed_response:20%,crash:after_answer:1",
  "other variables: SPEC_KIT_FAULTS_AGENT (the @agent of entries without one), SPEC_KIT_FAULTS_SEED",
  "  (seed for P% counts), SPEC_KIT_FAULTS_RATE_LIMIT_RESET (epoch seconds, now+Ns or RFC 3339; default now+1s)"
].join("\n")

/**
 * An invalid specification (or an invalid related variable): names the variable, the bad entry
 * (its index from 0 and its text) and why, and quotes the grammar.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { FaultSpec } from "@speckit/faults"
 *
 * const parsed = FaultSpec.parse("agent_timeout:3,rate_limit:soon")
 * if (Result.isFailure(parsed)) {
 *   parsed.failure.index // 1
 *   parsed.failure.entry // "rate_limit:soon"
 * }
 * ```
 *
 * @since 0.1.0
 */
export class FaultSpecError extends Schema.TaggedError<FaultSpecError>()("FaultSpecError", {
  /** The environment variable the text came from. */
  source: Schema.String,
  /** The index (from 0) of the bad entry, when the text is a list of entries. */
  index: Schema.optionalKey(Schema.Number),
  /** The bad entry's text (trimmed). */
  entry: Schema.String,
  /** What is wrong with it. */
  reason: Schema.String
}) {
  override get message() {
    const where = this.index === undefined ? this.source : `${this.source} entry at index ${this.index}`
    return `invalid ${where} "${this.entry}": ${this.reason}\n${grammar}`
  }
}

const source = "SPEC_KIT_FAULTS"
const pointPattern = /^[a-z][a-z0-9_-]{0,63}$/
const timesPattern = /^\d+$/
const percentPattern = /^(\d+(?:\.\d+)?)%$/
const isAgentId = Schema.is(AgentId.AgentId)

/** Formats a number as a plain decimal (never in exponent notation), exactly as `Number` reads it back. */
const formatDecimal = (value: number): string => {
  const text = String(value)
  const exponentAt = text.search(/e/i)
  if (exponentAt < 0) return text
  const mantissa = text.slice(0, exponentAt)
  const exponent = Number(text.slice(exponentAt + 1))
  const pointAt = mantissa.indexOf(".")
  const digits = mantissa.replace(".", "")
  const position = (pointAt < 0 ? mantissa.length : pointAt) + exponent
  if (position <= 0) return `0.${"0".repeat(-position)}${digits}`
  if (position >= digits.length) return `${digits}${"0".repeat(position - digits.length)}`
  return `${digits.slice(0, position)}.${digits.slice(position)}`
}

/**
 * Prints a count: `N`, `P%` or `*`.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.printCount(FaultSpec.percent(12.5)) // "12.5%"
 * ```
 *
 * @since 0.1.0
 */
export const printCount = (count: Count): string => {
  switch (count._tag) {
    case "Times":
      return String(count.times)
    case "Percent":
      return `${formatDecimal(count.percent)}%`
    case "Always":
      return "*"
  }
}

/**
 * Prints one entry in the grammar.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.printEntry(FaultSpec.attempt("agent_timeout", FaultSpec.always)) // "agent_timeout:*"
 * ```
 *
 * @since 0.1.0
 */
export const printEntry = (entry: FaultEntry): string => {
  switch (entry._tag) {
    case "Attempt":
      return `${entry.kind}:${printCount(entry.count)}${entry.agent === undefined ? "" : `@${entry.agent}`}`
    case "Consensus":
      return `consensus_fail:${printCount(entry.count)}${entry.stage === undefined ? "" : `@${entry.stage}`}`
    case "Crash":
      return `crash:${entry.point}:${printCount(entry.count)}`
  }
}

/**
 * Prints a specification in the grammar, entries separated by `,`; the inverse of {@link parse}.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * const spec = FaultSpec.make([
 *   FaultSpec.attempt("agent_timeout", FaultSpec.times(3)),
 *   FaultSpec.attempt("malformed_response", FaultSpec.percent(20))
 * ])
 * FaultSpec.print(spec) // "agent_timeout:3,malformed_response:20%"
 * ```
 *
 * @since 0.1.0
 */
export const print = (spec: FaultSpec): string => spec.entries.map(printEntry).join(",")

const parseCount = (text: string): Result.Result<Count, string> => {
  if (text === "*") return Result.succeed(always)
  if (timesPattern.test(text)) {
    const n = Number(text)
    return n >= 1 && Number.isSafeInteger(n)
      ? Result.succeed(times(n))
      : Result.fail(`the count ${text} must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`)
  }
  const matched = percentPattern.exec(text)
  if (matched?.[1] !== undefined) {
    const p = Number(matched[1])
    return p <= 100 ? Result.succeed(percent(p)) : Result.fail(`the probability ${text} is above 100%`)
  }
  return Result.fail(
    `the count "${text}" is not N (a whole number >= 1), P% (a probability from 0 to 100) or * (always)`
  )
}

const parseEntry = (text: string): Result.Result<FaultEntry, string> => {
  if (text === "") return Result.fail("the entry is empty")
  const at = text.split("@")
  if (at.length > 2) return Result.fail('an entry has at most one "@target"')
  const head = at[0] ?? ""
  const target = at[1]
  if (target === "") return Result.fail('the "@target" is empty')
  const parts = head.split(":")
  const name = parts[0] ?? ""
  if (name === "crash") {
    const point = parts[1]
    const countText = parts[2]
    if (parts.length !== 3 || point === undefined || countText === undefined) {
      return Result.fail("a crash entry is crash:<point>:<count>, e.g. crash:after_answer:1")
    }
    if (!pointPattern.test(point)) {
      return Result.fail(
        `the crash point "${point}" is not a lower-case name of letters, digits, "_" or "-" starting with a letter`
      )
    }
    if (target !== undefined) return Result.fail('a crash entry takes no "@target"')
    return Result.map(parseCount(countText), (count) => crash(point, count))
  }
  if (name !== "consensus_fail" && !isAttemptKind(name)) {
    return Result.fail(
      `unknown fault "${name}" (expected one of ${[...attemptKinds, "consensus_fail", "crash:<point>"].join(", ")})`
    )
  }
  const countText = parts[1]
  if (countText === undefined) return Result.fail(`missing ":count" after "${name}"`)
  if (parts.length > 2) return Result.fail(`"${name}" takes one ":count" (${name}:<count>)`)
  return Result.flatMap(parseCount(countText), (count): Result.Result<FaultEntry, string> => {
    if (name === "consensus_fail") {
      if (target === undefined) return Result.succeed(consensus(count))
      return Stage.isStage(target)
        ? Result.succeed(consensus(count, target))
        : Result.fail(`the consensus_fail target "${target}" is not a stage (${Stage.all.join(", ")})`)
    }
    if (target === undefined) return Result.succeed(attempt(name, count))
    return isAgentId(target)
      ? Result.succeed(attempt(name, count, target))
      : Result.fail(
          `the target "${target}" is not an agent id (1-64 lower-case letters, digits, "-" or "_", starting with a letter)`
        )
  })
}

/**
 * Parses a specification. The empty (or blank) string is the empty specification; entries are
 * separated by `,` and trimmed. An invalid entry gives a {@link FaultSpecError} naming it.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { FaultSpec } from "@speckit/faults"
 *
 * const parsed = FaultSpec.parse("agent_timeout:3,rate_limit:1@gemini,malformed_response:20%")
 * Result.isSuccess(parsed) // true
 * ```
 *
 * @since 0.1.0
 */
export const parse = (text: string): Result.Result<FaultSpec, FaultSpecError> => {
  if (text.trim() === "") return Result.succeed(empty)
  const entries: Array<FaultEntry> = []
  for (const [index, raw] of text.split(",").entries()) {
    const entry = raw.trim()
    const parsed = parseEntry(entry)
    if (Result.isFailure(parsed)) {
      return Result.fail(new FaultSpecError({ source, index, entry, reason: parsed.failure }))
    }
    entries.push(parsed.success)
  }
  return Result.succeed({ entries })
}

/**
 * Parses a specification, throwing its {@link FaultSpecError} when invalid (for literals in code
 * and tests).
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * const spec = FaultSpec.parseSync("agent_timeout:3")
 * ```
 *
 * @since 0.1.0
 */
export const parseSync = (text: string): FaultSpec => {
  const parsed = parse(text)
  if (Result.isFailure(parsed)) throw parsed.failure
  return parsed.success
}

/**
 * Parses an agent id given as `SPEC_KIT_FAULTS_AGENT`.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * const agent = FaultSpec.parseAgent(" gemini ") // Result.succeed("gemini")
 * ```
 *
 * @since 0.1.0
 */
export const parseAgent = (text: string): Result.Result<AgentId.AgentId, FaultSpecError> => {
  const agent = text.trim()
  return isAgentId(agent)
    ? Result.succeed(agent)
    : Result.fail(
        new FaultSpecError({
          source: "SPEC_KIT_FAULTS_AGENT",
          entry: agent,
          reason: 'not an agent id (1-64 lower-case letters, digits, "-" or "_", starting with a letter)'
        })
      )
}

/**
 * Gives every attempt entry without an `@agent` the agent `agent` (what `SPEC_KIT_FAULTS_AGENT`
 * does). Consensus and crash entries are unchanged.
 *
 * @example
 * ```ts
 * import { AgentId } from "@speckit/core"
 * import { FaultSpec } from "@speckit/faults"
 *
 * const spec = FaultSpec.withDefaultAgent(FaultSpec.parseSync("agent_timeout:3"), AgentId.make("claude"))
 * FaultSpec.print(spec) // "agent_timeout:3@claude"
 * ```
 *
 * @since 0.1.0
 */
export const withDefaultAgent = (spec: FaultSpec, agent: AgentId.AgentId): FaultSpec => ({
  entries: spec.entries.map((entry) =>
    entry._tag === "Attempt" && entry.agent === undefined ? attempt(entry.kind, entry.count, agent) : entry
  )
})

/**
 * When an injected rate limit resets: a fixed instant, or a delay after the moment it is injected.
 *
 * @since 0.1.0
 */
export type RateLimitReset =
  | { readonly _tag: "At"; readonly epochMillis: number }
  | { readonly _tag: "After"; readonly millis: number }

/**
 * The default reset: one second after the rate limit is injected (`now+1s`).
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.printRateLimitReset(FaultSpec.defaultRateLimitReset) // "now+1s"
 * ```
 *
 * @since 0.1.0
 */
export const defaultRateLimitReset: RateLimitReset = { _tag: "After", millis: 1000 }

const secondsPattern = /^\d+(?:\.\d+)?$/
const afterPattern = /^now\+(\d+(?:\.\d+)?)s$/
const rfc3339Pattern = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/

/**
 * Parses `SPEC_KIT_FAULTS_RATE_LIMIT_RESET`: epoch seconds (`1767225600`, decimals allowed),
 * a delay after the injection (`now+30s`), or an RFC 3339 instant (`2026-01-01T00:00:00Z`).
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.parseRateLimitReset("now+30s") // Result.succeed({ _tag: "After", millis: 30000 })
 * ```
 *
 * @since 0.1.0
 */
export const parseRateLimitReset = (text: string): Result.Result<RateLimitReset, FaultSpecError> => {
  const value = text.trim()
  const after = afterPattern.exec(value)
  if (after?.[1] !== undefined) return Result.succeed({ _tag: "After", millis: Math.round(Number(after[1]) * 1000) })
  const instant = secondsPattern.test(value)
    ? Math.round(Number(value) * 1000)
    : rfc3339Pattern.test(value)
      ? Date.parse(value.replace(" ", "T"))
      : Number.NaN
  // Beyond ±8.64e15 ms a `Date` is invalid.
  if (Number.isFinite(instant) && Math.abs(instant) <= 8.64e15)
    return Result.succeed({ _tag: "At", epochMillis: instant })
  return Result.fail(
    new FaultSpecError({
      source: "SPEC_KIT_FAULTS_RATE_LIMIT_RESET",
      entry: value,
      reason: "expected epoch seconds (e.g. 1767225600), now+Ns (e.g. now+30s) or RFC 3339 (e.g. 2026-01-01T00:00:00Z)"
    })
  )
}

/**
 * Prints a reset as `now+Ns` or an ISO 8601 instant.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.printRateLimitReset({ _tag: "At", epochMillis: 0 }) // "1970-01-01T00:00:00.000Z"
 * ```
 *
 * @since 0.1.0
 */
export const printRateLimitReset = (reset: RateLimitReset): string =>
  reset._tag === "After" ? `now+${formatDecimal(reset.millis / 1000)}s` : new Date(reset.epochMillis).toISOString()

/**
 * The `resetAt` (epoch milliseconds) of a rate limit injected at `now`.
 *
 * @example
 * ```ts
 * import { FaultSpec } from "@speckit/faults"
 *
 * FaultSpec.resetAt(FaultSpec.defaultRateLimitReset, 5000) // 6000
 * ```
 *
 * @since 0.1.0
 */
export const resetAt = (reset: RateLimitReset, now: number): number =>
  reset._tag === "After" ? now + reset.millis : reset.epochMillis

/**
 * What came of asking one agent for a stage: its validated result, or why it failed. Outcomes are
 * schema-backed so they can be recorded and replayed (durable runs store them).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { AgentErrorKind } from "./AgentError.ts"
import { AgentId } from "./AgentId.ts"
import { StageResult } from "./StageResult.ts"
import { TokenUsage } from "./TokenUsage.ts"

/**
 * A failed attempt before the final one, and how long the call then waited before retrying.
 *
 * @since 0.1.0
 */
export const FailedAttempt = Schema.Struct({
  attempt: Schema.Int,
  kind: AgentErrorKind,
  detail: Schema.String,
  waitedMs: Schema.Number
})

/**
 * A failed attempt before the final one.
 *
 * @since 0.1.0
 */
export type FailedAttempt = typeof FailedAttempt.Type

const common = {
  agent: AgentId,
  model: Schema.String,
  attempts: Schema.Int,
  /** The attempts that failed before the last one (empty when the first attempt was the last). */
  history: Schema.Array(FailedAttempt),
  usage: TokenUsage,
  costUsd: Schema.Number,
  durationMs: Schema.Number
}

/**
 * An agent answered with a valid stage result.
 *
 * @since 0.1.0
 */
export const Succeeded = Schema.TaggedStruct("Succeeded", { ...common, result: StageResult })

/**
 * An agent answered with a valid stage result.
 *
 * @since 0.1.0
 */
export type Succeeded = typeof Succeeded.Type

/**
 * An agent did not produce a valid stage result.
 *
 * @since 0.1.0
 */
export const Failed = Schema.TaggedStruct("Failed", { ...common, kind: AgentErrorKind, detail: Schema.String })

/**
 * An agent did not produce a valid stage result.
 *
 * @since 0.1.0
 */
export type Failed = typeof Failed.Type

/**
 * Schema of the outcome of one agent in one stage.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { AgentOutcome } from "@speckit/core"
 *
 * const encode = Schema.encodeSync(AgentOutcome.AgentOutcome)
 * ```
 *
 * @since 0.1.0
 */
export const AgentOutcome = Schema.Union([Succeeded, Failed])

/**
 * The outcome of one agent in one stage.
 *
 * @since 0.1.0
 */
export type AgentOutcome = typeof AgentOutcome.Type

/**
 * Narrows to successful outcomes.
 *
 * @example
 * ```ts
 * import { AgentOutcome } from "@speckit/core"
 *
 * declare const outcomes: ReadonlyArray<AgentOutcome.AgentOutcome>
 * const ok = outcomes.filter(AgentOutcome.isSucceeded)
 * ```
 *
 * @since 0.1.0
 */
export const isSucceeded = (outcome: AgentOutcome): outcome is Succeeded => outcome._tag === "Succeeded"

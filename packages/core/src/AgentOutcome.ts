/**
 * What came of asking one agent for a stage: its validated result, or why it failed. Outcomes are
 * schema-backed so they can be recorded and replayed (durable runs store them).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { AgentErrorKind } from "./AgentError.ts"
import { AgentId } from "./AgentId.ts"
import { Candidate } from "./Candidate.ts"
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

/**
 * Where a call that handed a long wait over to its caller stands (see `Failed`'s `handOver`).
 *
 * @example
 * ```ts
 * import type { AgentOutcome } from "@speckit/core"
 *
 * const handOver: AgentOutcome.HandOver = { resumeAt: 1_700_000_060_000, delayMs: 60_000, startedAt: 1_700_000_000_000, retries: 1, malformed: 0 }
 * ```
 *
 * @since 0.2.0
 */
export const HandOver = Schema.Struct({
  /** When the next attempt is due (epoch ms). */
  resumeAt: Schema.Number,
  /** The wait before it. */
  delayMs: Schema.Number,
  /** When the call started (its `maxElapsedMs` counts from there). */
  startedAt: Schema.Number,
  /** Retries and malformed-answer retries used so far, this one included. */
  retries: Schema.Int,
  malformed: Schema.Int,
  repairNote: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.2.0
 */
export type HandOver = typeof HandOver.Type

const common = {
  agent: AgentId,
  model: Schema.String,
  attempts: Schema.Int,
  /** The attempts that failed before the last one (empty when the first attempt was the last). */
  history: Schema.Array(FailedAttempt),
  usage: TokenUsage,
  costUsd: Schema.Number,
  durationMs: Schema.Number,
  /**
   * In a stage that makes real changes: the agent's candidate (a rejected one on a `Rejected`
   * failure).
   *
   * @since 0.3.0
   */
  candidate: Schema.optionalKey(Candidate),
  /**
   * The part of `costUsd` that is an estimate: the input of an attempt stopped in flight (billed by
   * the provider although unanswered), priced from its counted prompt.
   *
   * @since 0.3.0
   */
  estimatedCostUsd: Schema.optionalKey(Schema.Number)
}

/**
 * An agent answered with a valid stage result.
 *
 * @since 0.1.0
 */
export const Succeeded = Schema.TaggedStruct("Succeeded", {
  ...common,
  /**
   * The repairs the reading of the answer applied (see `AnswerRepair`); absent when none.
   *
   * @since 0.3.0
   */
  repairs: Schema.optionalKey(Schema.Array(Schema.String)),
  result: StageResult
})

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
export const Failed = Schema.TaggedStruct("Failed", {
  ...common,
  kind: AgentErrorKind,
  detail: Schema.String,
  /**
   * Set when the call is not over: its next attempt is due at `resumeAt`, after a wait long enough
   * that the call handed it over to its caller (a durable run waits in a journaled step, so that a
   * restart neither forgets the wait nor calls the agent before its time). `AgentCall.call` with
   * `resume` goes on from here.
   *
   * @since 0.2.0
   */
  handOver: Schema.optionalKey(HandOver)
})

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

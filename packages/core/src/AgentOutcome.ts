/**
 * What came of asking one agent for a stage: its validated result, or why it failed.
 *
 * @since 0.1.0
 */
import type { AgentErrorKind } from "./AgentError.ts"

/**
 * A failed attempt before the final one, and how long the call then waited before retrying.
 *
 * @since 0.1.0
 */
export interface FailedAttempt {
  readonly attempt: number
  readonly kind: AgentErrorKind
  readonly detail: string
  readonly waitedMs: number
}
import type { AgentId } from "./AgentId.ts"
import type { StageResult } from "./StageResult.ts"
import type { TokenUsage } from "./TokenUsage.ts"

/**
 * An agent answered with a valid stage result.
 *
 * @since 0.1.0
 */
export interface Succeeded {
  readonly _tag: "Succeeded"
  readonly agent: AgentId
  readonly model: string
  readonly result: StageResult
  readonly attempts: number
  /** The attempts that failed before this one succeeded (empty when the first attempt did). */
  readonly history: ReadonlyArray<FailedAttempt>
  readonly usage: TokenUsage
  readonly costUsd: number
  readonly durationMs: number
}

/**
 * An agent did not produce a valid stage result.
 *
 * @since 0.1.0
 */
export interface Failed {
  readonly _tag: "Failed"
  readonly agent: AgentId
  readonly model: string
  readonly kind: AgentErrorKind
  readonly detail: string
  readonly attempts: number
  /** The attempts that failed before the last one. */
  readonly history: ReadonlyArray<FailedAttempt>
  readonly usage: TokenUsage
  readonly costUsd: number
  readonly durationMs: number
}

/**
 * The outcome of one agent in one stage.
 *
 * @example
 * ```ts
 * import { AgentOutcome } from "@speckit/core"
 *
 * const ok = (outcome: AgentOutcome.AgentOutcome) => outcome._tag === "Succeeded"
 * ```
 *
 * @since 0.1.0
 */
export type AgentOutcome = Succeeded | Failed

/**
 * Narrows to successful outcomes.
 *
 * @since 0.1.0
 */
export const isSucceeded = (outcome: AgentOutcome): outcome is Succeeded => outcome._tag === "Succeeded"

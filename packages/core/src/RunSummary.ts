/**
 * The summary of a run: what `--json` prints and `.speckit/runs/<run-id>/summary.json` holds.
 *
 * @since 0.1.0
 */
import type { AgentId } from "./AgentId.ts"
import type { StageStatus } from "./Consensus.ts"
import type { Breakdown } from "./SessionMetrics.ts"
import type { Stage } from "./Stage.ts"
import type { TokenUsage } from "./TokenUsage.ts"

/**
 * How a run ended.
 *
 * - `completed`: every stage ran and reached consensus (possibly degraded).
 * - `halted`: a stage failed its quorum or its agents disagreed; the run stopped there.
 * - `awaiting-review`: a stage's conflict paused the run for a human decision.
 * - `failed`: an unexpected error stopped the run.
 * - `cancelled`: the run was interrupted.
 *
 * @since 0.1.0
 */
export type RunStatus = "completed" | "halted" | "awaiting-review" | "failed" | "cancelled"

/**
 * One agent's part in a stage.
 *
 * @since 0.1.0
 */
export interface AgentSummary {
  readonly agent: AgentId
  readonly model: string
  /** `stopped`: interrupted by an early decision, once the stage's outcome could no longer change. */
  readonly status: "succeeded" | "failed" | "stopped"
  readonly attempts: number
  readonly durationMs: number
  readonly usage: TokenUsage
  readonly costUsd: number
  readonly error?: { readonly kind: string; readonly detail: string } | undefined
  /** Retries: the attempts that failed before the last one, with their waits. */
  readonly retries: ReadonlyArray<{
    readonly attempt: number
    readonly kind: string
    readonly detail: string
    readonly waitedMs: number
  }>
  readonly vote?: string | undefined
}

/**
 * One stage of a run.
 *
 * @since 0.1.0
 */
export interface StageSummary {
  readonly stage: Stage
  readonly status: StageStatus
  readonly verdict?: string | undefined
  readonly reason?: string | undefined
  readonly required: number
  readonly dissent: ReadonlyArray<AgentId>
  readonly agents: ReadonlyArray<AgentSummary>
  readonly durationMs: number
  readonly costUsd: number
  /** The stage artifact, relative to the workspace. */
  readonly artifact?: string | undefined
}

/**
 * The summary of a run.
 *
 * @since 0.1.0
 */
export interface RunSummary {
  readonly runId: string
  readonly specId: string
  readonly status: RunStatus
  readonly phase: string
  readonly startedAt: string
  readonly finishedAt: string
  readonly durationMs: number
  readonly stages: ReadonlyArray<StageSummary>
  readonly usage: TokenUsage
  readonly costUsd: number
  /** Models without a known price; their calls count 0 in `costUsd`. */
  readonly unpriced: ReadonlyArray<string>
  readonly byAgent: Readonly<Record<string, Breakdown>>
  readonly byStage: Readonly<Record<string, Breakdown>>
  readonly decisions: number
  /** The run directory, relative to the workspace. */
  readonly runDir: string
  /** What to do next, when the run did not complete. */
  readonly hint?: string | undefined
  /**
   * The pause a durable run waits on (status `awaiting-review`, or `halted` over budget): what it
   * waits for and the name of its durable wait, which `speckit resume` answers.
   */
  readonly pause?: Pause | undefined
}

/**
 * A durable run's pause.
 *
 * @example
 * ```ts
 * import type { RunSummary } from "@speckit/core"
 *
 * const pause: RunSummary.Pause = { kind: "review", stage: "validate", name: "review/validate" }
 * ```
 *
 * @since 0.2.0
 */
export interface Pause {
  readonly kind: "review" | "budget"
  readonly stage: string
  readonly name: string
}

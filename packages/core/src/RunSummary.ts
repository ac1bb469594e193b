/**
 * The summary of a run: what `--json` prints and `.speckit/runs/<run-id>/summary.json` holds; its
 * {@link Head} is `.speckit/runs/<run-id>/status.json`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { CandidateRow } from "./Candidate.ts"
import type { CheckResult } from "./Checks.ts"
import type { Delivery, SelectionRecord, StageConsensus, StageStatus } from "./Consensus.ts"
import type { Breakdown, MetricsSnapshot } from "./SessionMetrics.ts"
import type { Stage } from "./Stage.ts"
import * as StageResult from "./StageResult.ts"
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
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RunSummary } from "@speckit/core"
 *
 * Schema.is(RunSummary.RunStatus)("halted") // true
 * ```
 *
 * @since 0.4.0
 */
export const RunStatus = Schema.Literals(["completed", "halted", "awaiting-review", "failed", "cancelled"])

/**
 * @since 0.1.0
 */
export type RunStatus = typeof RunStatus.Type

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
  /**
   * The part of `costUsd` that is an estimate (the input of an attempt stopped in flight).
   *
   * @since 0.3.0
   */
  readonly estimatedCostUsd?: number | undefined
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
  /**
   * In a stage that makes real changes: every candidate.
   *
   * @since 0.3.0
   */
  readonly candidates?: ReadonlyArray<CandidateRow> | undefined
  /**
   * In a stage that checks candidates: every check result (the base's too).
   *
   * @since 0.3.0
   */
  readonly checks?: ReadonlyArray<CheckResult> | undefined
  /**
   * In a stage that chose among candidates: the choice and why.
   *
   * @since 0.3.0
   */
  readonly selection?: SelectionRecord | undefined
  /**
   * In an audit of real changes: the confirmed findings that block the release.
   *
   * @since 0.3.0
   */
  readonly blocking?: ReadonlyArray<string> | undefined
  /**
   * In the stage that delivered the change: where.
   *
   * @since 0.3.0
   */
  readonly delivery?: Delivery | undefined
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
  /**
   * The part of `costUsd` that is an estimate (the input of calls stopped in flight); absent when none.
   *
   * @since 0.3.0
   */
  readonly estimatedCostUsd?: number | undefined
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
  /**
   * Where the run delivered its change (a run that made real changes and unlocked).
   *
   * @since 0.3.0
   */
  readonly delivery?: Delivery | undefined
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

/**
 * One agent's part in a stage, from its outcome: `stopped` when an early decision stopped it.
 *
 * @example
 * ```ts
 * import { RunSummary } from "@speckit/core"
 *
 * declare const outcome: import("@speckit/core").AgentOutcome.AgentOutcome
 * const summary = RunSummary.agentSummary(outcome, [])
 * ```
 *
 * @since 0.3.0
 */
export const agentSummary = (outcome: AgentOutcome, stopped: ReadonlyArray<AgentId>): AgentSummary =>
  summaryOf(outcome, stopped.includes(outcome.agent))

/** One agent's part in a stage, from its outcome and whether an early decision stopped it. */
const summaryOf = (outcome: AgentOutcome, stopped: boolean): AgentSummary => ({
  agent: outcome.agent,
  model: outcome.model,
  status: outcome._tag === "Succeeded" ? "succeeded" : stopped ? "stopped" : "failed",
  attempts: outcome.attempts,
  durationMs: outcome.durationMs,
  usage: outcome.usage,
  costUsd: outcome.costUsd,
  ...(outcome.estimatedCostUsd === undefined ? {} : { estimatedCostUsd: outcome.estimatedCostUsd }),
  error: outcome._tag === "Failed" ? { kind: outcome.kind, detail: outcome.detail } : undefined,
  retries: outcome.history,
  vote: outcome._tag === "Succeeded" ? StageResult.voteOf(outcome.result) : undefined
})

/**
 * A stage's summary, from its decided consensus and the outcomes it was decided on.
 *
 * @example
 * ```ts
 * import { RunSummary } from "@speckit/core"
 *
 * declare const consensus: import("@speckit/core").Consensus.StageConsensus
 * const summary = RunSummary.stageSummary({ consensus, outcomes: [], stopped: [], durationMs: 0, costUsd: 0, artifact: "specs/S/plan.md" })
 * ```
 *
 * @since 0.3.0
 */
export const stageSummary = (input: {
  readonly consensus: StageConsensus
  readonly outcomes: ReadonlyArray<AgentOutcome>
  readonly stopped: ReadonlyArray<AgentId>
  readonly durationMs: number
  readonly costUsd: number
  readonly artifact: string
}): StageSummary => {
  const stopped = new Set(input.stopped)
  return {
    stage: input.consensus.stage,
    status: input.consensus.status,
    verdict: input.consensus.verdict,
    reason: input.consensus.reason,
    required: input.consensus.required,
    dissent: input.consensus.dissent,
    agents: input.outcomes.map((outcome) => summaryOf(outcome, stopped.has(outcome.agent))),
    durationMs: input.durationMs,
    costUsd: input.costUsd,
    artifact: input.artifact,
    ...(input.consensus.candidates === undefined ? {} : { candidates: input.consensus.candidates }),
    ...(input.consensus.checks === undefined ? {} : { checks: input.consensus.checks }),
    ...(input.consensus.selection === undefined ? {} : { selection: input.consensus.selection }),
    ...(input.consensus.blocking === undefined ? {} : { blocking: input.consensus.blocking }),
    ...(input.consensus.delivery === undefined ? {} : { delivery: input.consensus.delivery })
  }
}

/**
 * What a run's summary is made of, besides the session metrics.
 *
 * @since 0.3.0
 */
export interface RunState {
  readonly runId: string
  readonly specId: string
  readonly status: RunStatus
  readonly phase: string
  readonly startedAt: number
  readonly stages: ReadonlyArray<StageSummary>
  readonly decisions: number
  readonly runDir: string
  readonly hint?: string | undefined
  readonly pause?: Pause | undefined
}

/**
 * A run's summary at `finishedAt`, from its state and the session metrics' snapshot.
 *
 * @example
 * ```ts
 * import { RunSummary } from "@speckit/core"
 *
 * declare const state: RunSummary.RunState
 * declare const snapshot: import("@speckit/core").SessionMetrics.MetricsSnapshot
 * const summary = RunSummary.make(state, snapshot, Date.now())
 * ```
 *
 * @since 0.3.0
 */
export const make = (state: RunState, snapshot: MetricsSnapshot, finishedAt: number): RunSummary => ({
  runId: state.runId,
  specId: state.specId,
  status: state.status,
  phase: state.phase,
  startedAt: new Date(state.startedAt).toISOString(),
  finishedAt: new Date(finishedAt).toISOString(),
  durationMs: finishedAt - state.startedAt,
  stages: state.stages,
  usage: snapshot.usage,
  costUsd: snapshot.costUsd,
  ...(snapshot.estimatedCostUsd ? { estimatedCostUsd: snapshot.estimatedCostUsd } : {}),
  unpriced: snapshot.unpriced,
  byAgent: snapshot.byAgent,
  byStage: snapshot.byStage,
  decisions: state.decisions,
  runDir: state.runDir,
  hint: state.hint,
  pause: state.pause,
  delivery: state.stages.find((stage) => stage.delivery !== undefined)?.delivery
})

/**
 * The head of a run's summary: how the run ended, when and at what cost, without its stages and
 * breakdowns (a summary of 1,000 agents × 6 stages is megabytes; its head is a few hundred bytes).
 * The file-system run store writes it as `status.json` beside `summary.json`, so that listing a
 * workspace's runs does not read every summary.
 *
 * @example
 * ```ts
 * import { RunSummary } from "@speckit/core"
 *
 * const head: RunSummary.Head = {
 *   runId: "run-1",
 *   specId: "SPEC-1",
 *   status: "completed",
 *   phase: "Completed",
 *   startedAt: "2026-01-01T00:00:00.000Z",
 *   finishedAt: "2026-01-01T00:01:00.000Z",
 *   durationMs: 60_000,
 *   costUsd: 0.12
 * }
 * ```
 *
 * @since 0.4.0
 */
export type Head = Pick<
  RunSummary,
  "runId" | "specId" | "status" | "phase" | "startedAt" | "finishedAt" | "durationMs" | "costUsd"
>

/**
 * The {@link Head} of a summary.
 *
 * @example
 * ```ts
 * import { RunSummary } from "@speckit/core"
 *
 * declare const summary: RunSummary.RunSummary
 * const { status, costUsd } = RunSummary.head(summary)
 * ```
 *
 * @since 0.4.0
 */
export const head = (summary: RunSummary): Head => ({
  runId: summary.runId,
  specId: summary.specId,
  status: summary.status,
  phase: summary.phase,
  startedAt: summary.startedAt,
  finishedAt: summary.finishedAt,
  durationMs: summary.durationMs,
  costUsd: summary.costUsd
})

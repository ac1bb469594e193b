/**
 * Events a pipeline run emits while it progresses, for progress displays and logs.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import type { AgentErrorKind } from "./AgentError.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { CheckResult } from "./Checks.ts"
import type { AgentId } from "./AgentId.ts"
import type { StageConsensus } from "./Consensus.ts"
import type { Phase } from "./Phase.ts"
import type { RunId } from "./RunId.ts"
import * as RunSummary from "./RunSummary.ts"
import type { Stage } from "./Stage.ts"

/**
 * A pipeline event.
 *
 * @since 0.1.0
 */
export type PipelineEvent =
  | {
      readonly _tag: "RunStarted"
      readonly runId: RunId
      readonly specId: string
      readonly title: string
      readonly stages: ReadonlyArray<Stage>
    }
  | { readonly _tag: "PhaseChanged"; readonly phase: Phase }
  | { readonly _tag: "StageStarted"; readonly stage: Stage; readonly agents: ReadonlyArray<AgentId> }
  | { readonly _tag: "AgentStarted"; readonly stage: Stage; readonly agent: AgentId; readonly attempt: number }
  | { readonly _tag: "AgentFinished"; readonly stage: Stage; readonly outcome: AgentOutcome }
  | {
      /** An attempt failed and the agent waits until `resumeAt` (epoch ms) before attempt `attempt`. */
      readonly _tag: "AgentRetrying"
      readonly stage: Stage
      readonly agent: AgentId
      /** The attempt about to be made after the wait. */
      readonly attempt: number
      readonly kind: AgentErrorKind
      readonly detail: string
      readonly resumeAt: number
    }
  | {
      /** An agent's circuit breaker changed state (`reopensAt`: when an open circuit lets a trial call through). */
      readonly _tag: "BreakerChanged"
      readonly stage: Stage
      readonly agent: AgentId
      readonly from: "Closed" | "Open" | "HalfOpen"
      readonly to: "Closed" | "Open" | "HalfOpen"
      readonly reopensAt?: number | undefined
    }
  | { readonly _tag: "DecisionAccepted"; readonly seq: number; readonly stage: Stage; readonly agent: string }
  | {
      readonly _tag: "DecisionRejected"
      readonly reason: "Duplicate" | "Stale" | "Stopped"
      readonly stage: Stage
      readonly agent: string
    }
  | { readonly _tag: "DecisionAcknowledged"; readonly seq: number; readonly stage: Stage; readonly agent: string }
  | {
      readonly _tag: "StageVerdict"
      readonly seq: number
      readonly stage: Stage
      readonly status: StageConsensus["status"]
      readonly verdict?: string | undefined
      readonly reason?: string | undefined
    }
  | {
      readonly _tag: "AgentsStopped"
      readonly stage: Stage
      readonly agents: ReadonlyArray<AgentId>
      readonly reason: string
    }
  | {
      readonly _tag: "SequencerStopped"
      readonly accepted: number
      readonly duplicates: number
      readonly stale: number
      readonly acknowledged: number
      readonly ignoredAcks: number
      readonly handedBack: number
    }
  | {
      readonly _tag: "StageFinished"
      readonly stage: Stage
      readonly consensus: StageConsensus
      readonly costUsd: number
      readonly artifact: string
    }
  | { readonly _tag: "RunFinished"; readonly summary: RunSummary.RunSummary }
  | {
      readonly _tag: "CheckStarted"
      readonly stage: Stage
      readonly check: string
      /** The candidate's agent, or `base`. */
      readonly candidate: string
    }
  | { readonly _tag: "CheckFinished"; readonly stage: Stage; readonly result: CheckResult }
  | {
      /** A prompt reduced to fit the model's context window (see `ContextGuard`). */
      readonly _tag: "PromptReduced"
      readonly stage: Stage
      readonly agent: AgentId
      readonly attempt: number
      readonly fromTokens: number
      readonly toTokens: number
      readonly contextWindow: number
      readonly reductions: ReadonlyArray<string>
    }
  | {
      readonly _tag: "AgentWarning"
      readonly stage: Stage
      readonly agent: AgentId
      readonly attempt: number
      readonly message: string
    }
  | {
      readonly _tag: "Delivered"
      readonly branch: string
      readonly commit: string
      /** The candidate's agent. */
      readonly candidate: string
    }

/**
 * Where a run sends its events. The default drops them.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { PipelineEvent } from "@speckit/core"
 *
 * const log = Layer.succeed(PipelineEvent.PipelineEvents, {
 *   emit: (event) => Effect.log(event._tag)
 * })
 * ```
 *
 * @since 0.1.0
 */
export const PipelineEvents = Context.Reference<{ readonly emit: (event: PipelineEvent) => Effect.Effect<void> }>(
  "@speckit/core/PipelineEvents",
  { defaultValue: () => ({ emit: () => Effect.void }) }
)

/**
 * An event as a run's log (`events.jsonl`, a fleet store's events) holds it: {@link logged}. Every
 * {@link PipelineEvent} is one too, so what reads logged events reads live ones as well.
 *
 * @since 0.4.0
 */
export type Logged =
  | Exclude<PipelineEvent, { readonly _tag: "AgentFinished" | "RunFinished" }>
  | { readonly _tag: "AgentFinished"; readonly stage: Stage; readonly outcome: LoggedOutcome }
  | { readonly _tag: "RunFinished"; readonly summary: RunSummary.Head }

/**
 * An agent's outcome as a run's log holds it: a success without its stage result.
 *
 * @since 0.4.0
 */
export type LoggedOutcome =
  | Exclude<AgentOutcome, { readonly _tag: "Succeeded" }>
  | Omit<Extract<AgentOutcome, { readonly _tag: "Succeeded" }>, "result">

/**
 * An event as a run's log holds it, without what the run's other records hold already: an agent's
 * answer without its stage result (the stage's answer log has the raw answer it was read from, and
 * the stage's consensus merges it), and the run's end with the summary's head (the whole summary is
 * `summary.json`). Serialised twice, they were more than half of a large run's log.
 *
 * @example
 * ```ts
 * import { PipelineEvent } from "@speckit/core"
 *
 * PipelineEvent.logged({ _tag: "PhaseChanged", phase: { _tag: "Idle" } }) // the event as it is
 * ```
 *
 * @since 0.4.0
 */
export const logged = (event: PipelineEvent): Logged => {
  if (event._tag === "RunFinished") return { _tag: event._tag, summary: RunSummary.head(event.summary) }
  if (event._tag !== "AgentFinished" || event.outcome._tag !== "Succeeded") return event
  const { result: _result, ...outcome } = event.outcome
  return { _tag: event._tag, stage: event.stage, outcome }
}

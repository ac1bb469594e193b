/**
 * Events a pipeline run emits while it progresses, for progress displays and logs.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { AgentId } from "./AgentId.ts"
import type { StageConsensus } from "./Consensus.ts"
import type { Phase } from "./Phase.ts"
import type { RunId } from "./RunId.ts"
import type { RunSummary } from "./RunSummary.ts"
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
  | { readonly _tag: "DecisionAccepted"; readonly seq: number; readonly stage: Stage; readonly agent: string }
  | {
      readonly _tag: "DecisionRejected"
      readonly reason: "Duplicate" | "Stale"
      readonly stage: Stage
      readonly agent: string
    }
  | {
      readonly _tag: "StageFinished"
      readonly stage: Stage
      readonly consensus: StageConsensus
      readonly costUsd: number
      readonly artifact: string
    }
  | { readonly _tag: "RunFinished"; readonly summary: RunSummary }

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

/**
 * The session-metrics port: records every agent call's usage and cost, attributed to the agent,
 * stage and attempt that spent it. `@speckit/telemetry` provides its layers.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { Stage } from "./Stage.ts"
import type { TokenUsage } from "./TokenUsage.ts"

/**
 * One agent attempt, as recorded.
 *
 * @since 0.1.0
 */
export interface CallRecord {
  readonly stage: Stage
  readonly agent: AgentId
  readonly attempt: number
  readonly model: string
  readonly usage: TokenUsage
  /** The cost the provider reported, preferred over a computed one. */
  readonly reportedCostUsd?: number | undefined
  readonly ok: boolean
}

/**
 * The cost assigned to one call.
 *
 * @since 0.1.0
 */
export interface CallCost {
  readonly costUsd: number
  /** `false` when the model has no known price: `costUsd` is then 0 and reports mark it unpriced. */
  readonly priced: boolean
}

/**
 * Totals for one agent or stage.
 *
 * @since 0.1.0
 */
export interface Breakdown {
  readonly calls: number
  readonly usage: TokenUsage
  readonly costUsd: number
}

/**
 * A point-in-time view of a session's metrics.
 *
 * @since 0.1.0
 */
export interface MetricsSnapshot {
  readonly calls: number
  readonly failedCalls: number
  readonly usage: TokenUsage
  readonly costUsd: number
  /** Models used without a known price. */
  readonly unpriced: ReadonlyArray<string>
  readonly byAgent: Readonly<Record<string, Breakdown>>
  readonly byStage: Readonly<Record<string, Breakdown>>
}

/**
 * The session-metrics service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionMetrics } from "@speckit/core"
 *
 * const total = Effect.gen(function* () {
 *   const metrics = yield* SessionMetrics.SessionMetrics
 *   return (yield* metrics.snapshot).costUsd
 * })
 * ```
 *
 * @since 0.1.0
 */
export class SessionMetrics extends Context.Service<
  SessionMetrics,
  {
    readonly record: (call: CallRecord) => Effect.Effect<CallCost>
    readonly snapshot: Effect.Effect<MetricsSnapshot>
  }
>()("@speckit/core/SessionMetrics") {}

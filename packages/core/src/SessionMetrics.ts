/**
 * The session-metrics port: records every agent call's usage and cost, attributed to the agent,
 * stage and attempt that spent it. `@speckit/telemetry` provides its layers.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
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
  /** Set when the attempt was interrupted (cancelled, lost a race); its reported usage still counts. */
  readonly interrupted?: boolean | undefined
  /**
   * Set when the usage is an estimate (the counted input of an attempt stopped in flight), not what
   * the provider reported: its cost is reported apart as `estimatedCostUsd`.
   *
   * @since 0.3.0
   */
  readonly estimated?: boolean | undefined
}

/**
 * A run event that is counted rather than priced: a retried attempt, a replayed (redelivered)
 * decision, answers the sequencer rejected as duplicates or as stale (another run's), and an agent's
 * circuit breaker opening (`circuit_open`, counted by `Resilience` on every opening, a failed trial
 * call's included), and a repair the reading of an answer applied (`repair`, one per repair, see
 * `AnswerRepair`).
 *
 * @example
 * ```ts
 * import { AgentId, type SessionMetrics } from "@speckit/core"
 *
 * const event: SessionMetrics.CountedEvent = { kind: "retry", stage: "plan", agent: AgentId.make("alpha") }
 * ```
 *
 * @since 0.1.0
 */
export interface CountedEvent {
  readonly kind: "retry" | "replay" | "duplicate" | "stale" | "circuit_open" | "repair"
  readonly stage: Stage
  readonly agent: AgentId
}

/**
 * Counts of {@link CountedEvent}s.
 *
 * @since 0.1.0
 */
export interface EventCounts {
  readonly retry: number
  readonly replay: number
  readonly duplicate: number
  readonly stale: number
  /** Circuit openings; absent from layers that predate it (read it as 0). */
  readonly circuit_open?: number | undefined
  /**
   * Repairs the reading of answers applied (see `AnswerRepair`); absent until one is counted.
   *
   * @since 0.3.0
   */
  readonly repair?: number | undefined
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
  /**
   * The part of `costUsd` that is estimated (calls recorded with `estimated`); absent when none is.
   *
   * @since 0.3.0
   */
  readonly estimatedCostUsd?: number | undefined
  /** Models used without a known price. */
  readonly unpriced: ReadonlyArray<string>
  readonly byAgent: Readonly<Record<string, Breakdown>>
  readonly byStage: Readonly<Record<string, Breakdown>>
  /** The last recorded attempt's usage (layers that track turns set it). */
  readonly lastTurn?: TokenUsage | undefined
  /** Counted events: retries, replays, duplicates, stale answers, circuit openings. */
  readonly events?: EventCounts | undefined
  /** Usage and cost of attempts that did not contribute to a consensus (failed or interrupted). */
  readonly wasted?: Breakdown | undefined
  /** Input tokens of the most recent attempts, oldest first (a sliding window). */
  readonly recentPromptTokens?: ReadonlyArray<number> | undefined
  /** Per stage, then per agent. */
  readonly byStageAgent?: Readonly<Record<string, Readonly<Record<string, Breakdown>>>> | undefined
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
    /**
     * Counts a retry, replay, duplicate, stale answer or circuit opening. Optional: layers without it
     * ignore them. Implementations should count kinds they do not know generically (new kinds are
     * added over time).
     */
    readonly count?: ((event: CountedEvent) => Effect.Effect<void>) | undefined
  }
>()("@speckit/core/SessionMetrics") {}

/**
 * Counts an event on the current session metrics (a no-op for layers that do not count events).
 *
 * @example
 * ```ts
 * import { AgentId, SessionMetrics } from "@speckit/core"
 *
 * const counted = SessionMetrics.count({ kind: "duplicate", stage: "plan", agent: AgentId.make("alpha") })
 * ```
 *
 * @since 0.1.0
 */
export const count = (event: CountedEvent): Effect.Effect<void, never, SessionMetrics> =>
  SessionMetrics.use((metrics) => (metrics.count ? metrics.count(event) : Effect.void))

const usageLess = (after: TokenUsage, before: TokenUsage): TokenUsage => ({
  input: after.input - before.input,
  cachedInput: after.cachedInput - before.cachedInput,
  output: after.output - before.output,
  reasoning: after.reasoning - before.reasoning
})

const breakdownLess = (after: Breakdown, before: Breakdown | undefined): Breakdown =>
  before === undefined
    ? after
    : {
        calls: after.calls - before.calls,
        usage: usageLess(after.usage, before.usage),
        costUsd: after.costUsd - before.costUsd
      }

/** Each entry of `after` less the same entry of `before`; entries that gained no call and no cost are left out. */
const breakdownsLess = (
  after: Readonly<Record<string, Breakdown>>,
  before: Readonly<Record<string, Breakdown>> | undefined
): Record<string, Breakdown> => {
  const out: Record<string, Breakdown> = {}
  for (const [key, entry] of Object.entries(after)) {
    const gained = breakdownLess(entry, before?.[key])
    if (gained.calls !== 0 || gained.costUsd !== 0) out[key] = gained
  }
  return out
}

const countsLess = (after: EventCounts, before: EventCounts | undefined): EventCounts => {
  const earlier = new Map(Object.entries(before ?? {}))
  const less = (kind: string, count: number | undefined) => (count ?? 0) - (earlier.get(kind) ?? 0)
  // Every kind `after` has, known here or not (layers count the kinds they do not know generically).
  const gained = Object.fromEntries(Object.entries(after).map(([kind, count]) => [kind, less(kind, count)]))
  return {
    ...gained,
    retry: less("retry", after.retry),
    replay: less("replay", after.replay),
    duplicate: less("duplicate", after.duplicate),
    stale: less("stale", after.stale)
  }
}

/**
 * What a session recorded between two of its snapshots: `after` less `before`, for the calls, usage,
 * costs, counted events and every breakdown (an entry that gained no call and no cost is left out);
 * `unpriced`, `lastTurn` and `recentPromptTokens` are `after`'s. A run's summary is this between the
 * run's start and its end, so that one session serving many runs (a layer a long-lived process keeps)
 * reports each run's own figures. `after` itself when `before` recorded nothing.
 *
 * @example
 * ```ts
 * import { SessionMetrics } from "@speckit/core"
 *
 * declare const atStart: SessionMetrics.MetricsSnapshot
 * declare const atEnd: SessionMetrics.MetricsSnapshot
 * const run = SessionMetrics.since(atStart, atEnd)
 * run.costUsd // what was spent in between
 * ```
 *
 * @since 0.4.0
 */
export const since = (before: MetricsSnapshot, after: MetricsSnapshot): MetricsSnapshot => {
  const eventsBefore = before.events === undefined ? [] : Object.values(before.events)
  if (before.calls === 0 && before.costUsd === 0 && eventsBefore.every((count) => !count)) return after
  const estimated = (after.estimatedCostUsd ?? 0) - (before.estimatedCostUsd ?? 0)
  const byStageAgent: Record<string, Record<string, Breakdown>> = {}
  for (const [stage, agents] of Object.entries(after.byStageAgent ?? {})) {
    const gained = breakdownsLess(agents, before.byStageAgent?.[stage])
    if (Object.keys(gained).length > 0) byStageAgent[stage] = gained
  }
  return {
    calls: after.calls - before.calls,
    failedCalls: after.failedCalls - before.failedCalls,
    usage: usageLess(after.usage, before.usage),
    costUsd: after.costUsd - before.costUsd,
    ...(estimated > 0 ? { estimatedCostUsd: estimated } : {}),
    unpriced: after.unpriced,
    byAgent: breakdownsLess(after.byAgent, before.byAgent),
    byStage: breakdownsLess(after.byStage, before.byStage),
    lastTurn: after.lastTurn,
    ...(after.events === undefined ? {} : { events: countsLess(after.events, before.events) }),
    ...(after.wasted === undefined ? {} : { wasted: breakdownLess(after.wasted, before.wasted) }),
    recentPromptTokens: after.recentPromptTokens,
    ...(after.byStageAgent === undefined ? {} : { byStageAgent })
  }
}

/**
 * In-memory session metrics for core's `SessionMetrics` port: token and cost totals, per agent and
 * per stage.
 *
 * @since 0.1.0
 */
import { SessionMetrics, TokenUsage } from "@speckit/core"
import { Effect, Layer } from "effect"
import * as Pricing from "./Pricing.ts"

/**
 * Options of the metrics layer.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Price overrides by model name (from `speckit.config.json`). */
  readonly prices?: Readonly<Record<string, Pricing.Price>> | undefined
}

const emptyBreakdown: SessionMetrics.Breakdown = { calls: 0, usage: TokenUsage.empty, costUsd: 0 }

const addTo = (
  table: Record<string, SessionMetrics.Breakdown>,
  key: string,
  usage: TokenUsage.TokenUsage,
  costUsd: number
) => {
  const current = table[key] ?? emptyBreakdown
  table[key] = {
    calls: current.calls + 1,
    usage: TokenUsage.add(current.usage, usage),
    costUsd: current.costUsd + costUsd
  }
}

/**
 * Builds a session-metrics service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Metrics } from "@speckit/telemetry"
 *
 * const program = Effect.gen(function* () {
 *   const metrics = yield* Metrics.make()
 *   return (yield* metrics.snapshot).costUsd
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<SessionMetrics.SessionMetrics["Service"]> =>
  Effect.sync(() => {
    const priceOf = Pricing.lookup(options.prices)
    let calls = 0
    let failedCalls = 0
    let usage = TokenUsage.empty
    let costUsd = 0
    const unpriced = new Set<string>()
    const byAgent: Record<string, SessionMetrics.Breakdown> = {}
    const byStage: Record<string, SessionMetrics.Breakdown> = {}
    return SessionMetrics.SessionMetrics.of({
      record: (call) =>
        Effect.sync(() => {
          const price = priceOf(call.model)
          const priced = call.reportedCostUsd !== undefined || price !== undefined
          const cost = call.reportedCostUsd ?? (price ? Pricing.cost(call.usage, price) : 0)
          if (!priced && TokenUsage.total(call.usage) > 0) unpriced.add(call.model)
          calls++
          if (!call.ok) failedCalls++
          usage = TokenUsage.add(usage, call.usage)
          costUsd += cost
          addTo(byAgent, call.agent, call.usage, cost)
          addTo(byStage, call.stage, call.usage, cost)
          return { costUsd: cost, priced }
        }),
      snapshot: Effect.sync(() => ({
        calls,
        failedCalls,
        usage,
        costUsd,
        unpriced: [...unpriced].sort(),
        byAgent: { ...byAgent },
        byStage: { ...byStage }
      }))
    })
  })

/**
 * The metrics service as a layer.
 *
 * @example
 * ```ts
 * import { Metrics } from "@speckit/telemetry"
 *
 * const layer = Metrics.layer({ prices: { "my-model": { inputPerMTok: 1, outputPerMTok: 4 } } })
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<SessionMetrics.SessionMetrics> =>
  Layer.effect(SessionMetrics.SessionMetrics, make(options))

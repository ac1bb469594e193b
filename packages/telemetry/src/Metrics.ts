/**
 * Session metrics for core's `SessionMetrics` port: running totals and the last turn of token usage,
 * turns, per-agent, per-stage and per-stage-per-agent breakdowns, retries, replays, duplicates and stale
 * answers, the usage wasted on failed or interrupted attempts, and a sliding window of recent prompt
 * sizes. Every figure is also an Effect `Metric` (exported as Prometheus text or over OTLP, see
 * `Export`), updated in the registry the layer was built in.
 *
 * @since 0.1.0
 */
import { SessionMetrics, TokenUsage } from "@speckit/core"
import { type Context, Effect, Layer, Metric } from "effect"
import type * as Alert from "./Alert.ts"
import * as Pricing from "./Pricing.ts"

/**
 * Options of the metrics layer.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Price overrides by model name. Ignored when `pricer` is given. */
  readonly prices?: Readonly<Record<string, Pricing.Price>> | undefined
  /** The pricer (see `Pricing.fromConfig`); defaults to `Pricing.make({ models: prices })`. */
  readonly pricer?: Pricing.Pricer | undefined
  /** Models known at start to be unpriced (from `Pricing.checkModels`), marked in every report. */
  readonly unpriced?: ReadonlyArray<string> | undefined
  /** How many recent prompt sizes to keep (default 20). */
  readonly window?: number | undefined
  /** Loop-signal thresholds: warn at each replay count (default 2 and 4) and duplicate count (default 3). */
  readonly thresholds?: { readonly replays?: ReadonlyArray<number>; readonly duplicates?: ReadonlyArray<number> }
  /** Receives loop signals, each once. */
  readonly onAlert?: Alert.Handler | undefined
  /** Called with every recorded attempt and its cost (e.g. `BudgetGuard`'s `observe`). */
  readonly onRecord?: ((call: SessionMetrics.CallRecord, cost: SessionMetrics.CallCost) => void) | undefined
  /** Update Effect `Metric`s too (default true). */
  readonly exportMetrics?: boolean | undefined
}

/**
 * The names of the Effect metrics the layer updates.
 *
 * @since 0.1.0
 */
export const names = {
  tokens: "speckit_tokens_total",
  cost: "speckit_cost_usd_total",
  calls: "speckit_calls_total",
  events: "speckit_events_total",
  wastedTokens: "speckit_wasted_tokens_total",
  promptTokens: "speckit_prompt_tokens"
} as const

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

const tokenKinds = ["input", "cachedInput", "output", "reasoning"] as const
const tokenLabel: Record<(typeof tokenKinds)[number], string> = {
  input: "input",
  cachedInput: "cached_input",
  output: "output",
  reasoning: "reasoning"
}

/**
 * The Effect metrics, created once per attribute set (with the attributes built in, so an update is a
 * registry lookup, not a context rebuild) and updated without an effect per call.
 */
const makeInstruments = (context: Context.Context<never>) => {
  const descriptions = {
    tokens: "Tokens used, by agent, stage, model and type",
    cost: "Cost in USD, by agent, stage and model",
    calls: "Agent attempts, by agent, stage, model and outcome",
    events: "Retries, replays, duplicates, stale answers and circuit openings, by kind",
    wasted: "Tokens spent on failed or interrupted attempts, by agent and stage"
  }
  const prompt = Metric.histogram(names.promptTokens, {
    description: "Prompt size (input tokens) of each attempt",
    boundaries: Metric.exponentialBoundaries({ start: 256, factor: 2, count: 10 })
  })
  const cache = new Map<string, Metric.Metric<number, unknown>>()
  const tagged = (
    metric: "tokens" | "cost" | "calls" | "events" | "wasted",
    key: string,
    attributes: Record<string, string>
  ) => {
    let found = cache.get(key)
    if (found === undefined) {
      const name =
        metric === "tokens"
          ? names.tokens
          : metric === "cost"
            ? names.cost
            : metric === "calls"
              ? names.calls
              : metric === "events"
                ? names.events
                : names.wastedTokens
      found = Metric.counter(name, { description: descriptions[metric], attributes })
      cache.set(key, found)
    }
    return found
  }
  return {
    call: (call: SessionMetrics.CallRecord, costUsd: number, wastedCall: boolean) => {
      const base = { agent: call.agent, stage: call.stage, model: call.model }
      const id = `${call.agent}\u0000${call.stage}\u0000${call.model}`
      for (const kind of tokenKinds) {
        const value = call.usage[kind]
        if (value > 0) {
          tagged("tokens", `t${id}\u0000${kind}`, { ...base, type: tokenLabel[kind] }).updateUnsafe(value, context)
        }
      }
      tagged("cost", `c${id}`, base).updateUnsafe(costUsd, context)
      const outcome = call.interrupted ? "interrupted" : call.ok ? "ok" : "failed"
      tagged("calls", `n${id}\u0000${outcome}`, { ...base, outcome }).updateUnsafe(1, context)
      if (wastedCall) {
        tagged("wasted", `w${id}`, base).updateUnsafe(TokenUsage.total(call.usage), context)
      }
      if (call.usage.input > 0) prompt.updateUnsafe(call.usage.input, context)
    },
    event: (event: SessionMetrics.CountedEvent) =>
      tagged("events", `e${event.kind}\u0000${event.agent}\u0000${event.stage}`, {
        kind: event.kind,
        agent: event.agent,
        stage: event.stage
      }).updateUnsafe(1, context)
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
  Effect.map(Effect.context<never>(), (context) => {
    const pricer = options.pricer ?? Pricing.make({ models: options.prices })
    const instruments = options.exportMetrics === false ? undefined : makeInstruments(context)
    const windowSize = options.window ?? 20
    const replayThresholds = options.thresholds?.replays ?? [2, 4]
    const duplicateThresholds = options.thresholds?.duplicates ?? [3]
    let calls = 0
    let failedCalls = 0
    let usage = TokenUsage.empty
    let lastTurn: TokenUsage.TokenUsage | undefined
    let costUsd = 0
    let estimatedCostUsd = 0
    const unpriced = new Set<string>(options.unpriced ?? [])
    const byAgent: Record<string, SessionMetrics.Breakdown> = {}
    const byStage: Record<string, SessionMetrics.Breakdown> = {}
    const byStageAgent: Record<string, Record<string, SessionMetrics.Breakdown>> = {}
    const wasted: Record<string, SessionMetrics.Breakdown> = {}
    const recent: Array<number> = []
    // Kinds other than the four always reported (e.g. `circuit_open`) appear once first counted.
    const events: { -readonly [K in keyof SessionMetrics.EventCounts]: SessionMetrics.EventCounts[K] } = {
      retry: 0,
      replay: 0,
      duplicate: 0,
      stale: 0
    }
    const signal = (kind: "replay" | "duplicate", count: number, thresholds: ReadonlyArray<number>) => {
      if (thresholds.includes(count)) options.onAlert?.({ _tag: "LoopSignal", kind, count, threshold: count })
    }
    return SessionMetrics.SessionMetrics.of({
      record: (call) =>
        Effect.sync(() => {
          const resolved = call.reportedCostUsd === undefined ? pricer.price(call.model, call.agent) : undefined
          const priced = call.reportedCostUsd !== undefined || resolved !== undefined
          const cost = call.reportedCostUsd ?? resolved?.cost(call.usage) ?? 0
          if (!priced) unpriced.add(call.model)
          calls++
          const wastedCall = !call.ok || call.interrupted === true
          if (!call.ok) failedCalls++
          usage = TokenUsage.add(usage, call.usage)
          lastTurn = call.usage
          costUsd += cost
          if (call.estimated === true) estimatedCostUsd += cost
          addTo(byAgent, call.agent, call.usage, cost)
          addTo(byStage, call.stage, call.usage, cost)
          const stageTable = byStageAgent[call.stage] ?? {}
          byStageAgent[call.stage] = stageTable
          addTo(stageTable, call.agent, call.usage, cost)
          if (wastedCall) addTo(wasted, "all", call.usage, cost)
          if (call.usage.input > 0) {
            recent.push(call.usage.input)
            if (recent.length > windowSize) recent.shift()
          }
          instruments?.call(call, cost, wastedCall)
          const result = { costUsd: cost, priced }
          options.onRecord?.(call, result)
          return result
        }),
      count: (event) =>
        Effect.sync(() => {
          events[event.kind] = (events[event.kind] ?? 0) + 1
          instruments?.event(event)
          if (event.kind === "replay") signal("replay", events.replay, replayThresholds)
          if (event.kind === "duplicate") signal("duplicate", events.duplicate, duplicateThresholds)
        }),
      snapshot: Effect.sync(() => ({
        calls,
        failedCalls,
        usage,
        costUsd,
        ...(estimatedCostUsd > 0 ? { estimatedCostUsd } : {}),
        unpriced: [...unpriced].sort(),
        byAgent: { ...byAgent },
        byStage: { ...byStage },
        lastTurn,
        events: { ...events },
        wasted: wasted.all ?? emptyBreakdown,
        recentPromptTokens: [...recent],
        byStageAgent: Object.fromEntries(Object.entries(byStageAgent).map(([stage, table]) => [stage, { ...table }]))
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

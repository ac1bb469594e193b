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
import { Context, Effect, Layer, Metric } from "effect"
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

/** A running breakdown, updated in place; `snapshot` copies it. */
type Tally = { calls: number; input: number; cachedInput: number; output: number; reasoning: number; costUsd: number }

const addTo = (table: Map<string, Tally>, key: string, usage: TokenUsage.TokenUsage, costUsd: number) => {
  let tally = table.get(key)
  if (tally === undefined) {
    tally = { calls: 0, input: 0, cachedInput: 0, output: 0, reasoning: 0, costUsd: 0 }
    table.set(key, tally)
  }
  tally.calls++
  tally.input += usage.input
  tally.cachedInput += usage.cachedInput
  tally.output += usage.output
  tally.reasoning += usage.reasoning
  tally.costUsd += costUsd
}

const breakdownOf = (tally: Tally): SessionMetrics.Breakdown => ({
  calls: tally.calls,
  usage: { input: tally.input, cachedInput: tally.cachedInput, output: tally.output, reasoning: tally.reasoning },
  costUsd: tally.costUsd
})

const recordOf = (table: Map<string, Tally>): Record<string, SessionMetrics.Breakdown> => {
  const out: Record<string, SessionMetrics.Breakdown> = {}
  for (const [key, tally] of table) out[key] = breakdownOf(tally)
  return out
}

const tokenKinds = ["input", "cachedInput", "output", "reasoning"] as const
const tokenLabel: Record<(typeof tokenKinds)[number], string> = {
  input: "input",
  cachedInput: "cached_input",
  output: "output",
  reasoning: "reasoning"
}

type Counter = Metric.Metric.Hooks<number, Metric.CounterState<number>>

/** The counters of one agent in one stage with one model, made at its first call. */
interface CallCounters {
  readonly tokens: Array<Counter | undefined>
  readonly calls: { ok?: Counter; failed?: Counter; interrupted?: Counter }
  cost: Counter | undefined
  wasted: Counter | undefined
  /** Its `agent` and `model` labels as a series key holds them (see `label`). */
  readonly agentModel: string
  /** Its `stage` label as a series key holds it. */
  readonly stage: string
}

/** The attributes as `[name, value]` pairs sorted by name, as `Metric` keys a series (an insertion sort: a few pairs, no allocation). */
const sortedEntries = (attributes: Record<string, string>): Array<[string, string]> => {
  const entries = Object.entries(attributes)
  for (let i = 1; i < entries.length; i++) {
    const entry = entries[i]
    if (entry === undefined) continue
    let j = i - 1
    for (; j >= 0; j--) {
      const before = entries[j]
      if (before === undefined || before[0] <= entry[0]) break
      entries[j + 1] = before
    }
    entries[j + 1] = entry
  }
  return entries
}

/** One label as a series key holds it: `["name","value"]` (JSON). */
const label = (name: string, value: string) => `[${JSON.stringify(name)},${JSON.stringify(value)}]`

/** The `agent`, `model` and `stage` labels of a call's series, sorted by name as a key holds them. */
const labelsOf = (counters: CallCounters) => `${counters.agentModel},${counters.stage}`

/** The hooks of a counter series: its count, with methods on the prototype (no closures per series). */
class CounterHooks implements Counter {
  count = 0
  get(): Metric.CounterState<number> {
    return { count: this.count, incremental: false }
  }
  update(value: number): void {
    this.count += value
  }
  modify(value: number): void {
    this.count += value
  }
}

/**
 * The Effect metrics. A series is an entry of the context's `Metric.MetricRegistry`, made at its first
 * update under the key `Metric.counter` gives it (so a series made here and one made with the `Metric`
 * API are the same series), without a `Metric` object per attribute set: a run of 1,000 agents × 6
 * stages makes about 24,000 of them, one per agent, stage, model and label. The key is effect's
 * (`["Counter", id, description, attributes sorted by name]` as JSON), put together from the labels'
 * JSON, each made once per agent, stage and model, rather than by serialising the tuple per series.
 */
const makeInstruments = (context: Context.Context<never>) => {
  const metrics = {
    tokens: { id: names.tokens, description: "Tokens used, by agent, stage, model and type" },
    cost: { id: names.cost, description: "Cost in USD, by agent, stage and model" },
    calls: { id: names.calls, description: "Agent attempts, by agent, stage, model and outcome" },
    events: {
      id: names.events,
      description: "Retries, replays, duplicates, stale answers and circuit openings, by kind"
    },
    wasted: {
      id: names.wastedTokens,
      description: "Tokens spent on failed or interrupted attempts, by agent and stage"
    }
  }
  type Kind = keyof typeof metrics
  /** What every key of a metric starts with: the series' type, id and description, then its labels. */
  const keyPrefix = Object.fromEntries(
    Object.entries(metrics).map(([kind, { id, description }]) => [
      kind,
      `["Counter",${JSON.stringify(id)},${JSON.stringify(description)},[`
    ])
  ) as Record<Kind, string>
  const typeLabels = tokenKinds.map((kind) => label("type", tokenLabel[kind]))
  const prompt = Metric.histogram(names.promptTokens, {
    description: "Prompt size (input tokens) of each attempt",
    boundaries: Metric.exponentialBoundaries({ start: 256, factor: 2, count: 10 })
  })
  const registry = Context.get(context, Metric.MetricRegistry)
  const extra = Context.get(context, Metric.CurrentMetricAttributes)
  const hasExtra = Object.keys(extra).length > 0
  /**
   * The series of `kind` with `attributes`, made at its first use. `labels`: the attributes as its key
   * holds them, sorted by name (contextual attributes, when there are any, are merged in and the key is
   * made from the merged set).
   */
  const counter = (kind: Kind, attributes: Record<string, string>, labels: string): Counter => {
    const { id, description } = metrics[kind]
    const merged: Record<string, string> = hasExtra ? { ...attributes, ...extra } : attributes
    const key = hasExtra
      ? JSON.stringify(["Counter", id, description, sortedEntries(merged)])
      : `${keyPrefix[kind]}${labels}]]`
    const found = registry.get(key)
    if (found !== undefined) return found.hooks
    const hooks = new CounterHooks()
    registry.set(key, { id, type: "Counter", description, attributes: merged, hooks })
    return hooks
  }
  const perCall = new Map<string, CallCounters>()
  const events = new Map<string, Counter>()
  const countersOf = (call: SessionMetrics.CallRecord): CallCounters => {
    const id = `${call.agent}\u0000${call.stage}\u0000${call.model}`
    let found = perCall.get(id)
    if (found === undefined) {
      found = {
        tokens: [undefined, undefined, undefined, undefined],
        calls: {},
        cost: undefined,
        wasted: undefined,
        agentModel: `${label("agent", call.agent)},${label("model", call.model)}`,
        stage: label("stage", call.stage)
      }
      perCall.set(id, found)
    }
    return found
  }
  return {
    call: (call: SessionMetrics.CallRecord, costUsd: number, wastedCall: boolean) => {
      const counters = countersOf(call)
      const { agent, stage, model } = call
      for (let i = 0; i < tokenKinds.length; i++) {
        const kind = tokenKinds[i] ?? "input"
        const value = call.usage[kind]
        if (value > 0) {
          let tokens = counters.tokens[i]
          if (tokens === undefined) {
            const type = tokenLabel[kind]
            tokens = counter("tokens", { agent, stage, model, type }, `${labelsOf(counters)},${typeLabels[i]}`)
            counters.tokens[i] = tokens
          }
          tokens.update(value, context)
        }
      }
      counters.cost ??= counter("cost", { agent, stage, model }, labelsOf(counters))
      counters.cost.update(costUsd, context)
      const outcome = call.interrupted ? "interrupted" : call.ok ? "ok" : "failed"
      let calls = counters.calls[outcome]
      if (calls === undefined) {
        const outcomeLabels = `${counters.agentModel},${label("outcome", outcome)},${counters.stage}`
        calls = counter("calls", { agent, stage, model, outcome }, outcomeLabels)
        counters.calls[outcome] = calls
      }
      calls.update(1, context)
      if (wastedCall) {
        counters.wasted ??= counter("wasted", { agent, stage, model }, labelsOf(counters))
        counters.wasted.update(TokenUsage.total(call.usage), context)
      }
      if (call.usage.input > 0) prompt.updateUnsafe(call.usage.input, context)
    },
    event: (event: SessionMetrics.CountedEvent) => {
      const id = `${event.kind}\u0000${event.agent}\u0000${event.stage}`
      let found = events.get(id)
      if (found === undefined) {
        const { kind, agent, stage } = event
        const labels = `${label("agent", agent)},${label("kind", kind)},${label("stage", stage)}`
        found = counter("events", { kind, agent, stage }, labels)
        events.set(id, found)
      }
      found.update(1, context)
    }
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
    const byAgent = new Map<string, Tally>()
    const byStage = new Map<string, Tally>()
    const byStageAgent = new Map<string, Map<string, Tally>>()
    const wasted = new Map<string, Tally>()
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
          let stageTable = byStageAgent.get(call.stage)
          if (stageTable === undefined) {
            stageTable = new Map()
            byStageAgent.set(call.stage, stageTable)
          }
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
        byAgent: recordOf(byAgent),
        byStage: recordOf(byStage),
        lastTurn,
        events: { ...events },
        wasted: recordOf(wasted).all ?? emptyBreakdown,
        recentPromptTokens: [...recent],
        byStageAgent: Object.fromEntries(Array.from(byStageAgent, ([stage, table]) => [stage, recordOf(table)]))
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

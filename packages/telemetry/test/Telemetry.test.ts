import { assert, describe, it } from "@effect/vitest"
import { calcPrice } from "@pydantic/genai-prices"
import { AgentId, type Budget, Prompt, SessionMetrics, Spec, SpeckitConfig, TokenUsage } from "@speckit/core"
import { type Alert, BudgetGuard, Estimate, Export, History, Metrics, Pricing, Tokens } from "@speckit/telemetry"
import { Effect, Metric, Result, Schema } from "effect"

const alpha = AgentId.make("alpha")
const call = (over: Partial<SessionMetrics.CallRecord> = {}): SessionMetrics.CallRecord => ({
  stage: "plan",
  agent: alpha,
  attempt: 1,
  model: "sim-large",
  usage: TokenUsage.make({ input: 1000, output: 500 }),
  ok: true,
  ...over
})

describe("Pricing (maintained catalogue)", () => {
  it("prices catalogue models with cached input (hand-checked)", () => {
    // gpt-4o: 600k uncached × $2.50 + 400k cached × $1.25 + 200k out × $10 = 1.5 + 0.5 + 2.0 = 4.0
    const usage = TokenUsage.make({ input: 1_000_000, cachedInput: 400_000, output: 200_000 })
    const gpt = Pricing.make().price("gpt-4o")
    assert.strictEqual(gpt?.source, "catalog")
    assert.closeTo(gpt?.cost(usage) ?? -1, 4.0, 1e-9)
    // claude-haiku-4-5: 6k × $1 + 4k cached × $0.10 + 2k out × $5 = 0.006 + 0.0004 + 0.01 = 0.0164
    const small = TokenUsage.make({ input: 10_000, cachedInput: 4_000, output: 2_000 })
    assert.closeTo(Pricing.make().price("claude-haiku-4-5")?.cost(small) ?? -1, 0.0164, 1e-12)
  })

  it("applies the catalogue's tiers like genai-prices' calcPrice does", () => {
    for (const [model, input, cached, output] of [
      ["claude-sonnet-4-5", 1_000_000, 400_000, 200_000],
      ["claude-sonnet-4-5", 150_000, 0, 1_000],
      ["gemini-2.5-pro", 250_000, 50_000, 10_000],
      ["gpt-5", 12_345, 2_000, 678]
    ] as const) {
      const usage = TokenUsage.make({ input, cachedInput: cached, output })
      const expected = calcPrice({ input_tokens: input, cache_read_tokens: cached, output_tokens: output }, model)
      assert.closeTo(Pricing.make().price(model)?.cost(usage) ?? -1, expected?.total_price ?? -2, 1e-9, model)
    }
    // hand-checked: claude-sonnet-4-5 above 200k input is billed at the long-context tier for the whole call:
    // 600k × $6 + 400k cached × $0.60 + 200k out × $22.50 = 3.6 + 0.24 + 4.5 = 8.34
    const long = TokenUsage.make({ input: 1_000_000, cachedInput: 400_000, output: 200_000 })
    assert.closeTo(Pricing.make().price("claude-sonnet-4-5")?.cost(long) ?? -1, 8.34, 1e-9)
  })

  it("lets pricing.models and an agent's price win over the catalogue", () => {
    const pricer = Pricing.make({
      models: { "gpt-4o": { inputPerMTok: 1, outputPerMTok: 1 } },
      agents: { alpha: { inputPerMTok: 2, outputPerMTok: 2 } }
    })
    assert.strictEqual(pricer.price("gpt-4o")?.source, "override")
    assert.strictEqual(pricer.price("gpt-4o", "alpha")?.price.inputPerMTok, 2)
    assert.strictEqual(pricer.price("sim-small")?.source, "simulated")
    assert.isUndefined(pricer.price("mystery-1"))
  })

  it.effect("refuses a configured model without a price, naming agent and model", () =>
    Effect.gen(function* () {
      const config = yield* SpeckitConfig.decode({ agents: { x: { provider: "sim", model: "mystery-1" } } }, "inline")
      const refused = yield* Effect.result(Pricing.checkModels(config))
      assert.isTrue(Result.isFailure(refused))
      if (Result.isFailure(refused)) {
        assert.include(refused.failure.message, `agent "x"`)
        assert.include(refused.failure.message, `"mystery-1"`)
      }
      const allowed = yield* Pricing.checkModels({ ...config, pricing: { allowUnpriced: true } })
      assert.deepStrictEqual(allowed.unpriced, [{ agent: "x", model: "mystery-1" }])
      assert.lengthOf(allowed.warnings, 1)
      // the marker reaches every report
      const metrics = yield* Metrics.make({ unpriced: ["mystery-1"] })
      assert.deepStrictEqual((yield* metrics.snapshot).unpriced, ["mystery-1"])
    })
  )

  it("counts tokens with gpt-tokenizer", () => {
    assert.strictEqual(Tokens.count("Hello world"), 2)
    assert.strictEqual(Tokens.count(""), 0)
  })

  it("a run of simulated agents counts its prompts as they report them; any real agent brings the tokenizer", () => {
    const sim = { provider: "sim" as const, model: "sim-small" }
    const config = (input: unknown) => Effect.runSync(SpeckitConfig.decode(input, "inline"))
    const simOnly = config({ agents: { a: sim, b: sim } })
    assert.strictEqual(Tokens.counterFor(simOnly).name, "chars/4")
    assert.strictEqual(Tokens.counterFor(simOnly).count("12345678"), 2)
    const mixed = config({ agents: { a: sim, b: { provider: "exec", command: ["true"] } } })
    assert.strictEqual(Tokens.counterFor(mixed).name, "o200k_base")
    assert.strictEqual(Tokens.counterFor(mixed).count("Hello world"), 2)
  })
})

describe("Metrics (session)", () => {
  it.effect("tracks totals, last turn, breakdowns, events, waste and a prompt window", () =>
    Effect.gen(function* () {
      const alerts: Array<Alert.Alert> = []
      const metrics = yield* Metrics.make({ window: 2, onAlert: (alert) => alerts.push(alert) })
      yield* metrics.record(call())
      // a failed attempt that still reported usage: attributed to the agent and attempt, counted as waste
      yield* metrics.record(call({ attempt: 2, ok: false, usage: TokenUsage.make({ input: 2000, output: 10 }) }))
      yield* metrics.record(
        call({ stage: "tasks", interrupted: true, ok: false, usage: TokenUsage.make({ input: 3000, output: 0 }) })
      )
      for (const kind of ["retry", "replay", "replay", "duplicate", "duplicate", "duplicate", "stale"] as const) {
        yield* SessionMetrics.count({ kind, stage: "plan", agent: alpha }).pipe(
          Effect.provideService(SessionMetrics.SessionMetrics, metrics)
        )
      }
      const snapshot = yield* metrics.snapshot
      assert.strictEqual(snapshot.calls, 3)
      assert.strictEqual(snapshot.failedCalls, 2)
      assert.deepStrictEqual(snapshot.lastTurn, TokenUsage.make({ input: 3000 }))
      assert.deepStrictEqual(snapshot.events, { retry: 1, replay: 2, duplicate: 3, stale: 1 })
      assert.deepStrictEqual(snapshot.recentPromptTokens, [2000, 3000])
      assert.strictEqual(snapshot.wasted?.usage.input, 5000)
      // 2000 × $3/M + 10 × $15/M + 3000 × $3/M = 0.006 + 0.00015 + 0.009
      assert.closeTo(snapshot.wasted?.costUsd ?? 0, 0.01515, 1e-12)
      assert.strictEqual(snapshot.byStageAgent?.plan?.alpha?.calls, 2)
      assert.deepStrictEqual(
        alerts.map((a) => (a._tag === "LoopSignal" ? `${a.kind}:${a.count}` : "")),
        ["replay:2", "duplicate:3"]
      )
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect("exports Prometheus text holding the run's totals", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics.make()
      yield* metrics.record(call())
      yield* metrics.record(call({ agent: AgentId.make("beta"), model: "sim-small" }))
      const text = yield* Export.prometheus
      const samples = parsePrometheus(text)
      const sum = (name: string, match: Record<string, string> = {}) =>
        samples
          .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
          .reduce((total, s) => total + s.value, 0)
      assert.strictEqual(sum(Metrics.names.tokens, { type: "input" }), 2000)
      assert.strictEqual(sum(Metrics.names.tokens, { type: "output" }), 1000)
      // 0.0105 (sim-large) + 1000 × 0.25/M + 500 × 1.25/M = 0.0105 + 0.000875
      assert.closeTo(sum(Metrics.names.cost), 0.011375, 1e-12)
      assert.strictEqual(sum(Metrics.names.calls, { outcome: "ok" }), 2)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect("keys every series as the Metric API does: tokens, cost, calls and events", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics.make()
      const agent = AgentId.make("beta")
      // A label that JSON escapes: the key is effect's JSON, whatever the values hold.
      const model = 'vendor/m"x\\y'
      const usage = TokenUsage.make({ input: 10, cachedInput: 4, output: 5, reasoning: 2 })
      yield* metrics.record(call({ agent, model, usage }))
      yield* metrics.record(call({ agent, model, ok: false }))
      yield* metrics.count?.({ kind: "retry", stage: "plan", agent }) ?? Effect.void
      const same = (id: string, description: string, attributes: Record<string, string>) =>
        Metric.update(Metric.counter(id, { description, attributes }), 1)
      const base = { agent, stage: "plan", model }
      for (const type of ["input", "cached_input", "output", "reasoning"]) {
        yield* same(Metrics.names.tokens, "Tokens used, by agent, stage, model and type", { ...base, type })
      }
      yield* same(Metrics.names.cost, "Cost in USD, by agent, stage and model", base)
      for (const outcome of ["ok", "failed"]) {
        yield* same(Metrics.names.calls, "Agent attempts, by agent, stage, model and outcome", { ...base, outcome })
      }
      yield* same(
        Metrics.names.wastedTokens,
        "Tokens spent on failed or interrupted attempts, by agent and stage",
        base
      )
      yield* same(Metrics.names.events, "Retries, replays, duplicates, stale answers and circuit openings, by kind", {
        kind: "retry",
        agent,
        stage: "plan"
      })
      // Each update through the Metric API landed on the series the layer made: no series was added.
      const series = yield* Metric.snapshot
      const counters = series.filter((s) => s.type === "Counter")
      assert.strictEqual(counters.length, 9)
      const count = (id: string, match: Record<string, string>) =>
        counters.find((s) => s.id === id && Object.entries(match).every(([k, v]) => s.attributes?.[k] === v))?.state
      assert.deepStrictEqual(count(Metrics.names.tokens, { type: "reasoning" }), { count: 3, incremental: false })
      assert.deepStrictEqual(count(Metrics.names.calls, { outcome: "failed" }), { count: 2, incremental: false })
      assert.deepStrictEqual(count(Metrics.names.events, { kind: "retry" }), { count: 2, incremental: false })
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect("keeps one series per attribute set, shared with the Metric API and under contextual attributes", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics.make()
      yield* metrics.record(call())
      yield* metrics.record(call())
      // The same series, updated through the `Metric` API with the attributes the layer labels it with.
      const calls = Metric.counter(Metrics.names.calls, {
        description: "Agent attempts, by agent, stage, model and outcome",
        attributes: { stage: "plan", outcome: "ok", model: "sim-large", agent: "alpha", run: "r1" }
      })
      yield* Metric.update(calls, 1)
      const series = (yield* Metric.snapshot).filter((s) => s.id === Metrics.names.calls)
      assert.strictEqual(series.length, 1)
      assert.deepStrictEqual(series[0]?.attributes, {
        agent: "alpha",
        stage: "plan",
        model: "sim-large",
        outcome: "ok",
        run: "r1"
      })
      assert.deepStrictEqual(series[0]?.state, { count: 3, incremental: false })
    }).pipe(
      Effect.provideService(Metric.CurrentMetricAttributes, { run: "r1" }),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  )
})

/** A small parser of the Prometheus text format (samples only). */
export const parsePrometheus = (text: string) =>
  text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
      if (!match) throw new Error(`not a Prometheus sample: ${line}`)
      const labels: Record<string, string> = {}
      for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[pair[1] ?? ""] = pair[2] ?? ""
      }
      return { name: match[1] ?? "", labels, value: Number(match[3]) }
    })

describe("BudgetGuard", () => {
  const planned = (agent: string, attempt = 1): Budget.PlannedAttempt => ({
    stage: "plan",
    agent: AgentId.make(agent),
    attempt,
    model: "sim-large",
    prompt: "p"
  })

  it.effect("refuses the call that would cross the budget and alerts at 80% and 90% once each", () =>
    Effect.gen(function* () {
      const alerts: Array<number> = []
      const guard = BudgetGuard.make({
        budgetUsd: 1,
        pricer: Pricing.make(),
        predict: () => 0.25,
        onAlert: (alert) => void (alert._tag === "BudgetThreshold" && alerts.push(alert.threshold))
      })
      const spend = (agent: string, costUsd: number) =>
        Effect.gen(function* () {
          yield* guard.budget.admit(planned(agent))
          guard.observe(call({ agent: AgentId.make(agent) }), { costUsd, priced: true })
        })
      yield* spend("a", 0.25)
      yield* spend("b", 0.25)
      yield* spend("c", 0.32) // 0.82: the 80% alert
      assert.deepStrictEqual(alerts, [0.8])
      const refused = yield* Effect.result(guard.budget.admit(planned("d"))) // 0.82 + 0.25 > 1
      assert.isTrue(Result.isFailure(refused))
      if (Result.isFailure(refused)) {
        assert.strictEqual(refused.failure._tag, "BudgetExceeded")
        assert.closeTo(refused.failure.spentUsd, 0.82, 1e-12)
      }
      guard.observe(call({ agent: AgentId.make("e") }), { costUsd: 0.1, priced: true }) // 0.92: 90%
      guard.observe(call({ agent: AgentId.make("f") }), { costUsd: 0.01, priced: true })
      assert.deepStrictEqual(alerts, [0.8, 0.9])
      assert.isAtMost(guard.spent(), 1)
    })
  )

  it.effect("reserves admitted calls still in flight, and says 'paused for approval' under pause", () =>
    Effect.gen(function* () {
      const guard = BudgetGuard.make({ budgetUsd: 1, onExceed: "pause", pricer: Pricing.make(), predict: () => 0.4 })
      yield* guard.budget.admit(planned("a"))
      yield* guard.budget.admit(planned("b"))
      const third = yield* Effect.result(guard.budget.admit(planned("c"))) // 0.8 reserved + 0.4 > 1
      assert.isTrue(Result.isFailure(third))
      if (Result.isFailure(third)) assert.match(third.failure.message, /^paused for approval: budget/)
    })
  )
})

describe("Estimate", () => {
  const spec: Spec.Spec = {
    id: Schema.decodeUnknownSync(Spec.SpecId)("SPEC-1"),
    title: "T",
    text: "# T\n\nDo it.\n",
    directory: "/tmp/specs/SPEC-1"
  }

  it("counts the first prompt, uses defaults without history and history when there is one", () => {
    const config = Schemaless({ agents: { alpha: { provider: "sim", model: "sim-large" } } })
    const none = Estimate.make({ config, spec, history: History.empty })
    const plan = none.stages[0]?.calls[0]
    assert.strictEqual(plan?.inputSource, "counted")
    assert.strictEqual(plan?.outputSource, "default")
    assert.strictEqual(plan?.outputTokens.expected, Estimate.defaults.outputTokens.plan)
    const history = History.fromSummaries([
      {
        stages: [
          {
            stage: "tasks",
            agents: [
              { model: "sim-large", costUsd: 0, usage: { input: 1000, cachedInput: 0, output: 100, reasoning: 0 } },
              { model: "sim-large", costUsd: 0, usage: { input: 3000, cachedInput: 0, output: 300, reasoning: 0 } }
            ]
          }
        ]
      }
    ])
    const some = Estimate.make({ config, spec, history })
    const tasks = some.stages[1]?.calls[0]
    assert.strictEqual(tasks?.inputSource, "history")
    assert.deepStrictEqual(tasks?.inputTokens, { low: 1000, expected: 2000, high: 3000 })
    // 2000 in × $3/M + 200 out × $15/M = 0.006 + 0.003
    assert.closeTo(tasks?.costUsd.expected ?? 0, 0.009, 1e-12)
    assert.strictEqual(some.historyRuns, 1)
  })

  it("predicts each agent's calls with its own prompt and price, however many agents share a model", () => {
    // 300 agents of one model (their ids, and so their prompts, of two lengths) and one priced on its own.
    const agents: Record<string, unknown> = { solo: { provider: "sim", model: "sim-small", price: Price } }
    for (let i = 0; i < 300; i++) agents[`a${i}`] = { provider: "sim", model: "sim-small" }
    const config = Schemaless({ agents })
    const count = (text: string) => text.length
    const estimate = Estimate.make({ config, spec, history: History.empty, count })
    const pricer = Pricing.fromConfig(config)
    for (const stage of estimate.stages) {
      assert.strictEqual(stage.calls.length, 301)
      for (const call of stage.calls) {
        assert.strictEqual(call.stage, stage.stage)
        if (stage.stage !== "plan") continue
        // The first stage's prompt is counted exactly: the agent's own prompt, at the agent's own price.
        const counted = count(Prompt.make({ stage: "plan", agent: AgentId.make(call.agent), spec, previous: "" }))
        assert.closeTo(call.inputTokens.expected, counted, 1e-9, call.agent)
        const cost = pricer
          .price("sim-small", call.agent)
          ?.cost(TokenUsage.make({ input: counted, output: Estimate.defaults.outputTokens.plan }))
        assert.closeTo(call.costUsd.expected, cost ?? -1, 1e-12, call.agent)
      }
    }
    const plan = estimate.stages[0]?.calls ?? []
    const solo = plan.find((call) => call.agent === "solo")
    const a1 = plan.find((call) => call.agent === "a1")
    const a100 = plan.find((call) => call.agent === "a100")
    assert.notStrictEqual(a1?.inputTokens.expected, a100?.inputTokens.expected)
    assert.isAbove(solo?.costUsd.expected ?? 0, (a1?.costUsd.expected ?? 0) * 10)
    assert.strictEqual(Object.keys(estimate.byAgent).length, 301)
  })
})

const Price = { inputPerMTok: 100, outputPerMTok: 100 }

const Schemaless = (input: unknown): SpeckitConfig.SpeckitConfig => {
  const decoded = Effect.runSync(Effect.result(SpeckitConfig.decode(input, "inline")))
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

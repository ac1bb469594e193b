import { assert, describe, it } from "@effect/vitest"
import { AgentId, TokenUsage } from "@speckit/core"
import { Metrics, Pricing } from "@speckit/telemetry"
import { Effect } from "effect"

describe("Pricing", () => {
  it("bills cached input at the cached price and reasoning as output (hand-checked)", () => {
    const price = { inputPerMTok: 3, cachedInputPerMTok: 0.3, outputPerMTok: 15 }
    // 600k uncached × $3 + 400k cached × $0.30 + 200k output × $15 = 1.8 + 0.12 + 3.0 = 4.92
    const usage = TokenUsage.make({ input: 1_000_000, cachedInput: 400_000, output: 200_000, reasoning: 50_000 })
    assert.closeTo(Pricing.cost(usage, price), 4.92, 1e-9)
    // without a cached price, cached tokens cost the input price
    assert.closeTo(Pricing.cost(usage, { inputPerMTok: 3, outputPerMTok: 15 }), 6, 1e-9)
  })

  it("knows the simulated models and lets overrides win", () => {
    assert.strictEqual(Pricing.lookup()("sim-small")?.inputPerMTok, 0.25)
    assert.strictEqual(
      Pricing.lookup({ "sim-small": { inputPerMTok: 9, outputPerMTok: 9 } })("sim-small")?.inputPerMTok,
      9
    )
    assert.isUndefined(Pricing.lookup()("gpt-unknown"))
  })
})

describe("Metrics", () => {
  it.effect("totals usage and cost per agent and per stage", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics.make()
      const alpha = AgentId.make("alpha")
      const beta = AgentId.make("beta")
      // sim-large: 1000 in × $3/M + 500 out × $15/M = 0.003 + 0.0075 = 0.0105
      const a = yield* metrics.record({
        stage: "plan",
        agent: alpha,
        attempt: 1,
        model: "sim-large",
        usage: TokenUsage.make({ input: 1000, output: 500 }),
        ok: true
      })
      assert.closeTo(a.costUsd, 0.0105, 1e-12)
      // a reported cost is used as is
      yield* metrics.record({
        stage: "plan",
        agent: beta,
        attempt: 1,
        model: "claude-x",
        usage: TokenUsage.make({ input: 10, output: 10 }),
        reportedCostUsd: 0.25,
        ok: true
      })
      yield* metrics.record({
        stage: "tasks",
        agent: alpha,
        attempt: 1,
        model: "sim-large",
        usage: TokenUsage.make({ input: 1000, output: 500 }),
        ok: false
      })
      const snapshot = yield* metrics.snapshot
      assert.strictEqual(snapshot.calls, 3)
      assert.strictEqual(snapshot.failedCalls, 1)
      assert.closeTo(snapshot.costUsd, 0.0105 * 2 + 0.25, 1e-12)
      assert.strictEqual(snapshot.byAgent.alpha?.calls, 2)
      assert.closeTo(snapshot.byAgent.alpha?.costUsd ?? 0, 0.021, 1e-12)
      assert.closeTo(snapshot.byStage.plan?.costUsd ?? 0, 0.2605, 1e-12)
      assert.strictEqual(snapshot.usage.input, 2010)
      assert.deepStrictEqual(snapshot.unpriced, [])
    })
  )

  it.effect("marks a model without a known price as unpriced instead of guessing", () =>
    Effect.gen(function* () {
      const metrics = yield* Metrics.make()
      const cost = yield* metrics.record({
        stage: "plan",
        agent: AgentId.make("x"),
        attempt: 1,
        model: "mystery-1",
        usage: TokenUsage.make({ input: 5 }),
        ok: true
      })
      assert.isFalse(cost.priced)
      assert.deepStrictEqual((yield* metrics.snapshot).unpriced, ["mystery-1"])
    })
  )
})

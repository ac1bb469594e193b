/**
 * Overhead of recording session metrics per agent call: a simulated 1 ms agent call (`Effect.sleep`)
 * with and without `SessionMetrics.record` on the real telemetry layer (Effect `Metric`s included,
 * priced through the catalogue lookup), interleaved round by round in the same run.
 *
 * ratio = median wall time of 200 calls with metrics / the same 200 calls without. Target: < 1.05.
 */
import { Effect, Metric } from "effect"
import { type Benchmark, median } from "./Bench.ts"
import { AgentId, Metrics, TokenUsage } from "./deps.ts"

const calls = 200
const rounds = 7
const warmup = 1
const agents = ["alpha", "beta", "gamma"].map((id) => AgentId.make(id))
const models = ["sim-large", "sim-medium", "claude-sonnet-4-5"]
const stages = ["plan", "tasks", "implement", "validate", "audit", "unlock"] as const

const simulatedCall = Effect.sleep("1 millis")

const run = (withMetrics: boolean) =>
  Effect.gen(function* () {
    const metrics = yield* Metrics.make()
    const started = performance.now()
    for (let i = 0; i < calls; i++) {
      yield* simulatedCall
      if (withMetrics) {
        yield* metrics.record({
          stage: stages[i % stages.length] ?? "plan",
          agent: agents[i % agents.length] ?? AgentId.make("alpha"),
          attempt: 1,
          model: models[i % models.length] ?? "sim-large",
          usage: TokenUsage.make({ input: 1200 + i, cachedInput: 300, output: 400, reasoning: 50 }),
          ok: i % 10 !== 0
        })
      }
    }
    return performance.now() - started
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

const benchmark: Benchmark = {
  name: "metrics",
  description: `${calls} simulated 1 ms agent calls with SessionMetrics.record (Effect metrics on) vs without`,
  target: { ratio: 1.05, direction: "max" },
  run: async () => {
    const without: Array<number> = []
    const withMetrics: Array<number> = []
    const recordOnly: Array<number> = []
    for (let round = 0; round < warmup + rounds; round++) {
      const a = await Effect.runPromise(run(false))
      const b = await Effect.runPromise(run(true))
      const started = performance.now()
      await Effect.runPromise(
        Effect.gen(function* () {
          const metrics = yield* Metrics.make()
          for (let i = 0; i < calls; i++) {
            yield* metrics.record({
              stage: "plan",
              agent: agents[i % agents.length] ?? AgentId.make("alpha"),
              attempt: 1,
              model: models[i % models.length] ?? "sim-large",
              usage: TokenUsage.make({ input: 1200 + i, output: 400 }),
              ok: true
            })
          }
        }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
      )
      const c = performance.now() - started
      if (round >= warmup) {
        without.push(a)
        withMetrics.push(b)
        recordOnly.push(c)
      }
    }
    const perRecordUs = (median(recordOnly) / calls) * 1000
    return {
      baseline: { label: `${calls} × 1 ms call, no metrics`, value: median(without), unit: "ms", samples: without },
      measured: {
        label: `${calls} × 1 ms call + SessionMetrics.record`,
        value: median(withMetrics),
        unit: "ms",
        samples: withMetrics
      },
      extra: [{ label: `${calls} × record alone`, value: median(recordOnly), unit: "ms", samples: recordOnly }],
      details: { perRecordMicros: Math.round(perRecordUs * 100) / 100 }
    }
  }
}

export default benchmark

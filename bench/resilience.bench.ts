/**
 * Per-call overhead of speckit's resilience wrapper against cockatiel's equivalent policy, on the
 * happy path (no faults), which every agent call pays.
 *
 * Both sides get the same policy shape, nested the same way, around the same call:
 *
 * - the call: one async no-op (`async () => {}`; ours runs it through `Effect.promise`, as an agent's
 *   HTTP or process call is a promise or a callback underneath), so both sides arm their timer;
 * - outermost a consecutive-failure breaker (3 failed calls, 60 s open), then a retry (3 retries,
 *   exponential backoff from 1 s, capped at 30 s), then a 600 s timeout that interrupts the attempt
 *   (cockatiel `TimeoutStrategy.Aggressive`): ours as `AgentCall` composes them (`guard` → `Resilience.retry`
 *   with `Resilience.schedule` → `Resilience.withTimeout`), cockatiel as
 *   `wrap(circuitBreaker, retry, timeout)`. (`wrap(retry, circuitBreaker, timeout)`, the order the
 *   issue first compared with, is reported too: the order does not change the happy path's cost.)
 *
 * Each sample runs `CALLS` calls back to back, each side in its native style (one `Effect` program
 * looping over the calls; one `async` loop awaiting them). Rounds are interleaved, and the order of
 * the variants alternates from one round to the next, so drift and GC pressure spread evenly; the
 * figures are medians over the rounds. Target: ratio ≤ 1.0 (ours not slower than cockatiel).
 */
import {
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry,
  TimeoutStrategy,
  timeout,
  wrap
} from "cockatiel"
import { Effect } from "effect"
import { type Benchmark, median, round2 } from "./Bench.ts"
import { AgentId, Resilience } from "./deps.ts"

const CALLS = 10_000
const ROUNDS = 15
const WARMUP_ROUNDS = 2
const alpha = AgentId.make("alpha")

const policyShape = {
  failureThreshold: 3,
  resetAfterMs: 60_000,
  maxRetries: 3,
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  timeoutMs: 600_000
} as const

const config = {
  agents: {
    alpha: {
      provider: "sim",
      timeoutMs: policyShape.timeoutMs,
      retry: {
        maxRetries: policyShape.maxRetries,
        initialDelayMs: policyShape.initialDelayMs,
        factor: 2,
        maxDelayMs: policyShape.maxDelayMs
      },
      breaker: { failureThreshold: policyShape.failureThreshold, resetAfterMs: policyShape.resetAfterMs }
    }
  }
} as const

const benchmark: Benchmark = {
  name: "resilience",
  description: `resilience wrapper (breaker → retry → timeout, no faults) around an async no-op call vs cockatiel wrap(circuitBreaker, retry, timeout) of the same shape; ${CALLS} calls per sample, ${ROUNDS} interleaved rounds, median µs per call`,
  target: { ratio: 1.0, direction: "max" },
  run: async () => {
    const noop = async () => {}

    // ours: the same composition AgentCall uses
    const ours = await Effect.runPromise(
      Effect.gen(function* () {
        const service = yield* Resilience.make(config as never)
        const policy = service.policyFor(alpha)
        if (policy.maxRetries !== policyShape.maxRetries || policy.breaker?.failureThreshold !== 3) {
          throw new Error("the benchmark's configuration did not resolve to the intended policy")
        }
        const onChange = () => Effect.void
        const guarded = (call: Effect.Effect<void>) =>
          Effect.suspend(() => {
            const startedAt = Date.now()
            const attempt = Resilience.withTimeout(call, alpha, policy.timeoutMs)
            const retried = Resilience.retry(attempt, () => Resilience.schedule(policy, { startedAt }))
            return service.guard(alpha, retried, onChange, { stage: "plan" })
          })
        const loopOf = (one: Effect.Effect<void, unknown>) =>
          Effect.gen(function* () {
            for (let i = 0; i < CALLS; i++) yield* one
          })
        return {
          loop: loopOf(guarded(Effect.promise(noop))),
          syncLoop: loopOf(guarded(Effect.void)),
          bare: loopOf(Effect.promise(noop)),
          state: service.state(alpha)
        }
      }).pipe(Effect.scoped)
    )

    const breakerPolicy = () =>
      circuitBreaker(handleAll, {
        halfOpenAfter: policyShape.resetAfterMs,
        breaker: new ConsecutiveBreaker(policyShape.failureThreshold)
      })
    const retryPolicy = () =>
      retry(handleAll, {
        maxAttempts: policyShape.maxRetries,
        backoff: new ExponentialBackoff({
          initialDelay: policyShape.initialDelayMs,
          maxDelay: policyShape.maxDelayMs,
          exponent: 2
        })
      })
    const timeoutPolicy = () => timeout(policyShape.timeoutMs, TimeoutStrategy.Aggressive)
    const cockatiel = wrap(breakerPolicy(), retryPolicy(), timeoutPolicy())
    const cockatielRetryFirst = wrap(retryPolicy(), breakerPolicy(), timeoutPolicy())
    const asyncLoop = (execute: () => Promise<unknown>) => async () => {
      for (let i = 0; i < CALLS; i++) await execute()
    }

    const variants = {
      ours: () => Effect.runPromise(ours.loop),
      cockatiel: asyncLoop(() => cockatiel.execute(noop)),
      oursSync: () => Effect.runPromise(ours.syncLoop),
      cockatielRetryFirst: asyncLoop(() => cockatielRetryFirst.execute(noop)),
      bare: () => Effect.runPromise(ours.bare),
      bareAsync: asyncLoop(noop)
    } as const
    type Variant = keyof typeof variants
    const names = Object.keys(variants) as Array<Variant>

    const time = async (task: () => Promise<unknown>) => {
      const started = performance.now()
      await task()
      return ((performance.now() - started) * 1_000) / CALLS
    }
    const samples = Object.fromEntries(names.map((name) => [name, [] as Array<number>])) as Record<
      Variant,
      Array<number>
    >
    const roundRatios: Array<number> = []
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const order = round % 2 === 0 ? names : [...names].reverse()
      const figures: Partial<Record<Variant, number>> = {}
      for (const name of order) figures[name] = await time(variants[name])
      if (round < WARMUP_ROUNDS) continue
      for (const name of names) samples[name].push(figures[name] ?? Number.NaN)
      roundRatios.push((figures.ours ?? Number.NaN) / (figures.cockatiel ?? Number.NaN))
    }
    const state = await Effect.runPromise(ours.state)
    if (state !== "Closed") throw new Error(`the breaker should stay closed without faults, got ${state}`)

    const measurement = (label: string, name: Variant) => ({
      label,
      value: median(samples[name]),
      unit: "µs/call",
      samples: samples[name].map(round2)
    })
    return {
      baseline: measurement("cockatiel wrap(breaker, retry, timeout)", "cockatiel"),
      measured: measurement("speckit Resilience (breaker, retry, timeout)", "ours"),
      extra: [
        measurement("cockatiel wrap(retry, breaker, timeout)", "cockatielRetryFirst"),
        measurement("speckit Resilience around Effect.void (sync)", "oursSync"),
        measurement("bare Effect.promise(noop) loop", "bare"),
        measurement("bare await noop() loop", "bareAsync")
      ],
      details: {
        calls: CALLS,
        rounds: ROUNDS,
        warmupRounds: WARMUP_ROUNDS,
        "median of per-round ratios": round2(median(roundRatios)),
        "worst per-round ratio": round2(Math.max(...roundRatios))
      }
    }
  }
}

export default benchmark

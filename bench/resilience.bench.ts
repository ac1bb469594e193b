/**
 * Per-call overhead of speckit's resilience wrapper (circuit breaker → retry schedule → per-attempt
 * timeout, as `AgentCall` composes them) around a no-op call, against cockatiel's equivalent policy
 * (`wrap(retry, circuitBreaker, timeout)`: 3 retries with exponential backoff, a consecutive-failure
 * breaker, an aggressive timeout) around a no-op async call. No faults: the happy path, which every
 * agent call pays. Each sample runs many calls back to back (each side in its native style: one
 * `Effect` program looping over the calls, one `async` loop awaiting them); the figure is the median
 * time per call. Variants are interleaved round by round.
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

const CALLS = 20_000
const ROUNDS = 7
const alpha = AgentId.make("alpha")

const config = {
  agents: { alpha: { provider: "sim", timeoutMs: 600_000, retry: { maxRetries: 3 }, breaker: { failureThreshold: 3 } } }
} as const

const benchmark: Benchmark = {
  name: "resilience",
  description: `resilience wrapper (breaker + retry + timeout, no faults) around a no-op call vs cockatiel wrap(retry, circuitBreaker, timeout); ${CALLS} calls per sample, µs per call`,
  target: { ratio: 1.0, direction: "max" },
  run: async () => {
    // ours: the same composition AgentCall uses
    const ours = await Effect.runPromise(
      Effect.gen(function* () {
        const service = yield* Resilience.make(config as never)
        const policy = service.policyFor(alpha)
        const onChange = () => Effect.void
        const noop = Effect.void
        const one = Effect.suspend(() => {
          const schedule = Resilience.schedule(policy, { startedAt: Date.now() })
          const attempt = Resilience.withTimeout(noop, alpha, policy.timeoutMs)
          return service.guard(alpha, Effect.retry(attempt, schedule), onChange)
        })
        const loop = Effect.gen(function* () {
          for (let i = 0; i < CALLS; i++) yield* one
        })
        return { loop, state: service.state(alpha) }
      }).pipe(Effect.scoped)
    )
    const bare = Effect.gen(function* () {
      for (let i = 0; i < CALLS; i++) yield* Effect.void
    })

    const policy = wrap(
      retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff({ initialDelay: 1_000, maxDelay: 30_000 }) }),
      circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(3) }),
      timeout(600_000, TimeoutStrategy.Aggressive)
    )
    const noop = async () => {}
    const cockatielLoop = async () => {
      for (let i = 0; i < CALLS; i++) await policy.execute(noop)
    }
    const bareAsync = async () => {
      for (let i = 0; i < CALLS; i++) await noop()
    }

    const time = async (task: () => Promise<unknown>) => {
      const started = performance.now()
      await task()
      return ((performance.now() - started) * 1_000) / CALLS
    }
    const samples = {
      ours: [] as Array<number>,
      cockatiel: [] as Array<number>,
      bare: [] as Array<number>,
      bareAsync: [] as Array<number>
    }
    // warm-up
    await Effect.runPromise(ours.loop)
    await cockatielLoop()
    for (let round = 0; round < ROUNDS; round++) {
      samples.ours.push(await time(() => Effect.runPromise(ours.loop)))
      samples.cockatiel.push(await time(cockatielLoop))
      samples.bare.push(await time(() => Effect.runPromise(bare)))
      samples.bareAsync.push(await time(bareAsync))
    }
    const state = await Effect.runPromise(ours.state)
    if (state !== "Closed") throw new Error(`the breaker should stay closed without faults, got ${state}`)
    const us = (values: ReadonlyArray<number>) => values.map(round2)
    return {
      baseline: {
        label: "cockatiel wrap(retry, breaker, timeout)",
        value: median(samples.cockatiel),
        unit: "µs/call",
        samples: us(samples.cockatiel)
      },
      measured: {
        label: "speckit Resilience (breaker, retry, timeout)",
        value: median(samples.ours),
        unit: "µs/call",
        samples: us(samples.ours)
      },
      extra: [
        { label: "bare Effect.void loop", value: median(samples.bare), unit: "µs/call", samples: us(samples.bare) },
        {
          label: "bare await noop() loop",
          value: median(samples.bareAsync),
          unit: "µs/call",
          samples: us(samples.bareAsync)
        }
      ],
      details: { calls: CALLS, rounds: ROUNDS }
    }
  }
}

export default benchmark

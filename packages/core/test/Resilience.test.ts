import { assert, describe, it } from "@effect/vitest"
import { AgentError, AgentId, Resilience, SessionMetrics, SpeckitConfig } from "@speckit/core"
import { Clock, Deferred, Effect, Exit, Fiber, Random, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"

const alpha = AgentId.make("alpha")

const policy = (overrides: Partial<Resilience.Policy>): Resilience.Policy => ({
  ...Resilience.defaults,
  jitter: 0,
  breaker: undefined,
  timeoutMs: undefined,
  ...overrides
})

const failure = (kind: AgentError.AgentErrorKind, extra: { readonly resetAt?: number } = {}) =>
  new AgentError.AgentError({ agent: "alpha", kind, detail: `${kind} detail`, ...extra })

/**
 * Runs an effect that fails with `errors[i]` on attempt i (and succeeds after them) under the
 * policy's schedule, on the TestClock; returns when each attempt started and the final exit.
 */
const retryTimes = (p: Resilience.Policy, errors: ReadonlyArray<(now: number) => AgentError.AgentError>) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const times: Array<number> = []
    const attempt = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      times.push(now - started)
      const make = errors[times.length - 1]
      return make === undefined ? "ok" : yield* Effect.fail(make(now))
    })
    const fiber = yield* Effect.forkChild(
      Effect.exit(Effect.retry(attempt, Resilience.schedule(p, { startedAt: started })))
    )
    yield* TestClock.adjust("2 hours")
    const exit = yield* Fiber.join(fiber)
    return { times, exit }
  })

const always = (kind: AgentError.AgentErrorKind) => Array.from({ length: 20 }, () => (_now: number) => failure(kind))

describe("Resilience.schedule", () => {
  it.effect("exponential backoff: delays initialDelayMs × factor^n, exactly, then gives up after maxRetries", () =>
    Effect.gen(function* () {
      const { times, exit } = yield* retryTimes(
        policy({ initialDelayMs: 100, factor: 2, maxRetries: 4, maxDelayMs: 60_000 }),
        always("Overloaded")
      )
      assert.deepStrictEqual(times, [0, 100, 300, 700, 1500])
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it.effect("caps every delay at maxDelayMs", () =>
    Effect.gen(function* () {
      const { times } = yield* retryTimes(
        policy({ initialDelayMs: 100, factor: 3, maxRetries: 4, maxDelayMs: 500 }),
        always("ServerError")
      )
      // delays 100, 300, 500 (900 capped), 500 (2700 capped)
      assert.deepStrictEqual(times, [0, 100, 400, 900, 1400])
    })
  )

  it.effect("stops before a wait that would end past maxElapsedMs", () =>
    Effect.gen(function* () {
      const { times, exit } = yield* retryTimes(
        policy({ initialDelayMs: 100, factor: 2, maxRetries: 10, maxDelayMs: 60_000, maxElapsedMs: 1_000 }),
        always("Timeout")
      )
      // waits 100, 200, 400 end at 700; the next (800) would end at 1500 > 1000
      assert.deepStrictEqual(times, [0, 100, 300, 700])
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it.effect("stops when the attempts took the elapsed budget", () =>
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      // a schedule whose call started 950 ms ago: the 100 ms wait would end at 1050 > 1000
      const step = Resilience.schedule(policy({ initialDelayMs: 100, maxElapsedMs: 1_000 }), {
        startedAt: started - 950
      })
      const exit = yield* Effect.exit(Effect.retry(Effect.fail(failure("Overloaded")), step))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* Clock.currentTimeMillis, started, "no wait at all")
    })
  )

  it.effect("succeeds as soon as an attempt succeeds", () =>
    Effect.gen(function* () {
      const { times, exit } = yield* retryTimes(policy({ initialDelayMs: 50, factor: 2 }), [
        () => failure("Disconnected"),
        () => failure("Empty")
      ])
      assert.deepStrictEqual(times, [0, 50, 150])
      assert.deepStrictEqual(exit, Exit.succeed("ok"))
    })
  )

  it.effect("RateLimited waits exactly until resetAt (jitter 0), whatever the backoff", () =>
    Effect.gen(function* () {
      const { times, exit } = yield* retryTimes(policy({ initialDelayMs: 10, maxDelayMs: 10 }), [
        (now) => failure("RateLimited", { resetAt: now + 5_000 }),
        (now) => failure("RateLimited", { resetAt: now + 250 })
      ])
      assert.deepStrictEqual(times, [0, 5_000, 5_250])
      assert.isTrue(Exit.isSuccess(exit))
    })
  )

  it.effect("RateLimited with a reset past the elapsed budget fails at once", () =>
    Effect.gen(function* () {
      const { times, exit } = yield* retryTimes(policy({ maxElapsedMs: 60_000 }), [
        (now) => failure("RateLimited", { resetAt: now + 3_600_000 })
      ])
      assert.deepStrictEqual(times, [0])
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it.effect("RateLimited without a reset time backs off like any transient error", () =>
    Effect.gen(function* () {
      const { times } = yield* retryTimes(
        policy({ initialDelayMs: 200, factor: 2, maxRetries: 2 }),
        always("RateLimited")
      )
      assert.deepStrictEqual(times, [0, 200, 600])
    })
  )

  it.effect("permanent errors are attempted once", () =>
    Effect.gen(function* () {
      for (const kind of ["AuthFailed", "QuotaExhausted", "InvalidRequest", "ModelNotFound", "CircuitOpen"] as const) {
        const { times, exit } = yield* retryTimes(policy({ maxRetries: 5 }), always(kind))
        assert.deepStrictEqual(times, [0], kind)
        assert.isTrue(Exit.isFailure(exit))
      }
    })
  )

  it.effect("Malformed: at most maxMalformedRetries retries, at once, each with a repair note", () =>
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const decisions: Array<Resilience.Retrying | undefined> = []
      let attempts = 0
      const exit = yield* Effect.exit(
        Effect.retry(
          Effect.suspend(() => {
            attempts++
            return Effect.fail(failure("Malformed"))
          }),
          Resilience.schedule(policy({ maxRetries: 5, maxMalformedRetries: 2 }), { startedAt: started }).pipe(
            Schedule.tap(({ output }) => Effect.sync(() => void decisions.push(output)))
          )
        )
      )
      assert.strictEqual(attempts, 3)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* Clock.currentTimeMillis, started, "repair retries do not wait")
      assert.deepStrictEqual(
        decisions.map((decision) => [decision?.attempt, decision?.delayMs, decision?.repairNote]),
        [
          [1, 0, "It was not a valid result for this stage: Malformed detail."],
          [2, 0, "It was not a valid result for this stage: Malformed detail."]
        ]
      )
    })
  )

  it.effect("Malformed retries have their own budget: transient retries still follow maxRetries", () =>
    Effect.gen(function* () {
      const { times, exit } = yield* retryTimes(
        policy({ initialDelayMs: 100, factor: 1, maxRetries: 1, maxMalformedRetries: 2 }),
        [
          () => failure("Malformed"),
          () => failure("Overloaded"),
          () => failure("Malformed"),
          () => failure("Overloaded")
        ]
      )
      assert.deepStrictEqual(times, [0, 0, 100, 100])
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it.effect("seeded jitter: delays stay within d·(1 ± jitter), capped, and are reproducible", () =>
    Effect.gen(function* () {
      const p = policy({ initialDelayMs: 1_000, factor: 2, maxRetries: 5, maxDelayMs: 6_000, jitter: 0.5 })
      const run = retryTimes(p, always("Overloaded")).pipe(Random.withSeed("speckit"))
      const first = yield* run
      const second = yield* run
      assert.deepStrictEqual(first.times, second.times, "same seed, same delays")
      const delays = first.times.slice(1).map((time, index) => time - (first.times[index] ?? 0))
      assert.lengthOf(delays, 5)
      for (const [index, delay] of delays.entries()) {
        const base = Resilience.backoffMs(p, index + 1)
        assert.isAtLeast(delay, Math.floor(base * 0.5), `delay ${index + 1}`)
        assert.isAtMost(delay, Math.min(6_000, Math.ceil(base * 1.5)), `delay ${index + 1}`)
      }
      assert.notDeepEqual(
        delays,
        [1, 2, 3, 4, 5].map((n) => Resilience.backoffMs(p, n)),
        "jitter moved some delay"
      )
    })
  )
})

describe("Resilience.retry", () => {
  it.effect("retries like Effect.retry with the same schedule, building it only after a failure", () =>
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      let built = 0
      const p = policy({ initialDelayMs: 100, factor: 2, maxRetries: 2 })
      const make = () => {
        built++
        return Resilience.schedule(p, { startedAt: started })
      }
      assert.strictEqual(yield* Resilience.retry(Effect.succeed("ok"), make), "ok")
      assert.strictEqual(built, 0, "no schedule for a first attempt that succeeds")
      const times: Array<number> = []
      const attempt = Effect.gen(function* () {
        times.push((yield* Clock.currentTimeMillis) - started)
        return times.length < 3 ? yield* Effect.fail(failure("Overloaded")) : "ok"
      })
      const fiber = yield* Effect.forkChild(Resilience.retry(attempt, make))
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(times, [0, 100, 300])
      assert.strictEqual(built, 1)
      const permanent = yield* Effect.flip(Resilience.retry(Effect.fail(failure("AuthFailed")), make))
      assert.strictEqual(permanent.kind, "AuthFailed")
    })
  )
})

describe("Resilience.withTimeout", () => {
  it.live("with the live clock: a stuck attempt is interrupted and fails with Timeout; a quick one succeeds", () =>
    Effect.gen(function* () {
      let interrupted = false
      const stuck = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))))
      const error = yield* Effect.flip(Resilience.withTimeout(stuck, "alpha", 20))
      assert.strictEqual(error.kind, "Timeout")
      assert.isTrue(interrupted, "the attempt was interrupted before the call failed")
      const quick = Effect.promise(() => new Promise<string>((resolve) => setTimeout(() => resolve("ok"), 5)))
      assert.strictEqual(yield* Resilience.withTimeout(quick, "alpha", 1_000), "ok")
      const failing = Effect.fail(failure("ServerError"))
      assert.strictEqual((yield* Effect.flip(Resilience.withTimeout(failing, "alpha", 1_000))).kind, "ServerError")
    })
  )

  it.effect("fails a stuck attempt with Timeout after exactly timeoutMs, interrupting it", () =>
    Effect.gen(function* () {
      let interrupted = false
      const stuck = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))))
      const fiber = yield* Effect.forkChild(Effect.exit(Resilience.withTimeout(stuck, "alpha", 1_500)))
      yield* TestClock.adjust(1_499)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(1)
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause : undefined
      assert.include(String(error), "Timeout")
      assert.isTrue(interrupted)
    })
  )
})

const decodeConfig = Schema.decodeUnknownSync(SpeckitConfig.SpeckitConfig)

describe("Resilience.policyOf", () => {
  it("per-agent fields override global ones field by field, over the defaults", () => {
    const config = decodeConfig({
      agents: {
        alpha: { provider: "sim", timeoutMs: 5_000, retry: { maxRetries: 1 }, breaker: { resetAfterMs: 9_000 } },
        beta: { provider: "sim" }
      },
      retry: { maxRetries: 5, initialDelayMs: 10, jitter: 0 },
      breaker: { failureThreshold: 7 }
    })
    const own = Resilience.policyOf(config, alpha)
    assert.deepStrictEqual(own, {
      ...Resilience.defaults,
      maxRetries: 1,
      initialDelayMs: 10,
      jitter: 0,
      timeoutMs: 5_000,
      breaker: { failureThreshold: 7, resetAfterMs: 9_000 }
    })
    const beta = Resilience.policyOf(config, AgentId.make("beta"))
    assert.strictEqual(beta.maxRetries, 5)
    assert.strictEqual(beta.timeoutMs, Resilience.defaults.timeoutMs)
    assert.deepStrictEqual(beta.breaker, {
      failureThreshold: 7,
      resetAfterMs: Resilience.defaults.breaker?.resetAfterMs
    })
  })
})

describe("Resilience breakers", () => {
  const config = decodeConfig({
    agents: { alpha: { provider: "sim" } },
    breaker: { failureThreshold: 2, resetAfterMs: 1_000 }
  })

  it.effect("opens after failureThreshold failed calls, fails fast while open, half-opens after resetAfterMs", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.make(config)
      const changes: Array<string> = []
      let runs = 0
      const onChange = (change: Resilience.BreakerChange) =>
        Effect.sync(() => void changes.push(`${change.from}->${change.to}`))
      const failing = Effect.suspend(() => {
        runs++
        return Effect.fail(failure("ServerError"))
      })
      const healthy = Effect.sync(() => {
        runs++
        return "ok"
      })
      const kindOf = <A>(self: Effect.Effect<A, AgentError.AgentError>) =>
        Effect.match(self, { onFailure: (error) => error.kind, onSuccess: () => "ok" })

      assert.strictEqual(yield* kindOf(service.guard(alpha, failing, onChange)), "ServerError")
      assert.strictEqual(yield* service.state(alpha), "Closed")
      assert.strictEqual(yield* kindOf(service.guard(alpha, failing, onChange)), "ServerError")
      assert.strictEqual(yield* service.state(alpha), "Open")
      assert.deepStrictEqual(changes, ["Closed->Open"])

      // open: fails fast, without running the call
      assert.strictEqual(yield* kindOf(service.guard(alpha, healthy, onChange)), "CircuitOpen")
      assert.strictEqual(runs, 2)

      // just before resetAfterMs: still open
      yield* TestClock.adjust(999)
      assert.strictEqual(yield* kindOf(service.guard(alpha, healthy, onChange)), "CircuitOpen")
      assert.strictEqual(runs, 2)

      // after it: one trial call; it fails, so the circuit opens again
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* kindOf(service.guard(alpha, failing, onChange)), "ServerError")
      assert.strictEqual(runs, 3)
      assert.strictEqual(yield* service.state(alpha), "Open")
      assert.deepStrictEqual(changes, ["Closed->Open", "Open->HalfOpen", "HalfOpen->Open"])

      // after another resetAfterMs a successful trial closes it
      yield* TestClock.adjust(1_000)
      assert.strictEqual(yield* kindOf(service.guard(alpha, healthy, onChange)), "ok")
      assert.strictEqual(yield* service.state(alpha), "Closed")
      assert.deepStrictEqual(changes, [
        "Closed->Open",
        "Open->HalfOpen",
        "HalfOpen->Open",
        "Open->HalfOpen",
        "HalfOpen->Closed"
      ])

      // closed again: a single failure does not reopen it (threshold 2)
      assert.strictEqual(yield* kindOf(service.guard(alpha, failing, onChange)), "ServerError")
      assert.strictEqual(yield* service.state(alpha), "Closed")
    }).pipe(Effect.scoped)
  )

  it.effect("permanent-looking and interrupted outcomes: Interrupted does not count, a success resets the streak", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.make(config)
      const onChange = () => Effect.void
      const run = <A>(self: Effect.Effect<A, AgentError.AgentError>) =>
        Effect.ignore(service.guard(alpha, self, onChange))
      yield* run(Effect.fail(failure("Timeout")))
      yield* run(Effect.succeed("ok"))
      yield* run(Effect.fail(failure("Timeout")))
      yield* run(Effect.fail(failure("Interrupted")))
      assert.strictEqual(yield* service.state(alpha), "Closed")
      yield* run(Effect.fail(failure("Timeout")))
      assert.strictEqual(yield* service.state(alpha), "Open")
    }).pipe(Effect.scoped)
  )

  const kindOf = <A>(self: Effect.Effect<A, AgentError.AgentError>) =>
    Effect.match(self, { onFailure: (error) => error.kind, onSuccess: () => "ok" })

  it.effect("a RateLimited failure with a reset time keeps the circuit open until the reset", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.make(config)
      const changes: Array<Resilience.BreakerChange> = []
      const onChange = (change: Resilience.BreakerChange) => Effect.sync(() => void changes.push(change))
      const started = yield* Clock.currentTimeMillis
      yield* Effect.ignore(service.guard(alpha, Effect.fail(failure("ServerError")), onChange))
      yield* Effect.ignore(
        service.guard(alpha, Effect.fail(failure("RateLimited", { resetAt: started + 5_000 })), onChange)
      )
      assert.deepStrictEqual(changes, [{ agent: alpha, from: "Closed", to: "Open", reopensAt: started + 5_000 }])
      // resetAfterMs (1 s) has passed, the rate limit has not: still open
      yield* TestClock.adjust(4_999)
      assert.strictEqual(yield* kindOf(service.guard(alpha, Effect.succeed("ok"), onChange)), "CircuitOpen")
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* kindOf(service.guard(alpha, Effect.succeed("ok"), onChange)), "ok")
      assert.strictEqual(yield* service.state(alpha), "Closed")
    }).pipe(Effect.scoped)
  )

  it.effect("half-open: one trial call at a time, Open->HalfOpen reported as it starts", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.make(config)
      const changes: Array<string> = []
      const onChange = (change: Resilience.BreakerChange) =>
        Effect.sync(() => void changes.push(`${change.from}->${change.to}`))
      for (let i = 0; i < 2; i++) yield* Effect.ignore(service.guard(alpha, Effect.fail(failure("Timeout")), onChange))
      yield* TestClock.adjust(1_000)
      const gate = yield* Deferred.make<void>()
      const trial = yield* Effect.forkChild(kindOf(service.guard(alpha, Deferred.await(gate), onChange)))
      yield* Effect.yieldNow
      assert.strictEqual(yield* service.state(alpha), "HalfOpen")
      assert.deepStrictEqual(changes, ["Closed->Open", "Open->HalfOpen"])
      const other = yield* Effect.flip(service.guard(alpha, Effect.succeed("ok"), onChange))
      assert.strictEqual(other.kind, "CircuitOpen")
      assert.include(other.detail, "half-open")
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(trial), "ok")
      assert.deepStrictEqual(changes, ["Closed->Open", "Open->HalfOpen", "HalfOpen->Closed"])
    }).pipe(Effect.scoped)
  )

  it.effect("an interrupted trial call frees the trial slot: the next call is the trial", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.make(config)
      const changes: Array<string> = []
      const onChange = (change: Resilience.BreakerChange) =>
        Effect.sync(() => void changes.push(`${change.from}->${change.to}`))
      for (let i = 0; i < 2; i++) yield* Effect.ignore(service.guard(alpha, Effect.fail(failure("Timeout")), onChange))
      yield* TestClock.adjust(1_000)
      const trial = yield* Effect.forkChild(service.guard(alpha, Effect.never, onChange))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(trial)
      assert.strictEqual(yield* service.state(alpha), "HalfOpen")
      assert.strictEqual(yield* kindOf(service.guard(alpha, Effect.succeed("ok"), onChange)), "ok")
      assert.deepStrictEqual(changes, ["Closed->Open", "Open->HalfOpen", "HalfOpen->Closed"])
    }).pipe(Effect.scoped)
  )

  it.effect("errors that are not agent errors (budget, store) and defects do not count", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.make(config)
      const onChange = () => Effect.void
      class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {}) {}
      for (let i = 0; i < 3; i++) {
        yield* Effect.ignore(service.guard(alpha, Effect.fail(new BudgetExceeded()), onChange))
        yield* Effect.ignore(Effect.exit(service.guard(alpha, Effect.die("boom"), onChange)))
      }
      assert.strictEqual(yield* service.state(alpha), "Closed")
    }).pipe(Effect.scoped)
  )

  it.effect("a call admitted before the circuit opened does not count once it has", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.make(config)
      const onChange = () => Effect.void
      const gate = yield* Deferred.make<void>()
      const slow = yield* Effect.forkChild(
        Effect.ignore(
          service.guard(alpha, Effect.andThen(Deferred.await(gate), Effect.fail(failure("Timeout"))), onChange)
        )
      )
      yield* Effect.yieldNow
      for (let i = 0; i < 2; i++) yield* Effect.ignore(service.guard(alpha, Effect.fail(failure("Timeout")), onChange))
      yield* TestClock.adjust(1_000)
      // the trial succeeds and closes the circuit; then the old call fails: a first failure at most
      assert.strictEqual(yield* kindOf(service.guard(alpha, Effect.succeed("ok"), onChange)), "ok")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(slow)
      yield* Effect.ignore(service.guard(alpha, Effect.fail(failure("Timeout")), onChange))
      assert.strictEqual(yield* service.state(alpha), "Closed", "one failure since it closed, threshold 2")
    }).pipe(Effect.scoped)
  )

  it.effect("counts every opening as a circuit_open event of the call's stage", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.make(config)
      const counted: Array<SessionMetrics.CountedEvent> = []
      const metrics = SessionMetrics.SessionMetrics.of({
        record: () => Effect.succeed({ costUsd: 0, priced: true }),
        count: (event) => Effect.sync(() => void counted.push(event)),
        snapshot: Effect.die("unused")
      })
      const onChange = () => Effect.void
      const run = <A>(self: Effect.Effect<A, AgentError.AgentError>, stage?: "plan" | "tasks") =>
        Effect.ignore(service.guard(alpha, self, onChange, { stage })).pipe(
          Effect.provideService(SessionMetrics.SessionMetrics, metrics)
        )
      yield* run(Effect.fail(failure("ServerError")), "plan")
      yield* run(Effect.fail(failure("ServerError")), "plan")
      assert.deepStrictEqual(counted, [{ kind: "circuit_open", stage: "plan", agent: alpha }])
      yield* TestClock.adjust(1_000)
      yield* run(Effect.fail(failure("ServerError")), "tasks")
      assert.deepStrictEqual(
        counted.map((event) => `${event.kind} ${event.stage}`),
        ["circuit_open plan", "circuit_open tasks"]
      )
      // without a stage (or without metrics) the opening is not counted, and nothing fails
      yield* TestClock.adjust(1_000)
      yield* run(Effect.fail(failure("ServerError")))
      assert.strictEqual(yield* service.state(alpha), "Open")
      yield* TestClock.adjust(1_000)
      yield* Effect.ignore(service.guard(alpha, Effect.fail(failure("ServerError")), onChange, { stage: "plan" }))
      assert.lengthOf(counted, 2)
    }).pipe(Effect.scoped)
  )

  it.effect("without the layer: one attempt, no timeout, no breaker", () =>
    Effect.gen(function* () {
      const service = yield* Resilience.AgentResilience
      assert.deepStrictEqual(service.policyFor(alpha), Resilience.singleAttempt)
      for (let i = 0; i < 10; i++)
        yield* Effect.ignore(service.guard(alpha, Effect.fail(failure("Timeout")), () => Effect.void))
      assert.strictEqual(yield* service.state(alpha), "Closed")
    })
  )
})

import { assert, describe, it } from "@effect/vitest"
import { AgentError, AgentId, FaultInjector, RunId, type Stage } from "@speckit/core"
import { Faults, FaultSpec } from "@speckit/faults"
import { ConfigProvider, Effect, Exit, Ref, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"

const runId = Schema.decodeUnknownSync(RunId.RunId)("run-test")
const claude = AgentId.make("claude")
const gemini = AgentId.make("gemini")

const target = (agent: AgentId.AgentId, attempt = 1, stage: Stage.Stage = "plan"): FaultInjector.FaultTarget => ({
  runId,
  stage,
  agent,
  attempt
})

/** Runs `n` attempts for `agent` one after another and returns each one's error kind, or "ok". */
const attempts = (n: number, agent: AgentId.AgentId = claude) =>
  Effect.gen(function* () {
    const faults = yield* FaultInjector.FaultInjector
    const kinds: Array<string> = []
    for (let attempt = 1; attempt <= n; attempt++) {
      const result = yield* Effect.result(faults.beforeAttempt(target(agent, attempt)))
      kinds.push(Result.isSuccess(result) ? "ok" : result.failure.kind)
    }
    return kinds
  })

const failureOf = <A>(effect: Effect.Effect<A, AgentError.AgentError>) => Effect.flip(effect)

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

describe("Faults.layerScripted", () => {
  it.effect("a counted entry fails exactly N attempts, then attempts succeed", () =>
    Effect.gen(function* () {
      const kinds = yield* attempts(5)
      assert.deepStrictEqual(kinds, ["Timeout", "Timeout", "Timeout", "ok", "ok"])
    }).pipe(Effect.provide(Faults.layerScripted(FaultSpec.parseSync("agent_timeout:3"))))
  )

  it.effect("entries are consumed in order", () =>
    Effect.gen(function* () {
      const kinds = yield* attempts(5)
      assert.deepStrictEqual(kinds, ["Timeout", "RateLimited", "RateLimited", "Disconnected", "ok"])
    }).pipe(
      Effect.provide(
        Faults.layerScripted([
          FaultSpec.attempt("agent_timeout", FaultSpec.times(1)),
          FaultSpec.attempt("rate_limit", FaultSpec.times(2)),
          FaultSpec.attempt("disconnect", FaultSpec.times(1))
        ])
      )
    )
  )

  it.effect("each kind fails with the AgentError a real failure has, marked injected", () =>
    Effect.gen(function* () {
      const expected: ReadonlyArray<readonly [FaultSpec.AttemptKind, AgentError.AgentErrorKind, number | undefined]> = [
        ["agent_timeout", "Timeout", undefined],
        ["rate_limit", "RateLimited", 429],
        ["disconnect", "Disconnected", undefined],
        ["server_error", "ServerError", 500],
        ["auth_error", "AuthFailed", 401],
        ["empty_response", "Empty", undefined],
        ["malformed_response", "Malformed", undefined]
      ]
      for (const [fault, kind, status] of expected) {
        const faults = yield* Faults.make([FaultSpec.attempt(fault, FaultSpec.times(1))], { seed: 1 })
        const error = yield* failureOf(faults.beforeAttempt(target(gemini)))
        assert.instanceOf(error, AgentError.AgentError)
        assert.strictEqual(error.agent, "gemini")
        assert.strictEqual(error.kind, kind)
        assert.strictEqual(error.status, status)
        assert.strictEqual(error.injected, true)
        assert.isTrue(Faults.isInjected(error))
        assert.strictEqual(error.resetAt === undefined, kind !== "RateLimited")
        assert.strictEqual(AgentError.isRetryable(error), kind !== "AuthFailed")
        yield* faults.beforeAttempt(target(gemini))
      }
    })
  )

  it.effect("`*` fails every matching attempt", () =>
    Effect.gen(function* () {
      const kinds = yield* attempts(100)
      assert.isTrue(kinds.every((kind) => kind === "ServerError"))
    }).pipe(Effect.provide(Faults.layerScripted(FaultSpec.parseSync("server_error:*"))))
  )

  it.effect("@agent targets one agent; other agents are untouched and do not consume the count", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* attempts(3, claude), ["ok", "ok", "ok"])
      assert.deepStrictEqual(yield* attempts(3, gemini), ["RateLimited", "ok", "ok"])
    }).pipe(Effect.provide(Faults.layerScripted(FaultSpec.parseSync("rate_limit:1@gemini"))))
  )

  it.effect("0% never fires and 100% always fires", () =>
    Effect.gen(function* () {
      assert.isTrue((yield* attempts(50, claude)).every((kind) => kind === "ok"))
      assert.isTrue((yield* attempts(50, gemini)).every((kind) => kind === "Empty"))
    }).pipe(
      Effect.provide(Faults.layerScripted(FaultSpec.parseSync("disconnect:0%@claude,empty_response:100%@gemini")))
    )
  )

  it.effect("concurrent attempts never consume the same count twice: 50 attempts, agent_timeout:10, 10 failures", () =>
    Effect.gen(function* () {
      const faults = yield* FaultInjector.FaultInjector
      const results = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, index) => index + 1),
        (attempt) => Effect.yieldNow.pipe(Effect.andThen(Effect.result(faults.beforeAttempt(target(claude, attempt))))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter(Result.isFailure).length, 10)
    }).pipe(Effect.provide(Faults.layerScripted(FaultSpec.parseSync("agent_timeout:10"))))
  )

  it("concurrent consumption is exact for any count and any number of concurrent attempts", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 80 }), async (count, concurrent) => {
        const failures = await Effect.runPromise(
          Effect.gen(function* () {
            const faults = yield* Faults.make([FaultSpec.attempt("disconnect", FaultSpec.times(count))], { seed: 0 })
            const results = yield* Effect.forEach(
              Array.from({ length: concurrent }, (_, index) => index % 2 === 0),
              (yieldFirst) =>
                (yieldFirst ? Effect.yieldNow : Effect.void).pipe(
                  Effect.andThen(Effect.result(faults.beforeAttempt(target(claude))))
                ),
              { concurrency: "unbounded" }
            )
            return results.filter(Result.isFailure).length
          })
        )
        assert.strictEqual(failures, Math.min(count, concurrent))
      }),
      { numRuns: 100 }
    )
  })

  it.effect("description lists the active faults; an empty spec is inactive", () =>
    Effect.gen(function* () {
      const faults = yield* Faults.make(
        FaultSpec.parseSync("agent_timeout:3,rate_limit:1@gemini,malformed_response:20%")
      )
      assert.isTrue(faults.active)
      assert.strictEqual(faults.description, "agent_timeout:3, rate_limit:1@gemini, malformed_response:20%")
      const seeded = yield* Faults.make(FaultSpec.parseSync("malformed_response:20%,rate_limit:1"), {
        seed: 42,
        rateLimitReset: { _tag: "After", millis: 30_000 }
      })
      assert.strictEqual(
        seeded.description,
        "malformed_response:20%, rate_limit:1 (seed 42; rate_limit resets at now+30s)"
      )
      const none = yield* Faults.make(FaultSpec.empty)
      assert.isFalse(none.active)
      assert.strictEqual(none.description, "none")
      yield* none.beforeAttempt(target(claude))
    })
  )
})

describe("Faults.layerSeeded", () => {
  const sequence = (seed: number | string) =>
    attempts(300).pipe(Effect.provide(Faults.layerSeeded(FaultSpec.parseSync("malformed_response:30%"), seed)))

  it.effect("the same seed gives the same sequence; another seed another one", () =>
    Effect.gen(function* () {
      const first = yield* sequence(42)
      const again = yield* sequence(42)
      const other = yield* sequence(43)
      assert.deepStrictEqual(first, again)
      assert.notDeepEqual(first, other)
      assert.deepStrictEqual(yield* sequence("42"), first)
      const rate = first.filter((kind) => kind === "Malformed").length / first.length
      assert.isTrue(rate > 0.2 && rate < 0.4, `rate ${rate}`)
    })
  )

  it("any seed reproduces its sequence (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer(), fc.string()), fc.integer({ min: 0, max: 100 }), async (seed, p) => {
        const run = () =>
          Effect.runPromise(
            attempts(40).pipe(
              Effect.provide(Faults.layerSeeded([FaultSpec.attempt("disconnect", FaultSpec.percent(p))], seed))
            )
          )
        assert.deepStrictEqual(await run(), await run())
      }),
      { numRuns: 50 }
    )
  })

  it.effect("unseeded probabilities draw their seed from effect's Random", () =>
    Effect.gen(function* () {
      const layer = Faults.layerScripted(FaultSpec.parseSync("server_error:50%"))
      const first = yield* attempts(100).pipe(Effect.provide(layer))
      const second = yield* attempts(100).pipe(Effect.provide(layer))
      assert.isTrue(first.includes("ok") && first.includes("ServerError"))
      assert.isTrue(second.includes("ok") && second.includes("ServerError"))
    })
  )
})

describe("rate_limit resetAt", () => {
  const resetAtOf = (options: Faults.Options) =>
    Effect.gen(function* () {
      const faults = yield* Faults.make([FaultSpec.attempt("rate_limit", FaultSpec.times(1))], options)
      const error = yield* failureOf(faults.beforeAttempt(target(claude)))
      assert.strictEqual(error.kind, "RateLimited")
      return error.resetAt
    })

  it.effect("defaults to one second after the injection, by the Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_000_000)
      assert.strictEqual(yield* resetAtOf({}), 1_001_000)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* resetAtOf({}), 1_011_000)
    })
  )

  it.effect("now+Ns is N seconds after the injection", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(5_000)
      const { options } = yield* Faults.readEnv.pipe(
        withEnv({ SPEC_KIT_FAULTS: "rate_limit:1", SPEC_KIT_FAULTS_RATE_LIMIT_RESET: "now+30s" })
      )
      assert.strictEqual(yield* resetAtOf(options), 35_000)
    })
  )

  it.effect("epoch seconds and RFC 3339 are fixed instants", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(5_000)
      const epoch = yield* Faults.readEnv.pipe(withEnv({ SPEC_KIT_FAULTS_RATE_LIMIT_RESET: "1767225600" }))
      assert.strictEqual(yield* resetAtOf(epoch.options), 1_767_225_600_000)
      const rfc = yield* Faults.readEnv.pipe(withEnv({ SPEC_KIT_FAULTS_RATE_LIMIT_RESET: "2026-01-01T00:00:00Z" }))
      assert.strictEqual(yield* resetAtOf(rfc.options), Date.UTC(2026, 0, 1))
    })
  )
})

describe("consensusFault and crashPoint", () => {
  it.effect("consensus_fail@stage fires for that stage only, N times", () =>
    Effect.gen(function* () {
      const faults = yield* FaultInjector.FaultInjector
      assert.isFalse(yield* faults.consensusFault("plan"))
      assert.isTrue(yield* faults.consensusFault("audit"))
      assert.isFalse(yield* faults.consensusFault("audit"))
      yield* faults.beforeAttempt(target(claude))
    }).pipe(Effect.provide(Faults.layerScripted(FaultSpec.parseSync("consensus_fail:1@audit"))))
  )

  it.effect("an unscoped consensus_fail fires for any stage; entries are tried in order", () =>
    Effect.gen(function* () {
      const faults = yield* FaultInjector.FaultInjector
      assert.isTrue(yield* faults.consensusFault("plan"))
      assert.isTrue(yield* faults.consensusFault("audit"))
      assert.isTrue(yield* faults.consensusFault("audit"))
      assert.isFalse(yield* faults.consensusFault("audit"))
      assert.isFalse(yield* faults.consensusFault("tasks"))
    }).pipe(Effect.provide(Faults.layerScripted(FaultSpec.parseSync("consensus_fail:1,consensus_fail:2@audit"))))
  )

  it.effect("a crash entry kills at its point only, as often as its count says", () =>
    Effect.gen(function* () {
      const killed = yield* Ref.make<ReadonlyArray<string>>([])
      const kill = (point: string) => Effect.runSync(Ref.update(killed, (points) => [...points, point]))
      const faults = yield* FaultInjector.FaultInjector
      const crash = (point: string) => faults.crashPoint(point).pipe(Effect.provideService(Faults.Kill, kill))
      yield* crash("before_answer")
      assert.deepStrictEqual(yield* Ref.get(killed), [])
      yield* crash("after_answer")
      yield* crash("after_answer")
      yield* crash("after_answer")
      assert.deepStrictEqual(yield* Ref.get(killed), ["after_answer", "after_answer"])
      assert.isFalse(yield* faults.consensusFault("plan"))
      yield* faults.beforeAttempt(target(claude))
    }).pipe(Effect.provide(Faults.layerScripted(FaultSpec.parseSync("crash:after_answer:2"))))
  )

  it.effect("the default Kill is process.kill(process.pid, SIGKILL)", () =>
    Effect.gen(function* () {
      const kill = yield* Faults.Kill
      const original = process.kill
      const calls: Array<readonly [number, string | number | undefined]> = []
      process.kill = (pid: number, signal?: string | number) => {
        calls.push([pid, signal])
        return true
      }
      try {
        kill("after_answer")
      } finally {
        process.kill = original
      }
      assert.deepStrictEqual(calls, [[process.pid, "SIGKILL"]])
    })
  )

  it.effect("layerNone injects nothing", () =>
    Effect.gen(function* () {
      const faults = yield* FaultInjector.FaultInjector
      assert.isFalse(faults.active)
      assert.strictEqual(faults.description, "none")
      yield* faults.beforeAttempt(target(claude))
      assert.isFalse(yield* faults.consensusFault("audit"))
      yield* faults
        .crashPoint("after_answer")
        .pipe(Effect.provideService(Faults.Kill, () => assert.fail("layerNone must never kill")))
    }).pipe(Effect.provide(Faults.layerNone))
  )
})

describe("Faults.layerFromEnv", () => {
  it.effect("reads SPEC_KIT_FAULTS and targets SPEC_KIT_FAULTS_AGENT", () =>
    Effect.gen(function* () {
      const faults = yield* FaultInjector.FaultInjector
      assert.strictEqual(faults.description, "agent_timeout:2@claude, rate_limit:1@gemini")
      assert.deepStrictEqual(yield* attempts(3, gemini), ["RateLimited", "ok", "ok"])
      assert.deepStrictEqual(yield* attempts(3, claude), ["Timeout", "Timeout", "ok"])
    }).pipe(
      Effect.provide(Faults.layerFromEnv),
      withEnv({ SPEC_KIT_FAULTS: "agent_timeout:2,rate_limit:1@gemini", SPEC_KIT_FAULTS_AGENT: "claude" })
    )
  )

  it.effect("works with ConfigProvider.fromUnknown and a seed", () =>
    Effect.gen(function* () {
      const faults = yield* FaultInjector.FaultInjector
      assert.strictEqual(faults.description, "malformed_response:50% (seed 7)")
      const first = yield* attempts(50)
      const again = yield* attempts(50).pipe(
        Effect.provide(Faults.layerSeeded(FaultSpec.parseSync("malformed_response:50%"), "7"))
      )
      assert.deepStrictEqual(first, again)
    }).pipe(
      Effect.provide(Faults.layerFromEnv),
      Effect.provideService(
        ConfigProvider.ConfigProvider,
        ConfigProvider.fromUnknown({ SPEC_KIT_FAULTS: "malformed_response:50%", SPEC_KIT_FAULTS_SEED: "7" })
      )
    )
  )

  it.effect("unset or empty SPEC_KIT_FAULTS injects nothing", () =>
    Effect.gen(function* () {
      for (const env of [{}, { SPEC_KIT_FAULTS: "" }, { SPEC_KIT_FAULTS: "  " }]) {
        const faults = yield* FaultInjector.FaultInjector.pipe(Effect.provide(Faults.layerFromEnv), withEnv(env))
        assert.isFalse(faults.active)
        assert.strictEqual(faults.description, "none")
      }
    })
  )

  const invalid: ReadonlyArray<readonly [Record<string, string>, string, number | undefined, string]> = [
    [{ SPEC_KIT_FAULTS: "agent_timeout:3,bogus:1" }, "SPEC_KIT_FAULTS", 1, "bogus:1"],
    [
      { SPEC_KIT_FAULTS: "agent_timeout:3", SPEC_KIT_FAULTS_AGENT: "Not An Agent" },
      "SPEC_KIT_FAULTS_AGENT",
      undefined,
      "Not An Agent"
    ],
    [
      { SPEC_KIT_FAULTS: "rate_limit:1", SPEC_KIT_FAULTS_RATE_LIMIT_RESET: "soon" },
      "SPEC_KIT_FAULTS_RATE_LIMIT_RESET",
      undefined,
      "soon"
    ]
  ]
  for (const [env, source, index, entry] of invalid) {
    it.effect(`fails with FaultSpecError before anything runs (${source})`, () =>
      Effect.gen(function* () {
        const ran = yield* Ref.make(false)
        const exit = yield* Ref.set(ran, true).pipe(
          Effect.andThen(FaultInjector.FaultInjector),
          Effect.provide(Faults.layerFromEnv),
          withEnv(env),
          Effect.exit
        )
        assert.isFalse(yield* Ref.get(ran))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(
          Effect.provide(FaultInjector.FaultInjector, Faults.layerFromEnv).pipe(withEnv(env))
        )
        assert.strictEqual(error._tag, "FaultSpecError")
        if (error._tag !== "FaultSpecError") return
        assert.strictEqual(error.source, source)
        assert.strictEqual(error.index, index)
        assert.strictEqual(error.entry, entry)
        assert.include(error.message, FaultSpec.grammar)
      })
    )
  }
})

describe("Faults with a program that uses the port", () => {
  it.effect("a retrying caller sees N injected failures, then the real call", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const call = Effect.gen(function* () {
        const faults = yield* FaultInjector.FaultInjector
        yield* faults.beforeAttempt(target(claude))
        return yield* Ref.updateAndGet(calls, (n) => n + 1)
      })
      const answer = yield* call.pipe(Effect.retry({ times: 5 }))
      assert.strictEqual(answer, 1)
    }).pipe(Effect.provide(Faults.layerScripted(FaultSpec.parseSync("disconnect:3"))))
  )
})

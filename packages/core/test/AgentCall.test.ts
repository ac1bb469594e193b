import { assert, describe, it } from "@effect/vitest"
import {
  type Agent,
  AgentCall,
  AgentError,
  AgentId,
  Budget,
  FaultInjector,
  PipelineEvent,
  Resilience,
  type RunId,
  RunStore,
  SessionMetrics,
  SimAgent,
  Spec,
  SpeckitConfig,
  StageResult,
  TokenUsage
} from "@speckit/core"
import { Clock, Effect, Exit, Fiber, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"

const alpha = AgentId.make("alpha")
const spec: Spec.Spec = {
  id: Schema.decodeUnknownSync(Spec.SpecId)("SPEC-1"),
  title: "Greeting",
  text: "# Greeting\n\nPrint a greeting.\n",
  directory: "/tmp/specs/SPEC-1"
}
const context: AgentCall.CallContext = { runId: "run-1" as RunId.RunId, stage: "plan", spec, previous: "" }

type Step =
  | AgentError.AgentErrorKind
  | "valid"
  | "garbage"
  | "hang"
  | { readonly rateLimitedFor: number }
  | { readonly failedAfterSpending: AgentError.AgentErrorKind }

/** What a failed attempt reports it spent in the `failedAfterSpending` step. */
const failedSpent = { usage: TokenUsage.make({ input: 100, output: 20 }), reportedCostUsd: 0.05, model: "test-1-0125" }

/** An agent that answers its n-th request with `script[n - 1]` and records every request. */
const scripted = (script: ReadonlyArray<Step>) => {
  const requests: Array<Agent.AgentRequest> = []
  const agent: Agent.Agent = {
    id: alpha,
    provider: "test",
    model: "test-1",
    call: (request) =>
      Effect.gen(function* () {
        requests.push(request)
        const step = script[requests.length - 1] ?? "valid"
        const usage = TokenUsage.make({ input: 10, output: 5 })
        if (step === "valid") {
          return { text: JSON.stringify(SimAgent.answer(request, 1)), usage, model: "test-1" }
        }
        if (step === "garbage") return { text: "I think the plan is fine", usage, model: "test-1" }
        if (step === "hang") return yield* Effect.never
        if (typeof step === "object" && "failedAfterSpending" in step) {
          return yield* new AgentError.AgentError({
            agent: alpha,
            kind: step.failedAfterSpending,
            detail: `${step.failedAfterSpending} after spending`,
            ...failedSpent
          })
        }
        if (typeof step === "object") {
          const now = yield* Clock.currentTimeMillis
          return yield* new AgentError.AgentError({
            agent: alpha,
            kind: "RateLimited",
            detail: "429",
            resetAt: now + step.rateLimitedFor
          })
        }
        return yield* new AgentError.AgentError({ agent: alpha, kind: step, detail: `${step} on ${request.attempt}` })
      })
  }
  return { agent, requests }
}

const harness = () => {
  const events: Array<{ readonly at: number; readonly event: PipelineEvent.PipelineEvent }> = []
  const records: Array<SessionMetrics.CallRecord> = []
  const counted: Array<SessionMetrics.CountedEvent> = []
  const admitted: Array<number> = []
  const saved: Array<number> = []
  const layer = Layer.mergeAll(
    FaultInjector.FaultInjector.layerNone,
    Layer.succeed(SessionMetrics.SessionMetrics, {
      record: (call) =>
        Effect.sync(() => {
          records.push(call)
          return { costUsd: call.reportedCostUsd ?? 0.01, priced: true }
        }),
      count: (event) => Effect.sync(() => void counted.push(event)),
      snapshot: Effect.die("unused")
    }),
    Layer.succeed(RunStore.RunStore, {
      runDir: (runId) => runId,
      begin: () => Effect.void,
      saveAnswer: (_run, _stage, _agent, attempt) => Effect.sync(() => void saved.push(attempt)),
      saveConsensus: () => Effect.succeed(""),
      finish: () => Effect.void
    }),
    Layer.succeed(PipelineEvent.PipelineEvents, {
      emit: (event) => Effect.map(Clock.currentTimeMillis, (at) => void events.push({ at, event }))
    }),
    Layer.succeed(Budget.Budget, { admit: (planned) => Effect.sync(() => void admitted.push(planned.attempt)) })
  )
  return { events, records, counted, admitted, saved, layer }
}

const configWith = (agent: Record<string, unknown>, global: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(SpeckitConfig.SpeckitConfig)({
    agents: { alpha: { provider: "sim", ...agent } },
    ...global
  })

const fast = { initialDelayMs: 100, factor: 2, jitter: 0, maxDelayMs: 10_000 }

/** Runs one call on the TestClock until it is done. */
const runCall = (agent: Agent.Agent, h: ReturnType<typeof harness>, config: SpeckitConfig.SpeckitConfig) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(AgentCall.call(agent, context))
    yield* TestClock.adjust("1 hour")
    return yield* Fiber.join(fiber)
  }).pipe(Effect.provide(Layer.merge(h.layer, Resilience.layer(config))))

describe("AgentCall.call with retries", () => {
  it.effect("every retry is a new attempt through budget, metrics and events; history keeps the waits", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent, requests } = scripted(["Timeout", "Overloaded", "valid"])
      const outcome = yield* runCall(agent, h, configWith({ retry: fast }))
      assert.strictEqual(outcome._tag, "Succeeded")
      assert.strictEqual(outcome.attempts, 3)
      assert.deepStrictEqual(outcome.history, [
        { attempt: 1, kind: "Timeout", detail: "Timeout on 1", waitedMs: 100 },
        { attempt: 2, kind: "Overloaded", detail: "Overloaded on 2", waitedMs: 200 }
      ])
      assert.deepStrictEqual(
        requests.map((request) => request.idempotencyKey),
        ["run-1/plan/alpha/1", "run-1/plan/alpha/2", "run-1/plan/alpha/3"]
      )
      assert.deepStrictEqual(h.admitted, [1, 2, 3])
      assert.deepStrictEqual(
        h.records.map((record) => [record.attempt, record.ok]),
        [
          [1, false],
          [2, false],
          [3, true]
        ]
      )
      assert.deepStrictEqual(h.saved, [3])
      assert.lengthOf(h.counted, 2)
      assert.deepStrictEqual(outcome.usage, TokenUsage.make({ input: 10, output: 5 }), "only the answer had usage")
      assert.closeTo(outcome.costUsd, 0.03, 1e-9, "every attempt's cost counts")
      const timeline = h.events.map(({ at, event }) =>
        event._tag === "AgentRetrying"
          ? `${at} retrying ${event.attempt} ${event.kind} until ${event.resumeAt}`
          : event._tag === "AgentStarted"
            ? `${at} started ${event.attempt}`
            : `${at} ${event._tag}`
      )
      assert.deepStrictEqual(timeline, [
        "0 started 1",
        "0 retrying 2 Timeout until 100",
        "100 started 2",
        "100 retrying 3 Overloaded until 300",
        "300 started 3"
      ])
    })
  )

  it.effect("gives up after maxRetries with the last error; the run's clock shows the exact waits", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent, requests } = scripted(["ServerError", "ServerError", "ServerError", "ServerError"])
      const outcome = yield* runCall(agent, h, configWith({ retry: { ...fast, maxRetries: 2 } }))
      assert.strictEqual(outcome._tag, "Failed")
      assert.strictEqual(outcome._tag === "Failed" ? outcome.kind : "", "ServerError")
      assert.strictEqual(outcome.attempts, 3)
      assert.lengthOf(requests, 3)
      assert.deepStrictEqual(
        outcome.history.map((failed) => failed.waitedMs),
        [100, 200]
      )
      assert.strictEqual(outcome.durationMs, 300)
    })
  )

  it.effect("permanent errors are attempted once", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent, requests } = scripted(["AuthFailed"])
      const outcome = yield* runCall(agent, h, configWith({ retry: fast }))
      assert.strictEqual(outcome._tag === "Failed" ? outcome.kind : "", "AuthFailed")
      assert.lengthOf(requests, 1)
      assert.deepStrictEqual(outcome.history, [])
    })
  )

  it.effect("malformed answers get at most 2 repair retries, and the repair note reaches the prompt", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent, requests } = scripted(["garbage", "garbage", "garbage", "valid"])
      const outcome = yield* runCall(agent, h, configWith({ retry: fast }))
      assert.strictEqual(outcome._tag === "Failed" ? outcome.kind : "", "Malformed")
      assert.lengthOf(requests, 3)
      assert.notInclude(requests[0]?.prompt ?? "", "previous answer was rejected")
      for (const request of requests.slice(1)) {
        assert.include(request.prompt, "# Your previous answer was rejected")
        assert.include(request.prompt, "It was not a valid result for this stage")
      }
      assert.deepStrictEqual(h.saved, [1, 2, 3], "every raw answer is kept")
    })
  )

  it.effect("a repaired answer succeeds", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent } = scripted(["garbage", "valid"])
      const outcome = yield* runCall(agent, h, configWith({ retry: fast }))
      assert.strictEqual(outcome._tag, "Succeeded")
      assert.deepStrictEqual(
        outcome.history.map((failed) => [failed.kind, failed.waitedMs]),
        [["Malformed", 0]]
      )
    })
  )

  it.effect("options.events takes the call's events instead of the PipelineEvents in context", () =>
    Effect.gen(function* () {
      const h = harness()
      const own: Array<string> = []
      const { agent } = scripted(["Timeout", "valid"])
      const events = { emit: (event: PipelineEvent.PipelineEvent) => Effect.sync(() => void own.push(event._tag)) }
      const outcome = yield* Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(AgentCall.call(agent, context, { events }))
        yield* TestClock.adjust("1 hour")
        return yield* Fiber.join(fiber)
      }).pipe(Effect.provide(Layer.merge(h.layer, Resilience.layer(configWith({ retry: fast })))))
      assert.strictEqual(outcome._tag, "Succeeded")
      assert.deepStrictEqual(own, ["AgentStarted", "AgentRetrying", "AgentStarted"])
      assert.lengthOf(h.events, 0)
    })
  )

  it.effect("a repair is recorded with the answer and counted: the stage's own reading and an ask's", () =>
    Effect.gen(function* () {
      const repaired: Array<ReadonlyArray<string> | undefined> = []
      const h = harness()
      const layer = Layer.merge(
        h.layer,
        Layer.succeed(RunStore.RunStore, {
          runDir: (runId) => runId,
          begin: () => Effect.void,
          saveAnswer: (_run, _stage, _agent, _attempt, answer) =>
            Effect.sync(() => void repaired.push((answer as { readonly repairs?: ReadonlyArray<string> }).repairs)),
          saveConsensus: () => Effect.succeed(""),
          finish: () => Effect.void
        })
      )
      // The answer without its "agent": filled from the call, a repair.
      const { agent } = scripted(["valid"])
      const unsigned: Agent.Agent = {
        ...agent,
        call: (request) =>
          Effect.map(agent.call(request), (response) => {
            const { agent: _agent, ...rest } = JSON.parse(response.text) as Record<string, unknown>
            return { ...response, text: JSON.stringify(rest) }
          })
      }
      const ask: AgentCall.Ask = {
        prompt: () => "answer",
        parse: (text) => StageResult.parse("plan", alpha, text)
      }
      yield* AgentCall.call(unsigned, context).pipe(Effect.provide(layer))
      yield* AgentCall.call(unsigned, { ...context, ask }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(repaired, [['filled "agent" from the call'], ['filled "agent" from the call']])
      assert.deepStrictEqual(
        h.counted.map((event) => event.kind),
        ["repair", "repair"]
      )
    })
  )

  it.effect("RateLimited waits until the reset; past the time budget it fails at once naming the reset", () =>
    Effect.gen(function* () {
      const waits = harness()
      const ok = yield* runCall(scripted([{ rateLimitedFor: 4_000 }]).agent, waits, configWith({ retry: fast }))
      assert.strictEqual(ok._tag, "Succeeded")
      assert.deepStrictEqual(ok.history, [{ attempt: 1, kind: "RateLimited", detail: "429", waitedMs: 4_000 }])

      const late = harness()
      const { agent, requests } = scripted([{ rateLimitedFor: 120_000 }])
      const failed = yield* runCall(agent, late, configWith({ retry: { ...fast, maxElapsedMs: 60_000 } }))
      assert.lengthOf(requests, 1)
      assert.strictEqual(failed._tag === "Failed" ? failed.kind : "", "RateLimited")
      // the first call ran the test clock one hour on: the reset is 1 h 2 min after the epoch
      assert.include(failed._tag === "Failed" ? failed.detail : "", "resets at 1970-01-01T01:02:00.000Z")
      assert.include(failed._tag === "Failed" ? failed.detail : "", "time budget")
    })
  )

  it.effect("each attempt has the agent's timeoutMs; a timed-out attempt is retried", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent, requests } = scripted(["hang", "hang", "valid"])
      const outcome = yield* runCall(agent, h, configWith({ timeoutMs: 1_000, retry: fast }))
      assert.strictEqual(outcome._tag, "Succeeded")
      assert.lengthOf(requests, 3)
      assert.deepStrictEqual(
        outcome.history.map((failed) => [failed.kind, failed.detail, failed.waitedMs]),
        [
          ["Timeout", "no answer within 1000 ms", 100],
          ["Timeout", "no answer within 1000 ms", 200]
        ]
      )
      assert.strictEqual(outcome.durationMs, 1_000 + 100 + 1_000 + 200)
    })
  )

  it.effect("the last attempt is cut at maxElapsedMs", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent } = scripted(["hang"])
      const outcome = yield* runCall(
        agent,
        h,
        configWith({ timeoutMs: 100_000, retry: { ...fast, maxElapsedMs: 5_000 } })
      )
      assert.strictEqual(outcome._tag === "Failed" ? outcome.kind : "", "Timeout")
      assert.strictEqual(outcome.durationMs, 5_000)
    })
  )

  it.effect("a wait is interruptible: interrupting during the backoff makes no further attempt", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent, requests } = scripted(["Overloaded", "valid"])
      const fiber = yield* Effect.forkChild(
        AgentCall.call(agent, context).pipe(
          Effect.provide(
            Layer.merge(h.layer, Resilience.layer(configWith({ retry: { ...fast, initialDelayMs: 10_000 } })))
          )
        )
      )
      yield* TestClock.adjust(5_000)
      assert.lengthOf(requests, 1)
      const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      assert.isTrue(Exit.hasInterrupts(exit))
      yield* TestClock.adjust(60_000)
      assert.lengthOf(requests, 1)
    })
  )

  it.effect("a failed attempt's reported usage and cost reach the metrics and the outcome", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent } = scripted([{ failedAfterSpending: "ServerError" }, "valid"])
      const outcome = yield* runCall(agent, h, configWith({ retry: fast }))
      assert.strictEqual(outcome._tag, "Succeeded")
      assert.deepStrictEqual(
        h.records.map((record) => [record.attempt, record.ok, record.model, record.usage, record.reportedCostUsd]),
        [
          [1, false, "test-1-0125", failedSpent.usage, 0.05],
          [2, true, "test-1", TokenUsage.make({ input: 10, output: 5 }), undefined]
        ]
      )
      assert.deepStrictEqual(outcome.usage, TokenUsage.make({ input: 110, output: 25 }))
      assert.closeTo(outcome.costUsd, 0.05 + 0.01, 1e-12)
      assert.strictEqual(outcome.model, "test-1")

      // a call that fails for good (here interrupted) is still charged for what it reported
      const last = harness()
      const failed = yield* runCall(scripted([{ failedAfterSpending: "Interrupted" }]).agent, last, configWith({}))
      assert.strictEqual(failed._tag === "Failed" ? failed.kind : "", "Interrupted")
      assert.deepStrictEqual(
        last.records.map((record) => [record.ok, record.usage, record.reportedCostUsd]),
        [[false, failedSpent.usage, 0.05]]
      )
      assert.deepStrictEqual(failed.usage, failedSpent.usage)
      assert.closeTo(failed.costUsd, 0.05, 1e-12)
      assert.strictEqual(failed.model, "test-1-0125")
    })
  )

  it.effect("a failed attempt that reported nothing is recorded with no usage under the agent's model", () =>
    Effect.gen(function* () {
      const h = harness()
      const outcome = yield* runCall(scripted(["AuthFailed"]).agent, h, configWith({}))
      assert.strictEqual(outcome._tag, "Failed")
      assert.deepStrictEqual(
        h.records.map((record) => [record.ok, record.model, record.usage, record.reportedCostUsd]),
        [[false, "test-1", TokenUsage.empty, undefined]]
      )
      assert.deepStrictEqual(outcome.usage, TokenUsage.empty)
    })
  )

  it.effect("without Resilience.layer: one attempt, as before", () =>
    Effect.gen(function* () {
      const h = harness()
      const { agent, requests } = scripted(["Timeout", "valid"])
      const outcome = yield* AgentCall.call(agent, context).pipe(Effect.provide(h.layer))
      assert.strictEqual(outcome._tag, "Failed")
      assert.lengthOf(requests, 1)
    })
  )
})

describe("AgentCall.call with a circuit breaker", () => {
  it.effect("an open circuit fails the agent fast across calls, with BreakerChanged events", () =>
    Effect.gen(function* () {
      const h = harness()
      const config = configWith({ retry: { maxRetries: 0 }, breaker: { failureThreshold: 2, resetAfterMs: 30_000 } })
      const { agent, requests } = scripted(["ServerError", "ServerError", "valid", "valid"])
      const layer = Layer.merge(h.layer, Resilience.layer(config))
      const outcomes = yield* Effect.gen(function* () {
        const first = yield* AgentCall.call(agent, context)
        const second = yield* AgentCall.call(agent, { ...context, stage: "tasks" })
        const third = yield* AgentCall.call(agent, { ...context, stage: "implement" })
        yield* TestClock.adjust(30_000)
        const fourth = yield* AgentCall.call(agent, { ...context, stage: "validate" })
        return [first, second, third, fourth]
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(
        outcomes.map((outcome) => (outcome._tag === "Failed" ? outcome.kind : "ok")),
        ["ServerError", "ServerError", "CircuitOpen", "ok"]
      )
      assert.strictEqual(outcomes[2]?.attempts, 0, "no attempt was made")
      assert.include(outcomes[2]?._tag === "Failed" ? outcomes[2].detail : "", "circuit open")
      assert.lengthOf(requests, 3)
      const changes = h.events.flatMap(({ event }) =>
        event._tag === "BreakerChanged" ? [`${event.stage} ${event.from}->${event.to}`] : []
      )
      assert.deepStrictEqual(changes, ["tasks Closed->Open", "validate Open->HalfOpen", "validate HalfOpen->Closed"])
    })
  )
})

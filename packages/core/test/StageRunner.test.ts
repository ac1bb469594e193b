import { assert, describe, it } from "@effect/vitest"
import { AgentId, type AgentOutcome, type SpeckitConfig, StageRunner, TokenUsage } from "@speckit/core"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"

const policy = (earlyDecision: boolean): SpeckitConfig.StagePolicy => ({
  stage: "validate",
  agents: ["a", "b", "c"].map(AgentId.make),
  quorum: "majority",
  onConflict: "halt",
  earlyDecision
})

const ok = (agent: AgentId.AgentId, durationMs: number): AgentOutcome.AgentOutcome => ({
  _tag: "Succeeded",
  agent,
  model: "m",
  result: { stage: "validate", agent, summary: "s", test_strategy: ["t"], verdict: "pass" },
  attempts: 1,
  history: [],
  usage: TokenUsage.empty,
  costUsd: 0,
  durationMs
})

const latency: Record<string, number> = { a: 100, b: 100, c: 10_000 }
const twoOfThree = (outcomes: ReadonlyArray<AgentOutcome.AgentOutcome>) => outcomes.length >= 2

describe("StageRunner", () => {
  it.effect("early decision interrupts the agents still running once the stage is settled", () =>
    Effect.gen(function* () {
      const interrupted: Array<string> = []
      const call = (agent: AgentId.AgentId) =>
        Effect.sleep(latency[agent] ?? 0).pipe(
          Effect.as(ok(agent, latency[agent] ?? 0)),
          Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(agent)))
        )
      const fiber = yield* Effect.forkChild(StageRunner.runStage(policy(true), call, { settled: twoOfThree }))
      yield* TestClock.adjust(100)
      const ran = yield* Fiber.join(fiber)
      assert.deepStrictEqual(ran.stopped.map(String), ["c"])
      assert.deepStrictEqual(interrupted, ["c"], "the straggler was interrupted before runStage returned")
      assert.deepStrictEqual(
        ran.outcomes.map((o) => [o.agent, o._tag === "Failed" ? o.kind : "ok"]),
        [
          ["a", "ok"],
          ["b", "ok"],
          ["c", "Interrupted"]
        ]
      )
    })
  )

  it.effect(
    "an incremental check (settling) is made once per run, given each outcome once, and used over settled",
    () =>
      Effect.gen(function* () {
        const given: Array<string> = []
        let made = 0
        const settling = () => {
          made++
          let count = 0
          return (outcome: AgentOutcome.AgentOutcome) => {
            given.push(outcome.agent)
            return ++count >= 2
          }
        }
        const call = (agent: AgentId.AgentId, stop: StageRunner.Stop) =>
          Effect.raceFirst(
            Effect.sleep(latency[agent] ?? 0).pipe(Effect.as(ok(agent, latency[agent] ?? 0))),
            Effect.as(stop.await, StageRunner.interrupted(agent, "m", 100))
          )
        const run = StageRunner.runStage(policy(true), call, { settled: () => false, settling, cooperative: true })
        const fiber = yield* Effect.forkChild(run)
        yield* TestClock.adjust(100)
        const ran = yield* Fiber.join(fiber)
        assert.strictEqual(made, 1)
        assert.deepStrictEqual(given.sort(), ["a", "b", "c"], "the stopped agent's outcome is given too")
        assert.deepStrictEqual(ran.stopped.map(String), ["c"])
      })
  )

  it.effect("a cooperative stage's stop calls each subscriber once, when it is settled or at once after", () =>
    Effect.gen(function* () {
      const heard: Array<string> = []
      const call = (agent: AgentId.AgentId, stop: StageRunner.Stop) =>
        Effect.gen(function* () {
          if (agent !== "c") return yield* Effect.as(Effect.sleep(latency[agent] ?? 0), ok(agent, 100))
          // The straggler listens twice and takes one back before the stop comes.
          stop.subscribe(() => void heard.push("kept"))
          const cancel = stop.subscribe(() => void heard.push("cancelled"))
          cancel()
          yield* stop.await
          stop.subscribe(() => void heard.push("late"))
          return StageRunner.interrupted(agent, "m", 100)
        })
      const fiber = yield* Effect.forkChild(
        StageRunner.runStage(policy(true), call, { settled: twoOfThree, cooperative: true })
      )
      yield* TestClock.adjust(100)
      const ran = yield* Fiber.join(fiber)
      assert.deepStrictEqual(heard, ["kept", "late"])
      assert.deepStrictEqual(ran.stopped.map(String), ["c"])
      // A stage that stops no call gives `noStop`: it never comes.
      const given: Array<StageRunner.Stop> = []
      yield* StageRunner.runStage(policy(false), (agent, stop) =>
        Effect.sync(() => given.push(stop)).pipe(Effect.as(ok(agent, 0)))
      )
      assert.isTrue(given.every((stop) => stop === StageRunner.noStop))
    })
  )

  it.effect("without early decision every agent is awaited", () =>
    Effect.gen(function* () {
      const call = (agent: AgentId.AgentId) => Effect.sleep(latency[agent] ?? 0).pipe(Effect.as(ok(agent, 0)))
      const fiber = yield* Effect.forkChild(StageRunner.runStage(policy(false), call, { settled: twoOfThree }))
      yield* TestClock.adjust(100)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(10_000)
      const ran = yield* Fiber.join(fiber)
      assert.deepStrictEqual(ran.stopped, [])
      assert.isTrue(ran.outcomes.every((o) => o._tag === "Succeeded"))
    })
  )

  it.effect("a failing call fails the stage and interrupts the others", () =>
    Effect.gen(function* () {
      const interrupted: Array<string> = []
      const call = (agent: AgentId.AgentId) =>
        agent === "a"
          ? Effect.sleep(10).pipe(Effect.andThen(Effect.fail("store broken" as const)))
          : Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(agent))))
      const fiber = yield* Effect.forkChild(
        Effect.flip(StageRunner.runStage(policy(true), call, { settled: twoOfThree }))
      )
      yield* TestClock.adjust(10)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error, "store broken")
      assert.deepStrictEqual(interrupted.sort(), ["b", "c"])
    })
  )
})

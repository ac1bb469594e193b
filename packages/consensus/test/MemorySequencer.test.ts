import { assert, describe, it } from "@effect/vitest"
import { MemorySequencer } from "@speckit/consensus"
import { AgentId, type AgentOutcome, RunId, type Sequencer, Stage, TokenUsage } from "@speckit/core"
import { Effect, Schema } from "effect"
import fc from "fast-check"

const run1 = Schema.decodeUnknownSync(RunId.RunId)("run-1")
const run2 = Schema.decodeUnknownSync(RunId.RunId)("run-2")

const outcome = (agent: string): AgentOutcome.AgentOutcome => ({
  _tag: "Failed",
  agent: AgentId.make(agent),
  model: "m",
  kind: "Timeout",
  detail: "",
  attempts: 1,
  history: [],
  usage: TokenUsage.empty,
  costUsd: 0,
  durationMs: 0
})

const key = (runId: RunId.RunId, stage: Stage.Stage, agent: string, attempt: number): Sequencer.AnswerKey => ({
  runId,
  stage,
  agent,
  attempt
})

describe("MemorySequencer", () => {
  it.effect("numbers accepted answers 1, 2, 3... and drops duplicates and stale answers", () =>
    Effect.gen(function* () {
      const sequencer = yield* MemorySequencer.make
      yield* sequencer.begin(run1)
      const a = yield* sequencer.submit(key(run1, "plan", "a", 1), outcome("a"))
      const dup = yield* sequencer.submit(key(run1, "plan", "a", 1), outcome("a"))
      const stale = yield* sequencer.submit(key(run2, "plan", "b", 1), outcome("b"))
      const b = yield* sequencer.submit(key(run1, "plan", "a", 2), outcome("a"))
      assert.strictEqual(a._tag === "Accepted" ? a.decision.seq : 0, 1)
      assert.strictEqual(dup._tag, "Duplicate")
      assert.strictEqual(stale._tag, "Stale")
      assert.strictEqual(b._tag === "Accepted" ? b.decision.seq : 0, 2)
      assert.deepStrictEqual(
        (yield* sequencer.decisions).map((d) => d.seq),
        [1, 2]
      )
    })
  )

  it.effect("accepts each key exactly once under concurrent, repeated submissions (property)", () =>
    Effect.gen(function* () {
      const keys = fc.array(
        fc.record({
          stage: fc.constantFrom(...Stage.all),
          agent: fc.constantFrom("a", "b", "c"),
          attempt: fc.integer({ min: 1, max: 3 })
        }),
        { maxLength: 60 }
      )
      const samples = fc.sample(keys, { seed: 42, numRuns: 50 })
      for (const sample of samples) {
        const sequencer = yield* MemorySequencer.make
        yield* sequencer.begin(run1)
        yield* Effect.forEach(
          sample,
          (k) => sequencer.submit(key(run1, k.stage, k.agent, k.attempt), outcome(k.agent)),
          {
            concurrency: "unbounded"
          }
        )
        const decisions = yield* sequencer.decisions
        const unique = new Set(sample.map((k) => `${k.stage}/${k.agent}/${k.attempt}`))
        assert.strictEqual(decisions.length, unique.size)
        assert.deepStrictEqual(
          decisions.map((d) => d.seq),
          decisions.map((_, i) => i + 1)
        )
      }
    })
  )
})

import { assert, describe, it } from "@effect/vitest"
import { DecisionSequencer, MemorySequencer, SequencerStore } from "@speckit/consensus"
import { AgentId, type AgentOutcome, RunId, type Sequencer, Stage, TokenUsage } from "@speckit/core"
import { Effect, Fiber, Schema } from "effect"
import fc from "fast-check"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/** A full collection, as `--expose-gc` would give it, after the current turn (so no stack holds the values). */
const collectGarbage = async () => {
  setFlagsFromString("--expose-gc")
  const gc: () => void = runInNewContext("gc")
  await new Promise((resolve) => setTimeout(resolve, 0))
  gc()
}

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

const answer = (agent: string): Sequencer.Payload => ({ _tag: "Answer", outcome: outcome(agent) })

const key = (runId: RunId.RunId, stage: Stage.Stage, agent: string, attempt: number): Sequencer.AnswerKey => ({
  runId,
  stage,
  agent,
  attempt
})

describe("MemorySequencer (core's Sequencer port)", () => {
  it.effect("numbers accepted answers 1, 2, 3... and drops duplicates and stale answers", () =>
    Effect.gen(function* () {
      const sequencer = yield* MemorySequencer.make
      yield* sequencer.begin(run1)
      const a = yield* sequencer.submit(key(run1, "plan", "a", 1), answer("a"))
      const dup = yield* sequencer.submit(key(run1, "plan", "a", 1), answer("a"))
      const stale = yield* sequencer.submit(key(run2, "plan", "b", 1), answer("b"))
      const b = yield* sequencer.submit(key(run1, "plan", "a", 2), answer("a"))
      assert.strictEqual(a._tag === "Accepted" ? a.decision.seq : 0, 1)
      assert.strictEqual(dup._tag, "Duplicate")
      assert.strictEqual(dup._tag === "Duplicate" ? dup.seq : 0, 1, "a duplicate names the seq it duplicates")
      assert.strictEqual(stale._tag, "Stale")
      assert.strictEqual(b._tag === "Accepted" ? b.decision.seq : 0, 2)
      const first = yield* sequencer.take
      assert.strictEqual(first.seq, 1)
      assert.deepStrictEqual(first.key, key(run1, "plan", "a", 1))
      assert.deepStrictEqual(yield* sequencer.ack(2), { _tag: "Ignored", seq: 2 })
      assert.deepStrictEqual(yield* sequencer.ack(1), { _tag: "Acknowledged", seq: 1 })
      assert.strictEqual((yield* sequencer.take).seq, 2)
      yield* sequencer.ack(2)
      const stats = yield* sequencer.stats
      assert.deepStrictEqual(
        [stats.accepted, stats.duplicates, stats.stale, stats.acknowledged, stats.ignoredAcks],
        [2, 1, 1, 2, 1]
      )
    })
  )

  it.effect("rejects answers of another branch of the same run as stale", () =>
    Effect.gen(function* () {
      const sequencer = yield* MemorySequencer.make
      yield* sequencer.begin(run1, { branch: "b2" })
      const old = yield* sequencer.submit({ ...key(run1, "plan", "a", 1), branch: "b1" }, answer("a"))
      const current = yield* sequencer.submit({ ...key(run1, "plan", "a", 1), branch: "b2" }, answer("a"))
      assert.strictEqual(old._tag, "Stale")
      assert.strictEqual(current._tag, "Accepted")
    })
  )

  it.effect("stop hands back what was not delivered; later submissions are refused", () =>
    Effect.gen(function* () {
      const sequencer = yield* MemorySequencer.make
      yield* sequencer.begin(run1)
      for (const agent of ["a", "b", "c"]) yield* sequencer.submit(key(run1, "plan", agent, 1), answer(agent))
      const taken = yield* sequencer.take
      const stopped = yield* sequencer.stop()
      assert.strictEqual(stopped.inFlight, taken.seq)
      assert.deepStrictEqual(
        stopped.pending.map((d) => d.seq),
        [2, 3]
      )
      assert.strictEqual((yield* sequencer.submit(key(run1, "plan", "d", 1), answer("d")))._tag, "Stopped")
      assert.strictEqual((yield* sequencer.ack(taken.seq))._tag, "Acknowledged", "the in-flight ACK still counts")
      assert.strictEqual((yield* Effect.flip(sequencer.take))._tag, "SequencerStopped")
    })
  )

  it.effect("a stopped run begun again resumes from the store; once forgotten, it begins afresh", () =>
    Effect.gen(function* () {
      const store = SequencerStore.memory<Sequencer.Decision>()
      const sequencer = yield* MemorySequencer.makeWith({ store })
      const submitted = key(run1, "plan", "a", 1)
      yield* sequencer.begin(run1)
      yield* sequencer.submit(submitted, answer("a"))
      yield* sequencer.ack((yield* sequencer.take).seq)
      yield* sequencer.stop({ drain: true })
      const resumed = yield* sequencer.begin(run1)
      assert.deepStrictEqual(
        resumed.acknowledged.map((decision) => decision.seq),
        [1]
      )
      assert.strictEqual((yield* sequencer.submit(submitted, answer("a")))._tag, "Duplicate")
      yield* sequencer.stop({ drain: true })

      yield* sequencer.forget?.(run1) ?? Effect.void
      assert.isUndefined(yield* store.load(run1), "the store holds nothing of the forgotten run")
      assert.strictEqual((yield* sequencer.stats).accepted, 0, "nor does the sequencer")
      const fresh = yield* sequencer.begin(run1)
      assert.deepStrictEqual(fresh, { acknowledged: [], redelivered: 0 })
      assert.strictEqual((yield* sequencer.submit(submitted, answer("a")))._tag, "Accepted")
    })
  )

  it.effect("a run in progress is not forgotten; forgetting a run keeps the others", () =>
    Effect.gen(function* () {
      const store = SequencerStore.memory<Sequencer.Decision>()
      const sequencer = yield* MemorySequencer.makeWith({ store })
      yield* sequencer.begin(run1)
      yield* sequencer.submit(key(run1, "plan", "a", 1), answer("a"))
      yield* sequencer.begin(run2)
      yield* sequencer.submit(key(run2, "plan", "a", 1), answer("a"))
      yield* sequencer.forget?.(run2) ?? Effect.void
      assert.strictEqual((yield* store.load(run2))?.entries.length, 1, "run-2 is in progress: kept")
      assert.strictEqual((yield* sequencer.take).key.runId, run2)
      yield* sequencer.forget?.(run1) ?? Effect.void
      assert.isUndefined(yield* store.load(run1))
      assert.strictEqual((yield* store.load(run2))?.entries.length, 1)
    })
  )
})

describe("DecisionSequencer", () => {
  it.effect("delivers N+1 only after N is acknowledged, and applies backpressure at capacity", () =>
    Effect.gen(function* () {
      const sequencer = yield* DecisionSequencer.make<string>({ runId: "r", capacity: 2 })
      yield* sequencer.submit({ runId: "r", key: "k1", value: "one" })
      yield* sequencer.submit({ runId: "r", key: "k2", value: "two" })
      const third = yield* Effect.forkChild(sequencer.submit({ runId: "r", key: "k3", value: "three" }))
      yield* Effect.yieldNow
      assert.isUndefined(third.pollUnsafe(), "the third submission waits for room")
      const first = yield* sequencer.take
      const second = yield* Effect.forkChild(sequencer.take)
      yield* Effect.yieldNow
      assert.isUndefined(second.pollUnsafe(), "decision 2 waits for the ACK of decision 1")
      yield* sequencer.ack(first.seq)
      assert.strictEqual((yield* Fiber.join(second)).seq, 2)
      const accepted = yield* Fiber.join(third)
      assert.strictEqual(accepted._tag === "Accepted" ? accepted.decision.seq : 0, 3)
    })
  )

  it.effect("drain stop waits for the consumer to acknowledge everything pending", () =>
    Effect.gen(function* () {
      const sequencer = yield* DecisionSequencer.make<number>({ runId: "r" })
      for (let i = 1; i <= 5; i++) yield* sequencer.submit({ runId: "r", key: `k${i}`, value: i })
      const seen: Array<number> = []
      const consumer = yield* Effect.forkChild(
        Effect.gen(function* () {
          while (true) {
            const decision = yield* sequencer.take
            seen.push(decision.value)
            yield* sequencer.ack(decision.seq)
          }
        }).pipe(Effect.catchTag("SequencerStopped", () => Effect.void))
      )
      const stopped = yield* sequencer.stop({ drain: true })
      yield* Fiber.join(consumer)
      assert.deepStrictEqual(stopped.pending, [])
      assert.deepStrictEqual(seen, [1, 2, 3, 4, 5])
    })
  )

  it.effect("without a store, keeps no acknowledged decision (nothing could read it back)", () => {
    const refs: Array<WeakRef<{ readonly text: string }>> = []
    // Made in a function of its own, so that no local of the test holds a value.
    const valueFor = (i: number) => {
      const value = { text: `answer ${i} `.repeat(100) }
      refs.push(new WeakRef(value))
      return value
    }
    return Effect.gen(function* () {
      const sequencer = yield* DecisionSequencer.make<{ readonly text: string }>({ runId: "r" })
      for (let i = 1; i <= 20; i++) {
        yield* sequencer.submit({ runId: "r", key: `k${i}`, value: valueFor(i) })
        yield* Effect.flatMap(sequencer.take, (decision) => sequencer.ack(decision.seq))
      }
      yield* Effect.promise(collectGarbage)
      const kept = refs.filter((ref) => ref.deref() !== undefined).length
      assert.strictEqual(kept, 0, `${kept} of 20 acknowledged values are still reachable`)
      assert.strictEqual((yield* sequencer.stats).acknowledged, 20)
    })
  })

  it.effect("resumes from its store: accepted keys stay accepted, pending decisions are delivered again", () =>
    Effect.gen(function* () {
      const store = SequencerStore.memory<string>()
      const before = yield* DecisionSequencer.make<string>({ runId: "r", store })
      yield* before.submit({ runId: "r", key: "a", value: "A" })
      yield* before.submit({ runId: "r", key: "b", value: "B" })
      yield* before.ack((yield* before.take).seq)
      const after = yield* DecisionSequencer.make<string>({ runId: "r", store })
      assert.strictEqual((yield* after.submit({ runId: "r", key: "a", value: "A" }))._tag, "Duplicate")
      assert.deepStrictEqual(yield* after.take, { seq: 2, key: "b", value: "B" })
      yield* after.ack(2)
      const c = yield* after.submit({ runId: "r", key: "c", value: "C" })
      assert.strictEqual(c._tag === "Accepted" ? c.decision.seq : 0, 3)
    })
  )

  // Random interleavings of submissions (fresh, duplicate, stale), consumer steps (take+ACK, bogus ACKs)
  // and a final stop, run concurrently: every accepted key is processed exactly once, seqs are
  // gap-free and in order, and nothing accepted is lost (processed or handed back by stop).
  it.effect("processes every accepted key exactly once, gap-free, losing nothing (property)", () =>
    Effect.gen(function* () {
      const op = fc.oneof(
        fc.record({
          _tag: fc.constant("submit" as const),
          stage: fc.constantFrom(...Stage.all),
          agent: fc.constantFrom("a", "b", "c"),
          attempt: fc.integer({ min: 1, max: 2 }),
          stale: fc.boolean()
        }),
        fc.record({ _tag: fc.constant("bogusAck" as const), seq: fc.integer({ min: -1, max: 40 }) }),
        fc.record({ _tag: fc.constant("yield" as const) })
      )
      const scenario = fc.record({
        producers: fc.array(fc.array(op, { maxLength: 25 }), { minLength: 1, maxLength: 4 }),
        capacity: fc.integer({ min: 1, max: 8 }),
        consumeBeforeStop: fc.integer({ min: 0, max: 60 }),
        drain: fc.boolean()
      })
      for (const sample of fc.sample(scenario, { seed: 4242, numRuns: 120 })) {
        const sequencer = yield* MemorySequencer.makeWith({ store: SequencerStore.memory(), capacity: sample.capacity })
        yield* sequencer.begin(run1)
        const processed: Array<Sequencer.Decision> = []
        const accepted: Array<Sequencer.Decision> = []
        const consumer = yield* Effect.forkChild(
          Effect.gen(function* () {
            while (true) {
              const decision = yield* sequencer.take
              processed.push(decision)
              if (processed.length % 3 === 0) yield* Effect.yieldNow
              yield* sequencer.ack(decision.seq)
            }
          }).pipe(Effect.catchTag("SequencerStopped", () => Effect.void))
        )
        const producers = yield* Effect.forEach(sample.producers, (ops) =>
          Effect.forkChild(
            Effect.forEach(
              ops,
              (o) => {
                switch (o._tag) {
                  case "submit":
                    return sequencer
                      .submit(key(o.stale ? run2 : run1, o.stage, o.agent, o.attempt), answer(o.agent))
                      .pipe(
                        Effect.tap((s) => Effect.sync(() => (s._tag === "Accepted" ? accepted.push(s.decision) : 0)))
                      )
                  case "bogusAck":
                    // Only ACKs of seqs never delivered are sent, so they must all be ignored.
                    return o.seq > 1000 ? Effect.void : sequencer.ack(-Math.abs(o.seq) - 1)
                  case "yield":
                    return Effect.yieldNow
                }
              },
              { discard: true }
            )
          )
        )
        yield* Fiber.joinAll(producers)
        const stopAck = yield* sequencer.stop({ drain: sample.drain })
        yield* Fiber.join(consumer)
        const stats = yield* sequencer.stats
        // Exactly once: each accepted key once; processed and handed back are disjoint and cover all.
        const acceptedKeys = accepted.map((d) => JSON.stringify(d.key))
        assert.strictEqual(new Set(acceptedKeys).size, acceptedKeys.length)
        const delivered = [...processed, ...stopAck.pending].map((d) => d.seq)
        assert.deepStrictEqual(
          delivered,
          accepted.map((_, i) => i + 1),
          "gap-free, in order, nothing lost"
        )
        assert.deepStrictEqual(
          [...processed, ...stopAck.pending].map((d) => JSON.stringify(d.key)).sort(),
          [...acceptedKeys].sort()
        )
        const submits = sample.producers.flat().filter((o) => o._tag === "submit")
        const fresh = new Set(submits.filter((o) => !o.stale).map((o) => `${o.stage}/${o.agent}/${o.attempt}`))
        assert.strictEqual(stats.accepted, fresh.size)
        assert.strictEqual(stats.stale, submits.filter((o) => o.stale).length)
        assert.strictEqual(stats.duplicates, submits.length - stats.stale - fresh.size)
        assert.strictEqual(stats.ignoredAcks, sample.producers.flat().filter((o) => o._tag === "bogusAck").length)
        if (sample.drain) assert.deepStrictEqual(stopAck.pending, [])
      }
    })
  )
})

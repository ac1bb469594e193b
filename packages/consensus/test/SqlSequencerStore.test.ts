/**
 * The sequencer over a SQLite file: state survives closing the database, so a sequencer made again
 * for the run resumes it (acknowledged decisions returned and never delivered again, unacknowledged
 * ones delivered again in `seq` order, accepted keys still duplicates, `seq` continuing gap-free).
 */
import { assert, describe, it } from "@effect/vitest"
import { DecisionSequencer, MemorySequencer, SequencerStore, SqlSequencerStore } from "@speckit/consensus"
import { AgentId, type AgentOutcome, RunId, Sequencer, TokenUsage } from "@speckit/core"
import * as SqliteClient from "@speckit/sqlite/SqliteClient"
import { Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import fc from "fast-check"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDb = () => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "speckit-sequencer-")), "state.db")

/** One process lifetime: the database is opened for `effect` and closed when it ends. */
const session = <A, E>(filename: string, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  effect.pipe(Effect.provide(SqliteClient.layer({ filename })))

const sequencerFor = (runId: string) =>
  Effect.flatMap(SqlSequencerStore.make<string>(), (store) => DecisionSequencer.make<string>({ runId, store }))

const seqOf = (submitted: DecisionSequencer.Submitted<unknown>) =>
  submitted._tag === "Accepted" ? submitted.decision.seq : submitted._tag === "Duplicate" ? submitted.seq : -1

describe("SqlSequencerStore", () => {
  it.live("creates its tables once and stores nothing for an unknown run", () =>
    session(
      tempDb(),
      Effect.gen(function* () {
        const store = yield* SqlSequencerStore.make<string>()
        yield* SqlSequencerStore.make<string>() // tables already there
        assert.isUndefined(yield* store.load("nope"))
        const sql = yield* SqlClient.SqlClient
        const tables = yield* sql<{ readonly name: string }>`SELECT name FROM sqlite_master
          WHERE type = 'table' AND name LIKE 'speckit_sequencer_%' ORDER BY name`
        assert.deepStrictEqual(
          tables.map((t) => t.name),
          ["speckit_sequencer_keys", "speckit_sequencer_state"]
        )
      })
    )
  )

  it.live("resumes a run after the database is closed and reopened", () =>
    Effect.gen(function* () {
      const filename = tempDb()
      yield* session(
        filename,
        Effect.gen(function* () {
          const sequencer = yield* sequencerFor("r")
          assert.deepStrictEqual(sequencer.resumed, { acknowledged: [], redelivered: 0 })
          for (const key of ["a", "b", "c", "d"]) yield* sequencer.submit({ runId: "r", key, value: key.toUpperCase() })
          yield* sequencer.ack((yield* sequencer.take).seq)
          yield* sequencer.ack((yield* sequencer.take).seq)
          assert.strictEqual((yield* sequencer.take).seq, 3, "3 is in flight when the process ends")
        })
      )
      yield* session(
        filename,
        Effect.gen(function* () {
          const sequencer = yield* sequencerFor("r")
          assert.deepStrictEqual(sequencer.resumed, {
            acknowledged: [
              { seq: 1, key: "a", value: "A" },
              { seq: 2, key: "b", value: "B" }
            ],
            redelivered: 2
          })
          // Accepted keys stay accepted, with their original seq, whatever the new content.
          assert.deepStrictEqual(
            [
              yield* sequencer.submit({ runId: "r", key: "a", value: "other" }),
              yield* sequencer.submit({ runId: "r", key: "c", value: "other" })
            ],
            [
              { _tag: "Duplicate", key: "a", seq: 1 },
              { _tag: "Duplicate", key: "c", seq: 3 }
            ]
          )
          // Unacknowledged decisions come again, in seq order; acknowledged ones never do.
          const third = yield* sequencer.take
          assert.deepStrictEqual(third, { seq: 3, key: "c", value: "C" })
          yield* sequencer.ack(third.seq)
          // seq continues without a gap.
          const e = yield* sequencer.submit({ runId: "r", key: "e", value: "E" })
          assert.strictEqual(seqOf(e), 5)
          assert.deepStrictEqual(yield* sequencer.take, { seq: 4, key: "d", value: "D" })
          yield* sequencer.ack(4)
          const stats = yield* sequencer.stats
          assert.deepStrictEqual(
            [stats.accepted, stats.redelivered, stats.duplicates, stats.acknowledged, stats.pending, stats.nextSeq],
            [1, 2, 2, 2, 1, 6]
          )
        })
      )
      yield* session(
        filename,
        Effect.gen(function* () {
          const sequencer = yield* sequencerFor("r")
          assert.deepStrictEqual(
            sequencer.resumed.acknowledged.map((d) => d.seq),
            [1, 2, 3, 4]
          )
          assert.strictEqual(sequencer.resumed.redelivered, 1)
          assert.deepStrictEqual(yield* sequencer.take, { seq: 5, key: "e", value: "E" })
          // Another run in the same database starts from scratch.
          const other = yield* sequencerFor("r2")
          assert.deepStrictEqual(other.resumed, { acknowledged: [], redelivered: 0 })
          assert.strictEqual(seqOf(yield* other.submit({ runId: "r2", key: "a", value: "x" })), 1)
        })
      )
    })
  )

  it.live("writes concurrent accepts in seq order: the stored seqs never have a gap", () =>
    Effect.gen(function* () {
      const filename = tempDb()
      yield* session(
        filename,
        Effect.gen(function* () {
          // Watch the writes: one at a time, in seq order, even when the store is slow.
          const sqlStore = yield* SqlSequencerStore.make<string>()
          const written: Array<number> = []
          let writing = 0
          const store: SequencerStore.SequencerStore<string> = {
            ...sqlStore,
            accept: (state, entry) =>
              Effect.gen(function* () {
                writing++
                assert.strictEqual(writing, 1, "one accept write at a time")
                if (entry.seq % 3 === 0) yield* Effect.sleep(1)
                yield* sqlStore.accept(state, entry)
                written.push(entry.seq)
                writing--
              })
          }
          const sequencer = yield* DecisionSequencer.make<string>({ runId: "r", store })
          const submitted = yield* Effect.forEach(
            Array.from({ length: 40 }, (_, i) => `k${i}`),
            (key) => sequencer.submit({ runId: "r", key, value: key }),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(
            submitted.map(seqOf).sort((a, b) => a - b),
            Array.from({ length: 40 }, (_, i) => i + 1)
          )
          // ACKs overlapping accepts: neither position moves back.
          yield* Effect.all(
            [
              Effect.forEach(["x", "y", "z"], (key) => sequencer.submit({ runId: "r", key, value: key }), {
                concurrency: "unbounded"
              }),
              Effect.gen(function* () {
                for (let i = 0; i < 5; i++) yield* sequencer.ack((yield* sequencer.take).seq)
              })
            ],
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(
            written,
            Array.from({ length: 43 }, (_, i) => i + 1)
          )
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql<{ readonly seq: number }>`SELECT seq FROM speckit_sequencer_keys
            WHERE run_id = 'r' ORDER BY seq`
          assert.deepStrictEqual(
            rows.map((row) => row.seq),
            Array.from({ length: 43 }, (_, i) => i + 1)
          )
          const [state] = yield* sql<{ readonly acked_through: number }>`
            SELECT acked_through FROM speckit_sequencer_state WHERE run_id = 'r'`
          assert.deepStrictEqual(state, { acked_through: 5 })
          // Made again from the store, the sequencer goes on after the highest accepted seq.
          const again = yield* DecisionSequencer.make<string>({ runId: "r", store: sqlStore })
          assert.strictEqual((yield* again.stats).nextSeq, 44)
        })
      )
    })
  )

  // Random accepts (fresh and duplicate keys, some concurrent), deliveries, ACKs, and crashes (the
  // database closed and reopened, with or without a decision in flight): nothing accepted is lost,
  // nothing acknowledged is delivered again, keys keep their seq, seqs stay gap-free.
  it.live("loses nothing accepted and redelivers nothing acknowledged across crashes (property)", () =>
    Effect.gen(function* () {
      type Op =
        | { readonly _tag: "submit"; readonly keys: ReadonlyArray<number> }
        | { readonly _tag: "take" | "ack" | "crash" }
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ _tag: fc.constant("submit" as const), keys: fc.array(fc.nat(11), { minLength: 1, maxLength: 4 }) }),
        fc.record({ _tag: fc.constant("take" as const) }),
        fc.record({ _tag: fc.constant("ack" as const) }),
        fc.record({ _tag: fc.constant("crash" as const) })
      )
      for (const ops of fc.sample(fc.array(op, { maxLength: 40 }), { seed: 2024, numRuns: 30 })) {
        const filename = tempDb()
        // The model: what the sequencer acknowledged to its callers.
        const seqOfKey = new Map<string, number>()
        const acked: Array<number> = []
        const unacked: Array<number> = [] // accepted, not acknowledged, in seq order
        // Split at the crashes, and end with one more life that drains everything.
        const lives: Array<Array<Op>> = [[]]
        for (const o of ops) {
          if (o._tag === "crash") lives.push([])
          else lives[lives.length - 1]?.push(o)
        }
        lives.push([])
        for (const [index, life] of lives.entries()) {
          const last = index === lives.length - 1
          yield* session(
            filename,
            Effect.gen(function* () {
              const sequencer = yield* sequencerFor("r")
              assert.deepStrictEqual(
                sequencer.resumed.acknowledged.map((d) => d.seq),
                acked,
                "the acknowledged decisions are returned"
              )
              assert.strictEqual(sequencer.resumed.redelivered, unacked.length)
              let inFlight: number | undefined
              const take = Effect.gen(function* () {
                const decision = yield* sequencer.take
                assert.strictEqual(decision.seq, unacked[0], "delivered in seq order, acknowledged ones never")
                assert.strictEqual(seqOfKey.get(decision.key), decision.seq)
                inFlight = decision.seq
              })
              const ack = Effect.gen(function* () {
                if (inFlight === undefined) return
                assert.deepStrictEqual(yield* sequencer.ack(inFlight), { _tag: "Acknowledged", seq: inFlight })
                acked.push(inFlight)
                unacked.shift()
                inFlight = undefined
              })
              for (const o of life) {
                if (o._tag === "submit") {
                  const before = seqOfKey.size
                  const results = yield* Effect.forEach(
                    o.keys,
                    (k) => sequencer.submit({ runId: "r", key: `k${k}`, value: `v${k}` }),
                    { concurrency: "unbounded" }
                  )
                  const fresh: Array<number> = []
                  for (const [i, result] of results.entries()) {
                    const key = `k${o.keys[i]}`
                    const known = seqOfKey.get(key)
                    if (result._tag === "Duplicate") assert.strictEqual(result.seq, known, "a duplicate names its seq")
                    else {
                      assert.strictEqual(result._tag, "Accepted")
                      assert.isUndefined(known, "a key is accepted once")
                      seqOfKey.set(key, seqOf(result))
                      fresh.push(seqOf(result))
                    }
                  }
                  fresh.sort((a, b) => a - b)
                  assert.deepStrictEqual(
                    fresh,
                    Array.from({ length: fresh.length }, (_, i) => before + i + 1),
                    "gap-free"
                  )
                  unacked.push(...fresh)
                } else if (o._tag === "take") {
                  if (inFlight === undefined && unacked.length > 0) yield* take
                } else {
                  yield* ack
                }
              }
              if (last) {
                while (unacked.length > 0) {
                  if (inFlight === undefined) yield* take
                  yield* ack
                }
                const stats = yield* sequencer.stats
                assert.strictEqual(stats.nextSeq, seqOfKey.size + 1)
              }
            })
          )
        }
        // Everything accepted was acknowledged exactly once, in seq order.
        assert.deepStrictEqual(
          acked,
          Array.from({ length: seqOfKey.size }, (_, i) => i + 1)
        )
      }
    })
  )
})

const run1 = Schema.decodeUnknownSync(RunId.RunId)("run-1")

const outcome = (agent: string): AgentOutcome.AgentOutcome => ({
  _tag: "Failed",
  agent: AgentId.make(agent),
  model: "m",
  kind: "Timeout",
  detail: `no answer from ${agent}`,
  attempts: 1,
  history: [],
  usage: TokenUsage.empty,
  costUsd: 0,
  durationMs: 0
})

const answerKey = (agent: string): Sequencer.AnswerKey => ({ runId: run1, stage: "plan", agent, attempt: 1 })

describe("SqlSequencerStore.layerSequencer (core's Sequencer port)", () => {
  it.live("begin returns the acknowledged decisions and redelivers the rest", () =>
    Effect.gen(function* () {
      const filename = tempDb()
      const life = <A, E>(effect: Effect.Effect<A, E, Sequencer.Sequencer>) =>
        effect.pipe(
          Effect.provide(SqlSequencerStore.layerSequencer().pipe(Layer.provide(SqliteClient.layer({ filename }))))
        )
      const first = yield* life(
        Effect.gen(function* () {
          const sequencer = yield* Sequencer.Sequencer
          assert.deepStrictEqual(yield* sequencer.begin(run1), { acknowledged: [], redelivered: 0 })
          for (const agent of ["a", "b", "c"]) {
            yield* sequencer.submit(answerKey(agent), { _tag: "Answer", outcome: outcome(agent) })
          }
          const decision = yield* sequencer.take
          yield* sequencer.ack(decision.seq)
          yield* sequencer.take // 2 in flight
          return decision
        })
      )
      yield* life(
        Effect.gen(function* () {
          const sequencer = yield* Sequencer.Sequencer
          const resumed = yield* sequencer.begin(run1)
          assert.deepStrictEqual(resumed, { acknowledged: [first], redelivered: 2 })
          assert.deepStrictEqual(
            yield* sequencer.begin(run1),
            { acknowledged: [], redelivered: 0 },
            "a begin that changes nothing resumes nothing"
          )
          const dup = yield* sequencer.submit(answerKey("a"), { _tag: "Answer", outcome: outcome("a") })
          assert.deepStrictEqual(dup, { _tag: "Duplicate", key: answerKey("a"), seq: 1 })
          const second = yield* sequencer.take
          assert.strictEqual(second.seq, 2)
          assert.deepStrictEqual(second.key, answerKey("b"))
          assert.deepStrictEqual(second.payload, { _tag: "Answer", outcome: outcome("b") })
          yield* sequencer.ack(2)
          assert.strictEqual((yield* sequencer.take).seq, 3)
          yield* sequencer.ack(3)
          const stats = yield* sequencer.stats
          assert.deepStrictEqual([stats.redelivered, stats.accepted, stats.ackedThrough], [2, 0, 3])
        })
      )
    })
  )
})

describe("MemorySequencer.layerStore", () => {
  it.effect("gives core's Sequencer over the store it is given", () =>
    Effect.gen(function* () {
      const sequencer = yield* Sequencer.Sequencer
      assert.deepStrictEqual(yield* sequencer.begin(run1), { acknowledged: [], redelivered: 0 })
      const submitted = yield* sequencer.submit(answerKey("a"), { _tag: "Answer", outcome: outcome("a") })
      assert.strictEqual(submitted._tag === "Accepted" ? submitted.decision.seq : 0, 1)
      assert.strictEqual((yield* sequencer.stats).redelivered, 0)
      yield* sequencer.submit(answerKey("b"), { _tag: "Answer", outcome: outcome("b") })
      const first = yield* sequencer.take
      yield* sequencer.ack(first.seq)
      const stopped = yield* sequencer.stop()
      assert.deepStrictEqual(
        stopped.pending.map((d) => d.seq),
        [2]
      )
      // A stopped run begun again resumes from the store (here, in memory).
      assert.deepStrictEqual(yield* sequencer.begin(run1), { acknowledged: [first], redelivered: 1 })
      assert.strictEqual((yield* sequencer.take).seq, 2)
    }).pipe(Effect.provide(MemorySequencer.layerStore(SequencerStore.memory(), { capacity: 4 })))
  )
})

/**
 * Spike: effect/workflow on ClusterWorkflowEngine + SingleRunner over the better-sqlite3 SqlClient,
 * on a real file, across a simulated restart. Also prints (does not assert) the per-activity cost
 * on SQLite vs WorkflowEngine.layerMemory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Schema } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { Digest } from "effect/crypto"
import { SqlClient } from "effect/sql"
import { Activity, DurableDeferred, Workflow, WorkflowEngine } from "effect/workflow"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as SqliteClient from "../src/SqliteClient.ts"

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "speckit-workflow-"))

/** The whole stack: workflow engine on a single runner, over SQLite at `filename`. */
const sqliteEngine = (filename: string, options?: { readonly synchronous?: "NORMAL" | "FULL" }) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      SingleRunner.layer({
        // Default 10 s: a message stored for a local entity (a deferred, a resume) waits that long.
        shardingConfig: { entityMessagePollInterval: Duration.millis(100) },
        runnerStorage: "sql"
      })
    ),
    Layer.provide(Digest.layerWebCrypto),
    Layer.provideMerge(
      SqliteClient.layer({ filename, singleInstance: true, synchronous: options?.synchronous ?? "FULL" })
    )
  )

// --- the spike workflow: A, wait for approval, B -----------------------------------------------

const Approval = DurableDeferred.make("approval", { success: Schema.String })

const Spike = Workflow.make("Spike", {
  payload: { id: Schema.String },
  success: Schema.String,
  idempotencyKey: (payload) => payload.id
})

/** Counts real executions in a side table (deliberately not idempotent, to see re-runs). */
const record = (name: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO spike_calls (name) VALUES (${name})`
    return name
  }).pipe(Effect.orDie)

const SpikeLive = Spike.toLayer(
  Effect.fn(function* (payload) {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO spike_replays (id) VALUES (${payload.id})`.pipe(Effect.orDie)
    const a = yield* Activity.make({ name: "A", success: Schema.String, execute: record("A") })
    const approval = yield* DurableDeferred.await(Approval)
    const b = yield* Activity.make({ name: "B", success: Schema.String, execute: record("B") })
    return `${a}-${approval}-${b}`
  })
)

const sideTables = Layer.effectDiscard(
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS spike_calls (name TEXT NOT NULL)`
    yield* sql`CREATE TABLE IF NOT EXISTS spike_replays (id TEXT NOT NULL)`
  })
)

const spikeStack = (filename: string) =>
  SpikeLive.pipe(Layer.provideMerge(sideTables), Layer.provideMerge(sqliteEngine(filename)))

const calls = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly name: string; readonly n: number }>`
    SELECT name, count(*) AS n FROM spike_calls GROUP BY name ORDER BY name`
  const replays = yield* sql<{ readonly n: number }>`SELECT count(*) AS n FROM spike_replays`
  const counts: Record<string, number> = Object.fromEntries(rows.map((row) => [row.name, row.n]))
  counts.replays = replays[0]?.n ?? 0
  return counts
})

/** Polls the workflow's result until `done` holds (or fails after `millis`). */
const pollUntil = (
  executionId: string,
  done: (result: Option.Option<Workflow.Result<string, never>>) => boolean,
  millis = 15_000
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + millis
    for (;;) {
      const result = yield* Spike.poll(executionId)
      if (done(result)) return result
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out polling ${executionId}`))
      yield* Effect.sleep(Duration.millis(25))
    }
  })

const isSuspended = (result: Option.Option<Workflow.Result<string, never>>) =>
  Option.isSome(result) && result.value._tag === "Suspended"
const isComplete = (result: Option.Option<Workflow.Result<string, never>>) =>
  Option.isSome(result) && result.value._tag === "Complete"

describe("effect/workflow on SQLite (ClusterWorkflowEngine + SingleRunner)", () => {
  it.live(
    "runs activities once, suspends on a deferred, and resumes after a restart without re-running A",
    () =>
      Effect.gen(function* () {
        const filename = Path.join(tempDir(), ".speckit", "state.db")

        // Process 1: start, run A, suspend on the deferred; then "crash" (close everything).
        const first = yield* Effect.gen(function* () {
          const executionId = yield* Spike.execute({ id: "run-1" }, { discard: true })
          yield* pollUntil(executionId, isSuspended)
          const token = DurableDeferred.tokenFromExecutionId(Approval, { workflow: Spike, executionId })
          return { executionId, token, counts: yield* calls }
        }).pipe(Effect.provide(spikeStack(filename)))
        assert.deepStrictEqual(first.counts, { A: 1, replays: 1 })

        // Process 2: same file; complete the deferred from outside the workflow and let it finish.
        const second = yield* Effect.gen(function* () {
          const before = yield* calls
          yield* DurableDeferred.succeed(Approval, { token: first.token, value: "approved" })
          const result = yield* pollUntil(first.executionId, isComplete)
          return { before, result, counts: yield* calls }
        }).pipe(Effect.provide(spikeStack(filename)))

        assert.deepStrictEqual(second.before, { A: 1, replays: 1 }) // a restart alone runs nothing
        assert.isTrue(Option.isSome(second.result))
        if (Option.isSome(second.result) && second.result.value._tag === "Complete") {
          assert.deepStrictEqual(second.result.value.exit._tag, "Success")
          if (second.result.value.exit._tag === "Success") {
            assert.strictEqual(second.result.value.exit.value, "A-approved-B")
          }
        }
        // A ran once in all; B once; the body replayed on resume (replays = 2).
        assert.deepStrictEqual(second.counts, { A: 1, B: 1, replays: 2 })

        // Process 3: executing the same payload again returns the stored result; nothing re-runs.
        const third = yield* Effect.gen(function* () {
          const again = yield* Spike.execute({ id: "run-1" })
          return { again, counts: yield* calls }
        }).pipe(Effect.provide(spikeStack(filename)))
        assert.strictEqual(third.again, "A-approved-B")
        assert.deepStrictEqual(third.counts, { A: 1, B: 1, replays: 2 })
      }),
    60_000
  )
})

// --- cost per activity ---------------------------------------------------------------------------

const Bench = Workflow.make("Bench", {
  payload: { id: Schema.String, n: Schema.Number },
  success: Schema.Number,
  idempotencyKey: (payload) => payload.id
})

const BenchLive = Bench.toLayer(
  Effect.fn(function* (payload) {
    let total = 0
    for (let i = 0; i < payload.n; i++) {
      total += yield* Activity.make({ name: `step-${i}`, success: Schema.Number, execute: Effect.succeed(1) })
    }
    return total
  })
)

const timeActivities = (n: number) =>
  Effect.gen(function* () {
    yield* Bench.execute({ id: "warmup", n: 5 })
    const start = performance.now()
    const total = yield* Bench.execute({ id: "measured", n })
    const elapsed = performance.now() - start
    assert.strictEqual(total, n)
    return elapsed / n
  })

describe("per-activity cost (printed, not asserted)", () => {
  it.live(
    "SQLite (synchronous FULL and NORMAL) vs layerMemory",
    () =>
      Effect.gen(function* () {
        const n = 200
        const memory = yield* timeActivities(n).pipe(
          Effect.provide(BenchLive.pipe(Layer.provideMerge(WorkflowEngine.layerMemory)))
        )
        const full = yield* timeActivities(n).pipe(
          Effect.provide(BenchLive.pipe(Layer.provideMerge(sqliteEngine(Path.join(tempDir(), "full.db")))))
        )
        const normal = yield* timeActivities(n).pipe(
          Effect.provide(
            BenchLive.pipe(
              Layer.provideMerge(sqliteEngine(Path.join(tempDir(), "normal.db"), { synchronous: "NORMAL" }))
            )
          )
        )
        console.log(
          `[workflow cost] ${n} sequential activities: memory ${memory.toFixed(3)} ms/activity, ` +
            `SQLite synchronous=FULL ${full.toFixed(3)} ms/activity, synchronous=NORMAL ${normal.toFixed(3)} ms/activity`
        )
      }),
    120_000
  )
})

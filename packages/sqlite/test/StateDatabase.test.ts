/**
 * effect/workflow on the state database's two engines (`SqlWorkflowEngine`, and ClusterWorkflowEngine
 * + SingleRunner) over the better-sqlite3 SqlClient, on a real file, across simulated restarts:
 * activities run once, a durable deferred completed from another process resumes the workflow, a
 * finished execution returns its recorded result, and a durable clock survives a restart. Also prints
 * (does not assert) the per-activity cost of each engine vs WorkflowEngine.layerMemory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { Activity, DurableClock, DurableDeferred, Workflow } from "effect/workflow"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as SqliteClient from "../src/SqliteClient.ts"
import * as StateDatabase from "../src/StateDatabase.ts"

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "speckit-workflow-"))

const engines = ["journal", "cluster"] as const
type Engine = (typeof engines)[number]

/** The whole stack: a workflow engine over SQLite at `filename`. */
const sqliteEngine = (filename: string, engine: Engine) => StateDatabase.layer({ filename, engine })

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

const spikeStack = (filename: string, engine: Engine) =>
  SpikeLive.pipe(Layer.provideMerge(sideTables), Layer.provideMerge(sqliteEngine(filename, engine)))

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

describe.each(engines)("effect/workflow on SQLite (%s engine)", (engine) => {
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
        }).pipe(Effect.provide(spikeStack(filename, engine)))
        assert.deepStrictEqual(first.counts, { A: 1, replays: 1 })

        // Process 2: same file; complete the deferred from outside the workflow and let it finish.
        const second = yield* Effect.gen(function* () {
          const before = yield* calls
          yield* DurableDeferred.succeed(Approval, { token: first.token, value: "approved" })
          const result = yield* pollUntil(first.executionId, isComplete)
          return { before, result, counts: yield* calls }
        }).pipe(Effect.provide(spikeStack(filename, engine)))

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
        }).pipe(Effect.provide(spikeStack(filename, engine)))
        assert.strictEqual(third.again, "A-approved-B")
        assert.deepStrictEqual(third.counts, { A: 1, B: 1, replays: 2 })
      }),
    60_000
  )
})

// --- a durable clock across a restart ---------------------------------------------------------------

const Timer = Workflow.make("Timer", {
  payload: { id: Schema.String },
  success: Schema.String,
  idempotencyKey: (payload) => payload.id
})

const TimerLive = Timer.toLayer(
  Effect.fn(function* () {
    const a = yield* Activity.make({ name: "A", success: Schema.String, execute: record("A") })
    // Durable from the first millisecond (the default keeps sleeps under a minute in memory).
    yield* DurableClock.sleep({ name: "wait", duration: Duration.millis(1500), inMemoryThreshold: Duration.zero })
    const b = yield* Activity.make({ name: "B", success: Schema.String, execute: record("B") })
    return `${a}-${b}`
  })
)

const timerStack = (filename: string, engine: Engine) =>
  TimerLive.pipe(Layer.provideMerge(sideTables), Layer.provideMerge(sqliteEngine(filename, engine)))

describe.each(engines)("a durable clock on SQLite (%s engine)", (engine) => {
  it.live(
    "fires in a later process, at its time, without re-running what came before it",
    () =>
      Effect.gen(function* () {
        const filename = Path.join(tempDir(), ".speckit", "state.db")
        const started = Date.now()
        // Process 1: run A, start sleeping, then stop.
        const executionId = yield* Effect.gen(function* () {
          const id = yield* Timer.execute({ id: "timer-1" }, { discard: true })
          yield* Effect.sleep(Duration.millis(300))
          return id
        }).pipe(Effect.provide(timerStack(filename, engine)))

        // Process 2: nothing is executed; registering the workflow is enough for the clock to fire.
        const second = yield* Effect.gen(function* () {
          const deadline = Date.now() + 15_000
          for (;;) {
            const result = yield* Timer.poll(executionId)
            if (Option.isSome(result) && result.value._tag === "Complete") return result.value
            if (Date.now() > deadline) return yield* Effect.die(new Error("the clock never fired"))
            yield* Effect.sleep(Duration.millis(25))
          }
        }).pipe(Effect.provide(timerStack(filename, engine)))
        const counts = yield* calls.pipe(Effect.provide(SqliteClient.layer({ filename })))

        assert.strictEqual(second.exit._tag, "Success")
        assert.isAtLeast(Date.now() - started, 1500, "not before its time")
        assert.deepStrictEqual({ A: counts.A, B: counts.B }, { A: 1, B: 1 })
      }),
    60_000
  )
})

/**
 * The PostgreSQL store on a real server: durable runs stopped mid-way and resumed in a new engine
 * (core's journal engine, and effect's cluster engine on a runner), with the sequencer's state in the
 * same database; schema migration (concurrent, refusing a newer schema); every bad input one clear
 * error with nothing changed; retention.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { SqlSequencerStore } from "@speckit/consensus"
import { RunId, RunStore, Stage } from "@speckit/core"
import { Effect, Exit, Fiber, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as FleetRuns from "../src/FleetRuns.ts"
import * as PgRunStore from "../src/PgRunStore.ts"
import * as PgStore from "../src/PgStore.ts"
import * as Retention from "../src/Retention.ts"
import * as Runner from "../src/Runner.ts"
import { freshDatabase, query, serverUrl, stopServer } from "./postgres.ts"
import { agents, durableRun, freePort as freePortPromise, makeWorkspace } from "./run.ts"

afterAll(stopServer)

const artifacts = (workspace: string) =>
  Object.fromEntries(
    Stage.all.map((stage) => [stage, fs.readFileSync(path.join(workspace, "specs", "SPEC-1", `${stage}.md`), "utf8")])
  )

/** The sim agents, each call recorded as `stage/agent` when answered. */
const counted = (calls: Array<string>) =>
  agents(5, (event, call) => {
    if (event === "done") calls.push(call.split("/").slice(0, 2).join("/"))
  })

const freePort = Effect.promise(freePortPromise)

describe("PgStore", () => {
  const engines = {
    journal: (url: string) => Effect.succeed(PgStore.layer({ url })),
    cluster: (url: string) =>
      Effect.map(freePort, (port) =>
        Runner.layer({ url, listen: { host: "127.0.0.1", port }, pollInterval: "100 millis" })
      )
  }
  for (const kind of ["journal", "cluster"] as const) {
    it.live(
      `${kind} engine: a run stopped mid-way resumes in a new engine without calling the recorded agents again`,
      () =>
        Effect.gen(function* () {
          const url = yield* freshDatabase
          const workspace = makeWorkspace()
          const runId = yield* RunId.make
          const first: Array<string> = []
          // Stopped (the engine's scope closed, as when the process dies) once `tasks` has begun.
          const fiber = yield* Effect.forkChild(durableRun(workspace, counted(first), yield* engines[kind](url), runId))
          yield* Effect.sleep(10).pipe(Effect.repeat({ until: () => first.some((call) => call.startsWith("tasks/")) }))
          yield* Fiber.interrupt(fiber)
          assert.strictEqual(first.filter((call) => call.startsWith("plan/")).length, 3)

          const second: Array<string> = []
          const outcome = yield* durableRun(workspace, counted(second), yield* engines[kind](url), runId)
          assert.strictEqual(outcome._tag, "Finished")
          if (outcome._tag === "Finished") assert.strictEqual(outcome.summary.status, "completed")
          assert.deepStrictEqual(
            second.filter((call) => call.startsWith("plan/")),
            [],
            "plan's recorded answers are not asked again"
          )
          const reference = makeWorkspace()
          yield* durableRun(reference, counted([]), yield* engines[kind](yield* freshDatabase), yield* RunId.make)
          assert.deepStrictEqual(artifacts(workspace), artifacts(reference))

          const sequencer = yield* query<{ readonly n: string }>(
            url,
            `SELECT count(*) AS n FROM speckit_sequencer_keys WHERE run_id = '${runId}'`
          )
          assert.isAbove(Number(sequencer[0]?.n), 0, "the sequencer's state is in PostgreSQL")
        }),
      120_000
    )
  }

  it.live("opening is a migration: four at once on a fresh database, schema version 1, run once", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase
      yield* Effect.all(
        Array.from({ length: 4 }, () => Layer.build(PgStore.layer({ url })).pipe(Effect.scoped)),
        { concurrency: "unbounded" }
      )
      const meta = yield* query<{ readonly value: string }>(
        url,
        "SELECT value FROM speckit_meta WHERE key = 'schema_version'"
      )
      assert.deepStrictEqual(
        meta.map((row) => row.value),
        [String(PgStore.schemaVersion)]
      )
    })
  )

  it.live(
    "a run's records in the store are the workspace's; retention: forget removes a finished run's journal, sequencer state and records",
    () =>
      Effect.gen(function* () {
        const url = yield* freshDatabase
        const workspace = makeWorkspace()
        const runId = yield* RunId.make
        yield* durableRun(workspace, counted([]), PgStore.layer({ url }), runId, { records: true })
        // What the store holds of the run is what its files hold.
        const runDir = path.join(workspace, ".speckit", "runs", runId)
        const lines = (file: string) =>
          fs
            .readFileSync(file, "utf8")
            .split("\n")
            .filter((line) => line !== "")
        const stored = yield* PgRunStore.load(runId).pipe(Effect.provide(PgStore.client({ url })))
        assert.isTrue(Option.isSome(stored))
        if (Option.isSome(stored)) {
          assert.deepStrictEqual(
            Option.getOrUndefined(stored.value.summary),
            JSON.parse(fs.readFileSync(path.join(runDir, "summary.json"), "utf8"))
          )
          assert.deepStrictEqual(
            stored.value.record,
            JSON.parse(fs.readFileSync(path.join(runDir, "run.json"), "utf8"))
          )
          assert.sameMembers(
            stored.value.stages.map((stage) => stage.stage),
            [...Stage.all]
          )
          for (const stage of stored.value.stages) {
            assert.strictEqual(
              stage.markdown,
              fs.readFileSync(path.join(workspace, stage.artifact), "utf8"),
              stage.stage
            )
            assert.deepStrictEqual(
              stage.consensus,
              JSON.parse(fs.readFileSync(path.join(runDir, "consensus", `${stage.stage}.json`), "utf8"))
            )
          }
        }
        const events = yield* PgRunStore.eventsAfter(runId, 0).pipe(Effect.provide(PgStore.client({ url })))
        assert.deepStrictEqual(
          events.map((logged) => logged.event),
          lines(path.join(runDir, "events.jsonl")).map((line) => JSON.parse(line))
        )
        const later = yield* PgRunStore.eventsAfter(runId, events[4]?.id ?? 0, 3).pipe(
          Effect.provide(PgStore.client({ url }))
        )
        assert.deepStrictEqual(later, events.slice(5, 8))
        // A worker that takes the run over, in a workspace of its own, reads what was logged from the store.
        const elsewhere = makeWorkspace()
        const loggedElsewhere = yield* Effect.gen(function* () {
          const store = yield* RunStore.RunStore
          return yield* store.loggedEvents?.(runId) ?? Effect.succeed([])
        }).pipe(
          Effect.provide(
            PgRunStore.layer().pipe(
              Layer.provide(RunStore.RunStore.layerFileSystem(elsewhere)),
              Layer.provide([PgStore.client({ url }), NodeServices.layer])
            )
          ),
          Effect.scoped
        )
        assert.deepStrictEqual(
          loggedElsewhere,
          events.map((logged) => logged.event)
        )
        const answers = yield* PgRunStore.answers(runId).pipe(Effect.provide(PgStore.client({ url })))
        assert.strictEqual(answers.length, 18)

        const finished = yield* Retention.finishedBefore(new Date(Date.now() + 60_000)).pipe(
          Effect.provide(PgStore.client({ url }))
        )
        assert.deepStrictEqual(
          finished.map((run) => run.runId),
          [runId]
        )
        yield* Effect.forEach(finished, Retention.forget).pipe(Effect.provide(PgStore.client({ url })))
        const left = yield* query<{ readonly n: string }>(
          url,
          `SELECT (SELECT count(*) FROM speckit_workflow_executions) + (SELECT count(*) FROM speckit_workflow_activities)
           + (SELECT count(*) FROM speckit_sequencer_keys) + (SELECT count(*) FROM speckit_sequencer_state)
           + (SELECT count(*) FROM speckit_run_records) + (SELECT count(*) FROM speckit_run_events)
           + (SELECT count(*) FROM speckit_run_answers) + (SELECT count(*) FROM speckit_run_stages) AS n`
        )
        assert.strictEqual(Number(left[0]?.n), 0)
      })
  )
})

describe("PgStore: bad input is one clear error and changes nothing", () => {
  const failure = (url: string) =>
    Layer.build(PgStore.layer({ url, connectTimeout: "3 seconds" })).pipe(Effect.scoped, Effect.flip)

  it.live("an unreachable server, a missing database, an unknown role, not a URL", () =>
    Effect.gen(function* () {
      const server = new URL(serverUrl())
      const port = yield* freePort
      const cases: ReadonlyArray<readonly [string, RegExp]> = [
        [
          `postgres://speckit:secret@127.0.0.1:${port}/speckit`,
          /^cannot use PostgreSQL store postgres:\/\/speckit:\*\*\*@127\.0\.0\.1:\d+\/speckit: .*(ECONNREFUSED|refused)/
        ],
        [`postgres://speckit@${server.host}/no_such_database`, /database "no_such_database" does not exist/],
        [`postgres://nobody@${server.host}/postgres`, /role "nobody" does not exist/],
        ["mysql://127.0.0.1/speckit", /not a postgres:\/\/ URL/]
      ]
      for (const [url, expected] of cases) {
        const error = yield* failure(url)
        assert.strictEqual(error._tag, "StoreUnavailable", url)
        assert.match(error.message, expected)
        assert.notInclude(error.message, "\n")
        assert.notInclude(error.message, "secret")
      }
    })
  )

  it.live("sequencer stores made at once on a fresh database all open (their tables are created once)", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase
      const made = yield* Effect.forEach(
        Array.from({ length: 16 }, (_, i) => i),
        () => Effect.exit(SqlSequencerStore.make<string>()),
        { concurrency: "unbounded" }
      ).pipe(Effect.provide(PgStore.client({ url, maxConnections: 16 })), Effect.orDie)
      assert.deepStrictEqual(
        made.filter(Exit.isFailure).map((exit) => String(exit.cause)),
        [],
        "every store opened"
      )
    })
  )

  it.live(
    "a database of schema 1 is migrated on open: the fleet's submitted runs and the runs' records get their tables",
    () =>
      Effect.gen(function* () {
        const url = yield* freshDatabase
        yield* Layer.build(PgStore.client({ url })).pipe(Effect.scoped, Effect.orDie)
        yield* query(url, "UPDATE speckit_meta SET value = '1' WHERE key = 'schema_version'")
        yield* query(url, "DROP TABLE speckit_fleet_runs")
        for (const table of ["records", "events", "answers", "stages", "candidates"]) {
          yield* query(url, `DROP TABLE speckit_run_${table}`)
        }
        yield* Layer.build(PgStore.client({ url })).pipe(Effect.scoped, Effect.orDie)
        const version = yield* query<{ readonly value: string }>(
          url,
          "SELECT value FROM speckit_meta WHERE key = 'schema_version'"
        )
        assert.strictEqual(version[0]?.value, String(PgStore.schemaVersion))
        const { found, listed, records } = yield* Effect.gen(function* () {
          yield* FleetRuns.record({ runId: "run-1", specId: "SPEC-1" })
          yield* FleetRuns.record({ runId: "run-1", specId: "SPEC-1" })
          yield* FleetRuns.record({ runId: "run-2", specId: "SPEC-2" })
          return {
            found: yield* FleetRuns.find("run-1"),
            listed: yield* FleetRuns.list(),
            records: yield* PgRunStore.load("run-1")
          }
        }).pipe(Effect.provide(PgStore.client({ url })), Effect.orDie)
        assert.strictEqual(found._tag === "Some" ? found.value.specId : undefined, "SPEC-1")
        assert.sameMembers(
          listed.map((run) => run.runId),
          ["run-1", "run-2"],
          "each run once"
        )
        assert.isTrue(Option.isNone(records), "no records before a worker begins the run")
      })
  )

  it.live("a database migrated by a newer speckit is refused and left as it is", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase
      yield* Layer.build(PgStore.client({ url })).pipe(Effect.scoped, Effect.orDie)
      yield* query(url, "UPDATE speckit_meta SET value = '99' WHERE key = 'schema_version'")
      yield* query(url, "DROP TABLE speckit_workflow_clocks")
      const error = yield* failure(url)
      assert.strictEqual(error._tag, "StoreSchemaNewer")
      assert.include(error.message, `migrated by a newer speckit (schema 99, this one knows ${PgStore.schemaVersion})`)
      const tables = yield* query<{ readonly name: string | null }>(
        url,
        "SELECT to_regclass('speckit_workflow_clocks')::text AS name"
      )
      assert.strictEqual(tables[0]?.name ?? null, null, "nothing was re-created")
    })
  )

  it.live("a runner whose listen address is in use fails with ListenFailed", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase
      const blocker = net.createServer()
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) =>
            blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as net.AddressInfo).port))
          )
      )
      const exit = yield* Layer.build(Runner.layer({ url, listen: { host: "127.0.0.1", port } })).pipe(
        Effect.scoped,
        Effect.exit
      )
      blocker.close()
      assert.isTrue(Exit.isFailure(exit))
      assert.match(String(Exit.isFailure(exit) ? exit.cause : ""), /ListenFailed|cannot listen on 127\.0\.0\.1/)
    })
  )
})

/**
 * A run's records in the PostgreSQL store, where every machine reaching it can read them: the run
 * record and its summary, the event log, every raw answer, each stage's consensus and artifact, and
 * the candidates' patches. The layer decorates the `RunStore` it is given (a worker's files in its
 * cache): everything is written there as before and, in batches in the background, into the store;
 * `flush` and `finish` wait for the store too, so a durable step is journaled only once its records
 * are in the store, and a run taken over by another worker goes on in the same records.
 *
 * Tables (schema 3): `speckit_run_records`, `speckit_run_events`, `speckit_run_answers`,
 * `speckit_run_stages`, `speckit_run_candidates`; JSON is kept as text.
 *
 * @since 0.4.0
 */
import { type Candidate, RunStore, type RunSummary } from "@speckit/core"
import { Array as Arr, Effect, Layer, Option, Semaphore } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

/** A record waiting to be written. */
type Pending =
  | { readonly _tag: "Event"; readonly runId: string; readonly json: string }
  | {
      readonly _tag: "Answer"
      readonly runId: string
      readonly stage: string
      readonly agent: string
      readonly attempt: number
      readonly json: string
    }

/** How long records wait to be written together (they are written at once by `flush` and `finish`). */
const batchWindowMs = 100

const storeError = (runId: string, error: SqlError.SqlError) =>
  new RunStore.RunStoreError({ path: `the store's records of ${runId}`, reason: error.message })

/** Writes pending records in one statement per table, and marks their runs as seen on `worker`. */
const writePending = (sql: SqlClient.SqlClient, pending: ReadonlyArray<Pending>, worker: string | undefined) =>
  Effect.gen(function* () {
    const events: Array<Record<string, unknown>> = pending.flatMap((p) =>
      p._tag === "Event" ? [{ run_id: p.runId, event: p.json }] : []
    )
    const answers: Array<Record<string, unknown>> = pending.flatMap((p) =>
      p._tag === "Answer"
        ? [{ run_id: p.runId, stage: p.stage, agent: p.agent, attempt: p.attempt, answer: p.json }]
        : []
    )
    if (Arr.isReadonlyArrayNonEmpty(events)) yield* sql`INSERT INTO speckit_run_events ${sql.insert(events)}`
    if (Arr.isReadonlyArrayNonEmpty(answers)) yield* sql`INSERT INTO speckit_run_answers ${sql.insert(answers)}`
    const runIds = [...new Set(pending.map((p) => p.runId))]
    if (worker !== undefined && Arr.isReadonlyArrayNonEmpty(runIds)) {
      yield* sql`UPDATE speckit_run_records SET worker = ${worker}, updated_at = now() WHERE run_id IN ${sql.in(runIds)}`
    }
  })

/**
 * A writer of the records that come often (events, answers): buffered, written in the background
 * within {@link batchWindowMs}, or at once by `drain`. The first failure is kept for `drain`.
 */
const makeBatcher = (sql: SqlClient.SqlClient, worker: string | undefined) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    let buffer: Array<Pending> = []
    let scheduled = false
    let failure: SqlError.SqlError | undefined
    const lock = yield* Semaphore.make(1)
    const writeBuffered = lock.withPermits(1)(
      Effect.suspend(() => {
        const batch = buffer
        buffer = []
        scheduled = false
        return batch.length === 0
          ? Effect.void
          : writePending(sql, batch, worker).pipe(
              Effect.catch((error) =>
                Effect.sync(() => {
                  failure ??= error
                })
              )
            )
      })
    )
    const add = (record: Pending) =>
      Effect.suspend(() => {
        buffer.push(record)
        if (scheduled) return Effect.void
        scheduled = true
        return Effect.asVoid(Effect.forkIn(Effect.andThen(Effect.sleep(batchWindowMs), writeBuffered), scope))
      })
    const drain = (runId: string) =>
      Effect.andThen(
        writeBuffered,
        Effect.suspend(() => (failure === undefined ? Effect.void : Effect.fail(storeError(runId, failure))))
      )
    // Records still buffered when the run's layers close (the run interrupted) are written then.
    yield* Effect.addFinalizer(() => writeBuffered)
    return { add, drain }
  })

const json = (value: unknown) => JSON.stringify(value)

/**
 * The `RunStore` that also records into the PostgreSQL store (see the module); it needs the store's
 * `SqlClient` and the `RunStore` it decorates. `worker` names the process writing (a worker's address):
 * each run is marked with the worker that wrote its last records, and when.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { RunStore } from "@speckit/core"
 * import { PgRunStore, PgStore } from "@speckit/postgres"
 * import { Layer } from "effect"
 *
 * const store = PgRunStore.layer({ worker: "10.0.0.7:34431" }).pipe(
 *   Layer.provide(RunStore.RunStore.layerFileSystem("/var/cache/speckit/run-1")),
 *   Layer.provide([PgStore.client({ url: "postgres://speckit@db:5432/speckit" }), NodeServices.layer])
 * )
 * ```
 *
 * @since 0.4.0
 */
export const layer = (
  options: { readonly worker?: string | undefined } = {}
): Layer.Layer<RunStore.RunStore, never, RunStore.RunStore | SqlClient.SqlClient> =>
  Layer.effect(
    RunStore.RunStore,
    Effect.gen(function* () {
      const inner = yield* RunStore.RunStore
      const sql = yield* SqlClient.SqlClient
      const worker = options.worker
      const batcher = yield* makeBatcher(sql, worker)
      const run = <A>(runId: string, effect: Effect.Effect<A, SqlError.SqlError>) =>
        Effect.mapError(effect, (error) => storeError(runId, error))
      const service: RunStore.RunStore["Service"] = {
        runDir: inner.runDir,
        begin: (record) =>
          Effect.andThen(
            inner.begin(record),
            run(
              record.runId,
              sql`INSERT INTO speckit_run_records (run_id, spec_id, record, worker)
              VALUES (${record.runId}, ${record.specId}, ${json(record)}, ${worker ?? null})
              ON CONFLICT (run_id) DO UPDATE SET record = excluded.record, worker = excluded.worker, updated_at = now()`
            )
          ),
        saveAnswer: (runId, stage, agent, attempt, answer) =>
          Effect.andThen(
            inner.saveAnswer(runId, stage, agent, attempt, answer),
            batcher.add({ _tag: "Answer", runId, stage, agent, attempt, json: json(answer) })
          ),
        saveConsensus: (record, consensus, markdown) =>
          Effect.tap(inner.saveConsensus(record, consensus, markdown), (artifact) =>
            run(
              record.runId,
              sql`INSERT INTO speckit_run_stages (run_id, stage, consensus, markdown, artifact)
              VALUES (${record.runId}, ${consensus.stage}, ${json(consensus)}, ${markdown}, ${artifact})
              ON CONFLICT (run_id, stage) DO UPDATE SET consensus = excluded.consensus, markdown = excluded.markdown, artifact = excluded.artifact`
            )
          ),
        restoreConsensus: inner.restoreConsensus,
        finish: (summary) =>
          Effect.andThen(
            Effect.andThen(batcher.drain(summary.runId), inner.finish(summary)),
            run(
              summary.runId,
              sql`UPDATE speckit_run_records SET summary = ${json(summary)}, updated_at = now() WHERE run_id = ${summary.runId}`
            )
          ),
        flush: Effect.andThen(inner.flush ?? Effect.void, batcher.drain("the run")),
        saveCandidate: (runId, agent, candidate: Candidate.Candidate) =>
          Effect.tap(inner.saveCandidate?.(runId, agent, candidate) ?? Effect.succeed(""), () =>
            run(
              runId,
              sql`INSERT INTO speckit_run_candidates (run_id, agent, patch, candidate)
              VALUES (${runId}, ${agent}, ${candidate.patch}, ${json({ ...candidate, patch: undefined })})
              ON CONFLICT (run_id, agent) DO UPDATE SET patch = excluded.patch, candidate = excluded.candidate`
            )
          ),
        appendEvent: (runId, event) =>
          Effect.andThen(
            inner.appendEvent?.(runId, event) ?? Effect.void,
            batcher.add({ _tag: "Event", runId, json: json(event) })
          ),
        // The store's log, not the workspace's: a run taken over by another worker was logged elsewhere.
        loggedEvents: (runId) =>
          Effect.andThen(
            batcher.drain(runId),
            sql<{ readonly event: string }>`
              SELECT event FROM speckit_run_events WHERE run_id = ${runId} ORDER BY id`.pipe(
              Effect.map((rows) => rows.map((row) => parse(row.event))),
              Effect.mapError(
                (error) =>
                  new RunStore.RunStoreError({
                    path: `the store's events of ${runId}`,
                    reason: error.message,
                    operation: "read"
                  })
              )
            )
          )
      }
      return service
    })
  )

/**
 * A run's records as the store holds them (see {@link load}).
 *
 * @since 0.4.0
 */
export interface StoredRun {
  readonly runId: string
  readonly specId: string
  /** The run record (`run.json`). */
  readonly record: RunStore.RunRecord
  readonly summary: Option.Option<RunSummary.RunSummary>
  /** The run's cost report (`cost.json`), once it ended on a worker that writes one. */
  readonly cost: Option.Option<unknown>
  /** The worker that wrote the run's last records, and when (ISO 8601). */
  readonly worker: Option.Option<{ readonly address: string; readonly at: string }>
  /** Each decided stage: its consensus (`consensus/<stage>.json`), artifact text and artifact path. */
  readonly stages: ReadonlyArray<{
    readonly stage: string
    readonly consensus: unknown
    readonly markdown: string
    readonly artifact: string
  }>
  /** Each candidate's patch. */
  readonly candidates: ReadonlyArray<{ readonly agent: string; readonly patch: string }>
}

const parse = (text: string): unknown => JSON.parse(text)

/**
 * A run's records (without its events and answers, read with {@link eventsAfter} and
 * {@link answers}), or `None` when the store holds none (the run has not begun on a worker).
 *
 * @example
 * ```ts
 * import { PgRunStore } from "@speckit/postgres"
 *
 * const stored = PgRunStore.load("run-20261204-101500-a1b2")
 * ```
 *
 * @since 0.4.0
 */
export const load = (runId: string): Effect.Effect<Option.Option<StoredRun>, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{
      readonly spec_id: string
      readonly record: string
      readonly summary: string | null
      readonly cost: string | null
      readonly worker: string | null
      readonly updated_at: Date | string
    }>`SELECT spec_id, record, summary, cost, worker, updated_at FROM speckit_run_records WHERE run_id = ${runId}`
    const row = rows[0]
    if (row === undefined) return Option.none()
    const stages = yield* sql<{
      readonly stage: string
      readonly consensus: string
      readonly markdown: string
      readonly artifact: string
    }>`SELECT stage, consensus, markdown, artifact FROM speckit_run_stages WHERE run_id = ${runId}`
    const candidates = yield* sql<{ readonly agent: string; readonly patch: string }>`
      SELECT agent, patch FROM speckit_run_candidates WHERE run_id = ${runId} ORDER BY agent`
    return Option.some({
      runId,
      specId: row.spec_id,
      record: parse(row.record) as RunStore.RunRecord,
      summary: row.summary === null ? Option.none() : Option.some(parse(row.summary) as RunSummary.RunSummary),
      cost: row.cost === null ? Option.none() : Option.some(parse(row.cost)),
      worker:
        row.worker === null
          ? Option.none()
          : Option.some({ address: row.worker, at: new Date(row.updated_at).toISOString() }),
      stages: stages.map((stage) => ({ ...stage, consensus: parse(stage.consensus) })),
      candidates
    })
  })

/**
 * A run's logged events after the one numbered `after` (0: from the first), in order, each with its
 * number: a follower asks again from the last number it saw.
 *
 * @example
 * ```ts
 * import { PgRunStore } from "@speckit/postgres"
 *
 * const next = PgRunStore.eventsAfter("run-20261204-101500-a1b2", 0)
 * ```
 *
 * @since 0.4.0
 */
export const eventsAfter = (
  runId: string,
  after: number,
  limit = 1_000
): Effect.Effect<
  ReadonlyArray<{ readonly id: number; readonly event: unknown }>,
  SqlError.SqlError,
  SqlClient.SqlClient
> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly id: string | number; readonly event: string }>`
      SELECT id, event FROM speckit_run_events WHERE run_id = ${runId} AND id > ${after} ORDER BY id LIMIT ${limit}`
    return rows.map((row) => ({ id: Number(row.id), event: parse(row.event) }))
  })

/**
 * A run's raw answers, in the order they were recorded.
 *
 * @example
 * ```ts
 * import { PgRunStore } from "@speckit/postgres"
 *
 * const given = PgRunStore.answers("run-20261204-101500-a1b2")
 * ```
 *
 * @since 0.4.0
 */
export const answers = (
  runId: string
): Effect.Effect<
  ReadonlyArray<{ readonly stage: string; readonly agent: string; readonly attempt: number; readonly answer: unknown }>,
  SqlError.SqlError,
  SqlClient.SqlClient
> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{
      readonly stage: string
      readonly agent: string
      readonly attempt: number
      readonly answer: string
    }>`
      SELECT stage, agent, attempt, answer FROM speckit_run_answers WHERE run_id = ${runId} ORDER BY id`
    return rows.map((row) => ({ ...row, answer: parse(row.answer) }))
  })

/**
 * Forgets a run's summary because the run goes on (its pause was answered): until it finishes or
 * pauses again, it has none.
 *
 * @example
 * ```ts
 * import { PgRunStore } from "@speckit/postgres"
 *
 * const cleared = PgRunStore.goesOn("run-20261204-101500-a1b2")
 * ```
 *
 * @since 0.4.0
 */
export const goesOn = (runId: string): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE speckit_run_records SET summary = NULL, updated_at = now() WHERE run_id = ${runId}`
  })

/**
 * Keeps a run's cost report (what `cost.json` holds: total, per agent and stage, waste, budget,
 * estimate) with its records.
 *
 * @example
 * ```ts
 * import { PgRunStore } from "@speckit/postgres"
 *
 * const kept = PgRunStore.saveCost("run-20261204-101500-a1b2", { costUsd: 0.042 })
 * ```
 *
 * @since 0.4.0
 */
export const saveCost = (runId: string, cost: unknown): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE speckit_run_records SET cost = ${json(cost)}, updated_at = now() WHERE run_id = ${runId}`
  })

/**
 * A run's summary alone (its latest: a paused run's names its pause), without loading its other
 * records: what following and listing runs need.
 *
 * @example
 * ```ts
 * import { PgRunStore } from "@speckit/postgres"
 *
 * const summary = PgRunStore.summary("run-20261204-101500-a1b2")
 * ```
 *
 * @since 0.4.0
 */
export const summary = (
  runId: string
): Effect.Effect<Option.Option<RunSummary.RunSummary>, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly summary: string | null }>`
      SELECT summary FROM speckit_run_records WHERE run_id = ${runId}`
    const text = rows[0]?.summary
    return text === undefined || text === null ? Option.none() : Option.some(parse(text) as RunSummary.RunSummary)
  })

/**
 * The shared store of a fleet: one PostgreSQL database holding what the embedded default keeps in
 * `.speckit/state.db` (the workflow journal of core's `SqlWorkflowEngine`, the sequencer's state of
 * `@speckit/consensus`' `SqlSequencerStore`), over `@effect/sql-pg`'s `PgClient`.
 *
 * The schema is versioned in `speckit_meta` and migrated on open, in one transaction under an
 * advisory lock (runners starting together migrate once). A database migrated by a newer speckit is
 * refused (`StoreSchemaNewer`) and left as it is; an unreachable server, a wrong database or bad
 * credentials fail with `StoreUnavailable`, one line naming the store (its password hidden) and what
 * PostgreSQL said.
 *
 * @since 0.4.0
 */
import { PgClient } from "@effect/sql-pg"
import * as SqlWorkflowEngine from "@speckit/core/SqlWorkflowEngine"
import { Duration, Effect, Layer, Redacted, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import type { WorkflowEngine } from "effect/workflow"

/**
 * The schema version this speckit writes and reads. A database with a higher one is refused.
 *
 * @example
 * ```ts
 * import { PgStore } from "@speckit/postgres"
 *
 * PgStore.schemaVersion // 2
 * ```
 *
 * @since 0.4.0
 */
export const schemaVersion = 3

/**
 * The store could not be opened: the server is unreachable, the database or role does not exist, the
 * credentials are refused. Nothing was changed.
 *
 * @example
 * ```ts
 * import { PgStore } from "@speckit/postgres"
 *
 * const error = new PgStore.StoreUnavailable({ url: "postgres://ci@db:5432/speckit", reason: "connection refused" })
 * error.message // "cannot use PostgreSQL store postgres://ci@db:5432/speckit: connection refused"
 * ```
 *
 * @since 0.4.0
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  /** The store's URL, its password hidden. */
  url: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot use PostgreSQL store ${this.url}: ${this.reason}`
  }
}

/**
 * The database was migrated by a newer speckit: this one refuses to touch it.
 *
 * @example
 * ```ts
 * import { PgStore } from "@speckit/postgres"
 *
 * const error = new PgStore.StoreSchemaNewer({ url: "postgres://db/speckit", found: 3, supported: 1 })
 * ```
 *
 * @since 0.4.0
 */
export class StoreSchemaNewer extends Schema.TaggedError<StoreSchemaNewer>()("StoreSchemaNewer", {
  url: Schema.String,
  found: Schema.Number,
  supported: Schema.Number
}) {
  override get message() {
    return `cannot use PostgreSQL store ${this.url}: it was migrated by a newer speckit (schema ${this.found}, this one knows ${this.supported}); upgrade speckit (nothing was changed)`
  }
}

/**
 * Options of {@link client} and {@link layer}.
 *
 * @example
 * ```ts
 * import type { PgStore } from "@speckit/postgres"
 *
 * const options: PgStore.Options = { url: "postgres://speckit@127.0.0.1:5432/speckit", connectTimeout: "3 seconds" }
 * ```
 *
 * @since 0.4.0
 */
export interface Options {
  /** `postgres://user:password@host:port/database`. */
  readonly url: string
  /** How long to wait for the server. Default 5 s. */
  readonly connectTimeout?: Duration.Input | undefined
  /** Most connections kept open. Default 10. */
  readonly maxConnections?: number | undefined
}

/**
 * A `postgres://` URL with its password hidden, for messages and logs.
 *
 * @example
 * ```ts
 * import { PgStore } from "@speckit/postgres"
 *
 * PgStore.displayUrl("postgres://ci:secret@db:5432/speckit") // "postgres://ci:***@db:5432/speckit"
 * ```
 *
 * @since 0.4.0
 */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(an unparsable URL)"
  }
}

const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\/[^/]/.test(url)

/** The first line of what PostgreSQL or the socket said, without the driver's prefixes. */
const reasonOf = (error: unknown): string => {
  const seen = new Set<unknown>()
  let current: unknown = error
  let text = ""
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current)
    const message = (current as { readonly message?: unknown }).message
    if (typeof message === "string" && message !== "") text = message
    current = (current as { readonly cause?: unknown }).cause
  }
  return (text.split("\n")[0] ?? "").trim() || String(error)
}

/**
 * Creates or upgrades speckit's tables, in one transaction under an advisory lock; refuses a newer
 * schema without changing anything.
 *
 * @example
 * ```ts
 * import { PgStore } from "@speckit/postgres"
 *
 * const program = PgStore.migrate("postgres://db/speckit") // Effect<void, StoreSchemaNewer | SqlError, SqlClient>
 * ```
 *
 * @since 0.4.0
 */
export const migrate = (url: string): Effect.Effect<void, StoreSchemaNewer | SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.withTransaction(migrateLocked(sql, url))
  })

const migrateLocked = (sql: SqlClient.SqlClient, url: string) =>
  Effect.gen(function* () {
    yield* sql`SELECT pg_advisory_xact_lock(hashtext(${"speckit-migration"}))`
    yield* sql`CREATE TABLE IF NOT EXISTS speckit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`
    const rows = yield* sql<{ readonly value: string }>`SELECT value FROM speckit_meta WHERE key = 'schema_version'`
    const found = rows[0] === undefined ? 0 : Number(rows[0].value)
    if (found > schemaVersion) {
      return yield* new StoreSchemaNewer({ url: displayUrl(url), found, supported: schemaVersion })
    }
    if (found === schemaVersion) return
    yield* Effect.provideService(SqlWorkflowEngine.migrate, SqlClient.SqlClient, sql)
    // 2: the runs submitted to the fleet (`FleetRuns`).
    yield* sql`CREATE TABLE IF NOT EXISTS speckit_fleet_runs (
      run_id TEXT PRIMARY KEY,
      spec_id TEXT NOT NULL,
      submitted_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`
    // 3: a run's records (`PgRunStore`), JSON kept as text (a NUL escape is valid JSON, not valid JSONB).
    yield* sql`CREATE TABLE IF NOT EXISTS speckit_run_records (
      run_id TEXT PRIMARY KEY,
      spec_id TEXT NOT NULL,
      record TEXT NOT NULL,
      summary TEXT,
      cost TEXT,
      worker TEXT,
      updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS speckit_run_events (
      id BIGSERIAL PRIMARY KEY,
      run_id TEXT NOT NULL,
      event TEXT NOT NULL
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS speckit_run_events_run ON speckit_run_events (run_id, id)`
    yield* sql`CREATE TABLE IF NOT EXISTS speckit_run_answers (
      id BIGSERIAL PRIMARY KEY,
      run_id TEXT NOT NULL,
      stage TEXT NOT NULL,
      agent TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      answer TEXT NOT NULL
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS speckit_run_answers_run ON speckit_run_answers (run_id, id)`
    yield* sql`CREATE TABLE IF NOT EXISTS speckit_run_stages (
      run_id TEXT NOT NULL,
      stage TEXT NOT NULL,
      consensus TEXT NOT NULL,
      markdown TEXT NOT NULL,
      artifact TEXT NOT NULL,
      PRIMARY KEY (run_id, stage)
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS speckit_run_candidates (
      run_id TEXT NOT NULL,
      agent TEXT NOT NULL,
      patch TEXT NOT NULL,
      candidate TEXT NOT NULL,
      PRIMARY KEY (run_id, agent)
    )`
    yield* sql`INSERT INTO speckit_meta (key, value) VALUES ('schema_version', ${String(schemaVersion)})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`
  })

/**
 * A `SqlClient` (and `PgClient`) on the store, its schema checked and migrated.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlClient } from "effect/sql"
 * import { PgStore } from "@speckit/postgres"
 *
 * const count = Effect.gen(function* () {
 *   const sql = yield* SqlClient.SqlClient
 *   return yield* sql`SELECT count(*) AS n FROM speckit_workflow_executions`
 * }).pipe(Effect.provide(PgStore.client({ url: "postgres://speckit@127.0.0.1:5432/speckit" })))
 * ```
 *
 * @since 0.4.0
 */
export const client = (
  options: Options
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, StoreUnavailable | StoreSchemaNewer> => {
  const url = displayUrl(options.url)
  const timeout = options.connectTimeout ?? Duration.seconds(5)
  const unavailable = (error: unknown) => new StoreUnavailable({ url, reason: reasonOf(error) })
  const acquire = Effect.gen(function* () {
    if (!isPostgresUrl(options.url)) return yield* new StoreUnavailable({ url, reason: "not a postgres:// URL" })
    const pg = yield* PgClient.make({
      url: Redacted.make(options.url),
      connectTimeout: timeout,
      maxConnections: options.maxConnections ?? 10,
      applicationName: "speckit"
    }).pipe(Effect.mapError(unavailable))
    yield* migrate(options.url).pipe(
      Effect.provideService(SqlClient.SqlClient, pg),
      Effect.catchTag("SqlError", (error) => Effect.fail(unavailable(error))),
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(new StoreUnavailable({ url, reason: "no answer from the server in time" }))
      })
    )
    return pg
  })
  return PgClient.layerFrom(acquire)
}

/**
 * The durable workflow engine on the store: core's `SqlWorkflowEngine` (one row per completed step),
 * with the `SqlClient` for the stores that keep their state beside it (the sequencer's). For one
 * process per run, as on the embedded default; a fleet of runners uses `Runner.layer`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DurableRun } from "@speckit/core"
 * import { PgStore } from "@speckit/postgres"
 *
 * declare const options: DurableRun.Options
 * const program = DurableRun.run(options).pipe(
 *   Effect.scoped,
 *   Effect.provide(PgStore.layer({ url: "postgres://speckit@127.0.0.1:5432/speckit" }))
 * )
 * ```
 *
 * @since 0.4.0
 */
export const layer = (
  options: Options
): Layer.Layer<
  WorkflowEngine.WorkflowEngine | SqlClient.SqlClient | PgClient.PgClient,
  StoreUnavailable | StoreSchemaNewer
> => SqlWorkflowEngine.layer.pipe(Layer.orDie, Layer.provideMerge(client(options)))

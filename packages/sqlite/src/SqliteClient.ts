/**
 * A small `effect/sql` client over `better-sqlite3`, for speckit's local state database
 * (`.speckit/state.db`), plus the checks that make a state file safe to open: a single-instance
 * lock, and detection of corrupt, foreign or newer state.
 *
 * The single-instance lock lives in {@link StateLock}; the connection (binding, statement cache) in
 * an internal module.
 *
 * Driver design:
 *
 * - One synchronous `better-sqlite3` connection per client, shared through a one-permit semaphore
 *   (`SqlClient.makeSqliteAcquirers`), with an LRU cache of prepared statements.
 * - Parameters are bound as SQLite values: booleans as `1`/`0`, `Date`s as ISO-8601 UTC strings
 *   (`2025-01-02T03:04:05.678Z`, sortable and understood by SQLite's date functions),
 *   `Uint8Array`s as `Buffer`s, `undefined` as `NULL`. Values are returned as SQLite stores them
 *   (a `Date` comes back as its ISO string, a boolean as `0`/`1`, a BLOB as a `Buffer`).
 * - `journal_mode = WAL`, `busy_timeout`, `foreign_keys = ON`; top-level transactions start with
 *   `BEGIN IMMEDIATE` (no `SQLITE_BUSY_SNAPSHOT` on read-then-write), nested ones use savepoints.
 * - The database is closed when the client's scope closes.
 *
 * @since 0.1.0
 */
import Database from "better-sqlite3"
import { Context, Effect, Layer, Schema, type Scope, Semaphore } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient, type SqlError, Statement } from "effect/sql"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type Db, errorMessage, isCorruption, makeConnection, sqlError } from "./internal/connection.ts"
import { acquireLock, type StateLocked } from "./StateLock.ts"

const SQLITE_MAGIC = "SQLite format 3\u0000"

// -------------------------------------------------------------------------------------------------
// errors
// -------------------------------------------------------------------------------------------------

/**
 * What is wrong with a state database that cannot be used.
 *
 * - `NotSqlite`: the file is not a SQLite database.
 * - `Truncated`: the file is shorter than its SQLite header says.
 * - `Malformed`: SQLite reports corruption, or the speckit metadata is unreadable.
 * - `Foreign`: a SQLite database written by another tool (tables, but no `speckit_meta`).
 * - `NewerSchema`: written by a newer speckit (`schema_version` above the supported one).
 *
 * @example
 * ```ts
 * import type { StateCorruptKind } from "@speckit/sqlite/SqliteClient"
 *
 * const advice = (kind: StateCorruptKind) => (kind === "NewerSchema" ? "upgrade speckit" : "move the file away")
 * ```
 *
 * @since 0.1.0
 */
export type StateCorruptKind = "NotSqlite" | "Truncated" | "Malformed" | "Foreign" | "NewerSchema"

/**
 * A state database that is corrupt, foreign or too new. Nothing is modified or deleted when this is
 * raised: the file is left as it was found.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as SqliteClient from "@speckit/sqlite/SqliteClient"
 *
 * const program = Effect.void.pipe(
 *   Effect.provide(SqliteClient.layer({ filename: ".speckit/state.db" })),
 *   Effect.catchTag("StateCorrupt", (e) => Effect.logError(`${e.path}: ${e.reason}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class StateCorrupt extends Schema.TaggedError<StateCorrupt>()("StateCorrupt", {
  path: Schema.String,
  kind: Schema.Literals(["NotSqlite", "Truncated", "Malformed", "Foreign", "NewerSchema"]),
  reason: Schema.String
}) {
  override get message() {
    return `cannot use state database ${this.path}: ${this.reason} (the file was left untouched)`
  }
}

// -------------------------------------------------------------------------------------------------
// client
// -------------------------------------------------------------------------------------------------

/**
 * The state-schema version this build of speckit writes and understands. A database whose
 * `speckit_meta.schema_version` is higher is refused with `StateCorrupt { kind: "NewerSchema" }`.
 *
 * @example
 * ```ts
 * import { CurrentSchemaVersion } from "@speckit/sqlite/SqliteClient"
 *
 * console.log(CurrentSchemaVersion) // 1
 * ```
 *
 * @since 0.1.0
 */
export const CurrentSchemaVersion = 1

/**
 * Options of a SQLite client.
 *
 * @example
 * ```ts
 * import type { SqliteClientConfig } from "@speckit/sqlite/SqliteClient"
 *
 * const config: SqliteClientConfig = { filename: ".speckit/state.db", busyTimeoutMillis: 10_000 }
 * ```
 *
 * @since 0.1.0
 */
export interface SqliteClientConfig {
  /** Path of the database file (its directory is created if needed), or `":memory:"`. */
  readonly filename: string
  /** Open read-only: no WAL switch, no metadata written, the file must exist. Default `false`. */
  readonly readonly?: boolean | undefined
  /** `busy_timeout`: how long a statement waits for another connection's lock. Default 5000 ms. */
  readonly busyTimeoutMillis?: number | undefined
  /** Keep the rollback journal instead of switching to `journal_mode = WAL`. Default `false`. */
  readonly disableWAL?: boolean | undefined
  /** `PRAGMA synchronous`. Default `"FULL"` (SQLite's default; `"NORMAL"` is faster in WAL mode, and only loses the last commits on power loss, never on a process crash). */
  readonly synchronous?: "OFF" | "NORMAL" | "FULL" | "EXTRA" | undefined
  /** Prepared statements kept per connection. Default 200. */
  readonly prepareCacheSize?: number | undefined
  /**
   * Check and stamp the speckit state metadata (`speckit_meta`) on open, refusing corrupt, foreign
   * or newer files with `StateCorrupt`. Default `true`; turn off only for scratch databases.
   */
  readonly validateState?: boolean | undefined
  /** Also run `PRAGMA quick_check` on open (reads the whole file). Default `false`. */
  readonly quickCheck?: boolean | undefined
  /** Highest `speckit_meta.schema_version` accepted, and the one stamped on a new file. Default {@link CurrentSchemaVersion}. */
  readonly schemaVersion?: number | undefined
  /** Take the {@link acquireLock single-instance lock} before opening (layer only). Default `false`. */
  readonly singleInstance?: boolean | undefined
  readonly spanAttributes?: Record<string, unknown> | undefined
  readonly transformResultNames?: ((str: string) => string) | undefined
  readonly transformQueryNames?: ((str: string) => string) | undefined
}

/**
 * A SQLite `SqlClient` with the facts established when it was opened.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@speckit/sqlite/SqliteClient"
 *
 * const mode = Effect.gen(function* () {
 *   const client = yield* SqliteClient
 *   return client.journalMode // "wal"
 * })
 * ```
 *
 * @since 0.1.0
 */
export interface SqliteClient extends SqlClient.SqlClient {
  readonly config: SqliteClientConfig
  /** The journal mode in effect (`"wal"` unless disabled, read-only or in memory). */
  readonly journalMode: string
  /** The `speckit_meta.schema_version` of the file (`undefined` when validation is off or a read-only file is empty). */
  readonly schemaVersion: number | undefined
}

/**
 * The SQLite-specific client service (the same value is also provided as `SqlClient.SqlClient`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@speckit/sqlite/SqliteClient"
 *
 * const program = Effect.gen(function* () {
 *   const sql = yield* SqliteClient
 *   return yield* sql`SELECT 1 AS one`
 * })
 * ```
 *
 * @since 0.1.0
 */
export const SqliteClient: Context.Service<SqliteClient, SqliteClient> =
  Context.Service<SqliteClient>("@speckit/sqlite/SqliteClient")

// -------------------------------------------------------------------------------------------------
// state validation
// -------------------------------------------------------------------------------------------------

/** Checks the file's bytes before SQLite touches it: magic string and truncation. */
const inspectFile = (path: string): StateCorrupt | undefined => {
  let size: number
  try {
    size = Fs.statSync(path).size
  } catch {
    return undefined // does not exist yet
  }
  if (size === 0) return undefined
  const header = Buffer.alloc(100)
  const fd = Fs.openSync(path, "r")
  let read: number
  try {
    read = Fs.readSync(fd, header, 0, 100, 0)
  } finally {
    Fs.closeSync(fd)
  }
  const magic = header.subarray(0, 16).toString("latin1")
  if (read < 16 || magic !== SQLITE_MAGIC) {
    if (SQLITE_MAGIC.startsWith(header.subarray(0, read).toString("latin1"))) {
      return new StateCorrupt({
        path,
        kind: "Truncated",
        reason: `the file ends inside the SQLite header (${size} bytes)`
      })
    }
    return new StateCorrupt({ path, kind: "NotSqlite", reason: "the file is not a SQLite database" })
  }
  if (read < 100) {
    return new StateCorrupt({
      path,
      kind: "Truncated",
      reason: `the file ends inside the SQLite header (${size} bytes)`
    })
  }
  const rawPageSize = header.readUInt16BE(16)
  const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize
  if (pageSize < 512 || pageSize > 65_536 || (pageSize & (pageSize - 1)) !== 0) {
    return new StateCorrupt({
      path,
      kind: "Malformed",
      reason: `the SQLite header has an invalid page size (${rawPageSize})`
    })
  }
  // A non-empty WAL may legitimately hold pages a crashed checkpoint had not yet copied: let SQLite recover it.
  let walSize = 0
  try {
    walSize = Fs.statSync(`${path}-wal`).size
  } catch {
    walSize = 0
  }
  if (walSize > 0) return undefined
  const changeCounter = header.readUInt32BE(24)
  const pageCount = header.readUInt32BE(28)
  const versionValidFor = header.readUInt32BE(92)
  const headerSizeValid = pageCount > 0 && versionValidFor === changeCounter
  if (size % pageSize !== 0 || (headerSizeValid && size < pageCount * pageSize)) {
    const expected = headerSizeValid ? `${pageCount * pageSize} bytes` : `a multiple of ${pageSize} bytes`
    return new StateCorrupt({
      path,
      kind: "Truncated",
      reason: `the file is truncated: ${size} bytes where the SQLite header expects ${expected}`
    })
  }
  return undefined
}

interface StateCheck {
  readonly path: string
  readonly readonly: boolean
  readonly supported: number
  readonly quickCheck: boolean
}

/** Returns the schema version (stamping a new file), or the reason the file cannot be used. */
const checkState = (db: Db, check: StateCheck): number | undefined | StateCorrupt => {
  const { path } = check
  if (check.quickCheck) {
    const result = db.pragma("quick_check", { simple: true })
    if (result !== "ok") {
      return new StateCorrupt({ path, kind: "Malformed", reason: `PRAGMA quick_check: ${String(result)}` })
    }
  }
  const userTables = (): ReadonlyArray<string> =>
    db
      .prepare<[], { readonly name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
      )
      .all()
      .map((row) => row.name)
  const classify = (tables: ReadonlyArray<string>): number | "empty" | StateCorrupt => {
    if (tables.includes("speckit_meta")) {
      const row = db
        .prepare<[], { readonly value: unknown }>("SELECT value FROM speckit_meta WHERE key = 'schema_version'")
        .get()
      const version = row === undefined ? Number.NaN : Number(row.value)
      if (!Number.isSafeInteger(version) || version < 1) {
        return new StateCorrupt({ path, kind: "Malformed", reason: "speckit_meta has no valid schema_version" })
      }
      if (version > check.supported) {
        return new StateCorrupt({
          path,
          kind: "NewerSchema",
          reason: `schema version ${version} was written by a newer speckit (this one supports up to ${check.supported}); upgrade speckit`
        })
      }
      return version
    }
    if (tables.length > 0) {
      const listed = tables.slice(0, 5).join(", ") + (tables.length > 5 ? ", ..." : "")
      return new StateCorrupt({
        path,
        kind: "Foreign",
        reason: `a SQLite database from another tool (tables: ${listed}; no speckit_meta)`
      })
    }
    return "empty"
  }
  const found = classify(userTables())
  if (found !== "empty") return found
  if (check.readonly) return undefined
  // Stamp a new file, re-checking under the write lock in case another process got there first.
  const stamp = db.transaction((): number | StateCorrupt => {
    const again = classify(userTables())
    if (again !== "empty") return again
    db.exec("CREATE TABLE speckit_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
    const insert = db.prepare("INSERT INTO speckit_meta (key, value) VALUES (?, ?)")
    insert.run("schema_version", String(check.supported))
    insert.run("created_at", new Date().toISOString())
    return check.supported
  })
  return stamp.immediate()
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * Opens a SQLite client in the current scope (the database closes with the scope). Fails with
 * `StateCorrupt` (file untouched) when the file is not usable speckit state, or `SqlError` when it
 * cannot be opened.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Reactivity } from "effect/reactivity"
 * import * as SqliteClient from "@speckit/sqlite/SqliteClient"
 *
 * const program = Effect.gen(function* () {
 *   const sql = yield* SqliteClient.make({ filename: "/tmp/state.db" })
 *   return yield* sql`SELECT 1 AS one`
 * }).pipe(Effect.scoped, Effect.provide(Reactivity.layer))
 * ```
 *
 * @since 0.1.0
 */
export const make = (
  config: SqliteClientConfig
): Effect.Effect<SqliteClient, SqlError.SqlError | StateCorrupt, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function* () {
    const filename = config.filename
    const readonly = config.readonly === true
    const inMemory = filename === ":memory:" || filename === ""
    const validate = config.validateState !== false

    if (!inMemory && validate) {
      const problem = yield* Effect.try({
        try: () => inspectFile(filename),
        catch: (cause) => sqlError(cause, `Failed to read ${filename}`, "open")
      })
      if (problem !== undefined) return yield* problem
    }
    if (!inMemory && !readonly) {
      yield* Effect.try({
        try: () => Fs.mkdirSync(Path.dirname(Path.resolve(filename)), { recursive: true }),
        catch: (cause) => sqlError(cause, `Failed to create the directory of ${filename}`, "open")
      })
    }

    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          new Database(filename, {
            readonly,
            fileMustExist: readonly,
            timeout: config.busyTimeoutMillis ?? 5_000
          }),
        catch: (cause) => sqlError(cause, `Failed to open ${filename}`, "open")
      }),
      (db) => Effect.sync(() => db.close())
    )

    const corrupt = (cause: unknown) =>
      isCorruption(cause)
        ? new StateCorrupt({ path: filename, kind: "Malformed", reason: errorMessage(cause) })
        : sqlError(cause, `Failed to initialise ${filename}`, "open")

    // Validate before anything writes to the file (the WAL switch rewrites the header).
    let schemaVersion: number | undefined
    if (validate) {
      const checked = yield* Effect.try({
        try: () =>
          checkState(db, {
            path: filename,
            readonly,
            supported: config.schemaVersion ?? CurrentSchemaVersion,
            quickCheck: config.quickCheck === true
          }),
        catch: corrupt
      })
      if (checked instanceof StateCorrupt) return yield* checked
      schemaVersion = checked
    }

    const journalMode = yield* Effect.try({
      try: () => {
        db.pragma("foreign_keys = ON")
        if (!readonly && config.synchronous !== undefined) db.pragma(`synchronous = ${config.synchronous}`)
        if (!readonly && config.disableWAL !== true) db.pragma("journal_mode = WAL")
        return String(db.pragma("journal_mode", { simple: true }))
      },
      catch: corrupt
    })

    const semaphore = yield* Semaphore.make(1)
    const acquirers = SqlClient.makeSqliteAcquirers({
      connection: Effect.succeed(makeConnection(db, config.prepareCacheSize ?? 200)),
      semaphore,
      isTransaction: () => db.inTransaction
    })
    const client = yield* SqlClient.make({
      driver: "sqlite",
      acquirer: acquirers.acquirer,
      borrower: acquirers.borrower,
      transactionAcquirer: acquirers.transactionAcquirer,
      onCommitFailure: acquirers.onCommitFailure,
      isTransaction: acquirers.isTransaction,
      compiler: Statement.makeCompilerSqlite(config.transformQueryNames),
      prepareTransactionControls: true,
      beginTransaction: readonly ? "BEGIN" : "BEGIN IMMEDIATE",
      releaseSavepoint: (name) => `RELEASE SAVEPOINT ${name}`,
      spanAttributes: [
        ...(config.spanAttributes === undefined ? [] : Object.entries(config.spanAttributes)),
        ["db.system.name", "sqlite"]
      ],
      transformRows:
        config.transformResultNames === undefined
          ? undefined
          : Statement.defaultTransforms(config.transformResultNames).array
    })
    const sqlite: SqliteClient = Object.assign(client, { config, journalMode, schemaVersion })
    return sqlite
  })

/**
 * Provides `SqliteClient` and `SqlClient.SqlClient` over one database file (taking the
 * single-instance lock first when `singleInstance` is set). The database closes when the layer's
 * scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlClient } from "effect/sql"
 * import * as SqliteClient from "@speckit/sqlite/SqliteClient"
 *
 * const program = Effect.gen(function* () {
 *   const sql = yield* SqlClient.SqlClient
 *   yield* sql`CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY)`
 * }).pipe(Effect.provide(SqliteClient.layer({ filename: ".speckit/state.db", singleInstance: true })))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  config: SqliteClientConfig
): Layer.Layer<SqliteClient | SqlClient.SqlClient, SqlError.SqlError | StateCorrupt | StateLocked> =>
  Layer.effectContext(
    Effect.gen(function* () {
      if (config.singleInstance === true) yield* acquireLock(config.filename)
      const client = yield* make(config)
      return Context.make(SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    })
  ).pipe(Layer.provide(Reactivity.layer))

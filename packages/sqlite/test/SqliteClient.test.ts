import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit, Layer, Result, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient, SqlError } from "effect/sql"
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as SqliteClient from "../src/SqliteClient.ts"
import * as StateLock from "../src/StateLock.ts"

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "speckit-sqlite-"))

const withClient = <A, E>(
  config: SqliteClient.SqliteClientConfig,
  f: (sql: SqliteClient.SqliteClient) => Effect.Effect<A, E, SqlClient.SqlClient>
) =>
  Effect.gen(function* () {
    const sql = yield* SqliteClient.SqliteClient
    return yield* f(sql)
  }).pipe(Effect.provide(SqliteClient.layer(config)))

const fileDigest = (path: string) => createHash("sha256").update(Fs.readFileSync(path)).digest("hex")

/** Opens the file and returns the typed failure, if any (the layer is built and torn down). */
const openError = (config: SqliteClient.SqliteClientConfig) =>
  SqliteClient.layer(config).pipe(Layer.build, Effect.scoped, Effect.flip)

describe("SqliteClient: queries", () => {
  it.live("binds and reads every supported parameter type", () =>
    withClient({ filename: Path.join(tempDir(), "state.db") }, (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE t (s TEXT, i INTEGER, f REAL, big INTEGER, yes INTEGER, no INTEGER, nul TEXT, undef TEXT, at TEXT, bytes BLOB, buf BLOB)`
        const at = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678))
        const bytes = new Uint8Array([0, 1, 2, 254, 255])
        const sub = new Uint8Array([9, 9, 7, 8, 9]).subarray(2, 4) // a view with an offset
        yield* sql`INSERT INTO t VALUES (${"héllo 'quoted'"}, ${42}, ${1.5}, ${9007199254740993n}, ${true}, ${false}, ${null}, ${undefined}, ${at}, ${bytes}, ${sub})`
        const rows = yield* sql<Record<string, unknown>>`SELECT s, i, f, yes, no, nul, undef, at, bytes, buf FROM t`
        const row = rows[0]
        assert.isDefined(row)
        if (row === undefined) return
        assert.strictEqual(row.s, "héllo 'quoted'")
        assert.strictEqual(row.i, 42)
        assert.strictEqual(row.f, 1.5)
        assert.strictEqual(row.yes, 1)
        assert.strictEqual(row.no, 0)
        assert.isNull(row.nul)
        assert.isNull(row.undef)
        assert.strictEqual(row.at, "2025-01-02T03:04:05.678Z")
        assert.deepStrictEqual(new Uint8Array(row.bytes as Uint8Array), bytes)
        assert.deepStrictEqual(new Uint8Array(row.buf as Uint8Array), new Uint8Array([7, 8]))
        // Dates stored as ISO strings work with SQLite's date functions and compare by parameter.
        const found = yield* sql`SELECT strftime('%Y', at) AS year FROM t WHERE at = ${at}`
        assert.deepStrictEqual(found, [{ year: "2025" }])
        // 64-bit integers: exact as bigint under SafeIntegers (numbers otherwise).
        const big = yield* sql`SELECT big FROM t`.pipe(Effect.provideService(SqlClient.SafeIntegers, true))
        assert.deepStrictEqual(big, [{ big: 9007199254740993n }])
        // values() returns arrays; raw returns better-sqlite3's run result for writes.
        assert.deepStrictEqual(yield* sql`SELECT i, yes FROM t`.values, [[42, 1]])
        const raw = yield* sql`UPDATE t SET i = i + 1`.raw
        assert.deepStrictEqual(raw, { changes: 1, lastInsertRowid: 1 })
        assert.strictEqual(sql.driver, "sqlite")
        assert.strictEqual(sql.onDialectOrElse({ sqlite: () => "sqlite", orElse: () => "other" }), "sqlite")
      })
    )
  )

  it.live("compiles sql.insert, sql.in, sql.and, identifiers, and runs scripts unprepared", () =>
    withClient({ filename: Path.join(tempDir(), "state.db") }, (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE ${sql("agent runs")} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, ok INTEGER NOT NULL)`
        const insert = sql`INSERT INTO ${sql("agent runs")} ${sql.insert([
          { id: 1, name: "claude", ok: true },
          { id: 2, name: "codex", ok: false },
          { id: 3, name: "gemini", ok: true }
        ])}`
        const [text, params] = insert.compile()
        assert.strictEqual(text, 'INSERT INTO "agent runs" ("id","name","ok") VALUES (?,?,?),(?,?,?),(?,?,?)')
        assert.deepStrictEqual(params, [1, "claude", true, 2, "codex", false, 3, "gemini", true])
        yield* insert
        const picked = yield* sql<{
          readonly name: string
        }>`SELECT name FROM ${sql("agent runs")} WHERE ${sql.and([sql.in("id", [1, 2, 3]), sql`ok = ${true}`])} ORDER BY id`
        assert.deepStrictEqual(
          picked.map((row) => row.name),
          ["claude", "gemini"]
        )
        const streamed = yield* Stream.runCollect(
          sql<{ readonly id: number }>`SELECT id FROM ${sql("agent runs")}`.stream
        )
        assert.deepStrictEqual(
          Array.from(streamed, (row) => row.id),
          [1, 2, 3]
        )
        const [inText] = sql`SELECT 1 WHERE id IN ${sql.in([1, 2])}`.compile()
        assert.strictEqual(inText, "SELECT 1 WHERE id IN (?,?)")
        yield* sql`CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER);`.unprepared
        const tables = yield* sql<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE name IN ('a', 'b')`
        assert.strictEqual(tables.length, 2)
      })
    )
  )

  it.live("maps SQLite errors to SqlError reasons", () =>
    withClient({ filename: Path.join(tempDir(), "state.db") }, (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE)`
        yield* sql`INSERT INTO u (name) VALUES (${"a"})`
        const unique = yield* Effect.flip(sql`INSERT INTO u (name) VALUES (${"a"})`)
        assert.strictEqual(unique.reason._tag, "UniqueViolation")
        const syntax = yield* Effect.flip(sql`SELEKT 1`)
        assert.isTrue(SqlError.isSqlError(syntax))
        const badBind = yield* Effect.flip(sql`SELECT ${{ not: "bindable" } as unknown as string}`)
        assert.isTrue(SqlError.isSqlError(badBind))
      })
    )
  )
})

describe("SqliteClient: transactions", () => {
  it.live("commits, rolls back, and nests with savepoints", () =>
    withClient({ filename: Path.join(tempDir(), "state.db") }, (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE k (v TEXT)`
        const names = Effect.map(sql<{ readonly v: string }>`SELECT v FROM k ORDER BY rowid`, (rows) =>
          rows.map((row) => row.v)
        )
        yield* sql.withTransaction(Effect.all([sql`INSERT INTO k VALUES ('a')`, sql`INSERT INTO k VALUES ('b')`]))
        assert.deepStrictEqual(yield* names, ["a", "b"])

        const failed = yield* sql
          .withTransaction(Effect.andThen(sql`INSERT INTO k VALUES ('c')`, Effect.fail("boom" as const)))
          .pipe(Effect.flip)
        assert.strictEqual(failed, "boom")
        assert.deepStrictEqual(yield* names, ["a", "b"])

        // The inner savepoint rolls back on its own; the outer transaction still commits.
        yield* sql.withTransaction(
          Effect.gen(function* () {
            yield* sql`INSERT INTO k VALUES ('outer')`
            yield* sql
              .withTransaction(Effect.andThen(sql`INSERT INTO k VALUES ('inner')`, Effect.fail("inner" as const)))
              .pipe(Effect.ignore)
            yield* sql.withTransaction(sql`INSERT INTO k VALUES ('inner ok')`)
          })
        )
        assert.deepStrictEqual(yield* names, ["a", "b", "outer", "inner ok"])

        // A failing outer transaction discards committed savepoints too.
        yield* sql
          .withTransaction(
            Effect.andThen(sql.withTransaction(sql`INSERT INTO k VALUES ('lost')`), Effect.fail("outer" as const))
          )
          .pipe(Effect.ignore)
        assert.deepStrictEqual(yield* names, ["a", "b", "outer", "inner ok"])
      })
    )
  )

  it.live("serialises concurrent transactions on the single connection", () =>
    withClient({ filename: Path.join(tempDir(), "state.db") }, (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE counter (n INTEGER NOT NULL)`
        yield* sql`INSERT INTO counter VALUES (0)`
        const bump = sql.withTransaction(
          Effect.gen(function* () {
            const rows = yield* sql<{ readonly n: number }>`SELECT n FROM counter`
            yield* Effect.yieldNow
            yield* sql`UPDATE counter SET n = ${(rows[0]?.n ?? 0) + 1}`
          })
        )
        yield* Effect.all(
          Array.from({ length: 50 }, () => bump),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(yield* sql`SELECT n FROM counter`, [{ n: 50 }])
      })
    )
  )
})

describe("SqliteClient: connection settings", () => {
  it.live("opens in WAL mode with foreign keys and a busy timeout, and closes with the scope", () =>
    Effect.gen(function* () {
      const filename = Path.join(tempDir(), "nested", "state.db")
      const leaked = yield* Effect.scoped(
        Effect.gen(function* () {
          const sql = yield* SqliteClient.make({ filename, busyTimeoutMillis: 1234 })
          assert.strictEqual(sql.journalMode, "wal")
          assert.strictEqual(sql.schemaVersion, SqliteClient.CurrentSchemaVersion)
          assert.deepStrictEqual(yield* sql`PRAGMA journal_mode`, [{ journal_mode: "wal" }])
          assert.deepStrictEqual(yield* sql`PRAGMA foreign_keys`, [{ foreign_keys: 1 }])
          assert.deepStrictEqual(yield* sql`PRAGMA busy_timeout`, [{ timeout: 1234 }])
          yield* sql`CREATE TABLE parent (id INTEGER PRIMARY KEY)`
          yield* sql`CREATE TABLE child (parent INTEGER REFERENCES parent (id))`
          const fk = yield* Effect.flip(sql`INSERT INTO child VALUES (7)`)
          assert.strictEqual(fk.reason._tag, "ConstraintError")
          assert.isTrue(Fs.existsSync(`${filename}-wal`))
          return sql
        }).pipe(Effect.provide(Reactivity.layer))
      )
      // Another connection sees WAL in the file header; the closed client refuses to run.
      const other = new Database(filename, { readonly: true })
      assert.strictEqual(other.pragma("journal_mode", { simple: true }), "wal")
      other.close()
      const closed = yield* Effect.flip(leaked`SELECT 1`)
      assert.isTrue(SqlError.isSqlError(closed))
    })
  )

  it.live("readonly: reads, refuses writes, and never creates a file", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const filename = Path.join(dir, "state.db")
      yield* withClient({ filename }, (sql) =>
        sql`CREATE TABLE r (v INTEGER)`.pipe(Effect.andThen(sql`INSERT INTO r VALUES (1)`))
      )
      const result = yield* withClient({ filename, readonly: true }, (sql) =>
        Effect.gen(function* () {
          const rows = yield* sql`SELECT v FROM r`
          const write = yield* Effect.flip(sql`INSERT INTO r VALUES (2)`)
          const inTransaction = yield* sql.withTransaction(sql`SELECT count(*) AS n FROM r`)
          return { rows, write, inTransaction }
        })
      )
      assert.deepStrictEqual(result.rows, [{ v: 1 }])
      assert.isTrue(SqlError.isSqlError(result.write))
      assert.deepStrictEqual(result.inTransaction, [{ n: 1 }])
      const missing = yield* openError({ filename: Path.join(dir, "missing.db"), readonly: true })
      assert.strictEqual(missing._tag, "SqlError")
      assert.isFalse(Fs.existsSync(Path.join(dir, "missing.db")))
    })
  )
})

// -------------------------------------------------------------------------------------------------
// single-instance lock
// -------------------------------------------------------------------------------------------------

const childScript = fileURLToPath(new URL("./fixtures/lock-child.ts", import.meta.url))
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

interface ChildEvent {
  readonly event: "held" | "locked" | "error"
  readonly pid?: number
  readonly ownerPid?: number | null
  readonly message?: string
}

/** Starts the lock child; resolves with the process and its first printed event. */
const startChild = (mode: "hold" | "try", path: string) =>
  Effect.callback<{ readonly child: ChildProcess; readonly event: ChildEvent }, Error>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", childScript, mode, path], {
      cwd: repoRoot,
      stdio: ["pipe", "pipe", "inherit"]
    })
    let buffer = ""
    child.stdout?.setEncoding("utf8")
    child.stdout?.on("data", (chunk: string) => {
      buffer += chunk
      const newline = buffer.indexOf("\n")
      if (newline >= 0) resume(Effect.succeed({ child, event: JSON.parse(buffer.slice(0, newline)) as ChildEvent }))
    })
    child.on("error", (error) => resume(Effect.fail(error)))
    child.on("exit", (code) => resume(Effect.fail(new Error(`lock child exited (${code}) before reporting`))))
  })

const waitExit = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.on("exit", () => resume(Effect.void))
  })

describe("StateLock.acquireLock", () => {
  it.live("a second lock in the same process is refused until the first is released", () =>
    Effect.gen(function* () {
      const path = Path.join(tempDir(), "state.db")
      const first = yield* Effect.scoped(
        Effect.gen(function* () {
          const lock = yield* StateLock.acquireLock(path)
          assert.strictEqual(lock.lockPath, `${path}.lock`)
          return yield* Effect.flip(Effect.scoped(StateLock.acquireLock(path)))
        })
      )
      assert.strictEqual(first._tag, "StateLocked")
      if (first._tag === "StateLocked") {
        assert.strictEqual(first.ownerPid, process.pid)
        assert.strictEqual(first.path, path)
      }
      yield* Effect.scoped(StateLock.acquireLock(path)) // released: free again
    })
  )

  it.live("a second real process is refused with the owner's pid, and gets the lock after the owner dies", () =>
    Effect.gen(function* () {
      const path = Path.join(tempDir(), "state.db")
      // The child holds it: we are refused, and told who holds it.
      const { child } = yield* startChild("hold", path).pipe(
        Effect.tap(({ event }) => Effect.sync(() => assert.strictEqual(event.event, "held")))
      )
      const refused = yield* Effect.flip(Effect.scoped(StateLock.acquireLock(path)))
      assert.strictEqual(refused._tag, "StateLocked")
      if (refused._tag === "StateLocked") assert.strictEqual(refused.ownerPid, child.pid)
      // The state database itself (WAL) stays usable for reads while the lock is held elsewhere.
      yield* withClient({ filename: path }, (sql) => sql`SELECT 1`)
      // A crash (SIGKILL: no finalizers) releases the lock through the kernel, with no stale lock.
      child.kill("SIGKILL")
      yield* waitExit(child)
      const lock = yield* Effect.scoped(StateLock.acquireLock(path))
      assert.strictEqual(lock.pid, process.pid)
    })
  )

  it.live("while this process holds the lock (via the layer), a second process is refused with our pid", () =>
    Effect.gen(function* () {
      const path = Path.join(tempDir(), "state.db")
      const seen = yield* withClient({ filename: path, singleInstance: true }, () =>
        Effect.map(startChild("try", path), ({ event }) => event)
      )
      assert.deepStrictEqual(seen.event, "locked")
      assert.strictEqual(seen.ownerPid, process.pid)
      // After the layer is released the other process gets it.
      const { child, event } = yield* startChild("try", path)
      assert.strictEqual(event.event, "held")
      yield* waitExit(child)
      // And the layer reports StateLocked itself when someone else holds it.
      const holder = yield* startChild("hold", path)
      const locked = yield* openError({ filename: path, singleInstance: true })
      holder.child.stdin?.end()
      yield* waitExit(holder.child)
      assert.strictEqual(locked._tag, "StateLocked")
    })
  )
})

// -------------------------------------------------------------------------------------------------
// corrupt, foreign and newer state
// -------------------------------------------------------------------------------------------------

/** Writes a multi-page speckit database with the given schema version. */
const makeStateFile = (path: string, version: number | null) => {
  const db = new Database(path)
  db.pragma("journal_mode = DELETE")
  db.exec("CREATE TABLE speckit_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
  if (version !== null) db.prepare("INSERT INTO speckit_meta VALUES ('schema_version', ?)").run(String(version))
  db.exec("CREATE TABLE filler (v TEXT)")
  const insert = db.prepare("INSERT INTO filler VALUES (?)")
  for (let i = 0; i < 200; i++) insert.run("x".repeat(500))
  db.close()
}

const expectCorrupt = (config: SqliteClient.SqliteClientConfig, kind: SqliteClient.StateCorruptKind) =>
  Effect.gen(function* () {
    const before = Fs.existsSync(config.filename) ? fileDigest(config.filename) : undefined
    const error = yield* openError(config)
    assert.strictEqual(error._tag, "StateCorrupt", String(error))
    if (error._tag === "StateCorrupt") {
      assert.strictEqual(error.kind, kind, error.reason)
      assert.strictEqual(error.path, config.filename)
      assert.include(error.message, "left untouched")
    }
    // Nothing deleted or rewritten, and no WAL/SHM side files were created.
    assert.strictEqual(fileDigest(config.filename), before)
    assert.isFalse(Fs.existsSync(`${config.filename}-wal`))
    assert.isFalse(Fs.existsSync(`${config.filename}-shm`))
    return error
  })

describe("SqliteClient: state validation", () => {
  it.live("a new file is stamped with the current schema version; an older version is accepted", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const fresh = Path.join(dir, "fresh.db")
      const rows = yield* withClient(
        { filename: fresh },
        (sql) => sql`SELECT key, value FROM speckit_meta WHERE key = 'schema_version'`
      )
      assert.deepStrictEqual(rows, [{ key: "schema_version", value: String(SqliteClient.CurrentSchemaVersion) }])
      const older = Path.join(dir, "older.db")
      makeStateFile(older, 1)
      const version = yield* withClient({ filename: older, schemaVersion: 3 }, (sql) =>
        Effect.succeed(sql.schemaVersion)
      )
      assert.strictEqual(version, 1)
      // An empty file (e.g. touched) counts as new.
      const empty = Path.join(dir, "empty.db")
      Fs.writeFileSync(empty, "")
      yield* withClient({ filename: empty }, (sql) => Effect.succeed(assert.strictEqual(sql.schemaVersion, 1)))
    })
  )

  it.live("a file that is not SQLite is NotSqlite", () =>
    Effect.gen(function* () {
      const filename = Path.join(tempDir(), "state.db")
      Fs.writeFileSync(filename, "# just some notes\n".repeat(100))
      yield* expectCorrupt({ filename }, "NotSqlite")
    })
  )

  it.live("a truncated database is Truncated (page-aligned, mid-page, and inside the header)", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const source = Path.join(dir, "source.db")
      makeStateFile(source, 1)
      const full = Fs.readFileSync(source)
      const cuts = [4096 * 3, Math.floor(full.length / 2) + 123, 60, 10]
      for (const [index, cut] of cuts.entries()) {
        const filename = Path.join(dir, `cut-${index}.db`)
        Fs.writeFileSync(filename, full.subarray(0, cut))
        yield* expectCorrupt({ filename }, "Truncated")
      }
    })
  )

  it.live("a SQLite database from another tool is Foreign", () =>
    Effect.gen(function* () {
      const filename = Path.join(tempDir(), "state.db")
      const db = new Database(filename)
      db.exec("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); CREATE TABLE moz_bookmarks (id INTEGER)")
      db.close()
      const error = yield* expectCorrupt({ filename }, "Foreign")
      assert.include(error._tag === "StateCorrupt" ? error.reason : "", "moz_bookmarks, moz_places")
    })
  )

  it.live("a newer schema is NewerSchema; a missing schema_version is Malformed", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const newer = Path.join(dir, "newer.db")
      makeStateFile(newer, SqliteClient.CurrentSchemaVersion + 1)
      const error = yield* expectCorrupt({ filename: newer }, "NewerSchema")
      assert.include(error._tag === "StateCorrupt" ? error.reason : "", "upgrade speckit")
      const noVersion = Path.join(dir, "no-version.db")
      makeStateFile(noVersion, null)
      yield* expectCorrupt({ filename: noVersion }, "Malformed")
    })
  )

  it.live("damaged pages are Malformed with quickCheck", () =>
    Effect.gen(function* () {
      const filename = Path.join(tempDir(), "state.db")
      makeStateFile(filename, 1)
      const bytes = Fs.readFileSync(filename)
      // Overwrite the b-tree header of the last pages (same size: not a truncation).
      for (let page = 3; page * 4096 < bytes.length; page++) bytes.fill(0xa5, page * 4096, page * 4096 + 64)
      Fs.writeFileSync(filename, bytes)
      yield* expectCorrupt({ filename, quickCheck: true }, "Malformed")
    })
  )

  it.live("validation can be turned off for scratch databases", () =>
    Effect.gen(function* () {
      const filename = Path.join(tempDir(), "state.db")
      const db = new Database(filename)
      db.exec("CREATE TABLE other (v INTEGER)")
      db.close()
      const exit = yield* withClient({ filename, validateState: false }, (sql) => sql`SELECT * FROM other`).pipe(
        Effect.exit
      )
      assert.isTrue(Exit.isSuccess(exit))
      const noMeta = yield* Effect.result(
        withClient({ filename, validateState: false }, (sql) => sql`SELECT * FROM speckit_meta`)
      )
      assert.isTrue(Result.isFailure(noMeta))
    })
  )
})

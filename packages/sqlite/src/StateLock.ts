/**
 * The single-instance lock of a state database: one speckit process at a time writes a workspace's
 * `.speckit/state.db`. The lock is a row in a small SQLite file beside it (`<path>.lock`), held in an
 * open write transaction, so that it is released by the operating system when the holder dies.
 *
 * @since 0.2.0
 */
import Database from "better-sqlite3"
import { Effect, Schema, type Scope } from "effect"
import type { SqlError } from "effect/sql"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type Db, errorCode, sqlError } from "./internal/connection.ts"

/**
 * Another process (or another client in this process) holds the single-instance lock of a state
 * database.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { acquireLock } from "@speckit/sqlite/StateLock"
 *
 * const program = Effect.scoped(acquireLock(".speckit/state.db")).pipe(
 *   Effect.catchTag("StateLocked", (e) => Effect.logError(`busy: pid ${e.ownerPid}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
export class StateLocked extends Schema.TaggedError<StateLocked>()("StateLocked", {
  /** The state database the lock guards. */
  path: Schema.String,
  /** The pid recorded by the holder, when it could be read. */
  ownerPid: Schema.NullOr(Schema.Number)
}) {
  override get message() {
    const owner = this.ownerPid === null ? "another process" : `process ${this.ownerPid}`
    return `${this.path} is in use by ${owner}; wait for it to finish or stop it`
  }
}

/**
 * A held single-instance lock.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { acquireLock } from "@speckit/sqlite/StateLock"
 *
 * const program = Effect.scoped(Effect.map(acquireLock(".speckit/state.db"), (lock) => lock.lockPath))
 * ```
 *
 * @since 0.1.0
 */
export interface StateLock {
  /** The state database the lock guards. */
  readonly path: string
  /** The lock file (`<path>.lock` unless given). */
  readonly lockPath: string
  readonly pid: number
}

const LOCK_TABLE =
  "CREATE TABLE IF NOT EXISTS speckit_lock (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, hostname TEXT NOT NULL, acquired_at TEXT NOT NULL)"

const readOwner = (db: Db): number | null => {
  try {
    const row = db.prepare<[], { readonly pid: unknown }>("SELECT pid FROM speckit_lock WHERE id = 1").get()
    return row !== undefined && typeof row.pid === "number" ? row.pid : null
  } catch {
    return null
  }
}

const isBusy = (cause: unknown): boolean => {
  const code = errorCode(cause)
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")
}

/** Takes the lock on an open lock database, or returns the owner's pid (`null` if unknown). */
const tryLock = (db: Db): { readonly held: true } | { readonly held: false; readonly ownerPid: number | null } => {
  const pid = process.pid
  const begin = (): boolean => {
    try {
      db.exec("BEGIN IMMEDIATE")
      return true
    } catch (cause) {
      if (isBusy(cause)) return false
      throw cause
    }
  }
  // 1. Without waiting: the holder keeps a write transaction open for as long as it lives.
  db.pragma("busy_timeout = 0")
  if (!begin()) return { held: false, ownerPid: readOwner(db) }
  // 2. Record who we are where others can read it (readers are not blocked by a RESERVED lock).
  try {
    db.exec(LOCK_TABLE)
    db.prepare(
      "INSERT INTO speckit_lock (id, pid, hostname, acquired_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname, acquired_at = excluded.acquired_at"
    ).run(pid, Os.hostname(), new Date().toISOString())
    db.exec("COMMIT")
  } catch (cause) {
    if (db.inTransaction) db.exec("ROLLBACK")
    if (isBusy(cause)) return { held: false, ownerPid: readOwner(db) }
    throw cause
  }
  // 3. Hold a write transaction for the lifetime of the lock. Someone may have slipped in between
  //    COMMIT and BEGIN: wait briefly for them, then hold only if the recorded owner is still us.
  db.pragma("busy_timeout = 2000")
  if (!begin()) return { held: false, ownerPid: readOwner(db) }
  const owner = readOwner(db)
  if (owner !== pid) {
    db.exec("ROLLBACK")
    return { held: false, ownerPid: owner }
  }
  return { held: true }
}

/**
 * Takes the single-instance lock of a state database for the current scope, or fails with
 * `StateLocked { path, ownerPid }` at once if another process (or another lock in this process)
 * holds it.
 *
 * The lock is an open write transaction on a small sidecar SQLite file (`<path>.lock`, rollback
 * journal), so the operating system's file lock is the authority: it is released when the scope
 * closes, and by the kernel if the process crashes or is killed, with no heartbeat and no stale
 * lock to clear. The holder's pid, host and start time are committed to the lock file first, and
 * can be read by the process that is refused. It works alongside the state database's WAL (it never
 * touches that file), but like WAL it needs a local file system, not a network share.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { acquireLock } from "@speckit/sqlite/StateLock"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     yield* acquireLock(".speckit/state.db")
 *     // ... only one process gets here at a time
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
export const acquireLock = (
  path: string,
  options?: { readonly lockPath?: string | undefined }
): Effect.Effect<StateLock, StateLocked | SqlError.SqlError, Scope.Scope> => {
  const lockPath = options?.lockPath ?? `${path}.lock`
  return Effect.acquireRelease(
    Effect.try({
      try: () => {
        Fs.mkdirSync(Path.dirname(Path.resolve(lockPath)), { recursive: true })
        const db = new Database(lockPath, { timeout: 0 })
        try {
          const result = tryLock(db)
          if (!result.held) {
            db.close()
            return new StateLocked({ path, ownerPid: result.ownerPid })
          }
          return db
        } catch (cause) {
          db.close()
          throw cause
        }
      },
      catch: (cause) => sqlError(cause, `Failed to take the lock ${lockPath}`, "lock")
    }).pipe(Effect.flatMap((held) => (held instanceof StateLocked ? Effect.fail(held) : Effect.succeed(held)))),
    (db) =>
      Effect.sync(() => {
        try {
          // Drop our record (best effort), then end the held transaction, which releases the lock.
          db.exec("DELETE FROM speckit_lock WHERE id = 1")
          db.exec("COMMIT")
        } catch {
          if (db.inTransaction) db.exec("ROLLBACK")
        } finally {
          db.close()
        }
      })
  ).pipe(Effect.map((): StateLock => ({ path, lockPath, pid: process.pid })))
}

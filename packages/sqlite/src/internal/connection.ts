/**
 * The better-sqlite3 connection behind `SqliteClient`: value binding, a prepared-statement cache, and
 * SQLite error classification.
 *
 * @internal
 */
import type Database from "better-sqlite3"
import { Effect, Stream } from "effect"
import { SqlClient, type SqlConnection, SqlError } from "effect/sql"
export type Db = Database.Database
export type Stmt = Database.Statement<Array<unknown>, unknown>
export type Rows = ReadonlyArray<Record<string, unknown>>

export const sqlError = (cause: unknown, message: string, operation: string): SqlError.SqlError =>
  new SqlError.SqlError({ reason: SqlError.classifySqliteError(cause, { message, operation }) })

export const errorCode = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : ""

export const errorMessage = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

export const isCorruption = (cause: unknown): boolean => {
  const code = errorCode(cause)
  return code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")
}

/** Converts a JavaScript value to something better-sqlite3 binds. */
export const bindValue = (value: unknown): unknown => {
  switch (typeof value) {
    case "boolean":
      return value ? 1 : 0
    case "undefined":
      return null
    case "object": {
      if (value === null || Buffer.isBuffer(value)) return value
      if (value instanceof Date) return value.toISOString()
      if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      return value
    }
    default:
      return value
  }
}

export const bindAll = (params: ReadonlyArray<unknown>): Array<unknown> => params.map(bindValue)

export const isMultipleStatements = (cause: unknown): boolean =>
  cause instanceof RangeError && /more than one statement/i.test(cause.message)

export const makeConnection = (db: Db, cacheSize: number): SqlConnection.Connection => {
  const cache = new Map<string, Stmt>()
  const prepare = (sql: string): Stmt => {
    const cached = cache.get(sql)
    if (cached !== undefined) {
      cache.delete(sql)
      cache.set(sql, cached)
      return cached
    }
    const statement: Stmt = db.prepare(sql)
    cache.set(sql, statement)
    if (cache.size > cacheSize) {
      const oldest = cache.keys().next()
      if (oldest.done !== true) cache.delete(oldest.value)
    }
    return statement
  }

  type Mode = "rows" | "raw" | "values"
  const runSync = (statement: Stmt, params: ReadonlyArray<unknown>, mode: Mode, safeIntegers: boolean): unknown => {
    statement.safeIntegers(safeIntegers)
    const bound = bindAll(params)
    if (!statement.reader) {
      const result = statement.run(...bound)
      return mode === "raw" ? { changes: result.changes, lastInsertRowid: result.lastInsertRowid } : []
    }
    if (mode !== "values") return statement.all(...bound)
    statement.raw(true)
    try {
      return statement.all(...bound)
    } finally {
      statement.raw(false)
    }
  }

  const run = (sql: string, params: ReadonlyArray<unknown>, mode: Mode, prepared: boolean) =>
    Effect.withFiber((fiber) => {
      const safeIntegers = fiber.getRef(SqlClient.SafeIntegers)
      return Effect.try({
        try: () => {
          if (prepared) return runSync(prepare(sql), params, mode, safeIntegers)
          let statement: Stmt
          try {
            statement = db.prepare(sql)
          } catch (cause) {
            // `exec` runs scripts of several statements (migrations); it binds nothing and returns nothing.
            if (params.length === 0 && mode !== "values" && isMultipleStatements(cause)) {
              db.exec(sql)
              return []
            }
            throw cause
          }
          return runSync(statement, params, mode, safeIntegers)
        },
        catch: (cause) => sqlError(cause, "Failed to execute statement", "execute")
      })
    })

  const rows = (effect: Effect.Effect<unknown, SqlError.SqlError>) => effect as Effect.Effect<Rows, SqlError.SqlError>
  const values = (effect: Effect.Effect<unknown, SqlError.SqlError>) =>
    effect as Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError.SqlError>

  return {
    execute: (sql, params, transformRows) => {
      const effect = rows(run(sql, params, "rows", true))
      return transformRows === undefined ? effect : Effect.map(effect, transformRows)
    },
    executeRaw: (sql, params) => run(sql, params, "raw", true),
    executeValues: (sql, params) => values(run(sql, params, "values", true)),
    executeValuesUnprepared: (sql, params) => values(run(sql, params, "values", false)),
    executeUnprepared: (sql, params, transformRows) => {
      const effect = rows(run(sql, params, "rows", false))
      return transformRows === undefined ? effect : Effect.map(effect, transformRows)
    },
    // better-sqlite3 cannot run another statement while iterating, and the connection is shared,
    // so a stream reads all rows first (fine for a local state database).
    executeStream: (sql, params, transformRows) =>
      Stream.fromEffect(rows(run(sql, params, "rows", true))).pipe(
        Stream.flatMap((all) => Stream.fromIterable(transformRows === undefined ? all : transformRows(all)))
      )
  }
}

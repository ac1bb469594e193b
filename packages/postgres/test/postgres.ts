/**
 * A real PostgreSQL for the tests: the one `.ci/run` started (`TEST_POSTGRES_URL`), or one
 * started here with `scripts/postgres.sh` (Debian's `postgresql`) and stopped when the tests end.
 * Never skipped: without a server the tests fail, saying how to get one. Each test gets a fresh
 * database of its own.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../scripts/postgres.sh")

let server: { readonly url: string; readonly dir: string | undefined } | undefined

/** The server's admin URL, starting one if none was given. */
export const serverUrl = (): string => {
  if (server !== undefined) return server.url
  const given = process.env.TEST_POSTGRES_URL
  if (given !== undefined && given !== "") {
    server = { url: given, dir: undefined }
    return given
  }
  let output: string
  try {
    output = execFileSync("bash", [script, "start"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch (error) {
    throw new Error(
      `these tests need PostgreSQL: set TEST_POSTGRES_URL or install Debian's postgresql (scripts/postgres.sh could not start one: ${String(error)})`
    )
  }
  const value = (name: string) => output.match(new RegExp(`${name}=(\\S+)`))?.[1]
  const url = value("TEST_POSTGRES_URL")
  if (url === undefined) throw new Error(`scripts/postgres.sh printed no URL: ${output}`)
  server = { url, dir: value("TEST_POSTGRES_DIR") }
  return url
}

/** Stops the server this file started (none when `.ci/run` gave one). */
export const stopServer = (): void => {
  if (server?.dir !== undefined) execFileSync("bash", [script, "stop", server.dir])
  server = undefined
}

let counter = 0

/** A fresh, empty database on the server; its URL. */
export const freshDatabase: Effect.Effect<string> = Effect.gen(function* () {
  const admin = serverUrl()
  const name = `speckit_test_${process.pid}_${Date.now()}_${counter++}`
  yield* Effect.gen(function* () {
    const sql = yield* PgClient.make({ url: Redacted.make(admin), maxConnections: 1 })
    yield* sql.unsafe(`CREATE DATABASE ${name}`)
  }).pipe(Effect.scoped, Effect.provide(Reactivity.layer), Effect.orDie)
  const url = new URL(admin)
  url.pathname = `/${name}`
  return url.toString()
})

/** Runs one statement on a database with a plain client (no migration); its rows. */
export const query = <A extends object>(url: string, text: string): Effect.Effect<ReadonlyArray<A>> =>
  Effect.gen(function* () {
    const sql = yield* PgClient.make({ url: Redacted.make(url), maxConnections: 1 })
    return yield* sql.unsafe<A>(text)
  }).pipe(Effect.scoped, Effect.provide(Reactivity.layer), Effect.orDie)

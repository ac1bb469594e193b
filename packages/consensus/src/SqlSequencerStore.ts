/**
 * A durable {@link SequencerStore.SequencerStore} in SQL, over `effect/sql`'s `SqlClient` only (so
 * it runs on SQLite, e.g. `@speckit/core/SqliteClient`, and on PostgreSQL). A sequencer made again
 * for a run after a crash or a restart resumes it from what was committed: see
 * `DecisionSequencer.make`.
 *
 * Two tables, created if absent:
 *
 * ```sql
 * CREATE TABLE speckit_sequencer_state (run_id TEXT PRIMARY KEY, branch TEXT, next_seq INTEGER NOT NULL,
 *                                       acked_through INTEGER NOT NULL, stopped INTEGER NOT NULL);
 * CREATE TABLE speckit_sequencer_keys (run_id TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
 *                                      value TEXT NOT NULL, PRIMARY KEY (run_id, key), UNIQUE (run_id, seq));
 * ```
 *
 * `accept` inserts the key row (one statement; the next `seq` is derived on load from the highest
 * stored key); `save` upserts the state row. Values are stored as text, JSON by default. The
 * positions only move forward: `save` raises `acked_through` and never lowers it, so writes that
 * overlap (an ACK while an accept is being written) never undo each other.
 * Store errors after `make` are defects (see {@link SequencerStore}).
 *
 * @since 0.2.0
 */
import { Sequencer } from "@speckit/core"
import { Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import * as MemorySequencer from "./MemorySequencer.ts"
import type * as SequencerStore from "./SequencerStore.ts"

/**
 * How values are written to and read from the `value` text column.
 *
 * @example
 * ```ts
 * import type { SqlSequencerStore } from "@speckit/consensus"
 *
 * const dates: SqlSequencerStore.Codec<Date> = {
 *   encode: (date) => date.toISOString(),
 *   decode: (text) => new Date(text)
 * }
 * ```
 *
 * @since 0.2.0
 */
export interface Codec<A> {
  readonly encode: (value: A) => string
  readonly decode: (text: string) => A
}

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import type { SqlSequencerStore } from "@speckit/consensus"
 *
 * const options: SqlSequencerStore.Options<number> = { codec: { encode: String, decode: Number } }
 * ```
 *
 * @since 0.2.0
 */
export interface Options<A> {
  /** Default: `JSON.stringify` / `JSON.parse` (fine for plain data, as core's decisions are). */
  readonly codec?: Codec<A> | undefined
}

const json = <A>(): Codec<A> => ({ encode: (value) => JSON.stringify(value), decode: (text) => JSON.parse(text) as A })

type StateRow = {
  readonly branch: string | null
  readonly next_seq: number | bigint
  readonly acked_through: number | bigint
  readonly stopped: number | bigint | boolean
}

type KeyRow = {
  readonly key: string
  readonly seq: number | bigint
  readonly value: string
}

/**
 * Makes a SQL store of sequencer state, creating its tables if absent.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DecisionSequencer, SqlSequencerStore } from "@speckit/consensus"
 * import * as SqliteClient from "@speckit/sqlite/SqliteClient"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* SqlSequencerStore.make<string>()
 *   const sequencer = yield* DecisionSequencer.make<string>({ runId: "run-1", store })
 *   yield* sequencer.submit({ runId: "run-1", key: "a", value: "hello" }) // committed before it returns
 * }).pipe(Effect.provide(SqliteClient.layer({ filename: ".speckit/state.db" })))
 * ```
 *
 * @since 0.2.0
 */
export const make = <A>(
  options?: Options<A>
): Effect.Effect<SequencerStore.SequencerStore<A>, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const codec: Codec<A> = options?.codec ?? json<A>()
    const createTables = Effect.andThen(
      sql`CREATE TABLE IF NOT EXISTS speckit_sequencer_state (
        run_id TEXT PRIMARY KEY,
        branch TEXT,
        next_seq INTEGER NOT NULL,
        acked_through INTEGER NOT NULL,
        stopped INTEGER NOT NULL
      )`,
      sql`CREATE TABLE IF NOT EXISTS speckit_sequencer_keys (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_id, key),
        UNIQUE (run_id, seq)
      )`
    )
    // On PostgreSQL, sessions creating the same table at once race on its catalog entry (one fails
    // with a duplicate key, e.g. a fleet's runs starting together): the tables are created in a
    // transaction under the advisory lock `@speckit/postgres` migrates under.
    yield* sql.onDialectOrElse({
      pg: () =>
        sql.withTransaction(
          Effect.andThen(sql`SELECT pg_advisory_xact_lock(hashtext(${"speckit-migration"}))`, createTables)
        ),
      orElse: () => createTables
    })

    const insertState = (state: SequencerStore.State) =>
      sql`INSERT INTO speckit_sequencer_state (run_id, branch, next_seq, acked_through, stopped)
        VALUES (${state.runId}, ${state.branch ?? null}, ${state.nextSeq}, ${state.ackedThrough}, ${state.stopped ? 1 : 0})`

    const load = (runId: string): Effect.Effect<SequencerStore.Loaded<A> | undefined, SqlError.SqlError> =>
      Effect.gen(function* () {
        const states = yield* sql<StateRow>`SELECT branch, next_seq, acked_through, stopped
          FROM speckit_sequencer_state WHERE run_id = ${runId}`
        const row = states[0]
        if (row === undefined) return undefined
        const keys = yield* sql<KeyRow>`SELECT key, seq, value
          FROM speckit_sequencer_keys WHERE run_id = ${runId} ORDER BY seq`
        return {
          state: {
            runId,
            branch: row.branch ?? undefined,
            nextSeq: Number(row.next_seq),
            ackedThrough: Number(row.acked_through),
            stopped: Number(row.stopped) !== 0
          },
          entries: keys.map((key) => ({ seq: Number(key.seq), key: key.key, value: codec.decode(key.value) }))
        }
      }).pipe(sql.withTransaction)

    const reset = (state: SequencerStore.State) =>
      Effect.andThen(
        sql`DELETE FROM speckit_sequencer_keys WHERE run_id = ${state.runId}`,
        sql`${insertState(state)} ON CONFLICT (run_id) DO UPDATE SET branch = excluded.branch,
          next_seq = excluded.next_seq, acked_through = excluded.acked_through, stopped = excluded.stopped`
      ).pipe(sql.withTransaction)

    // One statement, atomic on its own: the state row exists from `reset`, and the next `seq` is
    // derived on load from the highest stored key (`DecisionSequencer` takes the larger of the two),
    // so the state row need not be written on every accept.
    const accept = (state: SequencerStore.State, entry: SequencerStore.Entry<A>) =>
      sql`INSERT INTO speckit_sequencer_keys (run_id, key, seq, value)
        VALUES (${state.runId}, ${entry.key}, ${entry.seq}, ${codec.encode(entry.value)})`

    const save = (state: SequencerStore.State) =>
      sql`${insertState(state)} ON CONFLICT (run_id) DO UPDATE SET branch = excluded.branch,
        acked_through = CASE WHEN excluded.acked_through > speckit_sequencer_state.acked_through
          THEN excluded.acked_through ELSE speckit_sequencer_state.acked_through END,
        stopped = excluded.stopped`

    return {
      load: (runId) => Effect.orDie(load(runId)),
      reset: (state) => Effect.orDie(Effect.asVoid(reset(state))),
      accept: (state, entry) => Effect.orDie(Effect.asVoid(accept(state, entry))),
      save: (state) => Effect.orDie(Effect.asVoid(save(state)))
    } satisfies SequencerStore.SequencerStore<A>
  })

/**
 * Deletes a run's sequencer state (its record and accepted keys): for retention of finished runs.
 * A no-op for a run the database does not hold.
 *
 * @example
 * ```ts
 * import { SqlSequencerStore } from "@speckit/consensus"
 *
 * const forget = SqlSequencerStore.forget("run-20261125-093012-k3f9")
 * ```
 *
 * @since 0.2.0
 */
export const forget = (runId: string): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    yield* make() // creates the tables when absent
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* sql.withTransaction(
      Effect.all(
        [
          sql`DELETE FROM speckit_sequencer_keys WHERE run_id = ${runId}`,
          sql`DELETE FROM speckit_sequencer_state WHERE run_id = ${runId}`
        ],
        { discard: true }
      )
    )
  })

/**
 * core's `Sequencer` over a SQL store ({@link MemorySequencer.makeWith} with {@link make}): `begin`
 * resumes a run the database already holds.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqlSequencerStore } from "@speckit/consensus"
 * import * as SqliteClient from "@speckit/sqlite/SqliteClient"
 *
 * const SequencerLive = SqlSequencerStore.layerSequencer({ capacity: 256 }).pipe(
 *   Layer.provide(SqliteClient.layer({ filename: ".speckit/state.db" }))
 * )
 * ```
 *
 * @since 0.2.0
 */
export const layerSequencer = (
  options?: Options<Sequencer.Decision> & { readonly capacity?: number | undefined }
): Layer.Layer<Sequencer.Sequencer, SqlError.SqlError, SqlClient.SqlClient> =>
  Layer.effect(
    Sequencer.Sequencer,
    Effect.flatMap(make<Sequencer.Decision>(options), (store) =>
      MemorySequencer.makeWith({ store, capacity: options?.capacity })
    )
  )

/**
 * The embedded durable engine over the SQLite state database of a workspace (`.speckit/state.db`):
 * `SqlWorkflowEngine` (the default), or `effect/cluster`'s `ClusterWorkflowEngine` on a single
 * runner. One process at a time may use a
 * state database (a second one fails with `StateLocked`); corrupt, foreign or newer files are
 * refused with `StateCorrupt` and left as they are.
 *
 * Only reachable as `@speckit/core/StateDatabase` (it needs the optional `better-sqlite3`).
 *
 * @since 0.2.0
 */
import { Duration, Layer } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { Digest } from "effect/crypto"
import * as SqliteClient from "./SqliteClient.ts"
import * as SqlWorkflowEngine from "@speckit/core/SqlWorkflowEngine"

/**
 * Where a workspace keeps its state database.
 *
 * @example
 * ```ts
 * import * as StateDatabase from "@speckit/sqlite/StateDatabase"
 *
 * StateDatabase.path // ".speckit/state.db"
 * ```
 *
 * @since 0.2.0
 */
export const path = ".speckit/state.db"

/**
 * Which workflow engine keeps a state database's journal.
 *
 * - `journal` (default): {@link SqlWorkflowEngine}, one row per completed step; about 0.1 ms per
 *   step. For one machine.
 * - `cluster`: effect's `ClusterWorkflowEngine` on a `SingleRunner` (runner storage in SQL): the
 *   engine a cluster of runners on PostgreSQL uses, here on one runner; about 1.7 ms of CPU per step.
 *
 * @example
 * ```ts
 * import type * as StateDatabase from "@speckit/sqlite/StateDatabase"
 *
 * const engine: StateDatabase.Engine = "journal"
 * ```
 *
 * @since 0.2.0
 */
export type Engine = "journal" | "cluster"

/**
 * The workflow engine over a SQLite state database, with its `SqlClient` (for the stores that keep
 * their state next to the workflows: the sequencer's, for one). Durable against a process crash at
 * any instant (WAL, `synchronous = NORMAL`: only a power loss can lose the last commits). The file is
 * locked for this process (`StateLocked` for a second one) and checked on open (`StateCorrupt`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DurableRun } from "@speckit/core"
 * import * as StateDatabase from "@speckit/sqlite/StateDatabase"
 *
 * declare const options: DurableRun.Options
 * const program = DurableRun.run(options).pipe(
 *   Effect.scoped,
 *   Effect.provide(StateDatabase.layer({ filename: "/work/shop/.speckit/state.db" }))
 * )
 * ```
 *
 * @since 0.2.0
 */
export const layer = (options: {
  readonly filename: string
  /** Default `journal`. */
  readonly engine?: Engine | undefined
  /** `cluster` only: how often stored messages (resumes, timers) are looked for. Default 100 ms. */
  readonly pollInterval?: Duration.Input | undefined
}) => {
  const client = SqliteClient.layer({ filename: options.filename, singleInstance: true, synchronous: "NORMAL" })
  if (options.engine !== "cluster") return SqlWorkflowEngine.layer.pipe(Layer.provideMerge(client))
  return ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      SingleRunner.layer({
        // The default, 10 s, would delay every resume and durable timer by up to that much.
        shardingConfig: { entityMessagePollInterval: options.pollInterval ?? Duration.millis(100) },
        runnerStorage: "sql"
      })
    ),
    Layer.provide(Digest.layerWebCrypto),
    Layer.provideMerge(client)
  )
}

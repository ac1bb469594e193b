/**
 * The embedded durable engine: `effect/cluster`'s `ClusterWorkflowEngine` on a single runner, over
 * the SQLite state database of a workspace (`.speckit/state.db`). One process at a time may use a
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

/**
 * Where a workspace keeps its state database.
 *
 * @example
 * ```ts
 * import { StateDatabase } from "@speckit/core/StateDatabase"
 *
 * StateDatabase.path // ".speckit/state.db"
 * ```
 *
 * @since 0.2.0
 */
export const path = ".speckit/state.db"

/**
 * The workflow engine over a SQLite state database, with its `SqlClient` (for the stores that keep
 * their state next to the workflows: the sequencer's, for one). Durable against a process crash at
 * any instant (WAL, `synchronous = NORMAL`: only a power loss can lose the last commits).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DurableRun } from "@speckit/core"
 * import * as StateDatabase from "@speckit/core/StateDatabase"
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
  /** How often stored messages (resumes, timers) are looked for. Default 100 ms. */
  readonly pollInterval?: Duration.Input | undefined
}) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      SingleRunner.layer({
        // The default, 10 s, would delay every resume and durable timer by up to that much.
        shardingConfig: { entityMessagePollInterval: options.pollInterval ?? Duration.millis(100) },
        runnerStorage: "sql"
      })
    ),
    Layer.provide(Digest.layerWebCrypto),
    Layer.provideMerge(SqliteClient.layer({ filename: options.filename, singleInstance: true, synchronous: "NORMAL" }))
  )

/**
 * @speckit/sqlite: the SQLite driver of speckit's embedded default: an `effect/sql` client over
 * better-sqlite3 with a single-instance lock and corrupt/foreign/newer-state checks (`SqliteClient`),
 * and the state database in a workspace's `.speckit/state.db` (`StateDatabase`: the workflow journal,
 * with core's `SqlWorkflowEngine` or effect's cluster engine on a single runner, and the sequencer's
 * state).
 *
 * @since 0.3.0
 */

/** @since 0.1.0 */
export * as SqliteClient from "./SqliteClient.ts"
/** @since 0.2.0 */
export * as StateDatabase from "./StateDatabase.ts"

/**
 * The single-instance lock of a state database (`acquireLock`, `StateLocked`).
 *
 * @since 0.2.0
 */
export * as StateLock from "./StateLock.ts"

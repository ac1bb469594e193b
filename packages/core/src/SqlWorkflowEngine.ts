/**
 * A lean durable `WorkflowEngine` for one process: the in-memory engine's semantics (effect's
 * `WorkflowEngine.layerMemory`), with every completed activity, every completed durable deferred,
 * every durable clock and every finished execution journaled in SQL (one row each, written before
 * the workflow goes on). Executing a workflow again with the same execution id in a later process
 * replays its journal: completed activities are not run again, awaited deferreds that were completed
 * meanwhile resume the workflow, and a finished execution returns its recorded result.
 *
 * Why it exists next to `ClusterWorkflowEngine`: on a single machine the cluster engine's messaging
 * (an RPC round trip, a dozen SQL statements and three transactions per activity) costs about 1.7 ms
 * of CPU per activity; this engine writes one row (about 0.1 ms). Runs that outgrow one machine use
 * `ClusterWorkflowEngine` on runners sharing PostgreSQL: the same workflows, another layer.
 *
 * One process at a time may run a given execution (the state database's single-instance lock sees to
 * it for the CLI). The SQL is portable (SQLite and PostgreSQL).
 *
 * @since 0.2.0
 */
import { Effect, FiberMap, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { WorkflowEngine } from "effect/workflow"
import { executionsOf, type Journal, stepsOf } from "./internal/journal.ts"

/**
 * Creates the journal's tables (if absent).
 *
 * @example
 * ```ts
 * import { SqlWorkflowEngine } from "@speckit/core"
 *
 * const migrate = SqlWorkflowEngine.migrate // Effect<void, SqlError, SqlClient>
 * ```
 *
 * @since 0.2.0
 */
export const migrate: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS speckit_workflow_executions (
    execution_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    payload TEXT NOT NULL,
    result TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
  )`
  yield* sql`CREATE TABLE IF NOT EXISTS speckit_workflow_activities (
    execution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    exit TEXT NOT NULL,
    PRIMARY KEY (execution_id, name, attempt)
  )`
  yield* sql`CREATE TABLE IF NOT EXISTS speckit_workflow_deferreds (
    execution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    exit TEXT NOT NULL,
    PRIMARY KEY (execution_id, name)
  )`
  yield* sql`CREATE TABLE IF NOT EXISTS speckit_workflow_clocks (
    execution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    deferred TEXT NOT NULL,
    fire_at BIGINT NOT NULL,
    PRIMARY KEY (execution_id, name)
  )`
})

/**
 * Deletes an execution's journal (its activities, deferreds, clocks and result): for retention of
 * finished runs. Executing it again afterwards would start it from scratch.
 *
 * @example
 * ```ts
 * import { SqlWorkflowEngine } from "@speckit/core"
 *
 * const forget = SqlWorkflowEngine.forget("execution-id")
 * ```
 *
 * @since 0.2.0
 */
export const forget = (executionId: string): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.withTransaction(
      Effect.all(
        [
          sql`DELETE FROM speckit_workflow_activities WHERE execution_id = ${executionId}`,
          sql`DELETE FROM speckit_workflow_deferreds WHERE execution_id = ${executionId}`,
          sql`DELETE FROM speckit_workflow_clocks WHERE execution_id = ${executionId}`,
          sql`DELETE FROM speckit_workflow_executions WHERE execution_id = ${executionId}`
        ],
        { discard: true }
      )
    )
  })

/**
 * The engine, journaling in the current `SqlClient`'s database.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqlWorkflowEngine } from "@speckit/core"
 * import * as SqliteClient from "@speckit/sqlite/SqliteClient"
 *
 * const engine = SqlWorkflowEngine.layer.pipe(Layer.provide(SqliteClient.layer({ filename: ".speckit/state.db" })))
 * ```
 *
 * @since 0.2.0
 */
export const layer: Layer.Layer<WorkflowEngine.WorkflowEngine, SqlError.SqlError, SqlClient.SqlClient> = Layer.effect(
  WorkflowEngine.WorkflowEngine,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrate
    const journal: Journal = {
      sql,
      scope: yield* Effect.scope,
      workflows: new Map(),
      executions: new Map(),
      activities: new Map(),
      deferredResults: new Map(),
      loaded: new Set(),
      deferredState: WorkflowEngine.makeDeferredState(),
      clocks: yield* FiberMap.make<string>(),
      engine: undefined as never
    }
    journal.engine = WorkflowEngine.makeUnsafe({ ...executionsOf(journal), ...stepsOf(journal) })
    return journal.engine
  })
)

/**
 * Retention of finished runs in the PostgreSQL store: a run's journal, its sequencer state and, when
 * it ran on the cluster engine, its messages and replies in effect's `cluster_messages` and
 * `cluster_replies` (which otherwise grow forever).
 *
 * @since 0.4.0
 */
import * as SqlWorkflowEngine from "@speckit/core/SqlWorkflowEngine"
import { Effect } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

const tableExists = (sql: SqlClient.SqlClient, table: string) =>
  sql<{ readonly name: string | null }>`SELECT to_regclass(${table})::text AS name`.pipe(
    Effect.map((rows) => rows[0]?.name != null)
  )

/**
 * Deletes everything the store holds for one run: give its workflow execution id and its run id.
 *
 * @example
 * ```ts
 * import { Retention } from "@speckit/postgres"
 *
 * const forget = Retention.forget({ executionId: "0f3c…", runId: "run-20261204-101500-ab12" })
 * ```
 *
 * @since 0.4.0
 */
export const forget = (run: FinishedRun): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* SqlWorkflowEngine.forget(run.executionId)
    if (yield* tableExists(sql, "speckit_sequencer_state")) {
      yield* sql`DELETE FROM speckit_sequencer_keys WHERE run_id = ${run.runId}`
      yield* sql`DELETE FROM speckit_sequencer_state WHERE run_id = ${run.runId}`
    }
    if (yield* tableExists(sql, "speckit_fleet_runs")) {
      yield* sql`DELETE FROM speckit_fleet_runs WHERE run_id = ${run.runId}`
    }
    if (yield* tableExists(sql, "speckit_run_records")) {
      yield* sql`DELETE FROM speckit_run_events WHERE run_id = ${run.runId}`
      yield* sql`DELETE FROM speckit_run_answers WHERE run_id = ${run.runId}`
      yield* sql`DELETE FROM speckit_run_stages WHERE run_id = ${run.runId}`
      yield* sql`DELETE FROM speckit_run_candidates WHERE run_id = ${run.runId}`
      yield* sql`DELETE FROM speckit_run_records WHERE run_id = ${run.runId}`
    }
    if (yield* tableExists(sql, "cluster_messages")) {
      yield* sql`DELETE FROM cluster_replies WHERE request_id IN (SELECT id FROM cluster_messages WHERE entity_id = ${run.executionId})`
      yield* sql`DELETE FROM cluster_messages WHERE entity_id = ${run.executionId}`
    }
  })

/**
 * The workflow executions of the journal that finished before a time (for {@link forget}).
 *
 * @example
 * ```ts
 * import { Retention } from "@speckit/postgres"
 *
 * const old = Retention.finishedBefore(new Date(Date.now() - 30 * 86_400_000))
 * ```
 *
 * @since 0.4.0
 */
export const finishedBefore = (
  cutoff: Date
): Effect.Effect<ReadonlyArray<FinishedRun>, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly execution_id: string; readonly payload: string }>`
      SELECT execution_id, payload FROM speckit_workflow_executions
      WHERE finished_at IS NOT NULL AND finished_at < ${cutoff.toISOString()}`
    return rows.flatMap((row) => {
      const runId = runIdOf(row.payload)
      return runId === undefined ? [] : [{ executionId: row.execution_id, runId }]
    })
  })

/**
 * A finished run of the journal: its workflow execution and its run id.
 *
 * @example
 * ```ts
 * import type { Retention } from "@speckit/postgres"
 *
 * const run: Retention.FinishedRun = { executionId: "0f3c…", runId: "run-20261204-101500-ab12" }
 * ```
 *
 * @since 0.4.0
 */
export interface FinishedRun {
  readonly executionId: string
  readonly runId: string
}

/** A speckit run's payload (`DurableRun.workflow`) names its run id; other workflows are not ours. */
const runIdOf = (payload: string): string | undefined => {
  try {
    const value: unknown = JSON.parse(payload)
    const runId =
      typeof value === "object" && value !== null ? (value as { readonly runId?: unknown }).runId : undefined
    return typeof runId === "string" ? runId : undefined
  } catch {
    return undefined
  }
}

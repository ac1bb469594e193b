/**
 * The runs submitted to a fleet, by run id (`speckit_fleet_runs`): what `speckit status --store` and
 * `speckit cancel` look a run up in before asking the fleet where it is, so that a mistyped run id is
 * told apart from a run still waiting for a worker.
 *
 * @since 0.4.0
 */
import { Effect, Option } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

/**
 * A submitted run.
 *
 * @since 0.4.0
 */
export interface Submitted {
  readonly runId: string
  readonly specId: string
  /** ISO 8601. */
  readonly submittedAt: string
}

interface Row {
  readonly run_id: string
  readonly spec_id: string
  readonly submitted_at: Date | string
}

const submittedOf = (row: Row): Submitted => ({
  runId: row.run_id,
  specId: row.spec_id,
  submittedAt: new Date(row.submitted_at).toISOString()
})

/**
 * Records a submitted run (again: nothing changes).
 *
 * @example
 * ```ts
 * import { FleetRuns } from "@speckit/postgres"
 *
 * const recorded = FleetRuns.record({ runId: "run-20261204-101500-a1b2", specId: "SPEC-1" })
 * ```
 *
 * @since 0.4.0
 */
export const record = (run: {
  readonly runId: string
  readonly specId: string
}): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO speckit_fleet_runs (run_id, spec_id) VALUES (${run.runId}, ${run.specId})
      ON CONFLICT (run_id) DO NOTHING`
  })

/**
 * A submitted run, if there is one with this id.
 *
 * @example
 * ```ts
 * import { FleetRuns } from "@speckit/postgres"
 *
 * const found = FleetRuns.find("run-20261204-101500-a1b2")
 * ```
 *
 * @since 0.4.0
 */
export const find = (runId: string): Effect.Effect<Option.Option<Submitted>, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<Row>`
      SELECT run_id, spec_id, submitted_at FROM speckit_fleet_runs WHERE run_id = ${runId}`
    return Option.map(Option.fromNullishOr(rows[0]), submittedOf)
  })

/**
 * The submitted runs, newest first (at most `limit`, default 100).
 *
 * @example
 * ```ts
 * import { FleetRuns } from "@speckit/postgres"
 *
 * const newest = FleetRuns.list({ limit: 20 })
 * ```
 *
 * @since 0.4.0
 */
export const list = (
  options: { readonly limit?: number | undefined } = {}
): Effect.Effect<ReadonlyArray<Submitted>, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<Row>`
      SELECT run_id, spec_id, submitted_at FROM speckit_fleet_runs
      ORDER BY submitted_at DESC, run_id DESC LIMIT ${options.limit ?? 100}`
    return rows.map(submittedOf)
  })

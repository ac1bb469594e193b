/**
 * @speckit/postgres: the PostgreSQL driver of speckit's fleet: the shared store (`PgStore`: the
 * workflow journal, the sequencer's state, the fleet's submitted runs (`FleetRuns`) and the runs'
 * records (`PgRunStore`: events, answers, consensus, artifacts, candidates, summaries) in one
 * database, schema versioned and migrated), the
 * `effect/cluster` runner and client layers with explicit settings (`Runner`), and retention of
 * finished runs (`Retention`).
 *
 * @since 0.4.0
 */

/** @since 0.4.0 */
export * as FleetRuns from "./FleetRuns.ts"
/** @since 0.4.0 */
export * as PgRunStore from "./PgRunStore.ts"
/** @since 0.4.0 */
export * as PgStore from "./PgStore.ts"
/** @since 0.4.0 */
export * as Retention from "./Retention.ts"
/** @since 0.4.0 */
export * as Runner from "./Runner.ts"

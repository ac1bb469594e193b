/**
 * Run identifiers: one per pipeline run, naming its directory under `.speckit/runs/`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Random, Schema } from "effect"

/**
 * Schema of a run id such as `run-20261125-093012-k3f9`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RunId } from "@speckit/core"
 *
 * Schema.decodeUnknownSync(RunId.RunId)("run-20261125-093012-k3f9")
 * ```
 *
 * @since 0.1.0
 */
export const RunId = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { message: "a run id is a file-name-safe token" })
  ),
  Schema.brand("@speckit/core/RunId")
)

/**
 * A run id.
 *
 * @since 0.1.0
 */
export type RunId = typeof RunId.Type

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/**
 * Makes a fresh, sortable run id from the clock and a random suffix.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunId } from "@speckit/core"
 *
 * const program = Effect.map(RunId.make, (id) => id.startsWith("run-"))
 * ```
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<RunId> = Effect.gen(function* () {
  const millis = yield* Clock.currentTimeMillis
  const d = new Date(millis)
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(
    d.getUTCMinutes()
  )}${pad(d.getUTCSeconds())}`
  const suffix = (yield* Random.nextIntBetween(0, 36 ** 4)).toString(36).padStart(4, "0")
  return `run-${stamp}-${suffix}` as RunId
})

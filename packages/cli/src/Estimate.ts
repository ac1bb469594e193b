/**
 * `speckit estimate`: what a run of a spec will cost, before anything is spent.
 *
 * @since 0.1.0
 */
import { Estimate, History, Pricing } from "@speckit/telemetry"
import { Effect } from "effect"
import { InputError } from "./Errors.ts"
import type * as Progress from "./Progress.ts"
import * as Run from "./Run.ts"

/**
 * Options of `speckit estimate`.
 *
 * @since 0.1.0
 */
export interface EstimateOptions {
  readonly specId: string
  readonly workspace: string
  readonly json: boolean
  /** Where the estimate goes; defaults to stdout. */
  readonly report?: Progress.Output | undefined
}

/**
 * Runs `speckit estimate`: loads the spec, configuration and the workspace's run history, prints the
 * estimate (text, or one JSON object with `--json`) and returns it. An unpriced model fails like
 * `speckit auto` does (exit 2), unless `pricing.allowUnpriced` is set.
 *
 * @example
 * ```ts
 * import { Estimate } from "@speckit/cli"
 *
 * const program = Estimate.estimate({ specId: "SPEC-1", workspace: ".", json: true })
 * ```
 *
 * @since 0.1.0
 */
export const estimate = Effect.fn("Estimate.estimate")(function* (options: EstimateOptions) {
  const { root, config, spec } = yield* Run.prepare(options.specId, options.workspace)
  yield* Pricing.checkModels(config).pipe(Effect.mapError((error) => new InputError({ message: error.message })))
  const history = yield* History.load(root)
  const result = Estimate.make({ config, spec, history })
  const report = options.report ?? process.stdout
  report.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : Estimate.format(result))
  return result
})

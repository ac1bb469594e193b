/**
 * @speckit/cli: the `speckit` command line, usable programmatically too.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Cli from "./Cli.ts"
/** @since 0.1.0 */
export * as Demo from "./Demo.ts"
/** @since 0.1.0 */
export * as Errors from "./Errors.ts"
/** @since 0.1.0 */
export * as Estimate from "./Estimate.ts"
/** @since 0.4.0 */
export * as Fleet from "./Fleet.ts"
/** @since 0.4.0 */
export * as FleetWorker from "./FleetWorker.ts"
/** @since 0.1.0 */
export * as Main from "./Main.ts"
/** @since 0.1.0 */
export * as Progress from "./Progress.ts"
/** @since 0.3.0 */
export * as Report from "./Report.ts"
/** @since 0.3.0 */
export * as ReportHtml from "./ReportHtml.ts"
/** @since 0.1.0 */
export * as Run from "./Run.ts"
/** @since 0.3.0 */
export * as RunRecords from "./RunRecords.ts"
/** @since 0.1.0 */
export * as Runs from "./Runs.ts"
/** @since 0.3.0 */
export * as SummaryText from "./SummaryText.ts"

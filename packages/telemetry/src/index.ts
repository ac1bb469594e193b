/**
 * @speckit/telemetry: session metrics, token counting, prices, estimates, budgets and export for
 * speckit.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Alert from "./Alert.ts"
/** @since 0.1.0 */
export * as BudgetGuard from "./BudgetGuard.ts"
/** @since 0.1.0 */
export * as Estimate from "./Estimate.ts"
/** @since 0.1.0 */
export * as Export from "./Export.ts"
/** @since 0.1.0 */
export * as History from "./History.ts"
/** @since 0.3.0 */
export * as Limits from "./Limits.ts"
/** @since 0.1.0 */
export * as Metrics from "./Metrics.ts"
/** @since 0.1.0 */
export * as Pricing from "./Pricing.ts"
/** @since 0.1.0 */
export * as Tokens from "./Tokens.ts"
/** @since 0.1.0 */
export * as Tracing from "./Tracing.ts"
/** @since 0.3.0 */
export * as RunTelemetry from "./RunTelemetry.ts"

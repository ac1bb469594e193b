/**
 * @speckit/telemetry: session metrics, token and cost accounting for speckit.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Metrics from "./Metrics.ts"
/** @since 0.1.0 */
export * as Pricing from "./Pricing.ts"

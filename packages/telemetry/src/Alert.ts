/**
 * Alerts a run raises while it spends: budget thresholds crossed, and loop or waste signals (answers
 * replayed or duplicated too often). Layers hand them to a callback; the CLI prints each once.
 *
 * @since 0.1.0
 */

/**
 * An alert.
 *
 * @since 0.1.0
 */
export type Alert =
  | {
      readonly _tag: "BudgetThreshold"
      /** The fraction of the budget crossed: 0.8 or 0.9. */
      readonly threshold: number
      readonly spentUsd: number
      readonly budgetUsd: number
    }
  | {
      readonly _tag: "LoopSignal"
      readonly kind: "replay" | "duplicate"
      readonly count: number
      readonly threshold: number
    }

/**
 * Where alerts go.
 *
 * @since 0.1.0
 */
export type Handler = (alert: Alert) => void

/**
 * One line describing an alert.
 *
 * @example
 * ```ts
 * import { Alert } from "@speckit/telemetry"
 *
 * Alert.format({ _tag: "BudgetThreshold", threshold: 0.8, spentUsd: 0.81, budgetUsd: 1 })
 * // "budget: 80% of $1.00 reached ($0.8100 spent)"
 * ```
 *
 * @since 0.1.0
 */
export const format = (alert: Alert): string =>
  alert._tag === "BudgetThreshold"
    ? `budget: ${Math.round(alert.threshold * 100)}% of $${alert.budgetUsd.toFixed(2)} reached ($${alert.spentUsd.toFixed(4)} spent)`
    : `possible loop: ${alert.count} ${alert.kind === "replay" ? "replayed decisions" : "duplicate answers"} (warning threshold ${alert.threshold})`

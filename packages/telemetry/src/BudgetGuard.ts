/**
 * An enforcing implementation of core's `Budget` port. Before every attempt it predicts the attempt's
 * cost (`Estimate.predictCall`: the prompt counted, the output predicted from history or defaults) and
 * refuses it with `BudgetExceeded` when the spend so far, plus what attempts already admitted may still
 * spend, plus that prediction would exceed `budget.usd`. It learns the live spend from the metrics
 * layer (`Metrics.layer({ onRecord: guard.observe })`) and raises an alert when the spend crosses 80%
 * and 90% of the budget, each once.
 *
 * `budget.onExceed: "pause"` cannot pause yet (runs are not durable): the run stops the same way, and
 * the error says "paused for approval".
 *
 * @since 0.1.0
 */
import { Budget, type SessionMetrics } from "@speckit/core"
import { Effect } from "effect"
import type * as Alert from "./Alert.ts"
import * as Estimate from "./Estimate.ts"
import * as History from "./History.ts"
import type * as Pricing from "./Pricing.ts"

/**
 * Options of a budget guard.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly budgetUsd: number
  readonly onExceed?: "halt" | "pause" | undefined
  readonly pricer: Pricing.Pricer
  readonly history?: History.History | undefined
  /** Receives the 80% and 90% alerts, each once. */
  readonly onAlert?: Alert.Handler | undefined
  /** Alert thresholds as fractions of the budget (default 0.8 and 0.9). */
  readonly thresholds?: ReadonlyArray<number> | undefined
  /** Overrides the per-call prediction (tests). */
  readonly predict?: ((planned: Budget.PlannedAttempt) => number) | undefined
  /** How the prediction counts a prompt (default `Tokens.count`; see `Tokens.counterFor`). */
  readonly count?: ((text: string) => number) | undefined
}

/**
 * A budget guard: the `Budget` service to provide, and the hook the metrics layer calls on every
 * recorded attempt.
 *
 * @since 0.1.0
 */
export interface Guard {
  readonly budget: {
    readonly admit: (planned: Budget.PlannedAttempt) => Effect.Effect<void, Budget.BudgetExceeded>
    /** Sets a new budget (the total, in USD); thresholds alert again against it. */
    readonly raise: (usd: number) => Effect.Effect<void>
  }
  readonly observe: (call: SessionMetrics.CallRecord, cost: SessionMetrics.CallCost) => void
  /** The spend observed so far. */
  readonly spent: () => number
}

const epsilon = 1e-9

/**
 * Builds a budget guard.
 *
 * @example
 * ```ts
 * import { Budget } from "@speckit/core"
 * import { BudgetGuard, Metrics, Pricing } from "@speckit/telemetry"
 * import { Effect } from "effect"
 *
 * const pricer = Pricing.make()
 * const guard = BudgetGuard.make({ budgetUsd: 2, pricer, onAlert: (alert) => console.error(alert) })
 * const provide = <A, E, R>(self: Effect.Effect<A, E, R>) =>
 *   self.pipe(Effect.provideService(Budget.Budget, guard.budget), Effect.provide(Metrics.layer({ pricer, onRecord: guard.observe })))
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: Options): Guard => {
  const history = options.history ?? History.empty
  const thresholds = [...(options.thresholds ?? [0.8, 0.9])].sort((a, b) => a - b)
  const alerted = new Set<number>()
  const reserved = new Map<string, number>()
  let reservedTotal = 0
  let spent = 0
  let budgetUsd = options.budgetUsd
  const keyOf = (planned: { readonly stage: string; readonly agent: string; readonly attempt: number }) =>
    `${planned.stage}/${planned.agent}/${planned.attempt}`
  const predict =
    options.predict ??
    ((planned: Budget.PlannedAttempt) =>
      Estimate.predictCall({
        stage: planned.stage,
        agent: planned.agent,
        model: planned.model,
        prompt: planned.prompt,
        history,
        pricer: options.pricer,
        count: options.count
      }))
  return {
    spent: () => spent,
    budget: {
      admit: (planned: Budget.PlannedAttempt) =>
        Effect.suspend(() => {
          const predicted = predict(planned)
          if (spent + reservedTotal + predicted > budgetUsd + epsilon) {
            return Effect.fail(
              new Budget.BudgetExceeded({
                stage: planned.stage,
                agent: planned.agent,
                spentUsd: spent,
                predictedUsd: predicted + reservedTotal,
                budgetUsd,
                action: options.onExceed ?? "halt"
              })
            )
          }
          const key = keyOf(planned)
          reservedTotal += predicted - (reserved.get(key) ?? 0)
          reserved.set(key, predicted)
          return Effect.void
        }),
      raise: (usd) =>
        Effect.sync(() => {
          budgetUsd = usd
          for (const threshold of thresholds) if (spent + epsilon < threshold * usd) alerted.delete(threshold)
        })
    },
    observe: (call, cost) => {
      const key = keyOf(call)
      const held = reserved.get(key)
      if (held !== undefined) {
        reservedTotal = Math.max(0, reservedTotal - held)
        reserved.delete(key)
      }
      spent += cost.costUsd
      for (const threshold of thresholds) {
        if (!alerted.has(threshold) && spent + epsilon >= threshold * budgetUsd) {
          alerted.add(threshold)
          options.onAlert?.({ _tag: "BudgetThreshold", threshold, spentUsd: spent, budgetUsd })
        }
      }
    }
  }
}

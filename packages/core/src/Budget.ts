/**
 * The budget port: asked before every agent attempt whether the run may spend on it. The default
 * admits everything; `@speckit/telemetry` provides an enforcing layer.
 *
 * @since 0.1.0
 */
import { Context, Effect, Schema } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { Stage } from "./Stage.ts"

/**
 * The attempt about to be made.
 *
 * @since 0.1.0
 */
export interface PlannedAttempt {
  readonly stage: Stage
  readonly agent: AgentId
  readonly attempt: number
  readonly model: string
  /** The prompt the attempt will send. */
  readonly prompt: string
}

/**
 * Making the attempt could take the run over its budget.
 *
 * @since 0.1.0
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  stage: Schema.String,
  agent: Schema.String,
  spentUsd: Schema.Number,
  predictedUsd: Schema.Number,
  budgetUsd: Schema.Number,
  /** `pause` when the configuration asks to pause for approval (`budget.onExceed`); default `halt`. */
  action: Schema.optionalKey(Schema.Literals(["halt", "pause"]))
}) {
  override get message() {
    return `${this.action === "pause" ? "paused for approval: " : ""}budget of $${this.budgetUsd.toFixed(2)} would be exceeded: $${this.spentUsd.toFixed(4)} spent, the next call (${this.agent} on ${this.stage}) is predicted at $${this.predictedUsd.toFixed(4)}`
  }
}

/**
 * The budget service. Its default admits every attempt.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Budget } from "@speckit/core"
 *
 * const noMoreThanTen = (() => {
 *   let calls = 0
 *   return Layer.succeed(Budget.Budget, {
 *     admit: (planned) =>
 *       ++calls > 10
 *         ? Effect.fail(new Budget.BudgetExceeded({ stage: planned.stage, agent: planned.agent, spentUsd: 0, predictedUsd: 0, budgetUsd: 0 }))
 *         : Effect.void
 *   })
 * })()
 * ```
 *
 * @since 0.1.0
 */
export const Budget = Context.Reference<{
  readonly admit: (planned: PlannedAttempt) => Effect.Effect<void, BudgetExceeded>
  /**
   * Sets a new budget (USD, the total) after a person raised it (`speckit budget`). Optional: a
   * budget that cannot change leaves it out.
   *
   * @since 0.2.0
   */
  readonly raise?: ((usd: number) => Effect.Effect<void>) | undefined
}>("@speckit/core/Budget", { defaultValue: () => ({ admit: () => Effect.void }) })

/**
 * The pipeline phase state machine. A run is always in exactly one phase; {@link transition}
 * accepts only the legal moves and rejects the rest with {@link IllegalTransition}.
 *
 * ```text
 * Idle ──▶ Running(plan) ──▶ Running(tasks) ──▶ … ──▶ Running(unlock) ──▶ Completed
 *             │  ▲                  │
 *             ▼  │                  ├──▶ AwaitingReview ──▶ Running(next or same) | Halted
 *      TransientRecovery            ├──▶ Halted (conflict, quorum not met, budget)
 *                                   ├──▶ Failed (unexpected error)
 *                                   └──▶ Cancelled (interrupted)
 * ```
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import * as Stage from "./Stage.ts"

/**
 * Schema of a phase.
 *
 * @since 0.1.0
 */
export const Phase = Schema.Union([
  Schema.TaggedStruct("Idle", {}),
  Schema.TaggedStruct("Running", { stage: Stage.Stage }),
  Schema.TaggedStruct("TransientRecovery", {
    stage: Stage.Stage,
    agent: Schema.String,
    attempt: Schema.Int,
    resumeAt: Schema.Number
  }),
  Schema.TaggedStruct("AwaitingReview", { stage: Stage.Stage, reason: Schema.String }),
  Schema.TaggedStruct("Completed", {}),
  Schema.TaggedStruct("Halted", { stage: Stage.Stage, reason: Schema.String }),
  Schema.TaggedStruct("Failed", { reason: Schema.String }),
  Schema.TaggedStruct("Cancelled", {})
])

/**
 * A phase.
 *
 * @since 0.1.0
 */
export type Phase = typeof Phase.Type

/**
 * The initial phase.
 *
 * @since 0.1.0
 */
export const idle: Phase = { _tag: "Idle" }

/**
 * A rejected move between phases.
 *
 * @since 0.1.0
 */
export class IllegalTransition extends Schema.TaggedError<IllegalTransition>()("IllegalTransition", {
  from: Schema.String,
  to: Schema.String
}) {
  override get message() {
    return `illegal phase transition from ${this.from} to ${this.to}`
  }
}

/**
 * A short label of a phase, such as `Running(plan)`.
 *
 * @example
 * ```ts
 * import { Phase } from "@speckit/core"
 *
 * Phase.label({ _tag: "Running", stage: "plan" }) // "Running(plan)"
 * ```
 *
 * @since 0.1.0
 */
export const label = (phase: Phase): string => ("stage" in phase ? `${phase._tag}(${phase.stage})` : phase._tag)

/**
 * Whether a run in this phase is over (nothing more will happen unless it is resumed).
 *
 * @since 0.1.0
 */
export const isTerminal = (phase: Phase): boolean =>
  phase._tag === "Completed" || phase._tag === "Halted" || phase._tag === "Failed" || phase._tag === "Cancelled"

const legal = (from: Phase, to: Phase): boolean => {
  if (to._tag === "Failed" || to._tag === "Cancelled") return !isTerminal(from)
  switch (from._tag) {
    case "Idle":
      return to._tag === "Running" && to.stage === Stage.all[0]
    case "Running":
      switch (to._tag) {
        case "Running":
          return to.stage === Stage.next(from.stage)
        case "TransientRecovery":
        case "AwaitingReview":
        case "Halted":
          return to.stage === from.stage
        case "Completed":
          return Stage.next(from.stage) === undefined
        default:
          return false
      }
    case "TransientRecovery":
      return (
        (to._tag === "Running" || to._tag === "TransientRecovery" || to._tag === "Halted") && to.stage === from.stage
      )
    case "AwaitingReview":
      return (
        // The next stage after an approved review; the same stage after a budget raise.
        (to._tag === "Running" && (to.stage === Stage.next(from.stage) || to.stage === from.stage)) ||
        (to._tag === "Completed" && Stage.next(from.stage) === undefined) ||
        (to._tag === "Halted" && to.stage === from.stage)
      )
    default:
      return false
  }
}

/**
 * Moves from one phase to another, or explains why that move is illegal.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Phase } from "@speckit/core"
 *
 * Result.isSuccess(Phase.transition(Phase.idle, { _tag: "Running", stage: "plan" })) // true
 * Result.isFailure(Phase.transition(Phase.idle, { _tag: "Completed" })) // true
 * ```
 *
 * @since 0.1.0
 */
export const transition = (from: Phase, to: Phase): Result.Result<Phase, IllegalTransition> =>
  legal(from, to) ? Result.succeed(to) : Result.fail(new IllegalTransition({ from: label(from), to: label(to) }))

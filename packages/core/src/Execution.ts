/**
 * How a pipeline's side effects are executed: directly (the default), or as the steps of a durable
 * workflow that journals every step's result, replays the journal after a crash, and can wait for
 * a person (a review, a budget raise) across restarts. The pipeline runs every agent call, clock
 * read and artifact write through {@link Execution}; `DurableRun` provides the durable one.
 *
 * @since 0.2.0
 */
import { Context, Effect, Schema } from "effect"

/**
 * A step's result, and whether it came from the journal (the step ran in an earlier process and
 * was not run again).
 *
 * @since 0.2.0
 */
export interface Step<A> {
  readonly value: A
  readonly replayed: boolean
}

/**
 * What a step is: a name unique within the run, the schemas its result is journaled with, and the
 * effect that produces it. The effect must be idempotent: a step that was running when the process
 * died runs again on resume.
 *
 * @since 0.2.0
 */
export interface StepOptions<A, E, R> {
  readonly name: string
  readonly success: Schema.ConstraintCodec<A, unknown>
  readonly error?: Schema.ConstraintCodec<E, unknown> | undefined
  readonly execute: Effect.Effect<A, E, R>
}

/**
 * A reviewer's answer to a review pause.
 *
 * @since 0.2.0
 */
export const ReviewAnswer = Schema.Struct({
  approved: Schema.Boolean,
  note: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.2.0
 */
export type ReviewAnswer = typeof ReviewAnswer.Type

/**
 * The execution service.
 *
 * - `step` runs an effect once per run: a durable execution journals its result (success or
 *   failure) and returns the journaled result on replay without running it again.
 * - `awaitReview` / `awaitBudget` wait for a person: a durable execution suspends the run until
 *   the answer is given (the process may exit meanwhile); the direct one has nobody to ask and
 *   returns `undefined`, so the run stops there.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Execution } from "@speckit/core"
 *
 * const program = Effect.gen(function* () {
 *   const execution = yield* Execution.Execution
 *   const step = yield* execution.step({ name: "answer", success: Schema.Number, execute: Effect.succeed(42) })
 *   return step.value // 42; step.replayed is false outside a durable run
 * })
 * ```
 *
 * @since 0.2.0
 */
export interface Service {
  /** Whether steps are journaled (a durable workflow) or just run. */
  readonly durable: boolean
  readonly step: <A, E = never, R = never>(options: StepOptions<A, E, R>) => Effect.Effect<Step<A>, E, R>
  /** Waits for the answer to the review pause `name`; `undefined` when nobody can answer in this execution. */
  readonly awaitReview: (name: string) => Effect.Effect<ReviewAnswer | undefined>
  /** Waits for a raised budget (USD) for the budget pause `name`; `undefined` when nobody can answer. */
  readonly awaitBudget: (name: string) => Effect.Effect<number | undefined>
  /**
   * Whether the run is being suspended (it waits for a person or a durable timer and its fiber is
   * interrupted to be resumed later): an interruption is then no cancellation.
   */
  readonly suspended: () => boolean
}

/** A step's result when it ran in this process. */
const ranNow = <A>(value: A): Step<A> => ({ value, replayed: false })

/**
 * Runs every step directly: nothing is journaled, pauses end the run.
 *
 * @example
 * ```ts
 * import { Execution } from "@speckit/core"
 *
 * const direct = Execution.direct // the default of Execution.Execution
 * ```
 *
 * @since 0.2.0
 */
export const direct: Service = {
  durable: false,
  step: (options) => Effect.map(options.execute, ranNow),
  awaitReview: () => Effect.succeed(undefined),
  awaitBudget: () => Effect.succeed(undefined),
  suspended: () => false
}

/**
 * The current execution (default: {@link direct}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Execution } from "@speckit/core"
 *
 * const isDurable = Effect.gen(function* () {
 *   return (yield* Execution.Execution).durable
 * })
 * ```
 *
 * @since 0.2.0
 */
export const Execution = Context.Reference<Service>("@speckit/core/Execution", { defaultValue: () => direct })

/**
 * A pipeline run as a durable `effect/workflow` workflow. Every side effect of the pipeline (each
 * agent call, aggregation, artifact write, the run's start and its pauses) is a journaled activity;
 * after a crash the run is resumed by replaying the workflow, which returns the journaled results
 * instead of calling the agents again. A review pause is a `DurableDeferred`: the process exits, and
 * the run goes on when the answer is given and the run is resumed.
 *
 * The engine is a layer: `WorkflowEngine.layerMemory` (in memory, for tests),
 * `@speckit/core/StateDatabase` (the embedded one over SQLite: `SqlWorkflowEngine` by default, or
 * `ClusterWorkflowEngine` on a single runner), or `ClusterWorkflowEngine` on runners sharing
 * PostgreSQL.
 *
 * @since 0.2.0
 */
import { Deferred, Effect, type Fiber, Option, Schedule, Schema } from "effect"
import { Activity, DurableDeferred, Workflow, WorkflowEngine } from "effect/workflow"
import { UnknownAgent } from "./AgentRegistry.ts"
import * as Execution from "./Execution.ts"
import * as Pipeline from "./Pipeline.ts"
import type { RunId } from "./RunId.ts"
import { RunStoreError } from "./RunStore.ts"
import type { RunSummary } from "./RunSummary.ts"

/**
 * The workflow of one run. Each run has its own workflow type (`SpeckitRun-<run-id>`), so a
 * process that resumes one run never resumes another one it did not ask for.
 *
 * @example
 * ```ts
 * import { DurableRun, RunId } from "@speckit/core"
 *
 * declare const runId: RunId.RunId
 * const workflow = DurableRun.workflow(runId)
 * ```
 *
 * @since 0.2.0
 */
export const workflow = (runId: RunId) =>
  Workflow.make(`SpeckitRun-${runId}`, {
    payload: { runId: Schema.String },
    success: Schema.String,
    error: Schema.Union([RunStoreError, UnknownAgent]),
    idempotencyKey: (payload) => payload.runId
  })

/**
 * The durable wait of a review pause (`name` is the pause's name, e.g. `review/validate`).
 *
 * @example
 * ```ts
 * import { DurableRun } from "@speckit/core"
 *
 * const deferred = DurableRun.review("review/validate")
 * ```
 *
 * @since 0.2.0
 */
export const review = (name: string) => DurableDeferred.make(name, { success: Execution.ReviewAnswer })

/**
 * The durable wait of a budget pause: completed with the new budget in USD.
 *
 * @example
 * ```ts
 * import { DurableRun } from "@speckit/core"
 *
 * const deferred = DurableRun.budget("budget/implement/1")
 * ```
 *
 * @since 0.2.0
 */
export const budget = (name: string) => DurableDeferred.make(name, { success: Schema.Number })

/**
 * The execution of a workflow instance: steps are activities, pauses are durable deferreds.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkflowEngine } from "effect/workflow"
 * import { DurableRun } from "@speckit/core"
 *
 * const execution = Effect.gen(function* () {
 *   const engine = yield* WorkflowEngine.WorkflowEngine
 *   const instance = yield* WorkflowEngine.WorkflowInstance
 *   return DurableRun.execution(engine, instance)
 * })
 * ```
 *
 * @since 0.2.0
 */
export const execution = (
  engine: WorkflowEngine.WorkflowEngine["Service"],
  instance: WorkflowEngine.WorkflowInstance["Service"],
  options: {
    /**
     * A run that must leave this runner (it drains, or the run's shard was assigned to another: see
     * `FleetRun.serve`): when `moved` says so, the run suspends before its next step, once its steps in
     * flight are done, by interrupting its workflow's fiber (`fiber`) as suspended, from whichever of
     * the run's fibers that step was in.
     *
     * @since 0.4.0
     */
    readonly handOver?: { readonly moved: () => boolean; readonly fiber: Fiber.Fiber<unknown, unknown> } | undefined
  } = {}
): Execution.Service => {
  const inWorkflow = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(
      Effect.provideService(WorkflowEngine.WorkflowEngine, engine),
      Effect.provideService(WorkflowEngine.WorkflowInstance, instance)
    )
  const handOver = options.handOver
  let inFlight = 0
  const leave = (fiber: Fiber.Fiber<unknown, unknown>) =>
    Effect.repeat(
      Effect.sync(() => inFlight),
      { until: (count) => count === 0, schedule: Schedule.spaced("50 millis") }
    ).pipe(
      Effect.andThen(
        Effect.sync(() => {
          instance.suspended = true
          fiber.interruptUnsafe(fiber.id)
        })
      ),
      Effect.andThen(Effect.never),
      Effect.interruptible
    )
  return {
    durable: true,
    step: <A, E, R>(options: Execution.StepOptions<A, E, R>) =>
      Effect.suspend(() => {
        if (handOver?.moved() === true) return leave(handOver.fiber)
        let ran = false
        const activity = Activity.make({
          name: options.name,
          success: options.success,
          error: options.error ?? Schema.Never,
          execute: Effect.suspend(() => {
            ran = true
            // Counted only where a run may have to leave (it waits for the steps in flight).
            if (handOver === undefined) return options.execute
            inFlight++
            return Effect.ensuring(
              options.execute,
              Effect.sync(() => inFlight--)
            )
          })
        })
        return Effect.map(inWorkflow(activity), (value) => ({ value, replayed: !ran }))
      }),
    awaitReview: (name) => inWorkflow(DurableDeferred.await(review(name))),
    awaitBudget: (name) => inWorkflow(DurableDeferred.await(budget(name))),
    suspended: () => instance.suspended
  }
}

/**
 * How a durable run left off in this process: `Finished` (completed or halted: the summary
 * says), `Paused` (it waits for an answer; the summary's `pause` says which), or
 * `AlreadyFinished` (the run had finished before: nothing ran).
 *
 * @since 0.2.0
 */
export type Outcome =
  | { readonly _tag: "Finished"; readonly summary: RunSummary }
  | { readonly _tag: "Paused"; readonly summary: RunSummary }
  | { readonly _tag: "AlreadyFinished"; readonly status: string }

/**
 * What a durable run needs: the pipeline's options with the run id fixed, and the answer to the
 * pause the run waits on, when resuming a paused run.
 *
 * @since 0.2.0
 */
export interface Options extends Pipeline.RunOptions {
  readonly runId: RunId
  readonly answer?: PauseAnswer | undefined
}

/**
 * An answer to a run's pause: a review's, or a raised budget (USD); `name` is the pause's.
 *
 * @since 0.4.0
 */
export type PauseAnswer =
  | { readonly _tag: "Review"; readonly name: string; readonly answer: Execution.ReviewAnswer }
  | { readonly _tag: "Budget"; readonly name: string; readonly usd: number }

/**
 * Completes the durable wait of the pause an execution of `flow` is paused on, with `answer` (the
 * execution goes on once it is woken up: {@link wakeIfSuspended}).
 *
 * @example
 * ```ts
 * import { Workflow } from "effect/workflow"
 * import { DurableRun } from "@speckit/core"
 *
 * declare const flow: Workflow.Any
 * const approved = DurableRun.answerPause(flow, "0f3c…", { _tag: "Review", name: "review/validate", answer: { approved: true } })
 * ```
 *
 * @since 0.4.0
 */
export const answerPause = (
  flow: Workflow.Any,
  executionId: string,
  answer: PauseAnswer
): Effect.Effect<void, never, WorkflowEngine.WorkflowEngine> => {
  const token = DurableDeferred.tokenFromExecutionId({ workflow: flow, executionId })
  if (answer._tag === "Review") {
    const deferred = review(answer.name)
    return DurableDeferred.succeed(deferred, { token: token(deferred), value: answer.answer })
  }
  const deferred = budget(answer.name)
  return DurableDeferred.succeed(deferred, { token: token(deferred), value: answer.usd })
}

/**
 * Wakes an execution of `flow` that is suspended (its pause answered, or suspended by its runner); a
 * running or finished one is left as it is.
 *
 * @example
 * ```ts
 * import type { Schema } from "effect"
 * import type { Workflow } from "effect/workflow"
 * import { DurableRun } from "@speckit/core"
 *
 * declare const flow: Workflow.Workflow<"Run", Workflow.AnyStructSchema, Schema.String, Schema.Never>
 * const woken = DurableRun.wakeIfSuspended(flow, "0f3c…")
 * ```
 *
 * @since 0.4.0
 */
export const wakeIfSuspended = <
  Name extends string,
  Payload extends Workflow.AnyStructSchema,
  Success extends Schema.Top,
  Error extends Schema.Top
>(
  flow: Workflow.Workflow<Name, Payload, Success, Error>,
  executionId: string
) =>
  Effect.gen(function* () {
    const polled = yield* flow.poll(executionId)
    if (Option.isSome(polled) && polled.value._tag === "Suspended") yield* flow.resume(executionId)
  })

/**
 * Starts or resumes a run as a durable workflow on the current engine, and returns when it
 * finishes or pauses. Starting a run that exists resumes it: its journaled steps are replayed, the
 * rest runs. Interrupting it interrupts the run (recorded as cancelled); it can be resumed later.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkflowEngine } from "effect/workflow"
 * import { DurableRun, RunId, SpeckitConfig } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * const program = Effect.gen(function* () {
 *   const runId = yield* RunId.make
 *   return yield* DurableRun.run({ spec, config: SpeckitConfig.defaultConfig, runId })
 * }).pipe(Effect.scoped, Effect.provide(WorkflowEngine.layerMemory))
 * ```
 *
 * @since 0.2.0
 */
export const run = Effect.fn("DurableRun.run")(function* (options: Options) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const flow = workflow(options.runId)
  const paused = yield* Deferred.make<RunSummary>()
  /** The summary of the run as it finished in this process (unset when it had finished before). */
  let finished: RunSummary | undefined
  yield* engine.register(flow, (_payload) =>
    Effect.gen(function* () {
      const instance = yield* WorkflowEngine.WorkflowInstance
      const summary = yield* Pipeline.run({
        ...options,
        onPause: (summary) => Effect.asVoid(Deferred.succeed(paused, summary))
      }).pipe(Effect.provideService(Execution.Execution, execution(engine, instance)))
      finished = summary
      return summary.status
    })
  )
  const executionId = yield* flow.executionId({ runId: options.runId })
  if (options.answer !== undefined) yield* answerPause(flow, executionId, options.answer)
  // A suspended execution (waiting for an answer, maybe just given) is woken up.
  yield* wakeIfSuspended(flow, executionId)
  // Completes once the run's result is recorded (not merely computed), or when it pauses.
  const completed = Effect.map(
    flow.execute({ runId: options.runId }),
    (status): Outcome =>
      finished === undefined ? { _tag: "AlreadyFinished", status } : { _tag: "Finished", summary: finished }
  )
  return yield* Effect.raceFirst(
    completed,
    Effect.map(Deferred.await(paused), (summary): Outcome => ({ _tag: "Paused", summary }))
  )
})

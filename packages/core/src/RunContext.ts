/**
 * What every part of a running pipeline shares: the run's identity and inputs, how its events are
 * emitted and logged, how its side effects run as steps (journaled in a durable run), its phase and its
 * decision loop. The pipeline makes one per run and hands it to each stage.
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import * as DecisionLoop from "./DecisionLoop.ts"
import * as Execution from "./Execution.ts"
import * as LoggedEvents from "./internal/loggedEvents.ts"
import { logged as loggedForm, type PipelineEvent, PipelineEvents } from "./PipelineEvent.ts"
import type { RunId } from "./RunId.ts"
import * as RunPhase from "./RunPhase.ts"
import { type RunRecord, RunStore, type RunStoreError } from "./RunStore.ts"
import type * as Sequencer from "./Sequencer.ts"
import type { Spec } from "./Spec.ts"
import type * as SpeckitConfig from "./SpeckitConfig.ts"

/**
 * A running pipeline's shared context (see the module).
 *
 * @since 0.3.0
 */
export interface RunContext {
  readonly runId: RunId
  readonly spec: Spec
  readonly config: SpeckitConfig.SpeckitConfig
  /** The run's record (as written to `run.json`), once the run has begun. */
  readonly record: RunRecord
  /** Whether side effects are journaled (a durable run) rather than just run. */
  readonly durable: boolean
  /** Emits an event to the display and appends it to the run's event log (see {@link Logger.emit}). */
  readonly emit: (event: PipelineEvent) => Effect.Effect<void>
  /** Runs a side effect as a step of the run (see {@link Execution.Service.step}). */
  readonly step: <A, E = never, R = never>(
    options: Execution.StepOptions<A, E, R>
  ) => Effect.Effect<Execution.Step<A>, E, R>
  /** Whether the run still replays its journal (no step has really run again yet). */
  readonly replaying: () => boolean
  /** A step's store writes, on disk before the journal says the step ran (see {@link Logger.persisted}). */
  readonly persisted: Logger["persisted"]
  readonly phase: RunPhase.RunPhase
  readonly decisions: DecisionLoop.DecisionLoop
}

/**
 * How a run emits and steps before its record exists: the part of the context {@link make} starts from.
 *
 * @since 0.3.0
 */
export interface Logger {
  /** Emits to the display and to `events.jsonl` (not logged again while the run replays its journal). */
  readonly emit: (event: PipelineEvent) => Effect.Effect<void>
  /** Appends to `events.jsonl` only (the display is not told). */
  readonly log: (event: PipelineEvent) => Effect.Effect<void>
  readonly step: RunContext["step"]
  readonly replaying: () => boolean
  readonly durable: boolean
  /**
   * The store writes of a step, then, in a durable run, a `RunStore.flush`: the store writes in the
   * background, and a journaled step whose files a crash lost would be replayed without them.
   *
   * @since 0.4.0
   */
  readonly persisted: <A, E, R>(writes: Effect.Effect<A, E, R>) => Effect.Effect<A, E | RunStoreError, R>
}

/**
 * Makes the logger of run `runId`: a durable run replays its journal on resume, and until a step
 * really runs again everything it does was done before, so its events are shown but not logged a
 * second time, unless the run's log lacks them (`RunStore.loggedEvents`: a crash lost its last batch).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunContext, RunId } from "@speckit/core"
 *
 * const program = Effect.gen(function* () {
 *   const logger = yield* RunContext.logger(RunId.RunId.make("run-1"))
 *   yield* logger.emit({ _tag: "PhaseChanged", phase: { _tag: "Idle" } })
 * })
 * ```
 *
 * @since 0.3.0
 */
export const logger = (runId: RunId) =>
  Effect.gen(function* () {
    const execution = yield* Execution.Execution
    const events = yield* PipelineEvents
    const store = yield* RunStore
    // Only a durable execution replays: until its first fresh step, what happens was recorded before,
    // and logged before unless a crash lost the log's last batch: an event replayed then is logged
    // only if the log lacks it.
    let replaying = execution.durable
    const appendEvent = store.appendEvent
    const logged =
      replaying && appendEvent && store.loggedEvents
        ? LoggedEvents.fromLog(yield* store.loggedEvents(runId))
        : undefined
    // Each line carries when it happened (`at`, epoch ms): the report's timeline is drawn from it.
    const log = (event: PipelineEvent) => {
      if (!appendEvent) return Effect.void
      const line = loggedForm(event)
      return !replaying || (logged !== undefined && !logged.take(line))
        ? Clock.clockWith((clock) => appendEvent(runId, { at: clock.currentTimeMillisUnsafe(), ...line }))
        : Effect.void
    }
    /** A step that ran in this process ends the replay (the mapping is made once, not per step). */
    const noteFresh = <A>(done: Execution.Step<A>): Execution.Step<A> => {
      if (!done.replayed) replaying = false
      return done
    }
    const flush = execution.durable ? store.flush : undefined
    const result: Logger = {
      durable: execution.durable,
      persisted: (writes) => (flush === undefined ? writes : Effect.tap(writes, () => flush)),
      emit: (event) => Effect.andThen(events.emit(event), log(event)),
      log,
      step: (options) => Effect.map(execution.step(options), noteFresh),
      replaying: () => replaying
    }
    return result
  })

/**
 * Makes a run's context from its logger and record: a phase tracker at `Idle` and a decision loop
 * (not started).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunContext } from "@speckit/core"
 *
 * declare const logger: RunContext.Logger
 * declare const inputs: Pick<RunContext.RunContext, "runId" | "spec" | "config" | "record">
 * const program = RunContext.make(logger, inputs)
 * ```
 *
 * @since 0.3.0
 */
export const make = (
  logger: Logger,
  inputs: Pick<RunContext, "runId" | "spec" | "config" | "record">
): Effect.Effect<RunContext, never, Sequencer.Sequencer> =>
  Effect.map(DecisionLoop.make(inputs.runId, logger.emit), (decisions) => ({
    ...inputs,
    durable: logger.durable,
    emit: logger.emit,
    step: logger.step,
    replaying: logger.replaying,
    persisted: logger.persisted,
    phase: RunPhase.make(logger.emit),
    decisions
  }))

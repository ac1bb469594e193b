/**
 * How a run stands, for its summary: its status, the hint for the user, the pause it waits on and the
 * summaries of its decided stages; and the moves that change them together with the run's phase:
 * halting, pausing durably (for a review or a budget raise), completing, being cancelled.
 *
 * @since 0.3.0
 */
import { Clock, Effect, Schema } from "effect"
import * as Execution from "./Execution.ts"
import * as Phase from "./Phase.ts"
import type { RunContext } from "./RunContext.ts"
import { RunStore, RunStoreError } from "./RunStore.ts"
import * as RunSummary from "./RunSummary.ts"
import * as SessionMetrics from "./SessionMetrics.ts"
import type { Stage } from "./Stage.ts"

/**
 * A run's state (see the module).
 *
 * @since 0.3.0
 */
export interface RunState {
  /** Adds a decided stage's summary. */
  readonly addStage: (summary: RunSummary.StageSummary) => void
  /** The run's summary as of now. */
  readonly summarize: Effect.Effect<RunSummary.RunSummary>
  /** Halts the run in `stage` (status `halted`, phase `Halted`). */
  readonly halt: (stage: Stage, reason: string, hint: string) => Effect.Effect<void>
  /**
   * Pauses a durable run in `stage`: the run is `awaiting-review`, its summary naming the pause is
   * recorded (so `speckit status` and `speckit resume` see why the run stopped), then `wait` waits
   * durably for the answer; the process may exit meanwhile (`onPause` hears of it once the wait
   * suspends the run). Returns the answer.
   */
  readonly pause: <A>(
    stage: Stage,
    pause: Pick<RunSummary.Pause, "kind" | "name">,
    reason: string,
    hint: string,
    wait: Effect.Effect<A>
  ) => Effect.Effect<A, RunStoreError>
  /** Marks the run as waiting for a review in `stage` (phase `AwaitingReview`) without pausing it. */
  readonly awaitingReview: (stage: Stage, reason: string, hint: string) => Effect.Effect<void>
  readonly complete: Effect.Effect<void>
  /** Marks an interrupted run as cancelled (unless its phase is already terminal). */
  readonly cancel: Effect.Effect<void>
}

/**
 * Makes the state of a run that started at `startedAt` (epoch ms).
 *
 * @example
 * ```ts
 * import { RunState } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * const program = RunState.make(run, Date.now())
 * ```
 *
 * @since 0.3.0
 */
export const make = (
  run: RunContext,
  startedAt: number,
  onPause?: ((summary: RunSummary.RunSummary) => Effect.Effect<void>) | undefined
): Effect.Effect<RunState, never, RunStore | SessionMetrics.SessionMetrics> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const metrics = yield* SessionMetrics.SessionMetrics
    const execution = yield* Execution.Execution
    const state = {
      status: "failed" as RunSummary.RunStatus,
      hint: undefined as string | undefined,
      pause: undefined as RunSummary.Pause | undefined,
      stages: [] as Array<RunSummary.StageSummary>
    }
    // The session's figures as the run starts: the summary gives what the run itself added (a layer
    // kept for many runs holds them all).
    const atStart = yield* metrics.snapshot
    const summarize = Effect.gen(function* () {
      const snapshot = SessionMetrics.since(atStart, yield* metrics.snapshot)
      return RunSummary.make(
        {
          ...state,
          runId: run.runId,
          specId: run.spec.id,
          phase: Phase.label(run.phase.current()),
          startedAt,
          decisions: run.decisions.decisions(),
          runDir: store.runDir(run.runId)
        },
        snapshot,
        yield* Clock.currentTimeMillis
      )
    })
    const halt = (stage: Stage, reason: string, hint: string) =>
      Effect.suspend(() => {
        state.status = "halted"
        state.hint = hint
        return run.phase.move({ _tag: "Halted", stage, reason })
      })
    const awaitingReview = (stage: Stage, reason: string, hint: string) =>
      Effect.suspend(() => {
        state.status = "awaiting-review"
        state.hint = hint
        return run.phase.current()._tag === "AwaitingReview"
          ? Effect.void
          : run.phase.move({ _tag: "AwaitingReview", stage, reason })
      })
    const pause = <A>(
      stage: Stage,
      pause: Pick<RunSummary.Pause, "kind" | "name">,
      reason: string,
      hint: string,
      wait: Effect.Effect<A>
    ) =>
      Effect.gen(function* () {
        state.pause = { ...pause, stage }
        yield* awaitingReview(stage, reason, hint)
        const summary = yield* summarize
        yield* run.step({
          name: `pause/${pause.name}`,
          success: Schema.Void,
          error: RunStoreError,
          execute: store.finish(summary)
        })
        const answer = yield* wait.pipe(
          Effect.onInterrupt(() => (execution.suspended() && onPause ? onPause(summary) : Effect.void))
        )
        state.status = "failed"
        state.pause = undefined
        state.hint = undefined
        return answer
      })
    const complete = Effect.suspend(() => {
      state.status = "completed"
      return run.phase.move({ _tag: "Completed" })
    })
    const cancel = Effect.suspend(() => {
      state.status = "cancelled"
      state.hint = `the run was interrupted; continue it with \`speckit resume ${run.runId}\``
      return Phase.isTerminal(run.phase.current()) ? Effect.void : run.phase.move({ _tag: "Cancelled" })
    })
    const result: RunState = {
      addStage: (summary) => {
        state.stages.push(summary)
      },
      summarize,
      halt,
      pause,
      awaitingReview,
      complete,
      cancel
    }
    return result
  })

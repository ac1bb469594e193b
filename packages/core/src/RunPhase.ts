/**
 * The phase of one run as it goes: the {@link Phase} state machine held for the run, moved only by
 * legal transitions (an illegal move is a defect), and the `TransientRecovery` bookkeeping: while an
 * agent of the running stage waits before a retry, the run is in `TransientRecovery` (for the first
 * such agent), and `Running` again once none waits.
 *
 * @since 0.3.0
 */
import { Effect, Result } from "effect"
import type { AgentId } from "./AgentId.ts"
import * as Phase from "./Phase.ts"
import type { PipelineEvent } from "./PipelineEvent.ts"
import type { Stage } from "./Stage.ts"

/**
 * A run's phase tracker.
 *
 * @since 0.3.0
 */
export interface RunPhase {
  /** The current phase. */
  readonly current: () => Phase.Phase
  /** Moves to `to` and emits `PhaseChanged`; an illegal transition is a defect. */
  readonly move: (to: Phase.Phase) => Effect.Effect<void>
  /**
   * Follows an agent event of `stage`: an `AgentRetrying` puts the run in `TransientRecovery`, the
   * retried agent's `AgentStarted` takes it back to `Running` once no other agent waits.
   */
  readonly track: (stage: Stage, event: PipelineEvent) => Effect.Effect<void>
  /** Forgets every waiting agent of `stage` (its agents are done): `Running(stage)` again. */
  readonly endRecovery: (stage: Stage) => Effect.Effect<void>
}

/**
 * Makes a tracker starting at `Idle` that reports every move through `emit`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunPhase } from "@speckit/core"
 *
 * const program = Effect.gen(function* () {
 *   const phase = RunPhase.make(() => Effect.void)
 *   yield* phase.move({ _tag: "Running", stage: "plan" })
 *   return phase.current()
 * })
 * ```
 *
 * @since 0.3.0
 */
export const make = (emit: (event: PipelineEvent) => Effect.Effect<void>): RunPhase => {
  let phase: Phase.Phase = Phase.idle
  const recovering = new Map<AgentId, { readonly attempt: number; readonly resumeAt: number }>()

  const move = (to: Phase.Phase) =>
    Effect.suspend(() => {
      const moved = Phase.transition(phase, to)
      if (Result.isFailure(moved)) return Effect.die(moved.failure)
      phase = moved.success
      return emit({ _tag: "PhaseChanged", phase: moved.success })
    })

  const recoveryPhase = (stage: Stage): Phase.Phase => {
    const [first] = recovering
    return first ? { _tag: "TransientRecovery", stage, agent: first[0], ...first[1] } : { _tag: "Running", stage }
  }

  const track = (stage: Stage, event: PipelineEvent) =>
    Effect.suspend(() => {
      if (event._tag === "AgentRetrying") {
        recovering.set(event.agent, { attempt: event.attempt, resumeAt: event.resumeAt })
      } else if (event._tag !== "AgentStarted" || !recovering.delete(event.agent)) {
        return Effect.void
      }
      const next = recoveryPhase(stage)
      return Phase.label(next) === Phase.label(phase) && next._tag === "Running" ? Effect.void : move(next)
    })

  const endRecovery = (stage: Stage) =>
    Effect.suspend(() => {
      recovering.clear()
      return phase._tag === "TransientRecovery" ? move({ _tag: "Running", stage }) : Effect.void
    })

  return { current: () => phase, move, track, endRecovery }
}

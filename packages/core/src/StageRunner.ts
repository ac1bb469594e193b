/**
 * Runs the agents of one stage concurrently and collects their outcomes; with an early decision,
 * stops the remaining agents as soon as the stage's outcome can no longer change.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Effect, Fiber } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { AgentOutcome, Failed } from "./AgentOutcome.ts"
import type { StagePolicy } from "./SpeckitConfig.ts"
import * as TokenUsage from "./TokenUsage.ts"

/**
 * How a stage ran.
 *
 * @since 0.1.0
 */
export interface StageRun {
  /** One outcome per agent of the policy, in the policy's agent order (stopped agents included). */
  readonly outcomes: ReadonlyArray<AgentOutcome>
  /** Agents interrupted because the stage was already decided, in the policy's agent order. */
  readonly stopped: ReadonlyArray<AgentId>
}

/**
 * Options of {@link runStage}.
 *
 * @since 0.1.0
 */
export interface Options<E, R> {
  /**
   * Whether the outcomes so far fix the stage's outcome (e.g. core's `Consensus.settled`). When it
   * holds and `policy.earlyDecision` is on, the agents still running are interrupted.
   */
  readonly settled?: ((outcomes: ReadonlyArray<AgentOutcome>) => boolean) | undefined
  /**
   * `settled`, incrementally (used instead of it when given): makes the check of one run of the
   * stage, which is given each outcome as it arrives and tells whether the outcomes so far settle the
   * stage (e.g. core's `Consensus.settling`). `settled` is given every outcome so far after each one.
   *
   * @since 0.4.0
   */
  readonly settling?: (() => (outcome: AgentOutcome) => boolean) | undefined
  /**
   * The outcome of an agent stopped by an early decision, after `elapsedMs` (default: a `Failed`
   * outcome with kind `Interrupted`, no usage, no cost). Use it to record what the agent had cost.
   */
  readonly stoppedOutcome?: ((agent: AgentId, elapsedMs: number) => Effect.Effect<AgentOutcome, E, R>) | undefined
  /**
   * Stop cooperatively instead of interrupting: once the stage is settled, the `stop` effect each
   * call got completes, and every call is awaited; a call is expected to return promptly with an
   * outcome saying it was stopped ({@link isStopped}). Durable runs need this: a journaled step must
   * end with a result, not be interrupted, so that a replay sees the same outcomes.
   *
   * @since 0.2.0
   */
  readonly cooperative?: boolean | undefined
}

/**
 * The default outcome of an agent stopped by an early decision.
 *
 * @example
 * ```ts
 * import { AgentId, StageRunner } from "@speckit/core"
 *
 * const outcome = StageRunner.interrupted(AgentId.make("gamma"), "sim-large", 120)
 * outcome.kind // "Interrupted"
 * ```
 *
 * @since 0.1.0
 */
export const interrupted = (agent: AgentId, model: string, elapsedMs: number): Failed => ({
  _tag: "Failed",
  agent,
  model,
  kind: "Interrupted",
  detail: "stopped early: the stage was already decided",
  attempts: 1,
  history: [],
  usage: TokenUsage.empty,
  costUsd: 0,
  durationMs: elapsedMs
})

/**
 * Whether an outcome is that of an agent stopped by an early decision.
 *
 * @example
 * ```ts
 * import { AgentId, StageRunner } from "@speckit/core"
 *
 * StageRunner.isStopped(StageRunner.interrupted(AgentId.make("alpha"), "m", 10)) // true
 * ```
 *
 * @since 0.2.0
 */
export const isStopped = (outcome: AgentOutcome): boolean => outcome._tag === "Failed" && outcome.kind === "Interrupted"

/**
 * How a stage tells its agents' calls that it is settled (an early decision): `await` completes then,
 * and `subscribe` runs a callback then (at once if it already is) and returns what cancels it. A call
 * that waits for its answer or the stop, whichever is first, waits with `subscribe`: no fiber, and
 * nothing to interrupt, per call. {@link noStop} is the stop of a stage that stops no call.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StageRunner } from "@speckit/core"
 *
 * declare const stop: StageRunner.Stop
 * const cancel = stop.subscribe(() => console.log("settled"))
 * const waited = stop.await
 * ```
 *
 * @since 0.4.0
 */
export interface Stop {
  readonly await: Effect.Effect<void>
  readonly subscribe: (callback: () => void) => () => void
}

/**
 * The stop of a stage that stops no call (no early decision): it never comes.
 *
 * @example
 * ```ts
 * import { StageRunner } from "@speckit/core"
 *
 * const cancel = StageRunner.noStop.subscribe(() => {}) // never called
 * ```
 *
 * @since 0.4.0
 */
export const noStop: Stop = { await: Effect.never, subscribe: () => () => {} }

/** A stop and what gives it (once; later calls do nothing). */
const makeStop = (): { readonly stop: Stop; readonly give: () => void } => {
  let given = false
  const callbacks = new Set<() => void>()
  const subscribe = (callback: () => void) => {
    if (given) {
      callback()
      return () => {}
    }
    callbacks.add(callback)
    return () => {
      callbacks.delete(callback)
    }
  }
  const give = () => {
    if (given) return
    given = true
    for (const callback of callbacks) callback()
    callbacks.clear()
  }
  const wait = Effect.callback<void>((resume) => {
    const cancel = subscribe(() => resume(Effect.void))
    return Effect.sync(cancel)
  })
  return { stop: { await: wait, subscribe }, give }
}

/**
 * Calls every agent of the stage's policy concurrently. With `policy.earlyDecision` and a `settled`
 * predicate, as soon as the outcomes so far settle the stage the agents still running are
 * interrupted (interruption reaches their subprocesses, and is awaited) and reported as stopped.
 * A failure of a call (not an agent failure: those are outcomes) interrupts the others and fails.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StageRunner, SpeckitConfig } from "@speckit/core"
 *
 * declare const call: (agent: import("@speckit/core").AgentId.AgentId) => Effect.Effect<import("@speckit/core").AgentOutcome.AgentOutcome>
 * const policy = SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "validate")
 * const ran = StageRunner.runStage(policy, call, { settled: (outcomes) => outcomes.length >= 2 })
 * ```
 *
 * @since 0.1.0
 */
export const runStage = <E, R, E2 = never, R2 = never>(
  policy: StagePolicy,
  call: (agent: AgentId, stop: Stop) => Effect.Effect<AgentOutcome, E, R>,
  options: Options<E2, R2> = {}
): Effect.Effect<StageRun, E | E2, R | R2> =>
  Effect.gen(function* () {
    // The check of this run, given each outcome as it arrives (`undefined`: no early decision).
    const settles = policy.earlyDecision ? settlingOf(options) : undefined
    if (settles === undefined) {
      const outcomes = yield* Effect.forEach(policy.agents, (agent) => call(agent, noStop), {
        concurrency: "unbounded"
      })
      return { outcomes, stopped: [] }
    }
    if (options.cooperative === true) {
      const { stop, give } = makeStop()
      const outcomes = yield* Effect.forEach(
        policy.agents,
        (agent) =>
          Effect.tap(call(agent, stop), (outcome) =>
            Effect.sync(() => {
              if (settles(outcome)) give()
            })
          ),
        { concurrency: "unbounded" }
      )
      return { outcomes, stopped: outcomes.filter(isStopped).map((outcome) => outcome.agent) }
    }
    const started = yield* Clock.currentTimeMillis
    const done = new Map<AgentId, AgentOutcome>()
    // Completed by the first of: the outcomes settle the stage, or every call has ended (or one failed).
    const decided = yield* Deferred.make<void, E>()
    const all = Effect.forEach(
      policy.agents,
      (agent) =>
        Effect.flatMap(call(agent, noStop), (outcome) =>
          Effect.suspend(() => {
            done.set(agent, outcome)
            return settles(outcome) ? Deferred.succeed(decided, undefined) : Effect.void
          })
        ),
      { concurrency: "unbounded", discard: true }
    )
    const fiber = yield* Effect.forkChild(Effect.flatMap(Effect.exit(all), (exit) => Deferred.done(decided, exit)))
    // Interrupting the calls still running is awaited, so their subprocesses are gone when this returns.
    yield* Deferred.await(decided).pipe(Effect.ensuring(Fiber.interrupt(fiber)))
    const elapsed = (yield* Clock.currentTimeMillis) - started
    const stopped = policy.agents.filter((agent) => !done.has(agent))
    const outcomes = yield* Effect.forEach(policy.agents, (agent) => {
      const outcome = done.get(agent)
      if (outcome !== undefined) return Effect.succeed(outcome)
      return options.stoppedOutcome
        ? options.stoppedOutcome(agent, elapsed)
        : Effect.succeed(interrupted(agent, "unknown", elapsed))
    })
    return { outcomes, stopped }
  })

/** The check of one run of a stage, given each outcome as it arrives (see {@link Options}). */
const settlingOf = <E, R>(options: Options<E, R>): ((outcome: AgentOutcome) => boolean) | undefined => {
  if (options.settling !== undefined) return options.settling()
  const { settled } = options
  if (settled === undefined) return undefined
  const done: Array<AgentOutcome> = []
  return (outcome) => {
    done.push(outcome)
    return settled(done)
  }
}

/**
 * Calls every agent of the stage's policy concurrently and returns their outcomes in the policy's
 * agent order (no early decision).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StageRunner, SpeckitConfig } from "@speckit/core"
 *
 * declare const call: (agent: import("@speckit/core").AgentId.AgentId) => Effect.Effect<import("@speckit/core").AgentOutcome.AgentOutcome>
 * const outcomes = StageRunner.run(SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan"), call)
 * ```
 *
 * @since 0.1.0
 */
export const run = <E, R>(
  policy: StagePolicy,
  call: (agent: AgentId) => Effect.Effect<AgentOutcome, E, R>
): Effect.Effect<ReadonlyArray<AgentOutcome>, E, R> => Effect.forEach(policy.agents, call, { concurrency: "unbounded" })

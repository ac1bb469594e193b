/**
 * One agent's work in a stage, as steps of the run: the call with its retries ({@link AgentCall.call})
 * raced against the stage's stop signal, so that the step always ends with an outcome (a `stopped` one
 * once the stage is settled by the others' answers) and a replay sees exactly what happened. A retry
 * wait of {@link durableWaitMs} or more that the call hands over is waited out in a journaled step of
 * its own, and the call goes on in a next step. The outcome is submitted to the run's decision loop.
 *
 * @since 0.3.0
 */
import { Clock, Context, Effect, Fiber, Option, Schema } from "effect"
import type * as Agent from "./Agent.ts"
import * as AgentCall from "./AgentCall.ts"
import type { AgentId } from "./AgentId.ts"
import { AgentOutcome, type Failed } from "./AgentOutcome.ts"
import { AgentRegistry, type UnknownAgent } from "./AgentRegistry.ts"
import { BudgetExceeded } from "./Budget.ts"
import { type PipelineEvent, PipelineEvents } from "./PipelineEvent.ts"
import type * as ModelLimits from "./ModelLimits.ts"
import type { RunContext } from "./RunContext.ts"
import type { RunStoreError } from "./RunStore.ts"
import * as SessionMetrics from "./SessionMetrics.ts"
import type { Stage } from "./Stage.ts"
import * as StageRunner from "./StageRunner.ts"
import * as TokenUsage from "./TokenUsage.ts"

/**
 * Retry waits at least this long are waited out, in a durable run, in a journaled step of their own
 * rather than inside the agent's call: a restart then waits only what is left.
 *
 * @since 0.2.0
 */
export const durableWaitMs = 5_000

/**
 * How long an agent stopped by an early decision is given to finish an answer that is arriving (a
 * CLI that has printed its answer and is exiting, a response being read) before it is interrupted:
 * the provider has billed that answer, so it is recorded and counted (not in the consensus).
 *
 * @since 0.3.0
 */
export const stopGraceMs = 250

/**
 * Where an agent's step runs: its stage, the previous stage's artifact, the stage's stop signal and the
 * generation of the call (a call made again after a budget raise is another step).
 *
 * @since 0.3.0
 */
export interface StepInput {
  readonly stage: Stage
  readonly agent: AgentId
  readonly previous: string
  /** Comes once the stage is settled: the agent is then stopped. */
  readonly stop: StageRunner.Stop
  readonly generation: number
  /**
   * How each part of the call runs (default: the call as is). A stage that makes real changes opens a
   * worktree around the call, gives the call its directory and prompt, and collects the candidate.
   *
   * @since 0.3.0
   */
  readonly work?: Work | undefined
}

/**
 * A part of an agent's call, given what the stage adds to the call's context (its directory, how it
 * is asked), as run by {@link StepInput.work}.
 *
 * @since 0.3.0
 */
export type Part = (
  extras: Pick<AgentCall.CallContext, "workdir" | "ask">
) => Effect.Effect<AgentOutcome, RunStoreError | BudgetExceeded, AgentCall.Services>

/**
 * Runs one part of an agent's call, with whatever the stage puts around it.
 *
 * @since 0.3.0
 */
export type Work = (
  agent: Agent.Agent,
  part: Part
) => Effect.Effect<AgentOutcome, RunStoreError | BudgetExceeded, AgentCall.Services>

/**
 * The services an agent's step uses.
 *
 * @since 0.3.0
 */
export type Services = AgentRegistry | AgentCall.Services | SessionMetrics.SessionMetrics

/**
 * Records a replayed step's outcome in the metrics again (the process that ran it is gone).
 *
 * @example
 * ```ts
 * import { AgentStep } from "@speckit/core"
 *
 * declare const outcome: import("@speckit/core").AgentOutcome.AgentOutcome
 * const program = AgentStep.rerecord("plan", outcome)
 * ```
 *
 * @since 0.3.0
 */
export const rerecord = (stage: Stage, outcome: AgentOutcome) =>
  SessionMetrics.SessionMetrics.use((metrics) =>
    Effect.asVoid(
      metrics.record({
        stage,
        agent: outcome.agent,
        attempt: outcome.attempts,
        model: outcome.model,
        usage: outcome.usage,
        reportedCostUsd: outcome.costUsd,
        ok: outcome._tag === "Succeeded",
        interrupted: StageRunner.isStopped(outcome)
      })
    )
  )

/**
 * The outcome of an agent stopped by an early decision, with what its call spent: the attempts it
 * recorded (an answer that arrived is recorded, marked as after the decision, and not counted in the
 * consensus), and the input of an attempt in flight, billed by the provider although unanswered,
 * recorded now as an estimate from its counted prompt.
 */
const stoppedOutcome = (stage: Stage, agent: Agent.Agent, elapsedMs: number, spent: AgentCall.Progress | undefined) =>
  SessionMetrics.SessionMetrics.use((metrics) =>
    Effect.gen(function* () {
      const outcome = StageRunner.interrupted(agent.id, agent.model, elapsedMs)
      const inFlight = TokenUsage.make({ input: spent?.inFlightTokens ?? 0 })
      // An answer that arrived was recorded by the call itself; otherwise the stopped attempt is.
      const answered = spent !== undefined && spent.inFlightTokens === undefined && spent.attempts > 0
      const estimate = answered
        ? { costUsd: 0 }
        : yield* metrics.record({
            stage,
            agent: agent.id,
            attempt: (spent?.attempts ?? 0) + 1,
            model: spent?.model ?? agent.model,
            usage: inFlight,
            ok: false,
            interrupted: true,
            ...(spent?.inFlightTokens === undefined ? {} : { estimated: true })
          })
      return {
        ...outcome,
        model: spent?.model ?? agent.model,
        attempts: Math.max(1, (spent?.attempts ?? 0) + (spent?.inFlightTokens === undefined ? 0 : 1)),
        usage: TokenUsage.add(spent?.usage ?? TokenUsage.empty, inFlight),
        costUsd: (spent?.costUsd ?? 0) + estimate.costUsd,
        ...(spent?.inFlightTokens === undefined ? {} : { estimatedCostUsd: estimate.costUsd }),
        ...(answered ? { detail: `${outcome.detail}; its answer arrived after the decision and is not counted` } : {})
      }
    })
  ).pipe(Effect.orDie)

const noLimits: ModelLimits.Limits = {}

/** An agent's configured context window and output reserve (only the keys it sets). */
const limitsOf = (run: RunContext, agent: AgentId): ModelLimits.Limits => {
  const own = run.config.agents?.[agent]
  if (own?.contextWindow === undefined && own?.maxOutputTokens === undefined) return noLimits
  return {
    ...(own?.contextWindow === undefined ? {} : { contextWindow: own.contextWindow }),
    ...(own?.maxOutputTokens === undefined ? {} : { maxOutputTokens: own.maxOutputTokens })
  }
}

/**
 * Runs a call until the stage is settled (`stop`); then, after a moment to finish an answer that is
 * arriving ({@link stopGraceMs}), interrupts it in the background (ending a process tree can take its
 * kill grace, and the stage is decided) and returns `stopped`: what the call spent, as it reported it.
 * Interrupting this effect (a cancelled run) interrupts the call and waits for it. A stage without an
 * early decision stops no call (`stop` is `StageRunner.noStop`): the call then runs as it is, in the
 * caller's fiber, without a fiber of its own.
 */
const untilSettled = <E, R, R2>(
  call: Effect.Effect<AgentOutcome, E, R>,
  stop: StageRunner.Stop,
  stopped: Effect.Effect<AgentOutcome, never, R2>
): Effect.Effect<AgentOutcome, E, R | R2> =>
  stop === StageRunner.noStop
    ? call
    : Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.forkDetach(restore(call)), (calling) =>
          restore(settle(calling, stop, stopped)).pipe(Effect.onInterrupt(() => Fiber.interrupt(calling)))
        )
      )

/** Waits for a call until the stage is settled, then gives it its grace and stops it (see `untilSettled`). */
const settle = Effect.fnUntraced(function* <E, R2>(
  calling: Fiber.Fiber<AgentOutcome, E>,
  stop: StageRunner.Stop,
  stopped: Effect.Effect<AgentOutcome, never, R2>
) {
  const finished = yield* answerOrStop(calling, stop)
  if (Option.isSome(finished)) return finished.value
  yield* Effect.raceFirst(Effect.asVoid(Fiber.await(calling)), Effect.sleep(stopGraceMs))
  yield* Effect.forkDetach(Fiber.interrupt(calling))
  return yield* stopped
})

/**
 * The call's outcome (its failure, as joining it), or none if the stage is settled first. Both are
 * watched with callbacks, not raced in fibers: most calls end before any stop, and a race would fork
 * two fibers and interrupt one for each of them.
 */
const answerOrStop = <E>(calling: Fiber.Fiber<AgentOutcome, E>, stop: StageRunner.Stop) =>
  Effect.callback<Option.Option<AgentOutcome>, E>((resume) => {
    let done = false
    let unobserve = () => {}
    let unsubscribe = () => {}
    /** Ends the wait (the first of the two, or an interruption): neither callback is wanted any more. */
    const end = () => {
      done = true
      unobserve()
      unsubscribe()
    }
    // Either callback can run at once, inside its registration (a call already ended, a stop already
    // given): it then ends the wait itself, and what its registration returns has nothing to undo.
    unobserve = calling.addObserver((exit) => {
      if (done) return
      end()
      resume(Effect.asSome(exit))
    })
    if (!done) {
      unsubscribe = stop.subscribe(() => {
        if (done) return
        end()
        resume(Effect.succeedNone)
      })
    }
    return Effect.sync(end)
  })

/**
 * Runs an agent's call in a stage as steps of the run and submits its outcome (see the module). The
 * call's events also move the run's phase (`TransientRecovery` while it waits to retry).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentId, AgentStep, StageRunner } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * const program = AgentStep.call(run, {
 *   stage: "plan",
 *   agent: AgentId.make("alpha"),
 *   previous: "",
 *   stop: StageRunner.noStop,
 *   generation: 1
 * })
 * ```
 *
 * @since 0.3.0
 */
export const call: (
  run: RunContext,
  input: StepInput
) => Effect.Effect<AgentOutcome, RunStoreError | BudgetExceeded | UnknownAgent, Services> = Effect.fnUntraced(
  function* (run: RunContext, input: StepInput) {
    const { stage, previous, stop, generation } = input
    const services = yield* Effect.context<AgentRegistry>()
    const agent = yield* Context.get(services, AgentRegistry).get(input.agent)
    const outer = Context.get(services, PipelineEvents)
    const started = Context.get(services, Clock.Clock).currentTimeMillisUnsafe()
    // What the call spent so far, as it reports it: a stopped call is charged for it.
    let spent: AgentCall.Progress | undefined
    const onProgress = (progress: AgentCall.Progress) => {
      spent = progress
    }
    const stopNow = Effect.flatMap(Clock.currentTimeMillis, (now) => stoppedOutcome(stage, agent, now - started, spent))
    const recovering = {
      emit: (event: PipelineEvent) => Effect.andThen(outer.emit(event), run.phase.track(stage, event))
    }
    const name = `agent/${stage}/${agent.id}${generation > 1 ? `#${generation}` : ""}`
    // A durable run waits out long retry waits in steps of their own.
    const handOverWaitsFromMs = run.durable ? durableWaitMs : undefined
    const limits = limitsOf(run, agent.id)
    const callPart =
      (resume: Failed | undefined): Part =>
      (extras) =>
        untilSettled(
          AgentCall.call(
            agent,
            // A literal, not a spread: every call's context has one shape (see `Providers`).
            { runId: run.runId, stage, spec: run.spec, previous, limits, workdir: extras.workdir, ask: extras.ask },
            { handOverWaitsFromMs, resume, onProgress, events: recovering }
          ),
          stop,
          stopNow
        )
    const part = (index: number, resume: Failed | undefined) =>
      run.step({
        name: index === 0 ? name : `${name}@${index}`,
        success: AgentOutcome,
        error: BudgetExceeded,
        execute: input.work ? input.work(agent, callPart(resume)) : callPart(resume)({})
      })
    let done = yield* part(0, undefined)
    const replayed = done.replayed
    // Each part's outcome carries the whole call so far: the metrics get the replayed prefix once.
    let unrecorded = done.replayed ? done.value : undefined
    for (let index = 1; done.value._tag === "Failed" && done.value.handOver !== undefined; index++) {
      const waiting = done.value
      const waited = yield* waitHandedOver(run, input, waiting, index, recovering)
      if (waited.value === "stopped") {
        const stoppedNow = yield* stopNow
        const soFar = { usage: waiting.usage, costUsd: waiting.costUsd, attempts: waiting.attempts }
        done = { value: { ...stoppedNow, ...soFar }, replayed: waited.replayed }
        break
      }
      done = yield* part(index, waiting)
      if (done.replayed) unrecorded = done.value
      else if (unrecorded !== undefined) {
        yield* rerecord(stage, unrecorded)
        unrecorded = undefined
      }
    }
    if (unrecorded !== undefined) yield* rerecord(stage, unrecorded)
    const outcome = done.value
    yield* run.decisions.submit(
      // The shape of a verdict's key (`Sequencer.verdictKey`): the decision loop reads both alike.
      { runId: run.runId, branch: undefined, stage, agent: agent.id, attempt: outcome.attempts },
      { _tag: "Answer", outcome },
      replayed
    )
    // A stopped agent's end is reported with the stage's `AgentsStopped`.
    if (!StageRunner.isStopped(outcome)) yield* run.emit({ _tag: "AgentFinished", stage, outcome })
    return outcome
  }
)

/**
 * A wait the call handed over: journaled with its end time (in the outcome), so that after a restart
 * the run waits only what is left and never calls the agent early; an early decision still stops it.
 */
const waitHandedOver = (
  run: RunContext,
  input: StepInput,
  waiting: Failed,
  index: number,
  recovering: { readonly emit: (event: PipelineEvent) => Effect.Effect<void> }
) =>
  Effect.gen(function* () {
    const { stage, agent, stop, generation } = input
    const resumeAt = waiting.handOver?.resumeAt ?? 0
    yield* recovering.emit({
      _tag: "AgentRetrying",
      stage,
      agent,
      attempt: waiting.attempts + 1,
      kind: waiting.kind,
      detail: waiting.detail,
      resumeAt
    })
    if (!run.replaying()) yield* SessionMetrics.count({ kind: "retry", stage, agent })
    return yield* run.step({
      name: `wait/${stage}/${agent}${generation > 1 ? `#${generation}` : ""}@${index}`,
      success: Schema.Literals(["elapsed", "stopped"]),
      execute: Effect.raceFirst(
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.as(Effect.sleep(Math.max(0, resumeAt - now)), "elapsed" as const)
        ),
        Effect.as(stop.await, "stopped" as const)
      )
    })
  })

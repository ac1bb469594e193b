/**
 * The pipeline runner: drives a spec through every stage via the ports (agents, faults, sequencer,
 * consensus, metrics, store), and records what happened.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Effect, Result, Schema } from "effect"
import type * as Agent from "./Agent.ts"
import * as AgentCall from "./AgentCall.ts"
import { AgentError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import { AgentOutcome, type Failed } from "./AgentOutcome.ts"
import { AgentRegistry, type UnknownAgent } from "./AgentRegistry.ts"
import { Budget, BudgetExceeded } from "./Budget.ts"
import { type Aggregation, Consensus, type StageConsensus } from "./Consensus.ts"
import * as Execution from "./Execution.ts"
import { FaultInjector } from "./FaultInjector.ts"
import type { GitState } from "./Git.ts"
import * as Phase from "./Phase.ts"
import { type PipelineEvent, PipelineEvents } from "./PipelineEvent.ts"
import * as Prompt from "./Prompt.ts"
import * as Resilience from "./Resilience.ts"
import * as RunId from "./RunId.ts"
import { type RunRecord, RunStore, RunStoreError } from "./RunStore.ts"
import type { AgentSummary, Pause, RunStatus, RunSummary, StageSummary } from "./RunSummary.ts"
import * as Sequencer from "./Sequencer.ts"
import * as SessionMetrics from "./SessionMetrics.ts"
import type { Spec } from "./Spec.ts"
import * as SpeckitConfig from "./SpeckitConfig.ts"
import * as Stage from "./Stage.ts"
import * as StageResult from "./StageResult.ts"
import * as StageRunner from "./StageRunner.ts"

/**
 * What a run needs.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  readonly spec: Spec
  readonly config: SpeckitConfig.SpeckitConfig
  /** Defaults to a fresh id. */
  readonly runId?: RunId.RunId | undefined
  /** The workspace's git branch and commit, recorded with the run (see `Git.state`). */
  readonly git?: GitState | undefined
  /**
   * Called with the run's summary when a durable run pauses (for a review or a budget raise), just
   * before it waits: the caller learns why the run stopped even though the run does not end.
   *
   * @since 0.2.0
   */
  readonly onPause?: ((summary: RunSummary) => Effect.Effect<void>) | undefined
}

/**
 * The services a run uses.
 *
 * @since 0.1.0
 */
export type Services =
  | AgentRegistry
  | FaultInjector
  | Sequencer.Sequencer
  | Consensus
  | SessionMetrics.SessionMetrics
  | RunStore

const stageTitle = (stage: Stage.Stage) => stage.charAt(0).toUpperCase() + stage.slice(1)

/**
 * Renders a stage's consensus as the Markdown artifact `specs/<SPEC-ID>/<stage>.md`. The text depends
 * only on the spec and the consensus, so a replayed stage rewrites the same bytes.
 *
 * @example
 * ```ts
 * import { Pipeline } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * declare const consensus: import("@speckit/core").Consensus.StageConsensus
 * const markdown = Pipeline.renderStage(spec, consensus)
 * ```
 *
 * @since 0.1.0
 */
export const renderStage = (spec: Spec, consensus: StageConsensus): string => {
  const lines = [
    `# ${stageTitle(consensus.stage)}: ${spec.title}`,
    "",
    `> Consensus of ${consensus.succeeded.length} agent(s) (${consensus.succeeded.join(", ") || "none"}), status **${consensus.status}**${consensus.verdict ? `, verdict **${consensus.verdict}**` : ""}.`,
    ""
  ]
  if (consensus.result) lines.push(StageResult.toMarkdown(consensus.result), "")
  const notes: Array<string> = []
  if (consensus.agreements.length > 0) notes.push(`- Agreements: ${consensus.agreements.join("; ")}`)
  if (consensus.conflicts.length > 0) notes.push(`- Conflicts: ${consensus.conflicts.join("; ")}`)
  if (consensus.dissent.length > 0) notes.push(`- Dissent: ${consensus.dissent.join(", ")}`)
  if (consensus.failed.length > 0) notes.push(`- Failed agents: ${consensus.failed.join(", ")}`)
  if (consensus.aggregator) notes.push(`- Synthesized by: ${consensus.aggregator}`)
  if (consensus.reason) notes.push(`- Note: ${consensus.reason}`)
  if (notes.length > 0) lines.push("## Consensus", "", ...notes, "")
  return lines.join("\n")
}

const isoOf = (millis: number) => new Date(millis).toISOString()

/**
 * Retry waits at least this long are waited out, in a durable run, in a journaled step of their own
 * rather than inside the agent's call: a restart then waits only what is left.
 *
 * @since 0.2.0
 */
export const durableWaitMs = 5_000

/**
 * Checks that every agent a configuration assigns to a stage exists, before anything runs.
 *
 * @since 0.1.0
 */
export const checkAgents = (config: SpeckitConfig.SpeckitConfig): Effect.Effect<void, UnknownAgent, AgentRegistry> =>
  Effect.gen(function* () {
    const registry = yield* AgentRegistry
    for (const stage of Stage.all) {
      for (const agent of SpeckitConfig.policyFor(config, stage).agents) yield* registry.get(agent)
    }
  })

/**
 * Runs a spec through every stage and returns the run's summary. A stage that fails its quorum or
 * ends in conflict (under `onConflict: "halt"`) stops the run with status `halted`; interrupting the
 * effect records the run as `cancelled` before it ends.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pipeline, SpeckitConfig } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * const program = Pipeline.run({ spec, config: SpeckitConfig.defaultConfig })
 * ```
 *
 * @since 0.1.0
 */
export const run = Effect.fn("Pipeline.run")(function* (
  options: RunOptions
): Effect.fn.Return<RunSummary, RunStoreError | UnknownAgent, Services> {
  const registry = yield* AgentRegistry
  const faults = yield* FaultInjector
  const sequencer = yield* Sequencer.Sequencer
  const consensus = yield* Consensus
  const metrics = yield* SessionMetrics.SessionMetrics
  const store = yield* RunStore
  const events = yield* PipelineEvents
  const { spec, config } = options

  const execution = yield* Execution.Execution
  yield* checkAgents(config)
  const runId = options.runId ?? (yield* RunId.make)
  // A durable run replays its journal on resume: until a step really runs again, everything it
  // does was done before, so its events are shown but not logged a second time.
  let replaying = true
  /** Runs a step through the execution, and notes when the run stops replaying. */
  const step = <A, E, R>(options: Execution.StepOptions<A, E, R>) =>
    Effect.tap(execution.step(options), (done) =>
      Effect.sync(() => {
        if (!done.replayed) replaying = false
      })
    )
  // Every event goes to the display and to the run's event log (`events.jsonl`).
  const appendEvent = store.appendEvent
  const log = (event: PipelineEvent) => (appendEvent && !replaying ? appendEvent(runId, event) : Effect.void)
  const emit = (event: PipelineEvent) => Effect.andThen(events.emit(event), log(event))
  const recordingEvents = { emit }
  const record0 = { runId, specId: spec.id, specDirectory: spec.directory, git: options.git, config }
  const started = yield* step({
    name: "start",
    success: Schema.Struct({ startedAt: Schema.Number }),
    error: RunStoreError,
    execute: Effect.gen(function* () {
      const startedAt = yield* Clock.currentTimeMillis
      yield* store.begin({ ...record0, startedAt: isoOf(startedAt) })
      return { startedAt }
    })
  })
  const startedAt = started.value.startedAt
  const record: RunRecord = { ...record0, startedAt: isoOf(startedAt) }
  const state = {
    phase: Phase.idle,
    stages: [] as Array<StageSummary>,
    decisions: 0,
    status: "failed" as RunStatus,
    hint: undefined as string | undefined,
    pause: undefined as Pause | undefined
  }
  const move = (to: Phase.Phase) =>
    Effect.suspend(() => {
      const moved = Phase.transition(state.phase, to)
      if (Result.isFailure(moved)) return Effect.die(moved.failure)
      state.phase = moved.success
      return emit({ _tag: "PhaseChanged", phase: moved.success })
    })

  const summarize = Effect.gen(function* () {
    const finishedAt = yield* Clock.currentTimeMillis
    const snapshot = yield* metrics.snapshot
    const summary: RunSummary = {
      runId,
      specId: spec.id,
      status: state.status,
      phase: Phase.label(state.phase),
      startedAt: record.startedAt,
      finishedAt: isoOf(finishedAt),
      durationMs: finishedAt - startedAt,
      stages: state.stages,
      usage: snapshot.usage,
      costUsd: snapshot.costUsd,
      unpriced: snapshot.unpriced,
      byAgent: snapshot.byAgent,
      byStage: snapshot.byStage,
      decisions: state.decisions,
      runDir: store.runDir(runId),
      hint: state.hint,
      pause: state.pause
    }
    return summary
  })

  // The consumer of the run's decisions: takes decision N, processes it (an answer joins its stage's
  // outcomes, a verdict becomes the stage's consensus), acknowledges it; N+1 comes after. Submitters
  // wait until their decision is processed, so a stage decides on exactly the accepted answers.
  const processed = new Map<Stage.Stage, Map<AgentId, AgentOutcome>>()
  const verdicts = new Map<Stage.Stage, StageConsensus>()
  const waiting = new Map<number, Deferred.Deferred<void>>()
  let processedThrough = 0
  const process = (decision: Sequencer.Decision) =>
    Effect.suspend(() => {
      const { key, payload } = decision
      if (payload._tag === "Verdict") {
        verdicts.set(key.stage, payload.consensus)
        return emit({
          _tag: "StageVerdict",
          seq: decision.seq,
          stage: key.stage,
          status: payload.consensus.status,
          verdict: payload.consensus.verdict,
          reason: payload.consensus.reason
        })
      }
      const outcomes = processed.get(key.stage) ?? new Map<AgentId, AgentOutcome>()
      processed.set(key.stage, outcomes)
      const known = outcomes.get(payload.outcome.agent)
      // One outcome per agent: the latest attempt.
      if (known === undefined || known.attempts <= payload.outcome.attempts)
        outcomes.set(payload.outcome.agent, payload.outcome)
      return Effect.void
    })
  /** Restores what a previous process of this run had processed (acknowledged) before it stopped. */
  const restore = (decisions: ReadonlyArray<Sequencer.Decision>) =>
    Effect.sync(() => {
      for (const decision of decisions) {
        const { key, payload } = decision
        if (payload._tag === "Verdict") verdicts.set(key.stage, payload.consensus)
        else {
          const outcomes = processed.get(key.stage) ?? new Map<AgentId, AgentOutcome>()
          processed.set(key.stage, outcomes)
          outcomes.set(payload.outcome.agent, payload.outcome)
        }
        if (payload._tag === "Answer") state.decisions++
        processedThrough = Math.max(processedThrough, decision.seq)
      }
    })
  /** Decisions the sequencer delivers again after a restart (set when the run begins). */
  let redelivered = 0
  const consume = Effect.gen(function* () {
    while (true) {
      const decision = yield* sequencer.take
      if (redelivered > 0) {
        // Accepted before a restart but not acknowledged: delivered again, counted as a replay.
        redelivered--
        if (decision.key.agent !== Sequencer.verdictAgent) {
          yield* SessionMetrics.count({
            kind: "replay",
            stage: decision.key.stage,
            agent: decision.key.agent as AgentId
          })
        }
      }
      yield* process(decision)
      const acked = yield* sequencer.ack(decision.seq)
      if (acked._tag === "Acknowledged") {
        yield* emit({
          _tag: "DecisionAcknowledged",
          seq: decision.seq,
          stage: decision.key.stage,
          agent: decision.key.agent
        })
      }
      processedThrough = decision.seq
      const waiter = waiting.get(decision.seq)
      waiting.delete(decision.seq)
      if (waiter) yield* Deferred.succeed(waiter, undefined)
    }
  }).pipe(Effect.catchTag("SequencerStopped", () => Effect.void))
  const awaitProcessed = (seq: number) =>
    Effect.suspend(() => {
      if (processedThrough >= seq) return Effect.void
      return Effect.flatMap(Deferred.make<void>(), (deferred) => {
        waiting.set(seq, deferred)
        return Deferred.await(deferred)
      })
    })
  /**
   * Submits an answer or verdict; returns once it is processed (or at once when it is rejected). A
   * replayed step's answer was accepted before the restart: it is a duplicate, processed already
   * (or redelivered), and not counted again.
   */
  const submit = (key: Sequencer.AnswerKey, payload: Sequencer.Payload, replayed = false) =>
    Effect.gen(function* () {
      const submitted = yield* sequencer.submit(key, payload)
      if (submitted._tag === "Accepted") {
        if (payload._tag === "Answer") state.decisions++
        yield* emit({ _tag: "DecisionAccepted", seq: submitted.decision.seq, stage: key.stage, agent: key.agent })
        yield* awaitProcessed(submitted.decision.seq)
      } else if (submitted._tag === "Duplicate" && (replayed || key.agent === Sequencer.verdictAgent)) {
        yield* awaitProcessed(submitted.seq)
      } else {
        yield* emit({ _tag: "DecisionRejected", reason: submitted._tag, stage: key.stage, agent: key.agent })
        if (submitted._tag !== "Stopped" && key.agent !== Sequencer.verdictAgent) {
          yield* SessionMetrics.count({
            kind: submitted._tag === "Duplicate" ? "duplicate" : "stale",
            stage: key.stage,
            agent: key.agent as AgentId
          })
        }
      }
      return submitted
    })

  // Agents of the running stage that wait before a retry: while any waits, the phase is
  // TransientRecovery (for the first of them), and Running again once none does.
  const recovering = new Map<AgentId, { readonly attempt: number; readonly resumeAt: number }>()
  const recoveryPhase = (stage: Stage.Stage): Phase.Phase => {
    const [first] = recovering
    return first ? { _tag: "TransientRecovery", stage, agent: first[0], ...first[1] } : { _tag: "Running", stage }
  }
  const trackRecovery = (stage: Stage.Stage, event: PipelineEvent) =>
    Effect.suspend(() => {
      if (event._tag === "AgentRetrying") {
        recovering.set(event.agent, { attempt: event.attempt, resumeAt: event.resumeAt })
      } else if (event._tag !== "AgentStarted" || !recovering.delete(event.agent)) {
        return Effect.void
      }
      const next = recoveryPhase(stage)
      return Phase.label(next) === Phase.label(state.phase) && next._tag === "Running" ? Effect.void : move(next)
    })
  const endRecovery = (stage: Stage.Stage) =>
    Effect.suspend(() => {
      recovering.clear()
      return state.phase._tag === "TransientRecovery" ? move({ _tag: "Running", stage }) : Effect.void
    })

  /** Records a replayed step's outcome in the metrics again (the process that ran it is gone). */
  const rerecord = (stage: Stage.Stage, outcome: AgentOutcome) =>
    Effect.gen(function* () {
      yield* metrics.record({
        stage,
        agent: outcome.agent,
        attempt: outcome.attempts,
        model: outcome.model,
        usage: outcome.usage,
        reportedCostUsd: outcome.costUsd,
        ok: outcome._tag === "Succeeded",
        interrupted: StageRunner.isStopped(outcome)
      })
    })

  /**
   * An agent's call in a stage, as one step: the call with its retries, or (once the stage is
   * settled by the others' answers) a stop that ends it with a `stopped` outcome. Either way the step
   * ends with an outcome, so a replay sees exactly what happened.
   */
  const callAgent = (
    stage: Stage.Stage,
    agentId: AgentId,
    previous: string,
    stop: Effect.Effect<void>,
    generation = 1
  ) =>
    Effect.gen(function* () {
      const agent = yield* registry.get(agentId)
      const outer = yield* PipelineEvents
      const started = yield* Clock.currentTimeMillis
      const stopNow = Effect.flatMap(Clock.currentTimeMillis, (now) => stoppedOutcome(stage, agent, now - started))
      const stopped = Effect.andThen(stop, stopNow)
      const recovering = {
        emit: (event: PipelineEvent) => Effect.andThen(outer.emit(event), trackRecovery(stage, event))
      }
      // A call made again after a budget raise is another step.
      const name = `agent/${stage}/${agentId}${generation > 1 ? `#${generation}` : ""}`
      // A durable run waits out long retry waits in steps of their own (see below).
      const handOverWaitsFromMs = execution.durable ? durableWaitMs : undefined
      const part = (index: number, resume: Failed | undefined) =>
        step({
          name: index === 0 ? name : `${name}@${index}`,
          success: AgentOutcome,
          error: BudgetExceeded,
          execute: Effect.raceFirst(
            AgentCall.call(agent, { runId, stage, spec, previous }, { handOverWaitsFromMs, resume }).pipe(
              Effect.provideService(PipelineEvents, recovering)
            ),
            stopped
          )
        })
      let done = yield* part(0, undefined)
      const replayed = done.replayed
      // Each part's outcome carries the whole call so far: the metrics get the replayed prefix once.
      let unrecorded = done.replayed ? done.value : undefined
      // A wait the call handed over: journaled with its end time (in the outcome), so that after a
      // restart the run waits only what is left and never calls the agent early; an early decision
      // still stops it. Then the call goes on where it stood.
      for (let index = 1; done.value._tag === "Failed" && done.value.handOver !== undefined; index++) {
        const waiting = done.value
        const { resumeAt } = done.value.handOver
        yield* recovering.emit({
          _tag: "AgentRetrying",
          stage,
          agent: agentId,
          attempt: waiting.attempts + 1,
          kind: waiting.kind,
          detail: waiting.detail,
          resumeAt
        })
        if (!replaying) yield* SessionMetrics.count({ kind: "retry", stage, agent: agentId })
        const waited = yield* step({
          name: `wait/${stage}/${agentId}${generation > 1 ? `#${generation}` : ""}@${index}`,
          success: Schema.Literals(["elapsed", "stopped"]),
          execute: Effect.raceFirst(
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.as(Effect.sleep(Math.max(0, resumeAt - now)), "elapsed" as const)
            ),
            Effect.as(stop, "stopped" as const)
          )
        })
        if (waited.value === "stopped") {
          const stoppedNow = yield* stopNow
          const spent = { usage: waiting.usage, costUsd: waiting.costUsd, attempts: waiting.attempts }
          done = { value: { ...stoppedNow, ...spent }, replayed: waited.replayed }
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
      yield* submit({ runId, stage, agent: agentId, attempt: outcome.attempts }, { _tag: "Answer", outcome }, replayed)
      // A stopped agent's end is reported with the stage's `AgentsStopped`.
      if (!StageRunner.isStopped(outcome)) yield* emit({ _tag: "AgentFinished", stage, outcome })
      return outcome
    })

  /** The outcome of an agent stopped by an early decision; its (possibly partial) usage is recorded. */
  const stoppedOutcome = (stage: Stage.Stage, agent: Agent.Agent, elapsedMs: number) =>
    Effect.gen(function* () {
      const outcome = StageRunner.interrupted(agent.id, agent.model, elapsedMs)
      const cost = yield* metrics.record({
        stage,
        agent: agent.id,
        attempt: outcome.attempts,
        model: agent.model,
        usage: outcome.usage,
        ok: false,
        interrupted: true
      })
      return { ...outcome, costUsd: cost.costUsd }
    }).pipe(Effect.orDie)

  /**
   * A content stage's aggregator step: the aggregator agent synthesizes the stage's successful
   * answers. It goes through `AgentCall.call` like any answer (budget, faults, timeout, retries,
   * breaker, metrics), as the agent wrapped so that it gets the synthesis prompt and
   * `synthesisOf`, and so that an answer that is no valid `StageResult.Synthesis` is a `Malformed`
   * attempt (retried once with a repair note, whatever the agent's policy). Its answers are saved as
   * `answers/<stage>/aggregate.<agent>.<attempt>.json`, apart from the stage's own answers.
   */
  const aggregate = (
    stage: Stage.Stage,
    aggregator: AgentId,
    outcomes: ReadonlyArray<AgentOutcome>,
    previous: string
  ) =>
    Effect.gen(function* () {
      const inner = yield* registry.get(aggregator)
      const answers = outcomes.flatMap((outcome) => (outcome._tag === "Succeeded" ? [outcome.result] : []))
      const savedAs = `aggregate.${aggregator}`
      let synthesis: StageResult.Synthesis | undefined
      let repairNote: string | undefined
      const wrapped: Agent.Agent = {
        ...inner,
        call: (request) =>
          Effect.gen(function* () {
            synthesis = undefined
            const prompt = Prompt.synthesis({ stage, agent: inner.id, spec, previous, answers, repairNote })
            const response = yield* inner.call({ ...request, prompt, synthesisOf: answers })
            const parsed = yield* Effect.result(StageResult.parseSynthesis(stage, inner.id, response.text))
            if (Result.isSuccess(parsed)) {
              synthesis = parsed.success
              return response
            }
            repairNote = `It was not a valid synthesis for this stage: ${parsed.failure.reason}.`
            // Kept for the record like any answer; the attempt itself fails as Malformed.
            yield* store
              .saveAnswer(runId, stage, savedAs, request.attempt, {
                agent: inner.id,
                attempt: request.attempt,
                model: response.model,
                usage: response.usage,
                reportedCostUsd: response.reportedCostUsd,
                text: response.text,
                rejected: parsed.failure.reason
              })
              .pipe(Effect.ignore)
            return yield* new AgentError({
              agent: inner.id,
              kind: "Malformed",
              detail: parsed.failure.reason,
              usage: response.usage,
              model: response.model,
              ...(response.reportedCostUsd === undefined ? {} : { reportedCostUsd: response.reportedCostUsd })
            })
          })
      }
      const resilience = yield* Resilience.AgentResilience
      const outer = yield* PipelineEvents
      const call = AgentCall.call(wrapped, { runId, stage, spec, previous }).pipe(
        Effect.provideService(PipelineEvents, {
          emit: (event) => Effect.andThen(outer.emit(event), trackRecovery(stage, event))
        }),
        Effect.provideService(Resilience.AgentResilience, {
          ...resilience,
          policyFor: (agent) => ({ ...resilience.policyFor(agent), maxMalformedRetries: 1 })
        }),
        Effect.provideService(RunStore, {
          ...store,
          saveAnswer: (run, at, _agent, attempt, answer) => store.saveAnswer(run, at, savedAs, attempt, answer)
        }),
        Effect.map((outcome) => ({ outcome, synthesis }))
      )
      const done = yield* step({
        name: `aggregate/${stage}`,
        success: Schema.Struct({ outcome: AgentOutcome, synthesis: Schema.optional(StageResult.Synthesis) }),
        error: BudgetExceeded,
        execute: call
      })
      const { outcome } = done.value
      synthesis = done.value.synthesis
      if (done.replayed) yield* rerecord(stage, outcome)
      yield* endRecovery(stage)
      yield* emit({ _tag: "AgentFinished", stage, outcome })
      const aggregation: Aggregation =
        outcome._tag === "Succeeded" && synthesis !== undefined
          ? { agent: aggregator, synthesis }
          : {
              agent: aggregator,
              failure: outcome._tag === "Failed" ? `${outcome.kind}: ${outcome.detail}` : "no valid synthesis"
            }
      return { aggregation, costUsd: outcome.costUsd }
    })

  const runStages = Effect.gen(function* () {
    const resumed = yield* sequencer.begin(runId)
    yield* restore(resumed.acknowledged)
    redelivered = resumed.redelivered
    yield* Effect.forkChild(consume)
    yield* emit({ _tag: "RunStarted", runId, specId: spec.id, title: spec.title, stages: Stage.all })
    let previous = ""
    for (const stage of Stage.all) {
      yield* move({ _tag: "Running", stage })
      const policy = SpeckitConfig.policyFor(config, stage)
      const stageStarted = yield* Clock.currentTimeMillis
      yield* emit({ _tag: "StageStarted", stage, agents: policy.agents })
      // Agents whose call the budget refused, per attempt at the stage; a durable run paused for
      // a budget raise calls them again (other agents' outcomes are kept) once it is raised.
      const kept = new Map<AgentId, AgentOutcome>()
      let generation = 1
      let ran: StageRunner.StageRun
      for (;;) {
        const refused = new Map<AgentId, BudgetExceeded>()
        const call = (agent: AgentId, stop: Effect.Effect<void>) => {
          const known = kept.get(agent)
          if (known !== undefined) return Effect.succeed(known)
          return callAgent(stage, agent, previous, stop, generation).pipe(
            Effect.catchTag("BudgetExceeded", (error) =>
              Effect.sync(() => {
                refused.set(agent, error)
                return StageRunner.interrupted(agent, "unknown", 0)
              })
            )
          )
        }
        ran = yield* StageRunner.runStage(policy, call, {
          settled: (outcomes) => refused.size === 0 && consensus.settled(policy, outcomes),
          cooperative: true
        })
        yield* endRecovery(stage)
        const [first] = refused.values()
        if (first === undefined) break
        const name = `budget/${stage}/${generation}`
        const usd =
          first.action === "pause" && execution.durable
            ? yield* pauseFor(
                stage,
                { kind: "budget", name },
                "budget exceeded: waiting for a raise",
                `${first.message}; raise it with \`speckit budget ${runId} --usd <total>\`, then \`speckit resume ${runId}\``,
                execution.awaitBudget(name)
              )
            : undefined
        if (usd === undefined) {
          state.status = "halted"
          state.hint = `${first.message}; raise budget.usd in speckit.config.json to go on`
          return yield* move({ _tag: "Halted", stage, reason: "budget exceeded" })
        }
        const budget = yield* Budget
        if (budget.raise) yield* budget.raise(usd)
        for (const outcome of ran.outcomes) if (!refused.has(outcome.agent)) kept.set(outcome.agent, outcome)
        generation++
        yield* move({ _tag: "Running", stage })
      }
      const { stopped } = ran
      if (stopped.length > 0) {
        yield* emit({
          _tag: "AgentsStopped",
          stage,
          agents: stopped,
          reason: "early decision: the stage's outcome could no longer change"
        })
        for (const outcome of ran.outcomes) {
          if (stopped.includes(outcome.agent)) yield* emit({ _tag: "AgentFinished", stage, outcome })
        }
      }
      // The stage decides on the processed decisions: each accepted answer once, whatever was resubmitted.
      const accepted = processed.get(stage) ?? new Map<AgentId, AgentOutcome>()
      const outcomes = policy.agents.flatMap((agent) => {
        const outcome = accepted.get(agent)
        return outcome ? [outcome] : []
      })
      let agreed = yield* consensus.decide(policy, outcomes, { stopped })
      // A content stage with an aggregator (and its quorum met): the aggregator's synthesis decides.
      let aggregatorCostUsd = 0
      if (policy.aggregator !== undefined && !Stage.isVerdictStage(stage) && agreed.status !== "failed") {
        const aggregated = yield* aggregate(stage, policy.aggregator, outcomes, previous).pipe(
          Effect.map((done) => ({ _tag: "Aggregated" as const, ...done })),
          Effect.catchTag("BudgetExceeded", (error) => Effect.succeed({ _tag: "OverBudget" as const, error }))
        )
        if (aggregated._tag === "OverBudget") {
          state.status = "halted"
          state.hint = `${aggregated.error.message}; raise budget.usd in speckit.config.json to go on`
          return yield* move({ _tag: "Halted", stage, reason: "budget exceeded" })
        }
        aggregatorCostUsd = aggregated.costUsd
        agreed = yield* consensus.decide(policy, outcomes, { stopped, aggregation: aggregated.aggregation })
      }
      yield* faults.crashPoint("before_consensus")
      const injected: StageConsensus = (yield* faults.consensusFault(stage))
        ? { ...agreed, status: "failed", result: undefined, reason: "injected fault: consensus_fail" }
        : agreed
      yield* submit(Sequencer.verdictKey(runId, stage), { _tag: "Verdict", consensus: injected })
      const decided = verdicts.get(stage) ?? injected
      const markdown = renderStage(spec, decided)
      // Written in the background by a direct run; a durable run journals the step only once the
      // files are on disk, so a replay never skips a lost write.
      const saved = store.saveConsensus(record, decided, markdown)
      const artifact = (yield* step({
        name: `artifact/${stage}`,
        success: Schema.String,
        error: RunStoreError,
        execute: execution.durable && store.flush ? Effect.tap(saved, () => store.flush ?? Effect.void) : saved
      })).value
      yield* faults.crashPoint("after_consensus")
      const costUsd = outcomes.reduce((sum, outcome) => sum + outcome.costUsd, aggregatorCostUsd)
      const agents: Array<AgentSummary> = outcomes.map((outcome) => ({
        agent: outcome.agent,
        model: outcome.model,
        status: outcome._tag === "Succeeded" ? "succeeded" : stopped.includes(outcome.agent) ? "stopped" : "failed",
        attempts: outcome.attempts,
        durationMs: outcome.durationMs,
        usage: outcome.usage,
        costUsd: outcome.costUsd,
        error: outcome._tag === "Failed" ? { kind: outcome.kind, detail: outcome.detail } : undefined,
        retries: outcome.history,
        vote: outcome._tag === "Succeeded" ? StageResult.voteOf(outcome.result) : undefined
      }))
      state.stages.push({
        stage,
        status: decided.status,
        verdict: decided.verdict,
        reason: decided.reason,
        required: decided.required,
        dissent: decided.dissent,
        agents,
        durationMs: (yield* Clock.currentTimeMillis) - stageStarted,
        costUsd,
        artifact
      })
      yield* emit({ _tag: "StageFinished", stage, consensus: decided, costUsd, artifact })
      yield* faults.crashPoint("after_stage")
      if (decided.status === "failed") {
        state.status = "halted"
        state.hint = `stage ${stage} did not reach its quorum (${decided.reason ?? "too few agents answered"}); fix the failing agents and run again`
        return yield* move({ _tag: "Halted", stage, reason: decided.reason ?? "quorum not met" })
      }
      if (decided.status === "conflict" && policy.onConflict !== "proceed") {
        const reason = decided.reason ?? "the agents disagree"
        if (policy.onConflict === "pause") {
          state.status = "awaiting-review"
          state.hint = `stage ${stage} needs a review: ${reason}`
          yield* move({ _tag: "AwaitingReview", stage, reason })
          if (!execution.durable) return
          const name = `review/${stage}`
          const answer = (yield* pauseFor(
            stage,
            { kind: "review", name },
            reason,
            `stage ${stage} needs a review: ${reason}; answer with \`speckit approve ${runId}\` or \`speckit reject ${runId}\`, then \`speckit resume ${runId}\``,
            execution.awaitReview(name)
          )) ?? { approved: false, note: "nobody can answer a review in this execution" }
          if (!answer.approved) {
            const note = answer.note === undefined ? "" : `: ${answer.note}`
            state.status = "halted"
            state.hint = `stage ${stage} was rejected in review${note}; adjust the spec and start a new run`
            return yield* move({ _tag: "Halted", stage, reason: `rejected in review${note}` })
          }
          // Approved: the run goes on with the next stage.
        } else {
          state.status = "halted"
          state.hint = `stage ${stage} ended in conflict: ${reason}; review ${artifact}, adjust the spec and run again`
          return yield* move({ _tag: "Halted", stage, reason })
        }
      }
      previous = markdown
    }
    state.status = "completed"
    yield* move({ _tag: "Completed" })
  })

  /**
   * A durable run's pause (for a review, a budget raise): the run is `awaiting-review` in `stage`;
   * its summary, naming the pause, is recorded (so `speckit status` and `speckit resume` see why the
   * run stopped), then `wait` waits durably for the answer (the process may exit meanwhile: the
   * caller hears of the pause once the wait suspends the run, not when the answer is there).
   */
  const pauseFor = <A>(
    stage: Stage.Stage,
    pause: Pick<Pause, "kind" | "name">,
    reason: string,
    hint: string,
    wait: Effect.Effect<A>
  ) =>
    Effect.gen(function* () {
      state.status = "awaiting-review"
      state.pause = { ...pause, stage }
      state.hint = hint
      if (state.phase._tag !== "AwaitingReview") yield* move({ _tag: "AwaitingReview", stage, reason })
      const summary = yield* summarize
      yield* step({
        name: `pause/${pause.name}`,
        success: Schema.Void,
        error: RunStoreError,
        execute: store.finish(summary)
      })
      const answer = yield* wait.pipe(
        Effect.onInterrupt(() => (execution.suspended() && options.onPause ? options.onPause(summary) : Effect.void))
      )
      state.status = "failed"
      state.pause = undefined
      state.hint = undefined
      return answer
    })

  const stopSequencer = (drain: boolean) =>
    Effect.gen(function* () {
      const stopAck = yield* sequencer.stop({ drain })
      yield* emit({
        _tag: "SequencerStopped",
        accepted: stopAck.stats.accepted,
        duplicates: stopAck.stats.duplicates,
        stale: stopAck.stats.stale,
        acknowledged: stopAck.stats.acknowledged,
        ignoredAcks: stopAck.stats.ignoredAcks,
        handedBack: stopAck.pending.length
      })
    })

  const finish = Effect.gen(function* () {
    const summary = yield* summarize
    const finished: PipelineEvent = { _tag: "RunFinished", summary }
    yield* log(finished)
    yield* store.finish(summary)
    yield* events.emit(finished)
    return summary
  })

  yield* runStages.pipe(
    Effect.andThen(stopSequencer(true)),
    Effect.provideService(PipelineEvents, recordingEvents),
    Effect.onInterrupt(() =>
      Effect.gen(function* () {
        // A durable run suspended to wait (for a review, a budget raise) is not cancelled.
        if (execution.suspended()) return
        state.status = "cancelled"
        state.hint = `the run was interrupted; continue it with \`speckit resume ${runId}\``
        if (!Phase.isTerminal(state.phase)) yield* move({ _tag: "Cancelled" })
        yield* stopSequencer(false).pipe(Effect.ignore)
        yield* finish.pipe(Effect.ignore)
      })
    )
  )
  return yield* finish
})

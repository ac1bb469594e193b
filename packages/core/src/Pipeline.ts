/**
 * The pipeline: runs a spec through its stages in order and reacts to how each ends (goes on, halts,
 * or pauses for a review), then records the run's summary. How a stage runs is its definition's
 * business (see `StageDefinition`; the built-in kind is `AnswerStage`); what the parts of a run share
 * is its `RunContext` (events, steps, phase, decision loop).
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import { AgentRegistry, type UnknownAgent } from "./AgentRegistry.ts"
import * as AnswerStage from "./AnswerStage.ts"
import * as ChangeStage from "./ChangeStage.ts"
import * as ReleaseStages from "./ReleaseStages.ts"
import * as SelectionStage from "./SelectionStage.ts"
import type { StageConsensus } from "./Consensus.ts"
import * as AnswerRepair from "./AnswerRepair.ts"
import * as Execution from "./Execution.ts"
import type { GitState } from "./GitState.ts"
import { PipelineEvents } from "./PipelineEvent.ts"
import * as RunContext from "./RunContext.ts"
import * as RunId from "./RunId.ts"
import { RunStore, RunStoreError } from "./RunStore.ts"
import type * as RunSummary from "./RunSummary.ts"
import * as RunState from "./RunState.ts"
import * as Sequencer from "./Sequencer.ts"
import type * as SessionMetrics from "./SessionMetrics.ts"
import type { Spec } from "./Spec.ts"
import * as SpeckitConfig from "./SpeckitConfig.ts"
import * as Stage from "./Stage.ts"
import * as StageArtifact from "./StageArtifact.ts"
import type * as StageDefinition from "./StageDefinition.ts"

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
   * The stages to run, in the order of `Stage.all` (default: {@link stagesFor} the configuration).
   *
   * @since 0.3.0
   */
  readonly stages?: ReadonlyArray<StageDefinition.StageDefinition> | undefined
  /**
   * Called with the run's summary when a durable run pauses (for a review or a budget raise), just
   * before it waits: the caller learns why the run stopped even though the run does not end.
   *
   * @since 0.2.0
   */
  readonly onPause?: ((summary: RunSummary.RunSummary) => Effect.Effect<void>) | undefined
}

/**
 * The services a run uses.
 *
 * @since 0.1.0
 */
export type Services = StageDefinition.Services | Sequencer.Sequencer | SessionMetrics.SessionMetrics | RunStore

/**
 * The stages of a run by default: every stage an answer stage.
 *
 * @since 0.3.0
 */
export const standardStages: ReadonlyArray<StageDefinition.StageDefinition> = Stage.all.map((stage) =>
  AnswerStage.make({ stage })
)

/**
 * The stages of a run of `config`: {@link changeStages} when `implement.mode` is `changes`, else
 * {@link standardStages}. (The CLI records the effective mode in the run's configuration: `changes` by
 * default in a git repository.)
 *
 * @example
 * ```ts
 * import { Pipeline, SpeckitConfig } from "@speckit/core"
 *
 * const stages = Pipeline.stagesFor({ ...SpeckitConfig.defaultConfig, implement: { mode: "changes" } })
 * ```
 *
 * @since 0.3.0
 */
export const stagesFor = (config: SpeckitConfig.SpeckitConfig): ReadonlyArray<StageDefinition.StageDefinition> =>
  config.implement?.mode === "changes" ? changeStages : standardStages

/**
 * The stages of a run that makes real changes: plan and tasks as usual; implement in worktrees
 * (`ChangeStage`); validate grounded in the project's checks (`SelectionStage`); audit of the chosen
 * diff and unlock with delivery (`ReleaseStages`).
 *
 * @since 0.3.0
 */
export const changeStages: ReadonlyArray<StageDefinition.StageDefinition> = standardStages.map((stage) => {
  switch (stage.stage) {
    case "implement":
      return ChangeStage.implement
    case "validate":
      return SelectionStage.validate
    case "audit":
      return ReleaseStages.audit
    case "unlock":
      return ReleaseStages.unlock
    default:
      return stage
  }
})

/**
 * Renders a stage's consensus as its Markdown artifact (now `StageArtifact.render`).
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
 * @deprecated Use `StageArtifact.render`; this alias goes in the next minor version.
 */
export const renderStage: (spec: Spec, consensus: StageConsensus) => string = StageArtifact.render

/**
 * Checks that every agent the stages call exists, before anything runs.
 *
 * @example
 * ```ts
 * import { Pipeline, SpeckitConfig } from "@speckit/core"
 *
 * const program = Pipeline.checkAgents(SpeckitConfig.defaultConfig)
 * ```
 *
 * @since 0.1.0
 */
export const checkAgents = (
  config: SpeckitConfig.SpeckitConfig,
  stages: ReadonlyArray<StageDefinition.StageDefinition> = standardStages
): Effect.Effect<void, UnknownAgent, AgentRegistry> =>
  Effect.gen(function* () {
    const registry = yield* AgentRegistry
    for (const stage of stages) {
      for (const agent of stage.agents(config)) yield* registry.get(agent)
    }
  })

/** The pauses a run lends its stages: a budget raise, when the run is durable and asked to pause. */
const pausesOf = (run: RunContext.RunContext, state: RunState.RunState): StageDefinition.Pauses => ({
  budget: (stage, refused) =>
    refused.pause && run.durable
      ? Effect.flatMap(Execution.Execution, (execution) =>
          state.pause(
            stage,
            { kind: "budget", name: refused.name },
            "budget exceeded: waiting for a raise",
            `${refused.message}; raise it with \`speckit budget ${run.runId} --usd <total>\`, then \`speckit resume ${run.runId}\``,
            execution.awaitBudget(refused.name)
          )
        )
      : Effect.succeed(undefined)
})

/**
 * How the run goes on after a decided stage: `true` to go on; `false` once it halted (after a review,
 * when the stage's `onConflict` asks for one).
 */
const reactTo = (
  run: RunContext.RunContext,
  state: RunState.RunState,
  stage: Stage.Stage,
  decided: StageDefinition.Decided
) =>
  Effect.gen(function* () {
    const { consensus, summary } = decided
    const { onConflict } = SpeckitConfig.policyFor(run.config, stage)
    if (consensus.status === "failed") {
      const reason = consensus.reason ?? "too few agents answered"
      yield* state.halt(
        stage,
        consensus.reason ?? "quorum not met",
        `stage ${stage} did not reach its quorum (${reason}); fix the failing agents and run again`
      )
      return false
    }
    if (consensus.status !== "conflict" || onConflict === "proceed") return true
    const reason = consensus.reason ?? "the agents disagree"
    if (onConflict === "pause") return yield* review(run, state, stage, reason)
    yield* state.halt(
      stage,
      reason,
      `stage ${stage} ended in conflict: ${reason}; review ${summary.artifact}, adjust the spec and run again`
    )
    return false
  })

/** A stage in conflict under `onConflict: "pause"`: the run waits for `speckit approve`/`reject`. */
const review = (run: RunContext.RunContext, state: RunState.RunState, stage: Stage.Stage, reason: string) =>
  Effect.gen(function* () {
    const execution = yield* Execution.Execution
    const { runId } = run
    yield* state.awaitingReview(stage, reason, `stage ${stage} needs a review: ${reason}`)
    if (!run.durable) return false
    const name = `review/${stage}`
    const answer = (yield* state.pause(
      stage,
      { kind: "review", name },
      reason,
      `stage ${stage} needs a review: ${reason}; answer with \`speckit approve ${runId}\` or \`speckit reject ${runId}\`, then \`speckit resume ${runId}\``,
      execution.awaitReview(name)
    )) ?? { approved: false, note: "nobody can answer a review in this execution" }
    if (answer.approved) return true
    const note = answer.note === undefined ? "" : `: ${answer.note}`
    yield* state.halt(
      stage,
      `rejected in review${note}`,
      `stage ${stage} was rejected in review${note}; adjust the spec and start a new run`
    )
    return false
  })

/**
 * Runs a spec through every stage and returns the run's summary. A stage that fails its quorum or
 * ends in conflict (under `onConflict: "halt"`) stops the run with status `halted`; interrupting the
 * effect records the run as `cancelled` before it ends. A run that completed or halted is never
 * resumed: the sequencer is then told to forget it (`Sequencer.forget`).
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
export const run = Effect.fn("Pipeline.run")(
  function* (options: RunOptions): Effect.fn.Return<RunSummary.RunSummary, RunStoreError | UnknownAgent, Services> {
    const { spec, config } = options
    const stages = options.stages ?? stagesFor(config)
    const store = yield* RunStore
    const sequencer = yield* Sequencer.Sequencer
    const execution = yield* Execution.Execution
    // The display, before the run's own events (which also go to `events.jsonl`) are provided.
    const display = yield* PipelineEvents
    yield* checkAgents(config, stages)
    const runId = options.runId ?? (yield* RunId.make)
    const logger = yield* RunContext.logger(runId)
    const record0 = { runId, specId: spec.id, specDirectory: spec.directory, git: options.git, config }
    const started = yield* logger.step({
      name: "start",
      success: Schema.Struct({ startedAt: Schema.Number }),
      error: RunStoreError,
      execute: Effect.gen(function* () {
        const startedAt = yield* Clock.currentTimeMillis
        yield* logger.persisted(store.begin({ ...record0, startedAt: new Date(startedAt).toISOString() }))
        return { startedAt }
      })
    })
    const { startedAt } = started.value
    const run = yield* RunContext.make(logger, {
      runId,
      spec,
      config,
      record: { ...record0, startedAt: new Date(startedAt).toISOString() }
    })
    const state = yield* RunState.make(run, startedAt, options.onPause)

    const pauses = pausesOf(run, state)
    const react = (stage: Stage.Stage, decided: StageDefinition.Decided) => reactTo(run, state, stage, decided)

    const runStages = Effect.gen(function* () {
      yield* run.decisions.start
      yield* run.emit({ _tag: "RunStarted", runId, specId: spec.id, title: spec.title, stages: Stage.all })
      const earlier: Array<StageDefinition.Decided> = []
      for (const definition of stages) {
        const { stage } = definition
        yield* run.phase.move({ _tag: "Running", stage })
        const previous = earlier.at(-1)?.markdown ?? ""
        const end = yield* definition.run(run, { previous, earlier }, pauses)
        if (end._tag === "Stopped") return yield* state.halt(stage, end.reason, end.hint)
        state.addStage(end.summary)
        if (!(yield* react(stage, end))) return
        earlier.push(end)
      }
      yield* state.complete
    })

    const finish = Effect.gen(function* () {
      const summary = yield* state.summarize
      yield* logger.log({ _tag: "RunFinished", summary })
      yield* store.finish(summary)
      yield* display.emit({ _tag: "RunFinished", summary })
      // A run that ended for good is never resumed: a sequencer that keeps runs in memory lets it go.
      if (sequencer.forget && (summary.status === "completed" || summary.status === "halted")) {
        yield* sequencer.forget(runId)
      }
      return summary
    })

    yield* runStages.pipe(
      Effect.andThen(run.decisions.stop(true)),
      Effect.provideService(PipelineEvents, { emit: run.emit }),
      Effect.onInterrupt(() =>
        Effect.gen(function* () {
          // A durable run suspended to wait (for a review, a budget raise) is not cancelled.
          if (execution.suspended()) return
          yield* state.cancel
          yield* run.decisions.stop(false).pipe(Effect.ignore)
          yield* finish.pipe(Effect.ignore)
        })
      )
    )
    return yield* finish
  },
  // Answers are read as the configuration says (`answers.strict`: no repairs but the extraction).
  (effect, options) => Effect.provideService(effect, AnswerRepair.Strict, options.config.answers?.strict === true)
)

/**
 * The built-in kind of stage: the stage's agents answer its prompt (`Prompt`) with a structured result
 * (`StageResult`), concurrently, with an early decision; consensus decides on their answers (with an
 * aggregator's synthesis when configured); the consensus is the stage's artifact.
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import * as AgentStep from "./AgentStep.ts"
import type { Spec } from "./Spec.ts"
import type { StageConsensus } from "./Consensus.ts"
import { FaultInjector } from "./FaultInjector.ts"
import type { RunContext } from "./RunContext.ts"
import * as RunSummary from "./RunSummary.ts"
import * as SpeckitConfig from "./SpeckitConfig.ts"
import type * as Stage from "./Stage.ts"
import * as StageAgents from "./StageAgents.ts"
import * as StageArtifact from "./StageArtifact.ts"
import * as StageDefinition from "./StageDefinition.ts"
import * as StageVerdict from "./StageVerdict.ts"

/**
 * Options of an answer stage.
 *
 * @since 0.3.0
 */
export interface Options {
  readonly stage: Stage.Stage
  /** Renders the decided consensus as the artifact (default: {@link StageArtifact.render}). */
  readonly render?: ((spec: Spec, consensus: StageConsensus) => string) | undefined
}

/**
 * Runs one answer stage: agents, verdict, artifact, summary.
 */
const runStage = (
  options: Options,
  run: RunContext,
  input: StageDefinition.StageInput,
  pauses: StageDefinition.Pauses
) =>
  Effect.gen(function* () {
    const { stage } = options
    const faults = yield* FaultInjector
    const policy = SpeckitConfig.policyFor(run.config, stage)
    const started = yield* Clock.currentTimeMillis
    yield* run.emit({ _tag: "StageStarted", stage, agents: policy.agents })
    const ran = yield* StageAgents.run(run, stage, policy, pauses, (agent, stop, generation) =>
      AgentStep.call(run, { stage, agent, previous: input.previous, stop, generation })
    )
    if (StageAgents.isStopped(ran)) return ran
    const decided = yield* StageVerdict.decide(run, { stage, policy, stopped: ran.stopped, previous: input.previous })
    if (!("consensus" in decided)) return decided
    const { consensus, outcomes } = decided
    const markdown = (options.render ?? StageArtifact.render)(run.spec, consensus)
    const artifact = yield* StageArtifact.write(run, consensus, markdown)
    yield* faults.crashPoint("after_consensus")
    const costUsd = outcomes.reduce((sum, outcome) => sum + outcome.costUsd, decided.aggregatorCostUsd)
    const summary = RunSummary.stageSummary({
      consensus,
      outcomes,
      stopped: ran.stopped,
      durationMs: (yield* Clock.currentTimeMillis) - started,
      costUsd,
      artifact
    })
    yield* run.emit({ _tag: "StageFinished", stage, consensus, costUsd, artifact })
    yield* faults.crashPoint("after_stage")
    const end: StageDefinition.Decided = { _tag: "Decided", consensus, markdown, summary, outcomes }
    return end
  })

/**
 * Makes an answer stage.
 *
 * @example
 * ```ts
 * import { AnswerStage } from "@speckit/core"
 *
 * const plan = AnswerStage.make({ stage: "plan" })
 * ```
 *
 * @since 0.3.0
 */
export const make = (options: Options): StageDefinition.StageDefinition =>
  StageDefinition.make({
    stage: options.stage,
    kind: "answers",
    agents: (config) => {
      const policy = SpeckitConfig.policyFor(config, options.stage)
      return policy.aggregator === undefined ? policy.agents : [...policy.agents, policy.aggregator]
    },
    run: (run, input, pauses) => runStage(options, run, input, pauses)
  })

/**
 * The built-in kind of stage: the stage's agents answer its prompt (`Prompt`) with a structured result
 * (`StageResult`), concurrently, with an early decision; consensus decides on their answers (with an
 * aggregator's synthesis when configured); the consensus is the stage's artifact.
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import type * as Agent from "./Agent.ts"
import type * as AgentCall from "./AgentCall.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { RunStoreError } from "./RunStore.ts"
import * as AgentStep from "./AgentStep.ts"
import type { Spec } from "./Spec.ts"
import type { StageConsensus } from "./Consensus.ts"
import type { RunContext } from "./RunContext.ts"
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
  /**
   * How each agent is asked and its answer read (default: the stage's own prompt and result).
   *
   * @since 0.3.0
   */
  readonly ask?: ((run: RunContext, input: StageDefinition.StageInput, agent: Agent.Agent) => AgentCall.Ask) | undefined
  /**
   * Adds to the consensus before it is sequenced.
   *
   * @since 0.3.0
   */
  readonly annotate?:
    | ((
        consensus: StageConsensus,
        outcomes: ReadonlyArray<AgentOutcome>,
        input: StageDefinition.StageInput
      ) => StageConsensus)
    | undefined
  /**
   * What the stage does once decided, before it writes its artifact (e.g. delivering the change); it
   * may complete the consensus.
   *
   * @since 0.3.0
   */
  readonly settle?:
    | ((
        run: RunContext,
        consensus: StageConsensus,
        input: StageDefinition.StageInput
      ) => Effect.Effect<StageConsensus, RunStoreError, StageDefinition.Services>)
    | undefined
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
    const policy = SpeckitConfig.policyFor(run.config, stage)
    const started = yield* Clock.currentTimeMillis
    yield* run.emit({ _tag: "StageStarted", stage, agents: policy.agents })
    const ask = options.ask
    const work: AgentStep.Work | undefined = ask && ((agent, part) => part({ ask: ask(run, input, agent) }))
    const ran = yield* StageAgents.run(run, stage, policy, pauses, (agent, stop, generation) =>
      AgentStep.call(run, { stage, agent, previous: input.previous, stop, generation, work })
    )
    if (StageAgents.isStopped(ran)) return ran
    const annotate = options.annotate
    const decided = yield* StageVerdict.decide(run, {
      stage,
      policy,
      stopped: ran.stopped,
      previous: input.previous,
      annotate: annotate && ((consensus, outcomes) => annotate(consensus, outcomes, input))
    })
    if (!("consensus" in decided)) return decided
    const { outcomes } = decided
    const consensus = options.settle ? yield* options.settle(run, decided.consensus, input) : decided.consensus
    return yield* StageArtifact.finish(run, {
      consensus,
      outcomes,
      stopped: ran.stopped,
      startedAt: started,
      markdown: (options.render ?? defaultRender)(run.spec, consensus),
      extraCostUsd: decided.aggregatorCostUsd
    })
  })

/**
 * How an answer stage renders its consensus by default (`StageArtifact.render`).
 *
 * @since 0.3.0
 */
export const defaultRender: (spec: Spec, consensus: StageConsensus) => string = StageArtifact.render

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

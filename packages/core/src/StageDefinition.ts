/**
 * A stage as a value: which stage it is, what kind of work it does, and how it runs (how its
 * candidates are produced, decided and written). The pipeline runs a list of definitions in order and
 * reacts to how each ends; a stage that works differently is a new definition (a new module), not a new
 * branch in the pipeline.
 *
 * The built-in kind is `AnswerStage` (agents answer a prompt with a structured result; consensus
 * decides; the consensus is the artifact).
 *
 * @since 0.3.0
 */
import type { Effect } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { UnknownAgent } from "./AgentRegistry.ts"
import type * as AgentStep from "./AgentStep.ts"
import type { Consensus, StageConsensus } from "./Consensus.ts"
import type { FaultInjector } from "./FaultInjector.ts"
import type { RunContext } from "./RunContext.ts"
import type { RunStoreError } from "./RunStore.ts"
import type { StageSummary } from "./RunSummary.ts"
import type { Stage } from "./Stage.ts"

/**
 * What a stage is given: the previous stage's artifact and how the stages before it ended.
 *
 * @since 0.3.0
 */
export interface StageInput {
  /** The previous stage's artifact (its Markdown), the stage's input; empty for the first stage. */
  readonly previous: string
  /** The stages decided before this one, in order. */
  readonly earlier: ReadonlyArray<Decided>
}

/**
 * A stage that reached a decision (whatever its status): its consensus, artifact and summary.
 *
 * @since 0.3.0
 */
export interface Decided {
  readonly _tag: "Decided"
  readonly consensus: StageConsensus
  /** The artifact's text (the next stage's input). */
  readonly markdown: string
  readonly summary: StageSummary
  /** The stage's own outcomes, one per agent that answered (for the stages after it). */
  readonly outcomes: ReadonlyArray<AgentOutcome>
}

/**
 * A stage stopped before it could decide (e.g. its budget was exceeded): the run halts.
 *
 * @since 0.3.0
 */
export interface Stopped {
  readonly _tag: "Stopped"
  readonly reason: string
  /** What the user can do next. */
  readonly hint: string
}

/**
 * How a stage ended.
 *
 * @since 0.3.0
 */
export type StageEnd = Decided | Stopped

/**
 * What the pipeline lends a stage to pause the run durably.
 *
 * @since 0.3.0
 */
export interface Pauses {
  /**
   * Pauses the run until its budget is raised (`speckit budget`), then returns the new total; returns
   * `undefined` when no raise can come (not a durable run, or `budget.onExceed` is not `pause`).
   */
  readonly budget: (
    stage: Stage,
    refused: { readonly name: string; readonly message: string; readonly pause: boolean }
  ) => Effect.Effect<number | undefined, RunStoreError>
}

/**
 * The services a stage may use.
 *
 * @since 0.3.0
 */
export type Services = AgentStep.Services | Consensus | FaultInjector

/**
 * A stage as a value (see the module).
 *
 * @since 0.3.0
 */
export interface StageDefinition<R = never> {
  readonly stage: Stage
  /** The kind of work (e.g. `answers`), for reports and docs. */
  readonly kind: string
  /** The agents the stage calls, checked to exist before the run starts. */
  readonly agents: (config: RunContext["config"]) => ReadonlyArray<AgentId>
  readonly run: (
    run: RunContext,
    input: StageInput,
    pauses: Pauses
  ) => Effect.Effect<StageEnd, RunStoreError | UnknownAgent, Services | R>
}

/**
 * Makes a stage definition (an identity that checks the shape).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SpeckitConfig, StageDefinition } from "@speckit/core"
 *
 * const skip = StageDefinition.make({
 *   stage: "audit",
 *   kind: "skip",
 *   agents: () => [],
 *   run: () => Effect.succeed({ _tag: "Stopped", reason: "skipped", hint: "nothing to do" })
 * })
 * ```
 *
 * @since 0.3.0
 */
export const make = <R = never>(definition: StageDefinition<NoInfer<R>>): StageDefinition<R> => definition

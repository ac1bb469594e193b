/**
 * How a stage decides: on the processed outcomes of its agents (each accepted answer once, whatever was
 * resubmitted), under its policy, with an aggregator agent's synthesis for a content stage when one is
 * configured; an injected `consensus_fail` fault fails it. The verdict is sequenced like the answers,
 * and the stage goes on with the verdict as processed.
 *
 * @since 0.3.0
 */
import { Effect } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { UnknownAgent } from "./AgentRegistry.ts"
import * as AggregatorStep from "./AggregatorStep.ts"
import type * as AgentStep from "./AgentStep.ts"
import { Consensus, type StageConsensus } from "./Consensus.ts"
import { FaultInjector } from "./FaultInjector.ts"
import type { RunContext } from "./RunContext.ts"
import type { RunStoreError } from "./RunStore.ts"
import * as Sequencer from "./Sequencer.ts"
import type { StagePolicy } from "./SpeckitConfig.ts"
import * as Stage from "./Stage.ts"
import type { Stopped } from "./StageDefinition.ts"
import * as StageAgents from "./StageAgents.ts"

/**
 * A stage's decision: the processed consensus, the outcomes it was decided on, and what the aggregator
 * cost (0 without one).
 *
 * @since 0.3.0
 */
export interface Verdict {
  readonly consensus: StageConsensus
  readonly outcomes: ReadonlyArray<AgentOutcome>
  readonly aggregatorCostUsd: number
}

/**
 * The processed outcomes of a stage, in the policy's agent order.
 *
 * @example
 * ```ts
 * import { SpeckitConfig, StageVerdict } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * const outcomes = StageVerdict.processedOutcomes(run, "plan", SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan"))
 * ```
 *
 * @since 0.3.0
 */
export const processedOutcomes = (
  run: RunContext,
  stage: Stage.Stage,
  policy: StagePolicy
): ReadonlyArray<AgentOutcome> => {
  const accepted = run.decisions.outcomes(stage)
  return policy.agents.flatMap((agent) => {
    const outcome = accepted.get(agent)
    return outcome ? [outcome] : []
  })
}

/**
 * Decides `stage` (see the module); stops when the aggregator's call exceeds the budget.
 *
 * @example
 * ```ts
 * import { SpeckitConfig, StageVerdict } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * const policy = SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan")
 * const program = StageVerdict.decide(run, { stage: "plan", policy, stopped: [], previous: "" })
 * ```
 *
 * @since 0.3.0
 */
export const decide = (
  run: RunContext,
  input: {
    readonly stage: Stage.Stage
    readonly policy: StagePolicy
    readonly stopped: ReadonlyArray<AgentId>
    readonly previous: string
    /** Adds to the consensus before it is sequenced (e.g. the stage's candidates). */
    readonly annotate?:
      | ((consensus: StageConsensus, outcomes: ReadonlyArray<AgentOutcome>) => StageConsensus)
      | undefined
  }
): Effect.Effect<Verdict | Stopped, RunStoreError | UnknownAgent, AgentStep.Services | Consensus | FaultInjector> =>
  Effect.gen(function* () {
    const consensus = yield* Consensus
    const faults = yield* FaultInjector
    const { stage, policy, stopped, previous } = input
    const outcomes = processedOutcomes(run, stage, policy)
    let agreed = yield* consensus.decide(policy, outcomes, { stopped })
    let aggregatorCostUsd = 0
    // A content stage with an aggregator (and its quorum met): the aggregator's synthesis decides.
    if (policy.aggregator !== undefined && !Stage.isVerdictStage(stage) && agreed.status !== "failed") {
      const aggregated = yield* AggregatorStep.run(run, {
        stage,
        aggregator: policy.aggregator,
        outcomes,
        previous
      }).pipe(
        Effect.map((done) => ({ _tag: "Aggregated" as const, ...done })),
        Effect.catchTag("BudgetExceeded", (error) => Effect.succeed({ _tag: "OverBudget" as const, error }))
      )
      if (aggregated._tag === "OverBudget") return StageAgents.overBudget(aggregated.error)
      aggregatorCostUsd = aggregated.costUsd
      agreed = yield* consensus.decide(policy, outcomes, { stopped, aggregation: aggregated.aggregation })
    }
    yield* faults.crashPoint("before_consensus")
    const annotated = input.annotate ? input.annotate(agreed, outcomes) : agreed
    const injected: StageConsensus = (yield* faults.consensusFault(stage))
      ? { ...annotated, status: "failed", result: undefined, reason: "injected fault: consensus_fail" }
      : annotated
    yield* run.decisions.submit(Sequencer.verdictKey(run.runId, stage), { _tag: "Verdict", consensus: injected })
    return { consensus: run.decisions.verdict(stage) ?? injected, outcomes, aggregatorCostUsd }
  })

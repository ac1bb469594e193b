/**
 * A content stage's aggregator step: the aggregator agent synthesizes the stage's successful answers.
 * It goes through {@link AgentCall.call} like any answer (budget, faults, timeout, retries, breaker,
 * metrics), as the agent wrapped so that it gets the synthesis prompt and `synthesisOf`, and so that an
 * answer that is no valid `ResultMerge.Synthesis` is a `Malformed` attempt (retried once with a repair
 * note, whatever the agent's policy). Its answers are saved as
 * `answers/<stage>/aggregate.<agent>.<attempt>.json`, apart from the stage's own answers.
 *
 * @since 0.3.0
 */
import { Effect, Result, Schema } from "effect"
import type * as Agent from "./Agent.ts"
import * as AgentCall from "./AgentCall.ts"
import { AgentError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import { AgentOutcome } from "./AgentOutcome.ts"
import { AgentRegistry, type UnknownAgent } from "./AgentRegistry.ts"
import { BudgetExceeded } from "./Budget.ts"
import type { Aggregation } from "./Consensus.ts"
import { PipelineEvents } from "./PipelineEvent.ts"
import * as Prompt from "./Prompt.ts"
import * as Resilience from "./Resilience.ts"
import type { RunContext } from "./RunContext.ts"
import { RunStore, type RunStoreError } from "./RunStore.ts"
import type { Stage } from "./Stage.ts"
import * as ResultMerge from "./ResultMerge.ts"
import type * as StageResult from "./StageResult.ts"
import * as AgentStep from "./AgentStep.ts"

/**
 * What the aggregator made of a stage's answers, and what it cost.
 *
 * @since 0.3.0
 */
export interface Aggregated {
  readonly aggregation: Aggregation
  readonly costUsd: number
}

/** The aggregator agent wrapped to answer the synthesis prompt; `synthesis` holds its last valid one. */
const synthesizing = (
  inner: Agent.Agent,
  input: { readonly run: RunContext; readonly stage: Stage; readonly previous: string },
  answers: ReadonlyArray<StageResult.StageResult>,
  savedAs: string
) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const { run, stage, previous } = input
    const state: { synthesis: ResultMerge.Synthesis | undefined; repairNote: string | undefined } = {
      synthesis: undefined,
      repairNote: undefined
    }
    const agent: Agent.Agent = {
      ...inner,
      call: (request) =>
        Effect.gen(function* () {
          state.synthesis = undefined
          const prompt = Prompt.synthesis({
            stage,
            agent: inner.id,
            spec: run.spec,
            previous,
            answers,
            repairNote: state.repairNote
          })
          const response = yield* inner.call({ ...request, prompt, synthesisOf: answers })
          const parsed = yield* Effect.result(ResultMerge.parseSynthesis(stage, inner.id, response.text))
          if (Result.isSuccess(parsed)) {
            state.synthesis = parsed.success
            return response
          }
          state.repairNote = `It was not a valid synthesis for this stage: ${parsed.failure.reason}.`
          // Kept for the record like any answer; the attempt itself fails as Malformed.
          yield* store
            .saveAnswer(run.runId, stage, savedAs, request.attempt, {
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
    return { agent, state }
  })

/**
 * Runs the aggregator of `stage` on its outcomes, as one step of the run.
 *
 * @example
 * ```ts
 * import { AgentId, AggregatorStep } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * declare const outcomes: ReadonlyArray<import("@speckit/core").AgentOutcome.AgentOutcome>
 * const program = AggregatorStep.run(run, { stage: "plan", aggregator: AgentId.make("alpha"), outcomes, previous: "" })
 * ```
 *
 * @since 0.3.0
 */
export const run = (
  context: RunContext,
  input: {
    readonly stage: Stage
    readonly aggregator: AgentId
    readonly outcomes: ReadonlyArray<AgentOutcome>
    readonly previous: string
  }
): Effect.Effect<Aggregated, RunStoreError | BudgetExceeded | UnknownAgent, AgentStep.Services> =>
  Effect.gen(function* () {
    const { stage, aggregator, outcomes, previous } = input
    const inner = yield* AgentRegistry.use((registry) => registry.get(aggregator))
    const answers = outcomes.flatMap((outcome) => (outcome._tag === "Succeeded" ? [outcome.result] : []))
    const savedAs = `aggregate.${aggregator}`
    const wrapped = yield* synthesizing(inner, { run: context, stage, previous }, answers, savedAs)
    const resilience = yield* Resilience.AgentResilience
    const store = yield* RunStore
    const outer = yield* PipelineEvents
    const call = AgentCall.call(wrapped.agent, { runId: context.runId, stage, spec: context.spec, previous }).pipe(
      Effect.provideService(PipelineEvents, {
        emit: (event) => Effect.andThen(outer.emit(event), context.phase.track(stage, event))
      }),
      Effect.provideService(Resilience.AgentResilience, {
        ...resilience,
        policyFor: (agent) => ({ ...resilience.policyFor(agent), maxMalformedRetries: 1 })
      }),
      Effect.provideService(RunStore, {
        ...store,
        saveAnswer: (runId, at, _agent, attempt, answer) => store.saveAnswer(runId, at, savedAs, attempt, answer)
      }),
      Effect.map((outcome) => ({ outcome, synthesis: wrapped.state.synthesis }))
    )
    const done = yield* context.step({
      name: `aggregate/${stage}`,
      success: Schema.Struct({ outcome: AgentOutcome, synthesis: Schema.optional(ResultMerge.Synthesis) }),
      error: BudgetExceeded,
      execute: call
    })
    const { outcome, synthesis } = done.value
    if (done.replayed) yield* AgentStep.rerecord(stage, outcome)
    yield* context.phase.endRecovery(stage)
    yield* context.emit({ _tag: "AgentFinished", stage, outcome })
    const aggregation: Aggregation =
      outcome._tag === "Succeeded" && synthesis !== undefined
        ? { agent: aggregator, synthesis }
        : {
            agent: aggregator,
            failure: outcome._tag === "Failed" ? `${outcome.kind}: ${outcome.detail}` : "no valid synthesis"
          }
    return { aggregation, costUsd: outcome.costUsd }
  })

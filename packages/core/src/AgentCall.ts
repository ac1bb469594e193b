/**
 * One agent's part in one stage: every attempt goes through the budget, the fault injector, the
 * agent itself and stage-result validation, and is recorded in the session metrics and the run store,
 * whether it succeeds or fails.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Result } from "effect"
import * as Agent from "./Agent.ts"
import { AgentError } from "./AgentError.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import { Budget, type BudgetExceeded } from "./Budget.ts"
import { FaultInjector } from "./FaultInjector.ts"
import { PipelineEvents } from "./PipelineEvent.ts"
import * as Prompt from "./Prompt.ts"
import type { RunId } from "./RunId.ts"
import { RunStore, type RunStoreError } from "./RunStore.ts"
import { SessionMetrics } from "./SessionMetrics.ts"
import type { Spec } from "./Spec.ts"
import type { Stage } from "./Stage.ts"
import * as StageResult from "./StageResult.ts"
import * as TokenUsage from "./TokenUsage.ts"

/**
 * What a call needs to know about its run and stage.
 *
 * @since 0.1.0
 */
export interface CallContext {
  readonly runId: RunId
  readonly stage: Stage
  readonly spec: Spec
  /** The previous stage's consensus, as Markdown. */
  readonly previous: string
}

/**
 * The services a call uses.
 *
 * @since 0.1.0
 */
export type Services = FaultInjector | SessionMetrics | RunStore

/**
 * Calls one agent for a stage and returns its outcome. Agent failures become a `Failed` outcome;
 * only a store failure or an exhausted budget fails the effect.
 *
 * @example
 * ```ts
 * import { AgentCall, AgentId, SimAgent } from "@speckit/core"
 *
 * declare const context: AgentCall.CallContext
 * const outcome = AgentCall.call(SimAgent.make({ id: AgentId.make("alpha") }), context)
 * ```
 *
 * @since 0.1.0
 */
export const call = Effect.fnUntraced(function* (
  agent: Agent.Agent,
  context: CallContext
): Effect.fn.Return<AgentOutcome, RunStoreError | BudgetExceeded, Services> {
  const faults = yield* FaultInjector
  const metrics = yield* SessionMetrics
  const store = yield* RunStore
  const events = yield* PipelineEvents
  const budget = yield* Budget
  const { runId, stage, spec, previous } = context
  const started = yield* Clock.currentTimeMillis
  const attempt = 1
  const request: Agent.AgentRequest = {
    runId,
    stage,
    agent: agent.id,
    attempt,
    prompt: Prompt.make({ stage, agent: agent.id, spec, previous }),
    spec,
    previous,
    idempotencyKey: Agent.idempotencyKey({ runId, stage, agent: agent.id, attempt })
  }
  yield* budget.admit({ stage, agent: agent.id, attempt, model: agent.model, prompt: request.prompt })
  yield* events.emit({ _tag: "AgentStarted", stage, agent: agent.id, attempt })
  const response = yield* faults.beforeAttempt(request).pipe(Effect.andThen(agent.call(request)), Effect.result)
  const parsed = Result.isSuccess(response)
    ? yield* StageResult.parse(stage, agent.id, response.success.text).pipe(
        Effect.mapError((error) => new AgentError({ agent: agent.id, kind: "Malformed", detail: error.reason })),
        Effect.result
      )
    : Result.fail(response.failure)
  const usage = Result.isSuccess(response) ? response.success.usage : TokenUsage.empty
  const model = Result.isSuccess(response) ? response.success.model : agent.model
  if (Result.isSuccess(response)) {
    yield* store.saveAnswer(runId, stage, agent.id, attempt, {
      agent: agent.id,
      attempt,
      model,
      usage,
      reportedCostUsd: response.success.reportedCostUsd,
      text: response.success.text
    })
    yield* faults.crashPoint("after_answer")
  }
  const cost = yield* metrics.record({
    stage,
    agent: agent.id,
    attempt,
    model,
    usage,
    reportedCostUsd: Result.isSuccess(response) ? response.success.reportedCostUsd : undefined,
    ok: Result.isSuccess(parsed)
  })
  const durationMs = (yield* Clock.currentTimeMillis) - started
  const common = { agent: agent.id, model, attempts: attempt, history: [], usage, costUsd: cost.costUsd, durationMs }
  return Result.isSuccess(parsed)
    ? { _tag: "Succeeded", ...common, result: parsed.success }
    : { _tag: "Failed", ...common, kind: parsed.failure.kind, detail: parsed.failure.detail }
})

/**
 * One agent's part in one stage: every attempt goes through the budget, the fault injector, the
 * agent itself and stage-result validation, and is recorded in the session metrics and the run store,
 * whether it succeeds or fails. A failed attempt is charged for the usage and cost its provider
 * reported (carried on the {@link AgentError}), none when it reported nothing.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Result, Schedule } from "effect"
import * as Agent from "./Agent.ts"
import { AgentError } from "./AgentError.ts"
import * as ContextGuard from "./ContextGuard.ts"
import * as AnswerRepair from "./AnswerRepair.ts"
import type * as AgentOutcome from "./AgentOutcome.ts"
import { Budget, type BudgetExceeded } from "./Budget.ts"
import { FaultInjector } from "./FaultInjector.ts"
import { PipelineEvents } from "./PipelineEvent.ts"
import * as ModelLimits from "./ModelLimits.ts"
import * as Prompt from "./Prompt.ts"
import * as Resilience from "./Resilience.ts"
import type { RunId } from "./RunId.ts"
import { RunStore, type RunStoreError } from "./RunStore.ts"
import { SessionMetrics } from "./SessionMetrics.ts"
import type { Spec } from "./Spec.ts"
import type { Stage } from "./Stage.ts"
import * as StageResult from "./StageResult.ts"
import * as TokenCounter from "./TokenCounter.ts"
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
  /**
   * The directory the agent works in (a worktree, in a stage that makes real changes): given to the
   * agent as `AgentRequest.workdir`.
   *
   * @since 0.3.0
   */
  readonly workdir?: string | undefined
  /**
   * How the agent is asked and its answer read, when not the stage's own prompt (`Prompt.make`) and
   * result (`StageResult.parse`).
   *
   * @since 0.3.0
   */
  readonly ask?: Ask | undefined
  /**
   * The agent's configured `contextWindow` and `maxOutputTokens`, over the run's `ModelLimits`
   * catalogue: prompts are fitted to the window (`ContextGuard`) before they are sent.
   *
   * @since 0.3.0
   */
  readonly limits?: ModelLimits.Limits | undefined
}

/**
 * A prompt and the reading of its answer.
 *
 * @since 0.3.0
 */
export interface Ask {
  /** The prompt; `repairNote` says why the previous answer was rejected. */
  readonly prompt: (repairNote: string | undefined) => string
  readonly parse: (text: string) => Effect.Effect<StageResult.StageResult, StageResult.MalformedResult>
  /** The candidates the agent judges, as data (see `AgentRequest.candidates`). */
  readonly candidates?: ReadonlyArray<Agent.CandidateView> | undefined
}

/**
 * The services a call uses.
 *
 * @since 0.1.0
 */
export type Services = FaultInjector | SessionMetrics | RunStore

/**
 * Options of {@link call}.
 *
 * @since 0.2.0
 */
export interface CallOptions {
  /**
   * Waits before a retry of at least this long are handed over to the caller instead of made: the
   * call ends with a `Failed` outcome carrying `handOver` (when the next attempt is due), and the
   * caller goes on with `resume` once it has waited. Default: every wait is made in the call.
   */
  readonly handOverWaitsFromMs?: number | undefined
  /** A handed-over outcome of this same call, to go on from (its next attempt, counters, usage). */
  readonly resume?: AgentOutcome.Failed | undefined
  /**
   * Told what the call has spent so far, as it goes: when an attempt is sent, and once its answer (or
   * failure) is recorded. A caller that stops the call uses the last one to count what it cost.
   *
   * @since 0.3.0
   */
  readonly onProgress?: ((progress: Progress) => void) | undefined
  /**
   * Where the call's events go (`AgentStarted`, `AgentRetrying`, `BreakerChanged`, ...). Default: the
   * `PipelineEvents` in context.
   *
   * @since 0.4.0
   */
  readonly events?: Context.Service.Shape<typeof PipelineEvents> | undefined
}

/**
 * What a call has spent so far (see {@link CallOptions.onProgress}).
 *
 * @example
 * ```ts
 * import { type AgentCall, TokenUsage } from "@speckit/core"
 *
 * const progress: AgentCall.Progress = { attempts: 1, usage: TokenUsage.empty, costUsd: 0, model: "m", inFlightTokens: 1200 }
 * ```
 *
 * @since 0.3.0
 */
export interface Progress {
  /** The attempts recorded (in the metrics and the outcome's totals). */
  readonly attempts: number
  readonly usage: TokenUsage.TokenUsage
  readonly costUsd: number
  readonly model: string
  /**
   * The prompt tokens (counted) of an attempt sent and not answered yet: what the provider is billing
   * if the call is stopped now. `undefined` when no attempt is in flight.
   */
  readonly inFlightTokens: number | undefined
}

/** The request of one attempt. */
const requestOf = (
  agent: Agent.Agent,
  context: CallContext,
  attempt: number,
  repairNote: string | undefined
): Agent.AgentRequest => {
  const { runId, stage, spec, previous } = context
  return {
    runId,
    stage,
    agent: agent.id,
    attempt,
    prompt: context.ask?.prompt(repairNote) ?? Prompt.make({ stage, agent: agent.id, spec, previous, repairNote }),
    spec,
    previous,
    idempotencyKey: Agent.idempotencyKey({ runId, stage, agent: agent.id, attempt }),
    ...(context.workdir === undefined ? {} : { workdir: context.workdir }),
    ...(context.ask?.candidates === undefined ? {} : { candidates: context.ask.candidates })
  }
}

/** What a call accumulated over its attempts. */
interface CallState {
  attempt: number
  repairNote: string | undefined
  readonly history: Array<AgentOutcome.FailedAttempt>
  usage: TokenUsage.TokenUsage
  costUsd: number
  model: string
  /** The repairs the reading of the last answer applied. */
  repairs: ReadonlyArray<string>
  /** How the current attempt's prompt was fitted to the window, recorded with its answer. */
  reduced: Reduced | undefined
}

/** How an attempt's prompt was fitted to the model's window, recorded with its answer. */
interface Reduced {
  readonly fromTokens: number
  readonly toTokens: number
  readonly contextWindow: number
  readonly reductions: ReadonlyArray<string>
}

/**
 * An attempt's request with its prompt fitted to the model's window when the window is known
 * (configured or catalogued; see `ContextGuard`), or the `ContextTooLarge` error it fails with.
 */
const fittedRequest = (
  request: Agent.AgentRequest,
  agent: Agent.Agent,
  limits: ModelLimits.Limits,
  counter: TokenCounter.Service
): { readonly request: Agent.AgentRequest; readonly reduced?: Reduced } | AgentError => {
  const { contextWindow } = limits
  if (contextWindow === undefined) return { request }
  const outputReserve = Math.min(limits.maxOutputTokens ?? ContextGuard.defaultOutputReserve, contextWindow)
  // A UTF-16 unit is at most 3 UTF-8 bytes and a token at least one: a prompt this short fits uncounted.
  if (request.prompt.length * 3 <= contextWindow - outputReserve) return { request }
  const fitted = ContextGuard.fit(request.prompt, agent.model, { contextWindow, outputReserve }, counter.count)
  if (fitted instanceof ContextGuard.PromptTooLarge) {
    return new AgentError({ agent: agent.id, kind: "ContextTooLarge", detail: fitted.message })
  }
  if (fitted.reductions.length === 0) return { request }
  const { originalTokens: fromTokens, tokens: toTokens, reductions } = fitted
  return {
    request: { ...request, prompt: fitted.prompt },
    reduced: { fromTokens, toTokens, contextWindow, reductions }
  }
}

/**
 * Reports what a call has spent to `onProgress` (given the prompt of an attempt in flight, if any):
 * the prompt is counted only when the report is read for it (a call stopped meanwhile).
 */
const progressReporter =
  (onProgress: CallOptions["onProgress"], state: CallState, counter: TokenCounter.Service) =>
  (inFlightPrompt: string | undefined) => {
    if (onProgress === undefined) return
    let counted: number | undefined
    onProgress({
      attempts: state.attempt - (inFlightPrompt === undefined ? 0 : 1),
      usage: state.usage,
      costUsd: state.costUsd,
      model: state.model,
      get inFlightTokens() {
        if (inFlightPrompt === undefined) return undefined
        counted ??= counter.count(inFlightPrompt)
        return counted
      }
    })
  }

/** A call's state at its start: fresh, or going on from a handed-over outcome. */
const stateOf = (agent: Agent.Agent, resume: AgentOutcome.Failed | undefined): CallState => ({
  attempt: resume?.attempts ?? 0,
  repairNote: resume?.handOver?.repairNote,
  history:
    resume === undefined
      ? []
      : [
          ...resume.history,
          {
            attempt: resume.attempts,
            kind: resume.kind,
            detail: resume.detail,
            waitedMs: resume.handOver?.delayMs ?? 0
          }
        ],
  usage: resume?.usage ?? TokenUsage.empty,
  costUsd: resume?.costUsd ?? 0,
  model: resume?.model ?? agent.model,
  repairs: [],
  reduced: undefined
})

/** The retry a call handed over to its caller, with the counters after it. */
interface HandedOver {
  readonly retry: Resilience.Retrying
  readonly retries: number
  readonly malformed: number
}

/**
 * A call's outcome from its final result: succeeded; failed with the wait it handed over (when the last
 * failure's retry was handed over); or failed, naming a rate limit's reset time.
 */
const outcomeOf = (
  final: Result.Result<StageResult.StageResult, AgentError>,
  input: {
    readonly agent: Agent.Agent
    readonly state: CallState
    readonly handedOver: HandedOver | undefined
    readonly started: number
    readonly deadline: number
    readonly durationMs: number
    readonly maxElapsedMs: number
  }
): AgentOutcome.AgentOutcome => {
  const { state, handedOver, deadline } = input
  const common = {
    agent: input.agent.id,
    model: state.model,
    attempts: state.attempt,
    history: state.history,
    usage: state.usage,
    costUsd: state.costUsd,
    durationMs: input.durationMs
  }
  if (Result.isSuccess(final)) {
    const repairs = state.repairs.length === 0 ? {} : { repairs: state.repairs }
    return { _tag: "Succeeded", ...common, ...repairs, result: final.success }
  }
  const error = final.failure
  if (handedOver !== undefined && handedOver.retry.attempt === state.attempt) {
    const { retry } = handedOver
    return {
      _tag: "Failed",
      ...common,
      kind: error.kind,
      detail: error.detail,
      handOver: {
        resumeAt: retry.resumeAt,
        delayMs: retry.delayMs,
        startedAt: input.started,
        retries: handedOver.retries,
        malformed: handedOver.malformed,
        ...(retry.repairNote === undefined ? {} : { repairNote: retry.repairNote })
      }
    }
  }
  const reset =
    error.kind === "RateLimited" && error.resetAt !== undefined && !error.detail.includes("resets at")
      ? ` (resets at ${new Date(error.resetAt).toISOString()}${error.resetAt > deadline ? `, after this call's ${input.maxElapsedMs} ms time budget` : ""})`
      : ""
  return { _tag: "Failed", ...common, kind: error.kind, detail: `${error.detail}${reset}` }
}

/**
 * A call in flight: what its attempts share, in one object, so that its steps are module functions
 * (one generator function each, not a closure and a generator prototype per call).
 */
interface InFlight {
  readonly agent: Agent.Agent
  readonly context: CallContext
  readonly policy: Resilience.Policy
  /** When the call's time budget (`maxElapsedMs`) ends. */
  readonly deadline: number
  readonly state: CallState
  readonly progress: (inFlightPrompt: string | undefined) => void
  readonly clock: Clock.Clock
  readonly faults: FaultInjector["Service"]
  readonly metrics: SessionMetrics["Service"]
  readonly store: RunStore["Service"]
  readonly events: Context.Service.Shape<typeof PipelineEvents>
  readonly budget: Context.Service.Shape<typeof Budget>
  readonly counter: TokenCounter.Service
  readonly catalogue: ModelLimits.Service
  /** Whether answers are read without repairs (`AnswerRepair.Strict`). */
  readonly strict: boolean
}

/** What `Effect.uninterruptibleMask` gives its body: runs an effect interruptibly again. */
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * One attempt of a call. Only waiting (for the budget, for the agent) can be interrupted: an answer
 * that has arrived is always read, recorded and counted, even when the stage is decided meanwhile.
 */
const attemptOnce = (call: InFlight) => Effect.uninterruptibleMask((restore) => sendAttempt(call, restore))

const sendAttempt = Effect.fnUntraced(function* (call: InFlight, restore: Restore) {
  const { agent, context, state, policy, events, counter } = call
  const { stage } = context
  const attempt = ++state.attempt
  const limits = { ...call.catalogue.of(agent.model), ...context.limits }
  const fitted = fittedRequest(requestOf(agent, context, attempt, state.repairNote), agent, limits, counter)
  if (fitted instanceof AgentError) return yield* answered(call, attempt, Result.fail(fitted))
  const { request } = fitted
  const reduced = fitted.reduced
  state.reduced = reduced
  if (reduced) yield* events.emit({ _tag: "PromptReduced", stage, agent: agent.id, attempt, ...reduced })
  yield* restore(call.budget.admit({ stage, agent: agent.id, attempt, model: agent.model, prompt: request.prompt }))
  yield* events.emit({ _tag: "AgentStarted", stage, agent: agent.id, attempt })
  const remaining = call.deadline - call.clock.currentTimeMillisUnsafe()
  const byDeadline = policy.timeoutMs === undefined || remaining < policy.timeoutMs
  call.progress(request.prompt)
  const response = yield* restore(
    Resilience.withTimeout(
      Effect.andThen(call.faults.beforeAttempt(request), agent.call(request)),
      agent.id,
      byDeadline ? remaining : policy.timeoutMs,
      byDeadline ? `the call took its whole time budget (retry.maxElapsedMs ${policy.maxElapsedMs} ms)` : undefined
    )
  ).pipe(Effect.result)
  return yield* answered(call, attempt, response)
})

/** Reads, records and counts an attempt's answer (or failure). */
const answered = Effect.fnUntraced(function* (
  call: InFlight,
  attempt: number,
  response: Result.Result<Agent.AgentResponse, AgentError>
) {
  const { agent, context, state, metrics, events } = call
  const { stage } = context
  // The result with the repairs the reading applied (see `AnswerRepair`), recorded with the answer and counted.
  const parsed = Result.isFailure(response)
    ? Result.fail(response.failure)
    : context.ask === undefined
      ? readResult(call, response.success.text)
      : yield* readAsked(call, context.ask, response.success.text)
  const repairs = Result.isSuccess(parsed) ? parsed.success.repairs : []
  // A failed attempt is charged for what the provider reported it spent (carried on the error).
  const spent = Result.isSuccess(response)
    ? response.success
    : {
        usage: response.failure.usage ?? TokenUsage.empty,
        model: response.failure.model ?? agent.model,
        reportedCostUsd: response.failure.reportedCostUsd
      }
  const usage = spent.usage
  const model = spent.model
  if (Result.isSuccess(response)) {
    const reduced = state.reduced
    yield* call.store.saveAnswer(context.runId, stage, agent.id, attempt, {
      agent: agent.id,
      attempt,
      model,
      usage,
      reportedCostUsd: response.success.reportedCostUsd,
      text: response.success.text,
      ...(response.success.warnings === undefined ? {} : { warnings: response.success.warnings }),
      ...(repairs.length === 0 ? {} : { repairs }),
      ...(reduced === undefined ? {} : { reduced })
    })
    if (metrics.count) {
      for (const _ of repairs) yield* metrics.count({ kind: "repair", stage, agent: agent.id })
    }
    if (repairs.length > 0) state.repairs = repairs
    for (const message of response.success.warnings ?? []) {
      yield* events.emit({ _tag: "AgentWarning", stage, agent: agent.id, attempt, message })
    }
    yield* call.faults.crashPoint("after_answer")
  }
  const cost = yield* metrics.record({
    stage,
    agent: agent.id,
    attempt,
    model,
    usage,
    reportedCostUsd: spent.reportedCostUsd,
    ok: Result.isSuccess(parsed)
  })
  state.usage = TokenUsage.add(state.usage, usage)
  state.costUsd += cost.costUsd
  state.model = model
  call.progress(undefined)
  if (Result.isFailure(parsed)) return yield* Effect.fail(parsed.failure)
  return parsed.success.value
})

/** A call's failure as its final result (the other errors, store and budget, fail the call). */
const failedWith = (error: AgentError) => Effect.succeed(Result.fail(error))

/** An answer the agent's reading rejected: a `Malformed` failure of the attempt (retried as such). */
const malformed = (call: InFlight, error: StageResult.MalformedResult) =>
  new AgentError({ agent: call.agent.id, kind: "Malformed", detail: error.reason })

/** Reads an answer as the stage's result, without an effect (the common case: no `ask`). */
const readResult = (
  call: InFlight,
  text: string
): Result.Result<AnswerRepair.Repaired<StageResult.StageResult>, AgentError> => {
  const read = StageResult.read(call.context.stage, call.agent.id, text, call.strict)
  return Result.mapError(read, (error) => malformed(call, error))
}

/** Reads an answer with the `ask`'s own reading, collecting the repairs it reports (`AnswerRepair.Applied`). */
const readAsked = (
  call: InFlight,
  ask: Ask,
  text: string
): Effect.Effect<Result.Result<AnswerRepair.Repaired<StageResult.StageResult>, AgentError>> => {
  const repairs: Array<string> = []
  return ask.parse(text).pipe(
    Effect.provideService(AnswerRepair.Applied, repairs),
    Effect.map((value) => ({ value, repairs })),
    Effect.mapError((error) => malformed(call, error)),
    Effect.result
  )
}

/** Notes a failed attempt that will be retried: in the call's history, the metrics and the events. */
const onRetry = Effect.fnUntraced(function* (call: InFlight, retry: Resilience.Retrying) {
  const { state, context } = call
  const agent = call.agent.id
  state.history.push({ attempt: retry.attempt, kind: retry.kind, detail: retry.detail, waitedMs: retry.delayMs })
  state.repairNote = retry.repairNote
  if (call.metrics.count) yield* call.metrics.count({ kind: "retry", stage: context.stage, agent })
  yield* call.events.emit({
    _tag: "AgentRetrying",
    stage: context.stage,
    agent,
    attempt: retry.attempt + 1,
    kind: retry.kind,
    detail: retry.detail,
    resumeAt: retry.resumeAt
  })
})

/**
 * Calls one agent for a stage and returns its outcome. Agent failures become a `Failed` outcome;
 * only a store failure or an exhausted budget fails the effect.
 *
 * Under the agent's policy (`Resilience.AgentResilience`; one attempt by default) a failed attempt
 * is retried on the policy's schedule: every retry is a new attempt number (and idempotency key),
 * goes through the budget, the fault injector and the metrics again, and is preceded by an
 * `AgentRetrying` event; the failed attempts land in the outcome's `history` with the wait that
 * followed. Each attempt has the policy's timeout, and the whole call runs through the agent's
 * circuit breaker (`CircuitOpen` at once while it is open; `BreakerChanged` events on changes).
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
  context: CallContext,
  options: CallOptions = {}
): Effect.fn.Return<AgentOutcome.AgentOutcome, RunStoreError | BudgetExceeded, Services> {
  // Every service the call uses, read from the context once (not a `yield*` each).
  const services = yield* Effect.context<Services>()
  const clock = Context.get(services, Clock.Clock)
  const resilience = Context.get(services, Resilience.AgentResilience)
  const counter = Context.get(services, TokenCounter.TokenCounter)
  const policy = resilience.policyFor(agent.id)
  const resume = options.resume
  const resumed = resume?.handOver
  const started = resumed?.startedAt ?? clock.currentTimeMillisUnsafe()
  const state = stateOf(agent, resume)
  const call: InFlight = {
    agent,
    context,
    policy,
    deadline: started + policy.maxElapsedMs,
    state,
    progress: progressReporter(options.onProgress, state, counter),
    clock,
    faults: Context.get(services, FaultInjector),
    metrics: Context.get(services, SessionMetrics),
    store: Context.get(services, RunStore),
    events: options.events ?? Context.get(services, PipelineEvents),
    budget: Context.get(services, Budget),
    counter,
    catalogue: Context.get(services, ModelLimits.ModelLimits),
    strict: Context.get(services, AnswerRepair.Strict)
  }
  const { stage } = context
  const events = call.events
  /** The retry this call handed over to its caller, with the counters after it. */
  let handedOver: HandedOver | undefined

  // The schedule starts with the first failure: a first attempt that succeeds pays for none.
  const retried = Resilience.retry(attemptOnce(call), () =>
    Resilience.schedule(policy, {
      startedAt: started,
      used:
        resumed === undefined
          ? undefined
          : { attempts: state.attempt, retries: resumed.retries, malformed: resumed.malformed },
      handOver:
        options.handOverWaitsFromMs === undefined
          ? undefined
          : {
              fromMs: options.handOverWaitsFromMs,
              onHandOver: (retry, used) => {
                handedOver = { retry, ...used }
              }
            }
    }).pipe(Schedule.tap(({ output }) => (output === undefined ? Effect.void : onRetry(call, output))))
  )
  const guarded = resilience.guard(
    agent.id,
    retried,
    (change) => events.emit({ _tag: "BreakerChanged", stage, ...change }),
    { stage }
  )
  const final = yield* Effect.catchTag(Effect.map(guarded, Result.succeed), "AgentError", failedWith)
  const durationMs = clock.currentTimeMillisUnsafe() - started
  return outcomeOf(final, {
    agent,
    state,
    handedOver,
    started,
    deadline: call.deadline,
    durationMs,
    maxElapsedMs: policy.maxElapsedMs
  })
})

/**
 * The circuit breakers behind `Resilience.make`: one circuit per agent, keyed by the agent in an
 * `effect/persistence` `CircuitBreaker` per distinct policy, over one in-memory store whose
 * transitions are reported to the guarded call that made them.
 *
 * @internal
 */
import { Cause, Clock, Duration, Effect, Exit, type Fiber, type Scope } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { AgentError } from "../AgentError.ts"
import type { AgentId } from "../AgentId.ts"
import type { BreakerChange, GuardOptions, Policy, Service } from "../Resilience.ts"
import { SessionMetrics } from "../SessionMetrics.ts"
import type * as SpeckitConfig from "../SpeckitConfig.ts"
import type { Stage } from "../Stage.ts"

const closed = Effect.succeed("Closed" as const)

/** The longest a failure's retry-after hint may keep a circuit open (`CircuitBreaker`'s `maxOpenDuration`). */
const MAX_OPEN_MS = 3_600_000

/** Who to tell about the transitions a guarded call makes: set per fiber for the call's duration. */
interface Reporter {
  readonly onChange: (change: BreakerChange) => Effect.Effect<void>
  readonly stage: Stage | undefined
}

/** One agent's breaker: its circuit (keyed by the agent) in the `CircuitBreaker` of its policy. */
interface AgentBreaker {
  readonly agent: AgentId
  readonly failureThreshold: number
  readonly breaker: CircuitBreaker.CircuitBreaker
  /** The `execute` options: built once, so a call allocates none. */
  readonly options: {
    readonly key: string
    readonly classify: (
      exit: Exit.Exit<unknown, unknown>
    ) => CircuitBreaker.Outcome | Effect.Effect<CircuitBreaker.Outcome>
  }
}

const rateLimitedOutcome = (resetAt: number): Effect.Effect<CircuitBreaker.Outcome> =>
  Clock.clockWith((clock) =>
    Effect.succeed(
      CircuitBreaker.failure({
        retryAfter: Duration.millis(Math.min(MAX_OPEN_MS, Math.max(0, resetAt - clock.currentTimeMillisUnsafe())))
      })
    )
  )

/**
 * How a call's exit counts against its breaker: a success is a `success`; an interruption, a defect,
 * an `Interrupted` agent error and any error that is not an `AgentError` (an exhausted budget, a store
 * failure) are `ignored`; a `RateLimited` error with a reset time is a `failure` that keeps an opening
 * circuit open until the reset (capped at 1 h); any other `AgentError` is a `failure`.
 */
const classify = (
  exit: Exit.Exit<unknown, unknown>
): CircuitBreaker.Outcome | Effect.Effect<CircuitBreaker.Outcome> => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.success
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None" || !(error.value instanceof AgentError)) return CircuitBreaker.ignored
  const failure = error.value
  if (failure.kind === "Interrupted") return CircuitBreaker.ignored
  return failure.kind === "RateLimited" && failure.resetAt !== undefined ? rateLimitedOutcome(failure.resetAt) : failed
}

const failed = CircuitBreaker.failure()

/** A rejection of the breaker as the agent's `CircuitOpen` error, with when the circuit lets a trial call through. */
const rejection = (
  breaker: AgentBreaker,
  error: CircuitBreaker.CircuitBreakerError
): Effect.Effect<never, AgentError> =>
  Clock.clockWith((clock) => {
    const reason = error.reason
    let detail: string
    switch (reason._tag) {
      case "CircuitOpen": {
        const waitMs = Duration.toMillis(reason.retryAfter)
        const at = new Date(clock.currentTimeMillisUnsafe() + waitMs).toISOString()
        detail = `circuit open after ${breaker.failureThreshold} consecutive failed calls; next trial call at ${at} (in ${Math.ceil(waitMs / 1000)} s)`
        break
      }
      case "CircuitHalfOpen":
        detail = "circuit half-open: a trial call is in progress"
        break
      default:
        detail = `circuit breaker unavailable: ${reason.message}`
    }
    return Effect.fail(new AgentError({ agent: breaker.agent, kind: "CircuitOpen", detail }))
  })

const stateOf = (state: CircuitBreaker.State): "Closed" | "Open" | "HalfOpen" => state._tag
const readClosed = () => closed

export const make = (
  config: SpeckitConfig.SpeckitConfig,
  policyOf: (config: SpeckitConfig.SpeckitConfig, agent: AgentId) => Policy
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    // The reporter of the guarded call running on each fiber: the store reports a transition to the
    // call that made it, synchronously (before the trial call starts, before the call returns).
    const reporters = new WeakMap<Fiber.Fiber<unknown, unknown>, Reporter>()
    const report = (transition: CircuitBreaker.Transition): Effect.Effect<void> =>
      Effect.withFiber((fiber) => {
        const reporter = reporters.get(fiber)
        if (reporter === undefined) return Effect.void
        const agent = transition.key as AgentId
        if (transition.to !== "Open") return reporter.onChange({ agent, from: transition.from, to: transition.to })
        return Clock.clockWith((clock) => {
          const reopensAt = clock.currentTimeMillisUnsafe() + Duration.toMillis(transition.retryAfter)
          const changed = reporter.onChange({ agent, from: transition.from, to: "Open", reopensAt })
          const stage = reporter.stage
          if (stage === undefined) return changed
          return Effect.andThen(
            changed,
            Effect.flatMap(Effect.serviceOption(SessionMetrics), (metrics) =>
              metrics._tag === "Some" && metrics.value.count !== undefined
                ? metrics.value.count({ kind: "circuit_open", stage, agent })
                : Effect.void
            )
          )
        })
      })
    // The in-memory store (idle keys never expire within a run), reporting the transitions it makes.
    const memory = yield* Effect.service(CircuitBreaker.CircuitBreakerStore).pipe(
      Effect.provide(CircuitBreaker.layerStoreMemory({ idleTimeToLive: Duration.infinity }))
    )
    const store = CircuitBreaker.CircuitBreakerStore.of({
      admit: (key) =>
        Effect.flatMap(memory.admit(key), (admission) =>
          admission.transition === undefined
            ? Effect.succeed(admission)
            : Effect.as(report(admission.transition), admission)
        ),
      record: (options) =>
        Effect.flatMap(memory.record(options), (transition) =>
          transition === undefined ? Effect.undefined : Effect.as(report(transition), transition)
        ),
      state: memory.state
    })

    const policies = new Map<string, Policy>()
    const byPolicy = new Map<string, CircuitBreaker.CircuitBreaker>()
    const breakers = new Map<string, AgentBreaker>()
    for (const id of Object.keys(config.agents ?? {})) {
      const agent = id as AgentId
      const policy = policyOf(config, agent)
      policies.set(id, policy)
      if (policy.breaker === undefined) continue
      const failureThreshold = Math.max(1, Math.floor(policy.breaker.failureThreshold))
      const resetAfterMs = Math.max(0, policy.breaker.resetAfterMs)
      const policyKey = `${failureThreshold}/${resetAfterMs}`
      let breaker = byPolicy.get(policyKey)
      if (breaker === undefined) {
        breaker = yield* CircuitBreaker.make({
          tripPolicy: CircuitBreaker.consecutive(failureThreshold),
          openDuration: Duration.millis(resetAfterMs),
          maxOpenDuration: Duration.millis(MAX_OPEN_MS)
        }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
        byPolicy.set(policyKey, breaker)
      }
      breakers.set(id, { agent, failureThreshold, breaker, options: { key: id, classify } })
    }

    const service: Service = {
      policyFor: (agent) => policies.get(agent) ?? policyOf(config, agent),
      state: (agent) => {
        const entry = breakers.get(agent)
        return entry === undefined
          ? closed
          : entry.breaker.state(agent).pipe(Effect.map(stateOf), Effect.catch(readClosed))
      },
      guard: <A, E, R>(
        agent: AgentId,
        self: Effect.Effect<A, E, R>,
        onChange: (change: BreakerChange) => Effect.Effect<void>,
        options?: GuardOptions
      ): Effect.Effect<A, E | AgentError, R> => {
        const entry = breakers.get(agent)
        if (entry === undefined) return self
        const reporter: Reporter = { onChange, stage: options?.stage }
        return Effect.withFiber((fiber) => {
          const previous = reporters.get(fiber)
          reporters.set(fiber, reporter)
          const restore = () => {
            if (previous === undefined) reporters.delete(fiber)
            else reporters.set(fiber, previous)
          }
          return Effect.matchCauseEffect(entry.breaker.execute(self, entry.options), {
            onSuccess: (value) => {
              restore()
              return Effect.succeed(value)
            },
            onFailure: (cause): Effect.Effect<never, E | AgentError> => {
              restore()
              const error = Cause.findErrorOption(cause)
              return error._tag === "Some" && error.value instanceof CircuitBreaker.CircuitBreakerError
                ? rejection(entry, error.value)
                : Effect.failCause(cause as Cause.Cause<E>)
            }
          })
        })
      }
    }
    return service
  })

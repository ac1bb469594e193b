/**
 * The circuit breakers behind `Resilience.make`: one circuit per agent, keyed by the agent in one
 * in-memory `effect/persistence` `CircuitBreakerStore` (the state machine: trips, the half-open
 * probe, generations). A guarded call is admitted by the store, runs, and has its outcome recorded;
 * the transitions the store reports on the way are told to the call that made them.
 *
 * The store is driven directly rather than through `CircuitBreaker.execute`: `execute` opens a scope
 * per call for the admission's lease (the in-memory store takes none) and publishes transitions to a
 * stream nobody reads here, and this is every agent call's path.
 *
 * @internal
 */
import { Cause, Clock, Duration, Effect, Exit, Scope } from "effect"
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

/** Who to tell about the transitions a guarded call makes. */
interface Reporter {
  readonly onChange: (change: BreakerChange) => Effect.Effect<void>
  readonly stage: Stage | undefined
}

/** One agent's breaker: its circuit (keyed by the agent) and its policy. */
interface AgentBreaker {
  readonly agent: AgentId
  readonly failureThreshold: number
  readonly tripPolicy: CircuitBreaker.TripPolicy
  /** How long a failure that trips the circuit keeps it open (`resetAfterMs`). */
  readonly openMs: number
  /** The admission of a call into its circuit, made once (every call of the agent runs it). */
  readonly admit: Effect.Effect<CircuitBreaker.Admission, CircuitBreaker.CircuitBreakerError>
}

/**
 * How a call's exit counts for its breaker: a success is a `Success`; interruptions, defects,
 * `Interrupted` and errors that are not `AgentError`s are `Ignored`; any other `AgentError` is a
 * `Failure`, held open until a rate limit's reset when it names one (`resetAt`, epoch ms).
 */
const classify = (
  exit: Exit.Exit<unknown, unknown>
): { readonly outcome: "Success" | "Failure" | "Ignored"; readonly resetAt?: number } => {
  if (Exit.isSuccess(exit)) return success
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None" || !(error.value instanceof AgentError)) return ignored
  const failure = error.value
  if (failure.kind === "Interrupted") return ignored
  if (failure.kind === "RateLimited" && failure.resetAt !== undefined) {
    return { outcome: "Failure", resetAt: failure.resetAt }
  }
  return failed
}

const success = { outcome: "Success" } as const
const ignored = { outcome: "Ignored" } as const
const failed = { outcome: "Failure" } as const

/** A rejected admission as the `CircuitOpen` agent error, saying when the next trial call is let through. */
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

/** Tells a transition to the call that made it, and counts an opening in its stage. */
const report = (reporter: Reporter, transition: CircuitBreaker.Transition): Effect.Effect<void> => {
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
}

/** Builds the breakers of a configuration's agents and the resilience service over them. */
export const make = (
  config: SpeckitConfig.SpeckitConfig,
  policyOf: (config: SpeckitConfig.SpeckitConfig, agent: AgentId) => Policy
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    // The in-memory store (idle keys never expire within a run). Its admissions take no lease, so
    // they are all given the service's scope.
    const store = yield* Effect.service(CircuitBreaker.CircuitBreakerStore).pipe(
      Effect.provide(CircuitBreaker.layerStoreMemory({ idleTimeToLive: Duration.infinity }))
    )
    const scope = yield* Effect.scope
    const policies = new Map<string, Policy>()
    const breakers = new Map<string, AgentBreaker>()
    for (const id of Object.keys(config.agents ?? {})) {
      const agent = id as AgentId
      const policy = policyOf(config, agent)
      policies.set(id, policy)
      if (policy.breaker === undefined) continue
      const failureThreshold = Math.max(1, Math.floor(policy.breaker.failureThreshold))
      breakers.set(id, {
        agent,
        failureThreshold,
        tripPolicy: CircuitBreaker.consecutive(failureThreshold),
        openMs: Math.max(0, policy.breaker.resetAfterMs),
        admit: Scope.provide(store.admit(agent), scope)
      })
    }

    /** Records a call's exit in its circuit (under the admission's generation) and reports a transition. */
    const record = (
      breaker: AgentBreaker,
      admission: CircuitBreaker.Admission,
      exit: Exit.Exit<unknown, unknown>,
      reporter: Reporter
    ) => {
      const { outcome, resetAt } = classify(exit)
      const recordFor = (openFor: Duration.Duration) =>
        store
          .record({
            key: breaker.agent,
            generation: admission.generation,
            outcome,
            tripPolicy: breaker.tripPolicy,
            openFor
          })
          .pipe(
            Effect.flatMap((transition) => (transition === undefined ? Effect.void : report(reporter, transition))),
            // The in-memory store does not fail; an outcome it could not record changes nothing.
            Effect.catch(() => Effect.void)
          )
      // Only a failure can open the circuit: for the policy's time, or until a rate limit resets
      // (capped), which needs the clock.
      if (outcome !== "Failure") return recordFor(Duration.zero)
      if (resetAt === undefined) return recordFor(Duration.millis(breaker.openMs))
      return Clock.clockWith((clock) => {
        const untilReset = Math.min(MAX_OPEN_MS, Math.max(0, resetAt - clock.currentTimeMillisUnsafe()))
        return recordFor(Duration.millis(Math.max(breaker.openMs, untilReset)))
      })
    }

    const service: Service = {
      policyFor: (agent) => policies.get(agent) ?? policyOf(config, agent),
      state: (agent) =>
        breakers.has(agent) ? store.state(agent).pipe(Effect.map(stateOf), Effect.catch(readClosed)) : closed,
      guard: <A, E, R>(
        agent: AgentId,
        self: Effect.Effect<A, E, R>,
        onChange: (change: BreakerChange) => Effect.Effect<void>,
        options?: GuardOptions
      ): Effect.Effect<A, E | AgentError, R> => {
        const breaker = breakers.get(agent)
        if (breaker === undefined) return self
        const reporter: Reporter = { onChange, stage: options?.stage }
        return Effect.uninterruptibleMask((restore) =>
          Effect.matchEffect(breaker.admit, {
            onFailure: (error) => rejection(breaker, error),
            onSuccess: (admission) => {
              const run = Effect.flatMap(Effect.exit(restore(self)), (exit) =>
                Effect.andThen(record(breaker, admission, exit, reporter), exit)
              )
              return admission.transition === undefined
                ? run
                : Effect.andThen(report(reporter, admission.transition), run)
            }
          })
        )
      }
    }
    return service
  })

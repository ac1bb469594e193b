/**
 * Resilient agent calls: per-agent retry policies as `Schedule`s, per-attempt timeouts and per-agent
 * circuit breakers (`effect/persistence` `CircuitBreaker`, one key per agent, living for the whole
 * run). `AgentCall` reads the {@link AgentResilience} service; its default makes one attempt, without
 * timeout or breaker, and `Resilience.layer(config)` applies a configuration's policies.
 *
 * Order of a call: breaker → retry schedule → (budget, fault injector, timeout → agent, validation).
 * The breaker sees one outcome per call (a call a retry rescued is one success), as the
 * `CircuitBreaker` module recommends; an open circuit fails the call at once with `CircuitOpen`.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Layer, Random, Schedule, type Scope } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { AgentError, type AgentErrorKind, isRetryable } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import type * as SpeckitConfig from "./SpeckitConfig.ts"

/**
 * A fully resolved call policy of one agent.
 *
 * @since 0.1.0
 */
export interface Policy {
  /** Retries after the first attempt (not counting malformed-answer retries). */
  readonly maxRetries: number
  readonly initialDelayMs: number
  readonly factor: number
  readonly maxDelayMs: number
  /** Jitter as a fraction of each delay (0 to 1): a delay `d` becomes uniform in `d·(1 ± jitter)`, then capped. */
  readonly jitter: number
  /** The most time one call may take, across its attempts and waits. */
  readonly maxElapsedMs: number
  readonly maxMalformedRetries: number
  /** The timeout of each attempt, when there is one. */
  readonly timeoutMs: number | undefined
  /** The circuit breaker, when there is one. */
  readonly breaker: { readonly failureThreshold: number; readonly resetAfterMs: number } | undefined
}

/**
 * The defaults `layer(config)` applies to every field a configuration leaves out.
 *
 * @example
 * ```ts
 * import { Resilience } from "@speckit/core"
 *
 * Resilience.defaults.maxRetries // 3
 * ```
 *
 * @since 0.1.0
 */
export const defaults: Policy = {
  maxRetries: 3,
  initialDelayMs: 1_000,
  factor: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
  maxElapsedMs: 600_000,
  maxMalformedRetries: 2,
  timeoutMs: 600_000,
  breaker: { failureThreshold: 3, resetAfterMs: 60_000 }
}

/**
 * One attempt, no timeout, no breaker: the behaviour without `Resilience.layer`.
 *
 * @example
 * ```ts
 * import { Resilience } from "@speckit/core"
 *
 * Resilience.singleAttempt.maxRetries // 0
 * ```
 *
 * @since 0.1.0
 */
export const singleAttempt: Policy = {
  maxRetries: 0,
  initialDelayMs: 0,
  factor: 1,
  maxDelayMs: 0,
  jitter: 0,
  maxElapsedMs: Number.POSITIVE_INFINITY,
  maxMalformedRetries: 0,
  timeoutMs: undefined,
  breaker: undefined
}

/**
 * Resolves an agent's policy: `agents.<id>.retry` / `.breaker` / `.timeoutMs` over the global
 * `retry` / `breaker`, field by field, over {@link defaults}.
 *
 * @example
 * ```ts
 * import { AgentId, Resilience, SpeckitConfig } from "@speckit/core"
 *
 * Resilience.policyOf(SpeckitConfig.defaultConfig, AgentId.make("alpha")).initialDelayMs // 1000
 * ```
 *
 * @since 0.1.0
 */
export const policyOf = (config: SpeckitConfig.SpeckitConfig, agent: AgentId): Policy => {
  const own = config.agents?.[agent]
  const retry = { ...config.retry, ...own?.retry }
  const breaker = { ...config.breaker, ...own?.breaker }
  return {
    maxRetries: retry.maxRetries ?? defaults.maxRetries,
    initialDelayMs: retry.initialDelayMs ?? defaults.initialDelayMs,
    factor: retry.factor ?? defaults.factor,
    maxDelayMs: retry.maxDelayMs ?? defaults.maxDelayMs,
    jitter: retry.jitter ?? defaults.jitter,
    maxElapsedMs: retry.maxElapsedMs ?? defaults.maxElapsedMs,
    maxMalformedRetries: retry.maxMalformedRetries ?? defaults.maxMalformedRetries,
    timeoutMs: own?.timeoutMs ?? defaults.timeoutMs,
    breaker: {
      failureThreshold: breaker.failureThreshold ?? defaults.breaker?.failureThreshold ?? 3,
      resetAfterMs: breaker.resetAfterMs ?? defaults.breaker?.resetAfterMs ?? 60_000
    }
  }
}

/**
 * A retry decided by {@link schedule}: the failed attempt, and the wait before the next one.
 *
 * @since 0.1.0
 */
export interface Retrying {
  /** The attempt that failed. */
  readonly attempt: number
  readonly kind: AgentErrorKind
  readonly detail: string
  /** The wait before the next attempt. */
  readonly delayMs: number
  /** When the next attempt starts (epoch ms). */
  readonly resumeAt: number
  /** For a malformed answer: what the next prompt says was wrong. */
  readonly repairNote: string | undefined
}

/** The most a rate-limit wait adds to the reset time, at `jitter` 1 (scaled by the policy's jitter). */
const RATE_LIMIT_JITTER_MS = 1_000

/**
 * The backoff delay before retry number `retry` (1-based), before jitter and cap.
 *
 * @example
 * ```ts
 * import { Resilience } from "@speckit/core"
 *
 * Resilience.backoffMs(Resilience.defaults, 3) // 4000
 * ```
 *
 * @since 0.1.0
 */
export const backoffMs = (policy: Policy, retry: number): number =>
  Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (retry - 1))

/**
 * What the repair prompt says about a malformed answer.
 *
 * @example
 * ```ts
 * import { AgentError, Resilience } from "@speckit/core"
 *
 * Resilience.repairNote(new AgentError.AgentError({ agent: "a", kind: "Malformed", detail: "missing summary" }))
 * ```
 *
 * @since 0.1.0
 */
export const repairNote = (error: AgentError): string => `It was not a valid result for this stage: ${error.detail}.`

/**
 * The retry policy of one call as a `Schedule` over its failures (any other input stops it). It
 * outputs each retry's {@link Retrying} decision (`undefined` once it stops):
 *
 * - permanent errors (`AgentError.isRetryable` false) are never retried;
 * - `Malformed` is retried at once, at most `maxMalformedRetries` times, with a repair note;
 * - `RateLimited` with a `resetAt` waits until then plus up to `jitter × 1 s`, else
 *   exponential backoff (`initialDelayMs × factor^(n-1)`, ± `jitter`, capped at `maxDelayMs`);
 *   both count against `maxRetries`;
 * - no wait may end after `startedAt + maxElapsedMs`: the schedule stops instead.
 *
 * Jitter is drawn from the `Random` service, so `Random.withSeed` makes it deterministic.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resilience } from "@speckit/core"
 *
 * declare const attempt: Effect.Effect<string, import("@speckit/core").AgentError.AgentError>
 * const retried = Effect.retry(attempt, Resilience.schedule(Resilience.defaults, { startedAt: 0 }))
 * ```
 *
 * @since 0.1.0
 */
export const schedule = (
  policy: Policy,
  options: { readonly startedAt: number }
): Schedule.Schedule<Retrying | undefined, unknown> =>
  Schedule.fromStepWithMetadata(
    Effect.sync(() => {
      let retries = 0
      let malformed = 0
      let attempt = 0
      const deadline = options.startedAt + policy.maxElapsedMs
      return (meta: Schedule.InputMetadata<unknown>) =>
        Effect.gen(function* () {
          attempt++
          const error = meta.input
          if (!(error instanceof AgentError) || !isRetryable(error)) return yield* Cause.done(undefined)
          let delayMs = 0
          let note: string | undefined
          if (error.kind === "Malformed") {
            if (malformed >= policy.maxMalformedRetries) return yield* Cause.done(undefined)
            malformed++
            note = repairNote(error)
          } else {
            if (retries >= policy.maxRetries) return yield* Cause.done(undefined)
            retries++
            const random = policy.jitter > 0 ? yield* Random.next : 0.5
            if (error.kind === "RateLimited" && error.resetAt !== undefined) {
              delayMs =
                Math.max(0, error.resetAt - meta.now) + Math.round(random * policy.jitter * RATE_LIMIT_JITTER_MS)
            } else {
              const base = backoffMs(policy, retries)
              delayMs = Math.min(policy.maxDelayMs, Math.round(base * (1 + policy.jitter * (2 * random - 1))))
            }
          }
          if (meta.now + delayMs > deadline) return yield* Cause.done(undefined)
          const decision: Retrying = {
            attempt,
            kind: error.kind,
            detail: error.detail,
            delayMs,
            resumeAt: meta.now + delayMs,
            repairNote: note
          }
          return [decision, Duration.millis(delayMs)] as [Retrying, Duration.Duration]
        })
    })
  )

/**
 * Wraps one attempt in its timeout: an attempt still running after `timeoutMs` is interrupted (an
 * exec agent's process group is terminated) and fails with `Timeout`. No timeout when `undefined`
 * or infinite.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resilience } from "@speckit/core"
 *
 * const attempt = Resilience.withTimeout(Effect.never, "alpha", 1_000)
 * ```
 *
 * @since 0.1.0
 */
export const withTimeout = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  agent: string,
  timeoutMs: number | undefined,
  reason?: string
): Effect.Effect<A, E | AgentError, R> =>
  timeoutMs === undefined || !Number.isFinite(timeoutMs)
    ? self
    : Effect.timeoutOrElse(self, {
        duration: Duration.millis(Math.max(0, timeoutMs)),
        orElse: () =>
          Effect.fail(new AgentError({ agent, kind: "Timeout", detail: reason ?? `no answer within ${timeoutMs} ms` }))
      })

/**
 * A circuit-breaker state change, as reconstructed around one call.
 *
 * @since 0.1.0
 */
export interface BreakerChange {
  readonly agent: AgentId
  readonly from: "Closed" | "Open" | "HalfOpen"
  readonly to: "Closed" | "Open" | "HalfOpen"
  /** For `to: "Open"`: when a trial call will be let through again (epoch ms). */
  readonly reopensAt?: number | undefined
}

/**
 * The resilience of a run's agent calls: each agent's policy and its circuit breaker.
 *
 * @since 0.1.0
 */
export interface Service {
  readonly policyFor: (agent: AgentId) => Policy
  /**
   * Runs a whole call (its retries included) through the agent's breaker: fails with `CircuitOpen`
   * without running it while the circuit is open, and reports every state change to `onChange`.
   */
  readonly guard: <A, E, R>(
    agent: AgentId,
    self: Effect.Effect<A, E, R>,
    onChange: (change: BreakerChange) => Effect.Effect<void>
  ) => Effect.Effect<A, E | AgentError, R>
  /** The agent's circuit state (`Closed` without a breaker). */
  readonly state: (agent: AgentId) => Effect.Effect<"Closed" | "Open" | "HalfOpen">
}

const unguarded: Service = {
  policyFor: () => singleAttempt,
  guard: (_agent, self) => self,
  state: () => Effect.succeed("Closed")
}

/**
 * The run's resilience service. Its default makes one attempt per call, without timeout or breaker
 * (what library users and tests get unless they provide {@link layer}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentId, Resilience } from "@speckit/core"
 *
 * const policy = Effect.map(Resilience.AgentResilience.asEffect(), (r) => r.policyFor(AgentId.make("alpha")))
 * ```
 *
 * @since 0.1.0
 */
export const AgentResilience = Context.Reference<Service>("@speckit/core/AgentResilience", {
  defaultValue: () => unguarded
})

const classify = (exit: Exit.Exit<unknown, unknown>, now: number): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.success
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None" || !(error.value instanceof AgentError)) return CircuitBreaker.ignored
  const failure = error.value
  if (failure.kind === "Interrupted") return CircuitBreaker.ignored
  if (failure.kind === "RateLimited" && failure.resetAt !== undefined) {
    return CircuitBreaker.failure({ retryAfter: Duration.millis(Math.max(0, failure.resetAt - now)) })
  }
  return CircuitBreaker.failure()
}

const rejectionOf = (agent: AgentId, error: CircuitBreaker.CircuitBreakerError, policy: Policy | undefined) => {
  const reason = error.reason
  const detail =
    reason._tag === "CircuitOpen"
      ? `circuit open after ${policy?.breaker?.failureThreshold ?? "repeated"} consecutive failed calls; next trial call in ${Math.ceil(Duration.toMillis(reason.retryAfter) / 1000)} s`
      : reason._tag === "CircuitHalfOpen"
        ? "circuit half-open: a trial call is in progress"
        : `circuit breaker unavailable: ${reason.message}`
  return new AgentError({ agent, kind: "CircuitOpen", detail })
}

/**
 * Builds the resilience service of a configuration: resolved policies and one breaker per agent
 * that has one, all in one in-memory circuit store keyed by agent id. The breakers live as long
 * as the scope (a run, when provided as {@link layer}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resilience, SpeckitConfig } from "@speckit/core"
 *
 * const service = Resilience.make(SpeckitConfig.defaultConfig).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
export const make = (config: SpeckitConfig.SpeckitConfig): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* Layer.build(CircuitBreaker.layerStoreMemory({ idleTimeToLive: "24 hours" }))
    const policies = new Map<string, Policy>()
    const breakers = new Map<string, CircuitBreaker.CircuitBreaker>()
    for (const id of Object.keys(config.agents ?? {})) {
      const policy = policyOf(config, id as AgentId)
      policies.set(id, policy)
      if (policy.breaker !== undefined) {
        const breaker = yield* CircuitBreaker.make({
          tripPolicy: CircuitBreaker.consecutive(policy.breaker.failureThreshold),
          openDuration: Duration.millis(policy.breaker.resetAfterMs)
        }).pipe(Effect.provideContext(store))
        breakers.set(id, breaker)
      }
    }
    const known = new Map<string, "Closed" | "Open" | "HalfOpen">()
    const stateOf = (breaker: CircuitBreaker.CircuitBreaker, agent: AgentId) =>
      breaker.state(agent).pipe(
        Effect.map((state) => state._tag),
        Effect.orElseSucceed(() => "Closed" as const)
      )
    const service: Service = {
      policyFor: (agent) => policies.get(agent) ?? policyOf(config, agent),
      state: (agent) => {
        const breaker = breakers.get(agent)
        return breaker === undefined ? Effect.succeed("Closed") : stateOf(breaker, agent)
      },
      guard: (agent, self, onChange) => {
        const breaker = breakers.get(agent)
        if (breaker === undefined) return self
        return Effect.gen(function* () {
          // Only this service records outcomes in its store, so a circuit it last saw Closed is still
          // Closed: the store is read only when it may have moved (saves a read on the happy path).
          const before = known.get(agent) === "Closed" ? "Closed" : yield* stateOf(breaker, agent)
          known.set(agent, before)
          let rejected = false
          const exit = yield* breaker
            .execute(self, {
              key: agent,
              classify: (exit) => Effect.map(Clock.currentTimeMillis, (now) => classify(exit, now))
            })
            .pipe(
              Effect.catchIf(
                (error): error is CircuitBreaker.CircuitBreakerError =>
                  error instanceof CircuitBreaker.CircuitBreakerError,
                (error) => {
                  rejected = error.reason._tag !== "CircuitBreakerStoreError"
                  return Effect.fail(rejectionOf(agent, error, policies.get(agent)))
                }
              ),
              Effect.exit
            )
          if (!rejected && !(before === "Closed" && Exit.isSuccess(exit))) {
            const after = yield* breaker.state(agent).pipe(Effect.orElseSucceed(() => undefined))
            const now = yield* Clock.currentTimeMillis
            const to = after?._tag ?? "Closed"
            known.set(agent, to)
            const reopensAt = after?._tag === "Open" ? now + Duration.toMillis(after.retryAfter) : undefined
            if (before !== "Closed") {
              if (before === "Open") yield* onChange({ agent, from: "Open", to: "HalfOpen" })
              if (to !== "HalfOpen") yield* onChange({ agent, from: "HalfOpen", to, reopensAt })
            } else if (to !== "Closed") {
              yield* onChange({ agent, from: "Closed", to, reopensAt })
            }
          }
          return yield* exit
        })
      }
    }
    return service
  })

/**
 * The resilience of a configuration as a layer: provide it once per run (breakers then span every
 * stage of the run).
 *
 * @example
 * ```ts
 * import { Resilience, SpeckitConfig } from "@speckit/core"
 *
 * const layer = Resilience.layer(SpeckitConfig.defaultConfig)
 * ```
 *
 * @since 0.1.0
 */
export const layer = (config: SpeckitConfig.SpeckitConfig) => Layer.effect(AgentResilience, make(config))

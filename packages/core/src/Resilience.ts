/**
 * Resilient agent calls: per-agent retry policies as `Schedule`s, per-attempt timeouts and per-agent
 * circuit breakers (one per agent, living for the whole run). `AgentCall` reads the
 * {@link AgentResilience} service; its default makes one attempt, without timeout or breaker, and
 * `Resilience.layer(config)` applies a configuration's policies.
 *
 * Order of a call: breaker → retry schedule → (budget, fault injector, timeout → agent, validation).
 * The breaker sees one outcome per call (a call a retry rescued is one success); an open circuit
 * fails the call at once with `CircuitOpen`.
 *
 * The breakers are a small in-process state machine (one plain record per agent: consecutive failed
 * calls, when an open circuit lets a trial call through, whether that trial is in flight), not
 * `effect/persistence`'s `CircuitBreaker`. Its semantics are the same as the one it replaced
 * (`CircuitBreaker.consecutive(failureThreshold)`, a fixed `openDuration`, the memory store), but
 * that module admits and records every call through its store (a scope, an uninterruptible region
 * and two store round-trips per call) because its store may be shared (Redis) across processes.
 * Measured with `bench/resilience.bench.ts`, that was most of the wrapper's happy-path cost (the
 * wrapper ran 1.22–1.40× cockatiel's equivalent policy). Speckit's breakers are per run and
 * in-process, so a closed circuit now costs one state check and one continuation per call. Should
 * breakers ever need to be shared between processes, `CircuitBreaker` with a Redis store is the way.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Layer, Random, Schedule, type Scope } from "effect"
import { AgentError, type AgentErrorKind, isRetryable } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import { SessionMetrics } from "./SessionMetrics.ts"
import type * as SpeckitConfig from "./SpeckitConfig.ts"
import type { Stage } from "./Stage.ts"

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
    : // A race with the timer rather than `Effect.timeoutOrElse`, which wraps the same race in an
      // `Option` and a `flatMap` on every attempt.
      Effect.raceFirst(
        self,
        Effect.flatMap(Effect.sleep(Duration.millis(Math.max(0, timeoutMs))), () =>
          Effect.fail(new AgentError({ agent, kind: "Timeout", detail: reason ?? `no answer within ${timeoutMs} ms` }))
        )
      )

/**
 * A circuit-breaker state change, reported by {@link Service.guard} as it happens.
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
 * What a caller tells {@link Service.guard} about the call it guards.
 *
 * @example
 * ```ts
 * import type { Resilience } from "@speckit/core"
 *
 * const options: Resilience.GuardOptions = { stage: "plan" }
 * ```
 *
 * @since 0.1.0
 */
export interface GuardOptions {
  /**
   * The stage the call belongs to. When given, an opening circuit is counted as a `circuit_open`
   * event on the current `SessionMetrics` (when it counts events).
   */
  readonly stage?: Stage | undefined
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
   * without running it while the circuit is open, and reports every state change to `onChange`
   * (`Open → HalfOpen` as the trial call starts, the trial's outcome when it ends). With
   * `options.stage`, every opening is also counted as a `circuit_open` event on `SessionMetrics`.
   */
  readonly guard: <A, E, R>(
    agent: AgentId,
    self: Effect.Effect<A, E, R>,
    onChange: (change: BreakerChange) => Effect.Effect<void>,
    options?: GuardOptions
  ) => Effect.Effect<A, E | AgentError, R>
  /** The agent's circuit state (`Closed` without a breaker). */
  readonly state: (agent: AgentId) => Effect.Effect<"Closed" | "Open" | "HalfOpen">
}

const closed = Effect.succeed("Closed" as const)

const unguarded: Service = {
  policyFor: () => singleAttempt,
  guard: (_agent, self) => self,
  state: () => closed
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

/** The longest a failure's retry-after hint may keep a circuit open (as `CircuitBreaker`'s default). */
const MAX_OPEN_MS = 3_600_000

/** One agent's circuit. Mutated in place: every check and update is synchronous. */
interface Breaker {
  readonly agent: AgentId
  readonly failureThreshold: number
  readonly resetAfterMs: number
  state: "Closed" | "Open" | "HalfOpen"
  /** Bumped on every transition: the outcome of a call admitted under an older one is ignored. */
  generation: number
  /** Consecutive failed calls while closed. */
  failures: number
  /** While open: when a trial call will be let through (epoch ms). */
  openUntil: number
  /** While half-open: whether the trial call is running. */
  probing: boolean
}

/**
 * How a failed call counts against the breaker: `undefined` when it does not count (an interruption,
 * a defect, an `Interrupted` agent error, any error that is not an `AgentError` such as an exhausted
 * budget or a store failure), else the least time (ms) it keeps an opening circuit open: 0, or the
 * wait until a `RateLimited` reset.
 */
const failureHold = (cause: Cause.Cause<unknown>, now: number): number | undefined => {
  if (Cause.hasInterruptsOnly(cause)) return undefined
  const error = Cause.findErrorOption(cause)
  if (error._tag === "None" || !(error.value instanceof AgentError)) return undefined
  const failure = error.value
  if (failure.kind === "Interrupted") return undefined
  return failure.kind === "RateLimited" && failure.resetAt !== undefined ? Math.max(0, failure.resetAt - now) : 0
}

const rejection = (breaker: Breaker, now: number): AgentError =>
  new AgentError({
    agent: breaker.agent,
    kind: "CircuitOpen",
    detail:
      breaker.state === "Open"
        ? `circuit open after ${breaker.failureThreshold} consecutive failed calls; next trial call in ${Math.ceil((breaker.openUntil - now) / 1000)} s`
        : "circuit half-open: a trial call is in progress"
  })

/**
 * Builds the resilience service of a configuration: resolved policies and one circuit breaker per
 * agent that has one (in process, for as long as the service lives: a run, when provided as
 * {@link layer}).
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
  Effect.sync(() => {
    const policies = new Map<string, Policy>()
    const breakers = new Map<string, Breaker>()
    for (const id of Object.keys(config.agents ?? {})) {
      const agent = id as AgentId
      const policy = policyOf(config, agent)
      policies.set(id, policy)
      if (policy.breaker !== undefined) {
        breakers.set(id, {
          agent,
          failureThreshold: Math.max(1, Math.floor(policy.breaker.failureThreshold)),
          resetAfterMs: Math.max(0, policy.breaker.resetAfterMs),
          state: "Closed",
          generation: 0,
          failures: 0,
          openUntil: 0,
          probing: false
        })
      }
    }

    /** Opens the circuit; reports the change and counts it. */
    const open = (
      breaker: Breaker,
      from: "Closed" | "HalfOpen",
      hold: number,
      now: number,
      onChange: (change: BreakerChange) => Effect.Effect<void>,
      options: GuardOptions | undefined
    ): Effect.Effect<void> => {
      breaker.state = "Open"
      breaker.generation++
      breaker.failures = 0
      breaker.probing = false
      breaker.openUntil = now + Math.max(breaker.resetAfterMs, Math.min(hold, MAX_OPEN_MS))
      const changed = onChange({ agent: breaker.agent, from, to: "Open", reopensAt: breaker.openUntil })
      const stage = options?.stage
      if (stage === undefined) return changed
      return Effect.andThen(
        changed,
        Effect.serviceOption(SessionMetrics).pipe(
          Effect.flatMap((metrics) =>
            metrics._tag === "Some" && metrics.value.count !== undefined
              ? metrics.value.count({ kind: "circuit_open", stage, agent: breaker.agent })
              : Effect.void
          )
        )
      )
    }

    /** A call admitted while closed: a success resets the streak, a counted failure extends it. */
    const whileClosed = <A, E, R>(
      breaker: Breaker,
      self: Effect.Effect<A, E, R>,
      onChange: (change: BreakerChange) => Effect.Effect<void>,
      options: GuardOptions | undefined
    ): Effect.Effect<A, E, R> => {
      const generation = breaker.generation
      return Effect.matchCauseEffect(self, {
        onSuccess: (value) => {
          if (breaker.generation === generation) breaker.failures = 0
          return Effect.succeed(value)
        },
        onFailure: (cause) =>
          Clock.clockWith((clock) => {
            const now = clock.currentTimeMillisUnsafe()
            const hold = breaker.generation === generation ? failureHold(cause, now) : undefined
            if (hold === undefined) return Effect.failCause(cause)
            breaker.failures++
            if (breaker.failures < breaker.failureThreshold) return Effect.failCause(cause)
            return Effect.andThen(open(breaker, "Closed", hold, now, onChange, options), Effect.failCause(cause))
          })
      })
    }

    /**
     * A call admitted while open or half-open: rejected, or run as the one trial call, whose outcome
     * closes the circuit (success), reopens it (counted failure) or leaves it half-open for the next
     * call (an outcome that does not count). Admission and outcome are one uninterruptible region
     * around the (interruptible) call, so an interrupted trial still frees the trial slot.
     */
    const whileOpen = <A, E, R>(
      breaker: Breaker,
      self: Effect.Effect<A, E, R>,
      onChange: (change: BreakerChange) => Effect.Effect<void>,
      options: GuardOptions | undefined
    ): Effect.Effect<A, E | AgentError, R> =>
      Clock.clockWith((clock) =>
        Effect.uninterruptibleMask((restore): Effect.Effect<A, E | AgentError, R> => {
          const now = clock.currentTimeMillisUnsafe()
          if (breaker.state === "Closed") return whileClosed(breaker, restore(self), onChange, options)
          if (
            (breaker.state === "Open" && now < breaker.openUntil) ||
            (breaker.state === "HalfOpen" && breaker.probing)
          ) {
            return Effect.fail(rejection(breaker, now))
          }
          const halfOpened = breaker.state === "Open"
          breaker.state = "HalfOpen"
          breaker.probing = true
          const generation = ++breaker.generation
          const trial = Effect.onExit(restore(self), (exit) => {
            if (breaker.generation !== generation) return Effect.void
            if (Exit.isSuccess(exit)) {
              breaker.state = "Closed"
              breaker.generation++
              breaker.failures = 0
              breaker.probing = false
              return onChange({ agent: breaker.agent, from: "HalfOpen", to: "Closed" })
            }
            const ended = clock.currentTimeMillisUnsafe()
            const hold = failureHold(exit.cause, ended)
            if (hold === undefined) {
              breaker.probing = false
              return Effect.void
            }
            return open(breaker, "HalfOpen", hold, ended, onChange, options)
          })
          return halfOpened
            ? Effect.andThen(onChange({ agent: breaker.agent, from: "Open", to: "HalfOpen" }), trial)
            : trial
        })
      )

    const service: Service = {
      policyFor: (agent) => policies.get(agent) ?? policyOf(config, agent),
      state: (agent) => {
        const breaker = breakers.get(agent)
        return breaker === undefined ? closed : Effect.sync(() => breaker.state)
      },
      guard: (agent, self, onChange, options) => {
        const breaker = breakers.get(agent)
        if (breaker === undefined) return self
        return Effect.suspend(() =>
          breaker.state === "Closed"
            ? whileClosed(breaker, self, onChange, options)
            : whileOpen(breaker, self, onChange, options)
        )
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

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
 * The breakers are circuits of `effect/persistence`'s in-memory `CircuitBreakerStore` (trip policy
 * `consecutive(failureThreshold)`, open for `resetAfterMs`), one key (circuit) per agent, built once
 * per run by {@link make} / {@link layer}; the store follows the `Clock`. A call's exit is classified
 * for its breaker: a success is a `Success`; interruptions, defects, `Interrupted` and errors that are
 * not `AgentError`s are `Ignored`; a `RateLimited` error with a reset time is a `Failure` that keeps
 * the circuit open until the reset (capped at 1 h); any other `AgentError` is a `Failure`. A
 * rejection becomes a `CircuitOpen` agent error saying when the next trial call is let through. Each
 * transition is reported to the guarded call that made it (a `BreakerChange`, and a `circuit_open`
 * count on an opening). `state(agent)` reads the circuit from the store.
 *
 * The happy path stays cheap: the breakers are built once and a call is one admission and one record
 * in the store (no scope, no stream per call); the retry
 * schedule ({@link retry}) only starts after a first failed attempt; with the live clock an attempt's
 * timeout is one child fiber and a plain timer.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Duration, Effect, Fiber, Layer, Random, Schedule, type Scope } from "effect"
import { AgentError, type AgentErrorKind, isRetryable } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import type * as SpeckitConfig from "./SpeckitConfig.ts"
import type { Stage } from "./Stage.ts"
import * as Breakers from "./internal/breakers.ts"

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
  options: {
    readonly startedAt: number
    /**
     * What an earlier part of the same call used up (see `AgentCall`'s `handOverWaitsFromMs`):
     * attempts made, retries and malformed-answer retries. Default none.
     *
     * @since 0.2.0
     */
    readonly used?: { readonly attempts: number; readonly retries: number; readonly malformed: number } | undefined
    /**
     * Waits of at least `fromMs` are not made: the schedule stops instead, after telling
     * `onHandOver` the retry it would have made (and the counters with it), so that the caller can
     * wait durably and go on later.
     *
     * @since 0.2.0
     */
    readonly handOver?:
      | {
          readonly fromMs: number
          readonly onHandOver: (retry: Retrying, used: { readonly retries: number; readonly malformed: number }) => void
        }
      | undefined
  }
): Schedule.Schedule<Retrying | undefined, unknown> =>
  Schedule.fromStepWithMetadata(
    Effect.sync(() => {
      let retries = options.used?.retries ?? 0
      let malformed = options.used?.malformed ?? 0
      let attempt = options.used?.attempts ?? 0
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
          if (options.handOver !== undefined && delayMs >= options.handOver.fromMs) {
            options.handOver.onHandOver(decision, { retries, malformed })
            return yield* Cause.done(undefined)
          }
          return [decision, Duration.millis(delayMs)] as [Retrying, Duration.Duration]
        })
    })
  )

/**
 * `Effect.retry(self, makeSchedule())`, with the same retries, waits and schedule outputs, but the
 * schedule is only built (and stepped) once the first attempt has failed: a call whose first attempt
 * succeeds, the common case, pays for no schedule at all. The first failure is replayed into the
 * schedule as the first attempt's input, then every retry runs `self` again.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Resilience } from "@speckit/core"
 *
 * declare const attempt: Effect.Effect<string, import("@speckit/core").AgentError.AgentError>
 * const retried = Resilience.retry(attempt, () => Resilience.schedule(Resilience.defaults, { startedAt: 0 }))
 * ```
 *
 * @since 0.1.0
 */
export const retry = <A, E, R, Out, R2>(
  self: Effect.Effect<A, E, R>,
  makeSchedule: () => Schedule.Schedule<Out, unknown, never, R2>
): Effect.Effect<A, E, R | R2> =>
  Effect.catch(self, (error) => {
    let replayed = false
    const replay = Effect.suspend(() => {
      if (replayed) return self
      replayed = true
      return Effect.fail(error)
    })
    return Effect.retry(replay, makeSchedule())
  })

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
): Effect.Effect<A, E | AgentError, R> => {
  if (timeoutMs === undefined || !Number.isFinite(timeoutMs)) return self
  const limit: TimeLimit = { agent, ms: Math.max(0, timeoutMs), timeoutMs, reason }
  if (limit.ms > MAX_TIMER_MS) return raceTimer(self, limit)
  // With the live clock, the attempt runs in one child fiber and the timer is a plain timer (what the
  // race's second fiber would wait for). Any other clock (`TestClock`) gets the race.
  return Clock.clockWith((clock) => (clock.sleep !== liveSleep ? raceTimer(self, limit) : underTimer(self, limit)))
}

/** An attempt's time limit (see {@link withTimeout}): its `Timeout` error is made only if it fires. */
interface TimeLimit {
  readonly agent: string
  readonly ms: number
  readonly timeoutMs: number
  readonly reason: string | undefined
}

const timedOut = (limit: TimeLimit) =>
  new AgentError({
    agent: limit.agent,
    kind: "Timeout",
    detail: limit.reason ?? `no answer within ${limit.timeoutMs} ms`
  })

/**
 * The attempt raced with a sleep on the fiber's clock. A race with the timer rather than
 * `Effect.timeoutOrElse`, which wraps the same race in an `Option` and a `flatMap` on every attempt.
 */
const raceTimer = <A, E, R>(self: Effect.Effect<A, E, R>, limit: TimeLimit): Effect.Effect<A, E | AgentError, R> =>
  Effect.raceFirst(
    self,
    Effect.flatMap(Effect.sleep(Duration.millis(limit.ms)), () => Effect.fail(timedOut(limit)))
  )

const startNow = { startImmediately: true } as const

/**
 * The attempt in a child fiber under a plain timer: on time-out the attempt is interrupted, and
 * awaited, before the call fails with `Timeout`.
 */
const underTimer = <A, E, R>(self: Effect.Effect<A, E, R>, limit: TimeLimit): Effect.Effect<A, E | AgentError, R> =>
  Effect.flatMap(Effect.forkChild(self, startNow), (attempt) =>
    Effect.callback<A, E | AgentError>((resume) => {
      let done = false
      const timer = setTimeout(() => {
        if (done) return
        done = true
        resume(Effect.andThen(Fiber.interrupt(attempt), Effect.fail(timedOut(limit))))
      }, limit.ms)
      attempt.addObserver((exit) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(exit)
      })
      return Effect.suspend(() => {
        done = true
        clearTimeout(timer)
        return Fiber.interrupt(attempt)
      })
    })
  )

/** The longest delay `setTimeout` takes. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The live clock's `sleep` (a prototype method: the same function for every live clock). */
const liveSleep = Clock.Clock.defaultValue().sleep

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
 * const policy = Effect.map(Effect.service(Resilience.AgentResilience), (r) => r.policyFor(AgentId.make("alpha")))
 * ```
 *
 * @since 0.1.0
 */
export const AgentResilience = Context.Reference<Service>("@speckit/core/AgentResilience", {
  defaultValue: () => unguarded
})

/**
 * Builds the resilience service of a configuration: resolved policies and, for every agent that has
 * a breaker, a circuit keyed by the agent in one in-memory `effect/persistence` `CircuitBreakerStore`
 * that follows the `Clock` (`consecutive(failureThreshold)`, open for `resetAfterMs`). Everything is
 * built once, for as long as the service lives: a run, when provided as {@link layer}.
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
  Breakers.make(config, policyOf)

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

/**
 * Layers for core's {@link FaultInjector.FaultInjector} port. Each agent attempt, stage consensus
 * and crash point consumes the first matching entry of a {@link FaultSpec.FaultSpec} that fires:
 * a counted entry (`N`) fires for the next N matching occasions (decremented atomically, so
 * concurrent attempts never consume the same count twice), a probability (`P%`) draws from a
 * seeded generator, and `*` always fires. An attempt fault fails the attempt with the same
 * {@link AgentError.AgentError} a real failure produces, marked `injected: true`.
 *
 * @since 0.1.0
 */
import { AgentError, FaultInjector } from "@speckit/core"
import { Clock, Config, Context, Effect, Layer, Option, Random, Ref } from "effect"
import * as FaultSpec from "./FaultSpec.ts"
import * as Prng from "./internal/prng.ts"

/**
 * How a layer draws probabilities and dates injected rate limits.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Seed for `P%` counts; without one, the seed is drawn from effect's `Random` when the layer is built. */
  readonly seed?: number | string | undefined
  /** When an injected `rate_limit` resets; defaults to {@link FaultSpec.defaultRateLimitReset} (`now+1s`). */
  readonly rateLimitReset?: FaultSpec.RateLimitReset | undefined
}

/**
 * What a fired crash point does: by default the process kills itself with SIGKILL (no finalizers,
 * no flushing, like a real crash). Provide another function to observe crashes in tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Faults } from "@speckit/faults"
 *
 * declare const program: Effect.Effect<void>
 * const crashes: Array<string> = []
 * const observed = program.pipe(Effect.provideService(Faults.Kill, (point) => crashes.push(point)))
 * ```
 *
 * @since 0.1.0
 */
export const Kill = Context.Reference<(point: string) => void>("@speckit/faults/Kill", {
  defaultValue: () => () => {
    process.kill(process.pid, "SIGKILL")
  }
})

type AttemptError = {
  readonly kind: AgentError.AgentErrorKind
  readonly status?: number
  readonly detail: string
}

const attemptErrors: { readonly [K in FaultSpec.AttemptKind]: AttemptError } = {
  agent_timeout: { kind: "Timeout", detail: "no answer in time" },
  rate_limit: { kind: "RateLimited", status: 429, detail: "rate limited" },
  disconnect: { kind: "Disconnected", detail: "the connection was lost" },
  server_error: { kind: "ServerError", status: 500, detail: "internal server error" },
  auth_error: { kind: "AuthFailed", status: 401, detail: "authentication failed" },
  empty_response: { kind: "Empty", detail: "the answer was empty" },
  malformed_response: { kind: "Malformed", detail: "the answer is not a valid stage result" }
}

/**
 * The {@link AgentError.AgentError} an attempt fault of `kind` produces: the same kind (and HTTP
 * status) a real failure has, with `injected: true`; a rate limit carries `resetAt`.
 *
 * @example
 * ```ts
 * import { Faults } from "@speckit/faults"
 *
 * const error = Faults.errorFor("server_error", { agent: "alpha", resetAt: 0 })
 * error.kind // "ServerError"
 * error.status // 500
 * ```
 *
 * @since 0.1.0
 */
export const errorFor = (
  kind: FaultSpec.AttemptKind,
  options: { readonly agent: string; readonly resetAt: number }
): AgentError.AgentError => {
  const { detail, ...error } = attemptErrors[kind]
  return new AgentError.AgentError({
    agent: options.agent,
    ...error,
    detail: `injected fault ${kind}: ${detail}`,
    ...(kind === "rate_limit" ? { resetAt: options.resetAt } : {}),
    injected: true
  })
}

/**
 * Describes a specification for the CLI's notice (`faults active: <description>`): its entries
 * separated by `, `, then the seed and rate-limit reset when they matter, or `none`.
 *
 * @example
 * ```ts
 * import { Faults, FaultSpec } from "@speckit/faults"
 *
 * Faults.describe(FaultSpec.parseSync("agent_timeout:3,rate_limit:1@gemini")) // "agent_timeout:3, rate_limit:1@gemini"
 * ```
 *
 * @since 0.1.0
 */
export const describe = (spec: FaultSpec.FaultSpec, options: Options = {}): string => {
  if (spec.entries.length === 0) return "none"
  const notes: Array<string> = []
  if (options.seed !== undefined && spec.entries.some((entry) => entry.count._tag === "Percent")) {
    notes.push(`seed ${options.seed}`)
  }
  if (
    options.rateLimitReset !== undefined &&
    spec.entries.some((entry) => entry._tag === "Attempt" && entry.kind === "rate_limit")
  ) {
    notes.push(`rate_limit resets at ${FaultSpec.printRateLimitReset(options.rateLimitReset)}`)
  }
  const list = spec.entries.map(FaultSpec.printEntry).join(", ")
  return notes.length === 0 ? list : `${list} (${notes.join("; ")})`
}

interface State {
  /** Per entry: how many more times a `Times` entry may fire (unused for other counts). */
  readonly remaining: ReadonlyArray<number>
  /** The generator's state for `Percent` entries. */
  readonly rng: number
}

const isEntryList = (
  spec: FaultSpec.FaultSpec | ReadonlyArray<FaultSpec.FaultEntry>
): spec is ReadonlyArray<FaultSpec.FaultEntry> => Array.isArray(spec)

const toSpec = (spec: FaultSpec.FaultSpec | ReadonlyArray<FaultSpec.FaultEntry>): FaultSpec.FaultSpec =>
  isEntryList(spec) ? FaultSpec.make(spec) : spec

/**
 * Builds a fault-injector service for a specification.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Faults, FaultSpec } from "@speckit/faults"
 *
 * const program = Effect.gen(function* () {
 *   const faults = yield* Faults.make(FaultSpec.parseSync("agent_timeout:1"), { seed: 42 })
 *   return faults.description // "agent_timeout:1"
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (
  spec: FaultSpec.FaultSpec | ReadonlyArray<FaultSpec.FaultEntry>,
  options: Options = {}
): Effect.fn.Return<FaultInjector.FaultInjector["Service"]> {
  const { entries } = toSpec(spec)
  const seed = options.seed === undefined ? yield* Random.nextInt : options.seed
  const reset = options.rateLimitReset ?? FaultSpec.defaultRateLimitReset
  const state = yield* Ref.make<State>({
    remaining: entries.map((entry) => (entry.count._tag === "Times" ? entry.count.times : 0)),
    rng: Prng.seedState(seed)
  })

  /** Atomically consumes the first entry that matches and fires, if any. */
  const consume = <A>(select: (entry: FaultSpec.FaultEntry) => A | undefined): Effect.Effect<A | undefined> =>
    Ref.modify(state, (current): readonly [A | undefined, State] => {
      let rng = current.rng
      for (const [index, entry] of entries.entries()) {
        const selected = select(entry)
        if (selected === undefined) continue
        const count = entry.count
        if (count._tag === "Always") return [selected, { remaining: current.remaining, rng }]
        if (count._tag === "Times") {
          const left = current.remaining[index] ?? 0
          if (left <= 0) continue
          const remaining = current.remaining.slice()
          remaining[index] = left - 1
          return [selected, { remaining, rng }]
        }
        const [draw, next] = Prng.next(rng)
        rng = next
        if (draw * 100 < count.percent) return [selected, { remaining: current.remaining, rng }]
      }
      return [undefined, { remaining: current.remaining, rng }]
    })

  const beforeAttempt = Effect.fnUntraced(function* (
    target: FaultInjector.FaultTarget
  ): Effect.fn.Return<void, AgentError.AgentError> {
    const kind = yield* consume((entry) =>
      entry._tag === "Attempt" && (entry.agent === undefined || entry.agent === target.agent) ? entry.kind : undefined
    )
    if (kind === undefined) return
    const now = yield* Clock.currentTimeMillis
    return yield* errorFor(kind, { agent: target.agent, resetAt: FaultSpec.resetAt(reset, now) })
  })

  const consensusFault = (stage: FaultInjector.FaultTarget["stage"]): Effect.Effect<boolean> =>
    consume((entry) =>
      entry._tag === "Consensus" && (entry.stage === undefined || entry.stage === stage) ? true : undefined
    ).pipe(Effect.map((hit) => hit === true))

  const crashPoint = Effect.fnUntraced(function* (point: string): Effect.fn.Return<void> {
    const hit = yield* consume((entry) => (entry._tag === "Crash" && entry.point === point ? true : undefined))
    if (hit !== true) return
    const kill = yield* Kill
    kill(point)
  })

  return FaultInjector.FaultInjector.of({
    active: entries.length > 0,
    description: describe({ entries }, options),
    beforeAttempt,
    consensusFault,
    crashPoint
  })
})

/**
 * Injects nothing: core's {@link FaultInjector.FaultInjector.layerNone}.
 *
 * @example
 * ```ts
 * import { Faults } from "@speckit/faults"
 *
 * const layer = Faults.layerNone
 * ```
 *
 * @since 0.1.0
 */
export const layerNone: Layer.Layer<FaultInjector.FaultInjector> = FaultInjector.FaultInjector.layerNone

/**
 * Injects an explicit list of faults (for tests). Probabilities use `options.seed`, or a seed drawn
 * from effect's `Random` when the layer is built.
 *
 * @example
 * ```ts
 * import { Faults, FaultSpec } from "@speckit/faults"
 *
 * const layer = Faults.layerScripted([
 *   FaultSpec.attempt("agent_timeout", FaultSpec.times(2)),
 *   FaultSpec.crash("after_answer", FaultSpec.times(1))
 * ])
 * ```
 *
 * @since 0.1.0
 */
export const layerScripted = (
  spec: FaultSpec.FaultSpec | ReadonlyArray<FaultSpec.FaultEntry>,
  options?: Options
): Layer.Layer<FaultInjector.FaultInjector> => Layer.effect(FaultInjector.FaultInjector, make(spec, options))

/**
 * Injects faults with probabilities drawn from a generator seeded with `seed`: the same seed and
 * the same sequence of attempts give the same faults.
 *
 * @example
 * ```ts
 * import { Faults, FaultSpec } from "@speckit/faults"
 *
 * const layer = Faults.layerSeeded(FaultSpec.parseSync("malformed_response:20%"), 42)
 * ```
 *
 * @since 0.1.0
 */
export const layerSeeded = (
  spec: FaultSpec.FaultSpec | ReadonlyArray<FaultSpec.FaultEntry>,
  seed: number | string,
  options?: Omit<Options, "seed">
): Layer.Layer<FaultInjector.FaultInjector> => layerScripted(spec, { ...options, seed })

/**
 * The settings read from the environment.
 *
 * @since 0.1.0
 */
export interface EnvSettings {
  readonly spec: FaultSpec.FaultSpec
  readonly options: Options
}

const optionalString = (name: string) => Config.option(Config.String(name))

/**
 * Reads `SPEC_KIT_FAULTS`, `SPEC_KIT_FAULTS_AGENT`, `SPEC_KIT_FAULTS_SEED` and
 * `SPEC_KIT_FAULTS_RATE_LIMIT_RESET` through effect's `Config` (so from the current
 * `ConfigProvider`), failing with a {@link FaultSpec.FaultSpecError} when one is invalid.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Faults, FaultSpec } from "@speckit/faults"
 *
 * const program = Effect.gen(function* () {
 *   const { spec } = yield* Faults.readEnv
 *   return FaultSpec.print(spec)
 * })
 * ```
 *
 * @since 0.1.0
 */
export const readEnv: Effect.Effect<EnvSettings, FaultSpec.FaultSpecError | Config.ConfigError> = Effect.gen(
  function* () {
    const text = yield* Config.String("SPEC_KIT_FAULTS").pipe(Config.withDefault(""))
    const agentText = yield* optionalString("SPEC_KIT_FAULTS_AGENT")
    const seedText = yield* optionalString("SPEC_KIT_FAULTS_SEED")
    const resetText = yield* optionalString("SPEC_KIT_FAULTS_RATE_LIMIT_RESET")
    const parsed = yield* Effect.fromResult(FaultSpec.parse(text))
    const spec = Option.isSome(agentText)
      ? FaultSpec.withDefaultAgent(parsed, yield* Effect.fromResult(FaultSpec.parseAgent(agentText.value)))
      : parsed
    const rateLimitReset = Option.isSome(resetText)
      ? yield* Effect.fromResult(FaultSpec.parseRateLimitReset(resetText.value))
      : undefined
    const seed = Option.isSome(seedText) && seedText.value.trim() !== "" ? seedText.value.trim() : undefined
    return { spec, options: { seed, rateLimitReset } }
  }
)

/**
 * Injects the faults the environment asks for (see {@link readEnv}); with `SPEC_KIT_FAULTS`
 * unset or empty it injects nothing. An invalid variable fails the layer with a
 * {@link FaultSpec.FaultSpecError}, so nothing runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaultInjector } from "@speckit/core"
 * import { Faults } from "@speckit/faults"
 *
 * const program = Effect.gen(function* () {
 *   const faults = yield* FaultInjector.FaultInjector
 *   if (faults.active) console.error(`faults active: ${faults.description}`)
 * }).pipe(Effect.provide(Faults.layerFromEnv))
 * ```
 *
 * @since 0.1.0
 */
export const layerFromEnv: Layer.Layer<FaultInjector.FaultInjector, FaultSpec.FaultSpecError | Config.ConfigError> =
  Layer.effect(
    FaultInjector.FaultInjector,
    Effect.flatMap(readEnv, ({ spec, options }) => make(spec, options))
  )

/**
 * Whether `result` is a failure injected by a fault layer.
 *
 * @example
 * ```ts
 * import { Faults } from "@speckit/faults"
 *
 * Faults.isInjected(Faults.errorFor("disconnect", { agent: "alpha", resetAt: 0 })) // true
 * ```
 *
 * @since 0.1.0
 */
export const isInjected = (error: AgentError.AgentError): boolean => error.injected === true

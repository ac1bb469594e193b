/**
 * The fault-injector port: consulted before every agent attempt, it may make the attempt fail with
 * the same typed error a real failure would produce. It is also consulted after each stage's agents
 * answered (an injected consensus failure) and at named crash points (an injected abrupt process
 * death). `@speckit/faults` provides its layers.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { AgentError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import type { RunId } from "./RunId.ts"
import type { Stage } from "./Stage.ts"

/**
 * The attempt a fault may hit.
 *
 * @since 0.1.0
 */
export interface FaultTarget {
  readonly runId: RunId
  readonly stage: Stage
  readonly agent: AgentId
  readonly attempt: number
}

/**
 * The fault-injector service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaultInjector } from "@speckit/core"
 *
 * const program = Effect.gen(function* () {
 *   const faults = yield* FaultInjector.FaultInjector
 *   return faults.active
 * }).pipe(Effect.provide(FaultInjector.FaultInjector.layerNone))
 * ```
 *
 * @since 0.1.0
 */
export class FaultInjector extends Context.Service<
  FaultInjector,
  {
    /** Whether any fault may fire (the CLI says so at start). */
    readonly active: boolean
    /** A human-readable description of the active faults. */
    readonly description: string
    /** Consumes a matching fault for this attempt, failing with it, or succeeds when none matches. */
    readonly beforeAttempt: (target: FaultTarget) => Effect.Effect<void, AgentError>
    /**
     * Consumes a matching injected consensus failure for this stage: `true` means the stage's
     * consensus must be treated as failed (quorum not met), as if too few agents had answered.
     */
    readonly consensusFault: (stage: Stage) => Effect.Effect<boolean>
    /**
     * Marks a named crash point (for example `after_answer`). When a matching crash fault consumes,
     * the process dies abruptly (SIGKILL) without running finalizers, so recovery can be tested.
     */
    readonly crashPoint: (point: string) => Effect.Effect<void>
  }
>()("@speckit/core/FaultInjector") {
  /**
   * Injects nothing: the production default.
   *
   * @since 0.1.0
   */
  static readonly layerNone: Layer.Layer<FaultInjector> = Layer.succeed(FaultInjector, {
    active: false,
    description: "none",
    beforeAttempt: () => Effect.void,
    consensusFault: () => Effect.succeed(false),
    crashPoint: () => Effect.void
  })
}

/**
 * The sequencer port: turns every agent answer into a decision with a per-run, gap-free `seq`,
 * accepting each idempotency key once. `@speckit/consensus` provides its layers.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { RunId } from "./RunId.ts"
import type { Stage } from "./Stage.ts"

/**
 * The idempotency key of an answer.
 *
 * @since 0.1.0
 */
export interface AnswerKey {
  readonly runId: RunId
  readonly stage: Stage
  readonly agent: string
  readonly attempt: number
}

/**
 * An accepted answer with its sequence number.
 *
 * @since 0.1.0
 */
export interface Decision {
  readonly seq: number
  readonly key: AnswerKey
  readonly outcome: AgentOutcome
}

/**
 * What the sequencer did with a submitted answer.
 *
 * @since 0.1.0
 */
export type SubmitOutcome =
  | { readonly _tag: "Accepted"; readonly decision: Decision }
  | { readonly _tag: "Duplicate"; readonly key: AnswerKey }
  | { readonly _tag: "Stale"; readonly key: AnswerKey; readonly currentRunId: RunId }

/**
 * The sequencer service, scoped to one run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sequencer } from "@speckit/core"
 *
 * const seqs = Effect.gen(function* () {
 *   const sequencer = yield* Sequencer.Sequencer
 *   return (yield* sequencer.decisions).map((d) => d.seq)
 * })
 * ```
 *
 * @since 0.1.0
 */
export class Sequencer extends Context.Service<
  Sequencer,
  {
    /** Starts (or restarts) sequencing for a run; answers of any other run are then stale. */
    readonly begin: (runId: RunId) => Effect.Effect<void>
    /** Submits an answer; it is accepted once per key. */
    readonly submit: (key: AnswerKey, outcome: AgentOutcome) => Effect.Effect<SubmitOutcome>
    /** The accepted decisions, in `seq` order. */
    readonly decisions: Effect.Effect<ReadonlyArray<Decision>>
  }
>()("@speckit/core/Sequencer") {}

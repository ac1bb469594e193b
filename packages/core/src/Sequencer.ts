/**
 * The sequencer port: turns every agent answer and every stage verdict into a decision with a
 * per-run, gap-free `seq`, accepting each idempotency key once and rejecting other runs' (or
 * branches') answers as stale. Decisions are delivered one at a time with acknowledgement: the
 * consumer takes decision N and acknowledges it before N+1 is delivered. `@speckit/consensus`
 * provides its layers.
 *
 * @since 0.1.0
 */
import { Context, type Effect, Schema } from "effect"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { StageConsensus } from "./Consensus.ts"
import type { RunId } from "./RunId.ts"
import type { Stage } from "./Stage.ts"

/**
 * The idempotency key of an answer: (run, stage, agent, attempt). `branch` is not part of the key; it
 * marks which attempt at the run the answer belongs to, so answers of an abandoned branch are stale.
 *
 * @since 0.1.0
 */
export interface AnswerKey {
  readonly runId: RunId
  readonly branch?: string | undefined
  readonly stage: Stage
  readonly agent: string
  readonly attempt: number
}

/**
 * The `agent` of a stage verdict's key (not a valid agent id, so it never collides with one).
 *
 * @since 0.1.0
 */
export const verdictAgent = "@consensus"

/**
 * The key of a stage's verdict.
 *
 * @example
 * ```ts
 * import { RunId, Sequencer } from "@speckit/core"
 *
 * declare const runId: RunId.RunId
 * const key = Sequencer.verdictKey(runId, "validate")
 * ```
 *
 * @since 0.1.0
 */
export const verdictKey = (runId: RunId, stage: Stage, branch?: string | undefined): AnswerKey => ({
  runId,
  branch,
  stage,
  agent: verdictAgent,
  attempt: 1
})

/**
 * The idempotency key as a string: `run/stage/agent/attempt`.
 *
 * @example
 * ```ts
 * import { RunId, Sequencer } from "@speckit/core"
 *
 * declare const runId: RunId.RunId
 * Sequencer.keyString({ runId, stage: "plan", agent: "alpha", attempt: 1 })
 * ```
 *
 * @since 0.1.0
 */
export const keyString = (key: AnswerKey): string => `${key.runId}/${key.stage}/${key.agent}/${key.attempt}`

/**
 * What a decision carries: an agent's answer, or a stage's verdict.
 *
 * @since 0.1.0
 */
export type Payload =
  | { readonly _tag: "Answer"; readonly outcome: AgentOutcome }
  | { readonly _tag: "Verdict"; readonly consensus: StageConsensus }

/**
 * An accepted submission with its sequence number.
 *
 * @since 0.1.0
 */
export interface Decision {
  readonly seq: number
  readonly key: AnswerKey
  readonly payload: Payload
}

/**
 * What the sequencer did with a submission.
 *
 * @since 0.1.0
 */
export type SubmitOutcome =
  | { readonly _tag: "Accepted"; readonly decision: Decision }
  | { readonly _tag: "Duplicate"; readonly key: AnswerKey; readonly seq: number }
  | {
      readonly _tag: "Stale"
      readonly key: AnswerKey
      readonly currentRunId: string
      readonly currentBranch: string | undefined
    }
  | { readonly _tag: "Stopped"; readonly key: AnswerKey }

/**
 * What an acknowledgement did: `Ignored` (and counted) when `seq` is not the decision in flight.
 *
 * @since 0.1.0
 */
export type AckOutcome =
  | { readonly _tag: "Acknowledged"; readonly seq: number }
  | { readonly _tag: "Ignored"; readonly seq: number }

/**
 * What `begin` found of the run in the sequencer's store, for a run resumed after a crash or a
 * restart (both empty for a new run).
 *
 * - `acknowledged`: the decisions the run had acknowledged before, in `seq` order: processed, and
 *   never delivered again, so the consumer restores what it had made of them from these.
 * - `redelivered`: how many decisions had been accepted but not acknowledged; they are delivered
 *   again, in `seq` order, before any new one.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunId, Sequencer } from "@speckit/core"
 *
 * declare const runId: RunId.RunId
 * const resume = Effect.gen(function* () {
 *   const sequencer = yield* Sequencer.Sequencer
 *   const resumed = yield* sequencer.begin(runId)
 *   for (const decision of resumed.acknowledged) {
 *     // restore what processing `decision` had produced
 *   }
 *   return resumed.redelivered // decisions `take` hands out again
 * })
 * ```
 *
 * @since 0.2.0
 */
export interface Resumed {
  readonly acknowledged: ReadonlyArray<Decision>
  readonly redelivered: number
}

/**
 * Counters and positions of the current run's sequencer. `accepted` counts the decisions this
 * sequencer accepted; `redelivered` (since 0.2.0) the decisions accepted before a resume and
 * delivered again (replays, not counted in `accepted`).
 *
 * @since 0.1.0
 */
export interface Stats {
  readonly accepted: number
  /**
   * Decisions accepted before the run was resumed and not acknowledged then: replayed.
   *
   * @since 0.2.0
   */
  readonly redelivered: number
  readonly duplicates: number
  readonly stale: number
  readonly acknowledged: number
  readonly ignoredAcks: number
  readonly pending: number
  readonly nextSeq: number
  readonly ackedThrough: number
  readonly inFlight: number | undefined
  readonly stopped: boolean
}

/**
 * The answer to `stop`: the accepted decisions that were never delivered, handed back.
 *
 * @since 0.1.0
 */
export interface StopAck {
  readonly _tag: "StopAck"
  readonly pending: ReadonlyArray<Decision>
  readonly inFlight: number | undefined
  readonly stats: Stats
}

/**
 * `take` after `stop`, with nothing left to deliver (or before any `begin`).
 *
 * @since 0.1.0
 */
export class SequencerStopped extends Schema.TaggedError<SequencerStopped>()("SequencerStopped", {
  runId: Schema.String
}) {
  override get message() {
    return `the sequencer of run ${this.runId} is stopped`
  }
}

/**
 * The sequencer service. `begin` starts a run (replacing the previous one, whose answers are then
 * stale) and reports what the sequencer's store held of it (see {@link Resumed}); `submit`, `take`,
 * `ack` and `stop` work on the current run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sequencer } from "@speckit/core"
 *
 * // A consumer: take decision N, process it, acknowledge it; N+1 comes after.
 * const consume = Effect.gen(function* () {
 *   const sequencer = yield* Sequencer.Sequencer
 *   const decision = yield* sequencer.take
 *   yield* sequencer.ack(decision.seq)
 * })
 * ```
 *
 * @since 0.1.0
 */
export class Sequencer extends Context.Service<
  Sequencer,
  {
    /**
     * Starts (or restarts, under another branch) sequencing for a run; answers of any other run or
     * branch are then stale. A run its store already holds resumes: what it had acknowledged is
     * returned, what it had accepted but not acknowledged is delivered again (since 0.2.0; `void`
     * before). A `begin` for the run and branch already current (and not stopped) changes nothing
     * and returns an empty `Resumed`; after `stop`, it resumes the run again from the store.
     */
    readonly begin: (runId: RunId, options?: { readonly branch?: string | undefined }) => Effect.Effect<Resumed>
    /** Submits an answer or verdict; accepted once per key. Suspends while the pending buffer is full. */
    readonly submit: (key: AnswerKey, payload: Payload) => Effect.Effect<SubmitOutcome>
    /** The next decision in `seq` order; suspends until the previous one is acknowledged. */
    readonly take: Effect.Effect<Decision, SequencerStopped>
    /** Acknowledges the decision in flight. */
    readonly ack: (seq: number) => Effect.Effect<AckOutcome>
    /** Stops accepting; hands back pending decisions, or with `drain` waits until they are acknowledged. */
    readonly stop: (options?: { readonly drain?: boolean | undefined }) => Effect.Effect<StopAck>
    readonly stats: Effect.Effect<Stats>
    /**
     * Lets go of a run that ended for good (completed or halted: it is never resumed), once it is
     * stopped. A sequencer that keeps runs in memory drops what it held of it, so a process that
     * makes many runs on one layer does not keep them all; a durable one keeps its records.
     * Optional: `Pipeline.run` calls it when it is there.
     *
     * @since 0.4.0
     */
    readonly forget?: ((runId: RunId) => Effect.Effect<void>) | undefined
  }
>()("@speckit/core/Sequencer") {}

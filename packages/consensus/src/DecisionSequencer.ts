/**
 * A sequencer for any kind of concurrent results, usable without the rest of speckit: every result
 * submitted under an idempotency key becomes a decision with a per-run, gap-free, increasing `seq`,
 * once per key; results stamped with another run or branch are stale. Decisions are delivered one at
 * a time: the consumer takes decision N and acknowledges it before N+1 is delivered. At most
 * `capacity` accepted decisions wait unacknowledged; beyond that, `submit` suspends (backpressure).
 *
 * The state lives behind a {@link SequencerStore.SequencerStore} (`SequencerStore.memory()` in the
 * process, `SqlSequencerStore` durably; without a store, in the sequencer alone). A sequencer made for
 * a run its store already holds resumes it: accepted keys stay accepted, `seq` continues without a
 * gap, the acknowledged decisions are handed to the caller ({@link DecisionSequencer.resumed}) and
 * never delivered again, and the accepted but unacknowledged ones are delivered again, in `seq` order.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { Sequencer } from "@speckit/core"
import { Machine } from "./internal/machine.ts"
import { unkept } from "./internal/unkept.ts"
import type * as SequencerStore from "./SequencerStore.ts"

/**
 * A result handed to the sequencer: who it belongs to (run, branch), its idempotency key and value.
 *
 * @since 0.1.0
 */
export interface Envelope<A> {
  readonly runId: string
  /** The branch (an attempt at the run, e.g. after a resume); compared like the run id. */
  readonly branch?: string | undefined
  /** The idempotency key: a second result with an accepted key is a duplicate. */
  readonly key: string
  readonly value: A
}

/**
 * An accepted result with its sequence number.
 *
 * @since 0.1.0
 */
export interface Decision<A> {
  readonly seq: number
  readonly key: string
  readonly value: A
}

/**
 * What `submit` did with a result.
 *
 * - `Accepted`: it is decision `seq`; it will be delivered once.
 * - `Duplicate`: its key was already accepted (as `seq`); dropped, whatever its content.
 * - `Stale`: it belongs to another run or branch; dropped.
 * - `Stopped`: the sequencer was stopped; dropped.
 *
 * @since 0.1.0
 */
export type Submitted<A> =
  | { readonly _tag: "Accepted"; readonly decision: Decision<A> }
  | { readonly _tag: "Duplicate"; readonly key: string; readonly seq: number }
  | {
      readonly _tag: "Stale"
      readonly key: string
      readonly runId: string
      readonly branch: string | undefined
      readonly currentRunId: string
      readonly currentBranch: string | undefined
    }
  | { readonly _tag: "Stopped"; readonly key: string }

/**
 * What `ack` did: the decision in flight is acknowledged, or the ACK is ignored (and counted) because
 * `seq` is not the decision in flight. The same type as core's `Sequencer.AckOutcome`.
 *
 * @since 0.1.0
 */
export type Acked = Sequencer.AckOutcome

/**
 * Counters and positions of a sequencer (`pending`: accepted, neither acknowledged nor handed back by
 * `stop`; `inFlight`: the decision delivered and not yet acknowledged). The same type as core's
 * `Sequencer.Stats`.
 *
 * @since 0.1.0
 */
export type Stats = Sequencer.Stats

/**
 * The answer to `stop`: what was still pending is handed back (never delivered, never lost).
 *
 * @since 0.1.0
 */
export interface StopAck<A> {
  readonly _tag: "StopAck"
  /** Accepted decisions not delivered, in `seq` order; the caller now owns them. Empty after a drain. */
  readonly pending: ReadonlyArray<Decision<A>>
  /** A decision delivered but not yet acknowledged; its ACK is still accepted. */
  readonly inFlight: number | undefined
  readonly stats: Stats
}

/**
 * `take` on a stopped sequencer with nothing left to deliver.
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
 * What a sequencer found of its run in the store when it was made (both empty for a new run).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DecisionSequencer, SequencerStore } from "@speckit/consensus"
 *
 * declare const store: SequencerStore.SequencerStore<string>
 * const program = Effect.gen(function* () {
 *   const sequencer = yield* DecisionSequencer.make<string>({ runId: "run-1", store })
 *   const { acknowledged, redelivered } = sequencer.resumed
 *   // `acknowledged`: processed before, restore from them; `redelivered`: `take` hands them out again
 * })
 * ```
 *
 * @since 0.2.0
 */
export interface Resumed<A> {
  /** The decisions acknowledged before, in `seq` order; they are not delivered again. */
  readonly acknowledged: ReadonlyArray<Decision<A>>
  /** How many decisions were accepted but not acknowledged; they are delivered again first. */
  readonly redelivered: number
}

/**
 * A sequencer of values of type `A` for one run.
 *
 * @since 0.1.0
 */
export interface DecisionSequencer<A> {
  readonly runId: string
  readonly branch: string | undefined
  /**
   * What the store held of the run when this sequencer was made.
   *
   * @since 0.2.0
   */
  readonly resumed: Resumed<A>
  /** Submits a result; suspends while `capacity` decisions are pending. */
  readonly submit: (envelope: Envelope<A>) => Effect.Effect<Submitted<A>>
  /** The next decision; suspends until the previous one is acknowledged and the next is accepted. */
  readonly take: Effect.Effect<Decision<A>, SequencerStopped>
  /** Acknowledges the decision in flight. */
  readonly ack: (seq: number) => Effect.Effect<Acked>
  /**
   * Stops accepting. By default hands back every pending, undelivered decision; with `drain: true`,
   * waits until the consumer has acknowledged every pending decision instead.
   */
  readonly stop: (options?: { readonly drain?: boolean | undefined }) => Effect.Effect<StopAck<A>>
  readonly stats: Effect.Effect<Stats>
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 */
export interface Options<A> {
  readonly runId: string
  readonly branch?: string | undefined
  /** How many accepted decisions may wait unacknowledged before `submit` suspends (default 1024). */
  readonly capacity?: number | undefined
  /**
   * Where the state lives. Without one, the sequencer keeps its state in itself alone: nothing
   * outlives it, so nothing is written anywhere (no other sequencer could resume from it).
   */
  readonly store?: SequencerStore.SequencerStore<A> | undefined
}

/**
 * Makes a sequencer for a run. If the store already holds the run, the sequencer resumes from it:
 * accepted keys stay accepted, acknowledged decisions are returned in `resumed` (and not delivered
 * again), and pending decisions are delivered again, in order (counted in `stats.redelivered`).
 *
 * With an asynchronous (durable) store, accepted decisions are written one after another in `seq`
 * order, so the store never holds decision N+1 without decision N, whenever the process stops.
 *
 * With a synchronous store (`SequencerStore.memory()`, or none), `submit`, `take` and `ack` complete
 * without suspending whenever they need not wait: no fiber hand-off, no deferred, and no allocation
 * beyond the decision and the answer itself.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DecisionSequencer } from "@speckit/consensus"
 *
 * const program = Effect.gen(function* () {
 *   const sequencer = yield* DecisionSequencer.make<string>({ runId: "run-1" })
 *   yield* sequencer.submit({ runId: "run-1", key: "a", value: "hello" }) // Accepted, seq 1
 *   yield* sequencer.submit({ runId: "run-1", key: "a", value: "again" }) // Duplicate
 *   const decision = yield* sequencer.take // { seq: 1, key: "a", value: "hello" }
 *   yield* sequencer.ack(decision.seq) // Acknowledged
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = <A>(options: Options<A>): Effect.Effect<DecisionSequencer<A>> =>
  Effect.gen(function* () {
    const store = options.store ?? unkept<A>()
    const loaded = yield* store.load(options.runId)
    const machine = new Machine(store, options, loaded, new SequencerStopped({ runId: options.runId }))
    if (loaded === undefined) yield* store.reset(machine.snapshot())
    else yield* store.save(machine.snapshot())
    return {
      runId: options.runId,
      branch: options.branch,
      resumed: machine.resumed,
      submit: machine.submit,
      take: machine.take,
      ack: machine.ack,
      stop: machine.stop,
      stats: Effect.sync(machine.stats)
    }
  })

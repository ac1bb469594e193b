/**
 * A sequencer for any kind of concurrent results, usable without the rest of speckit: every result
 * submitted under an idempotency key becomes a decision with a per-run, gap-free, increasing `seq`,
 * once per key; results stamped with another run or branch are stale. Decisions are delivered one at
 * a time: the consumer takes decision N and acknowledges it before N+1 is delivered. At most
 * `capacity` accepted decisions wait unacknowledged; beyond that, `submit` suspends (backpressure).
 *
 * The state lives behind a {@link SequencerStore.SequencerStore} (in memory by default; durable with
 * `SqlSequencerStore`). A sequencer made for a run its store already holds resumes it: accepted keys
 * stay accepted, `seq` continues without a gap, the acknowledged decisions are handed to the caller
 * ({@link DecisionSequencer.resumed}) and never delivered again, and the accepted but unacknowledged
 * ones are delivered again, in `seq` order.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Exit, Schema } from "effect"
import type { Sequencer } from "@speckit/core"
import * as SequencerStore from "./SequencerStore.ts"

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
  /** Where the state lives (default: a fresh in-memory store). */
  readonly store?: SequencerStore.SequencerStore<A> | undefined
}

type Resume<A, E = never> = (effect: Effect.Effect<A, E>) => void

type MutableState = { -readonly [K in keyof SequencerStore.State]: SequencerStore.State[K] }

const removeFrom = <T>(list: Array<T>, item: T) =>
  Effect.sync(() => {
    const index = list.indexOf(item)
    if (index >= 0) list.splice(index, 1)
  })

/**
 * The accepted, undelivered decisions, by `seq`: a ring of slots indexed by `seq` (a power of two
 * long, grown when the accepted window outgrows it). Seqs are contiguous, so this replaces a map
 * without per-decision allocations or hashing; a slot is empty while its seq's store write is still
 * in progress.
 */
class Ready<A> {
  private slots: Array<Decision<A> | undefined>
  private mask: number
  /** Occupied slots. */
  size = 0
  constructor(capacity: number) {
    let length = 16
    while (length < capacity) length *= 2
    this.slots = new Array<Decision<A> | undefined>(length)
    this.mask = length - 1
  }
  get(seq: number): Decision<A> | undefined {
    return this.slots[seq & this.mask]
  }
  /** Stores `decision`; `from` is the lowest seq that may still be held (the next to deliver). */
  set(decision: Decision<A>, from: number): void {
    if (decision.seq - from >= this.slots.length) this.grow(decision.seq - from + 1, from)
    this.slots[decision.seq & this.mask] = decision
    this.size++
  }
  /** Removes and returns the decision `seq`, if it is held. */
  take(seq: number): Decision<A> | undefined {
    const index = seq & this.mask
    const decision = this.slots[index]
    if (decision !== undefined) {
      this.slots[index] = undefined
      this.size--
    }
    return decision
  }
  /** Removes every held decision, in `seq` order from `from`. */
  drain(from: number): Array<Decision<A>> {
    const out: Array<Decision<A>> = []
    for (let seq = from; this.size > 0; seq++) {
      const decision = this.take(seq)
      if (decision !== undefined) out.push(decision)
    }
    return out
  }
  private grow(span: number, from: number): void {
    let length = this.slots.length * 2
    while (length < span) length *= 2
    const slots = new Array<Decision<A> | undefined>(length)
    const mask = length - 1
    let left = this.size
    for (let seq = from; left > 0; seq++) {
      const decision = this.slots[seq & this.mask]
      if (decision !== undefined && decision.seq === seq) {
        slots[seq & mask] = decision
        left--
      }
    }
    this.slots = slots
    this.mask = mask
  }
}

/**
 * Makes a sequencer for a run. If the store already holds the run, the sequencer resumes from it:
 * accepted keys stay accepted, acknowledged decisions are returned in `resumed` (and not delivered
 * again), and pending decisions are delivered again, in order (counted in `stats.redelivered`).
 *
 * With an asynchronous (durable) store, accepted decisions are written one after another in `seq`
 * order, so the store never holds decision N+1 without decision N, whenever the process stops.
 *
 * With a synchronous store (`SequencerStore.memory()`), `submit`, `take` and `ack` complete without
 * suspending whenever they need not wait: no fiber hand-off, no deferred, and no allocation beyond
 * the decision and the answer itself.
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
    const store = options.store ?? SequencerStore.memory<A>()
    const syncStore = store.sync
    const capacity = Math.max(1, options.capacity ?? 1024)
    const runId = options.runId
    const branch = options.branch
    const loaded = yield* store.load(runId)
    const entries = loaded?.entries ?? []
    const lastEntry = entries.length > 0 ? entries[entries.length - 1] : undefined
    // Every operation below mutates this state synchronously, so each is atomic for other fibers.
    // `state` is the live record handed to a synchronous store (which copies what it keeps); an
    // asynchronous store gets a snapshot of it.
    const state: MutableState = {
      runId,
      branch,
      nextSeq: Math.max(loaded?.state.nextSeq ?? 1, (lastEntry?.seq ?? 0) + 1),
      ackedThrough: loaded?.state.ackedThrough ?? 0,
      stopped: false
    }
    const keys = new Map<string, number>()
    /** Accepted, persisted, not yet delivered: delivered strictly in `seq` order. */
    const ready = new Ready<A>(capacity)
    let nextDeliver = state.ackedThrough + 1
    const acknowledgedBefore: Array<Decision<A>> = []
    for (const entry of entries) {
      keys.set(entry.key, entry.seq)
      const decision: Decision<A> = { seq: entry.seq, key: entry.key, value: entry.value }
      if (entry.seq > state.ackedThrough) ready.set(decision, nextDeliver)
      else acknowledgedBefore.push(decision)
    }
    const resumed: Resumed<A> = { acknowledged: acknowledgedBefore, redelivered: ready.size }
    let inFlight: Decision<A> | undefined
    let pending = ready.size
    /** The last accept write of an asynchronous store: the next one starts after it. */
    let lastWrite: Deferred.Deferred<void> | undefined
    /** Accepts whose store write has not completed yet. */
    let reserving = 0
    let accepted = 0
    let duplicates = 0
    let stale = 0
    let acknowledged = 0
    let ignoredAcks = 0
    const takers: Array<Resume<Decision<A>, SequencerStopped>> = []
    const spaceWaiters: Array<Resume<void>> = []
    const changeWaiters: Array<Resume<void>> = []

    const snapshot = (): SequencerStore.State => ({
      runId,
      branch,
      nextSeq: state.nextSeq,
      ackedThrough: state.ackedThrough,
      stopped: state.stopped
    })
    const stats = (): Stats => ({
      accepted,
      redelivered: resumed.redelivered,
      duplicates,
      stale,
      acknowledged,
      ignoredAcks,
      pending,
      nextSeq: state.nextSeq,
      ackedThrough: state.ackedThrough,
      inFlight: inFlight?.seq,
      stopped: state.stopped
    })
    const stoppedError = new SequencerStopped({ runId })
    const exhausted = () =>
      state.stopped && inFlight === undefined && reserving === 0 && ready.get(nextDeliver) === undefined
    const notifyChange = () => {
      if (changeWaiters.length === 0) return
      for (const resume of changeWaiters.splice(0)) resume(Effect.void)
    }
    /** Hands the next decision to a waiting taker, if it may be delivered. */
    const pump = () => {
      if (inFlight === undefined && takers.length > 0) {
        const next = ready.take(nextDeliver)
        if (next !== undefined) {
          nextDeliver++
          inFlight = next
          takers.shift()?.(Effect.succeed(next))
        }
      }
      if (state.stopped && exhausted()) for (const resume of takers.splice(0)) resume(Effect.fail(stoppedError))
    }
    const waitFor = (list: Array<Resume<void>>) =>
      Effect.callback<void>((resume) => {
        list.push(resume)
        return removeFrom(list, resume)
      })
    const waitUntil = (condition: () => boolean): Effect.Effect<void> =>
      Effect.suspend(() => (condition() ? Effect.void : Effect.andThen(waitFor(changeWaiters), waitUntil(condition))))

    if (loaded === undefined) yield* store.reset(snapshot())
    else yield* store.save(snapshot())

    /** Publishes an accepted decision once its store write is done. */
    const publish = (decision: Decision<A>) => {
      reserving--
      ready.set(decision, nextDeliver)
      pump()
      notifyChange()
    }

    const submitNow = (envelope: Envelope<A>, yielded: boolean): Effect.Effect<Submitted<A>> => {
      if (envelope.runId !== runId || envelope.branch !== branch) {
        stale++
        return Effect.succeed({
          _tag: "Stale",
          key: envelope.key,
          runId: envelope.runId,
          branch: envelope.branch,
          currentRunId: runId,
          currentBranch: branch
        })
      }
      if (state.stopped) return Effect.succeed({ _tag: "Stopped", key: envelope.key })
      const known = keys.get(envelope.key)
      if (known !== undefined) {
        duplicates++
        return Effect.succeed({ _tag: "Duplicate", key: envelope.key, seq: known })
      }
      if (pending >= capacity) {
        // Full: first let the consumer run (it may free room for a batch), then wait for room.
        return yielded
          ? Effect.andThen(waitFor(spaceWaiters), submit(envelope))
          : Effect.andThen(
              Effect.yieldNow,
              Effect.suspend(() => submitNow(envelope, true))
            )
      }
      const seq = state.nextSeq++
      keys.set(envelope.key, seq)
      pending++
      accepted++
      reserving++
      const decision: Decision<A> = { seq, key: envelope.key, value: envelope.value }
      const result: Submitted<A> = { _tag: "Accepted", decision }
      if (syncStore !== undefined) {
        syncStore.accept(state, decision)
        publish(decision)
        return Effect.succeed(result)
      }
      // Writes are chained in seq order: a store never holds seq N+1 without N (a gap would stall
      // delivery after a resume). A failed write fails the ones after it too.
      const previous = lastWrite
      const written = Deferred.makeUnsafe<void>()
      lastWrite = written
      const write = store.accept(snapshot(), decision)
      // The seq is taken: publishing it must not be interrupted, or delivery would wait for it forever.
      return Effect.uninterruptible(
        Effect.flatMap(
          Effect.exit(previous === undefined ? write : Effect.andThen(Deferred.await(previous), write)),
          (exit) => {
            Deferred.doneUnsafe(written, exit)
            if (lastWrite === written) lastWrite = undefined
            if (Exit.isFailure(exit)) return Effect.failCause(exit.cause)
            publish(decision)
            return Effect.succeed(result)
          }
        )
      )
    }
    const submit = (envelope: Envelope<A>): Effect.Effect<Submitted<A>> =>
      Effect.suspend(() => submitNow(envelope, false))

    const waitForDecision = Effect.callback<Decision<A>, SequencerStopped>((resume) => {
      takers.push(resume)
      return removeFrom(takers, resume)
    })
    const takeNow = (yielded: boolean): Effect.Effect<Decision<A>, SequencerStopped> => {
      if (inFlight === undefined && takers.length === 0) {
        const next = ready.take(nextDeliver)
        if (next !== undefined) {
          nextDeliver++
          inFlight = next
          return Effect.succeed(next)
        }
      }
      if (exhausted()) return Effect.fail(stoppedError)
      // Nothing to deliver yet: first let the producers run (a batch may be ready after that), then wait.
      return yielded ? waitForDecision : takeAfterYield
    }
    const takeAfterYield: Effect.Effect<Decision<A>, SequencerStopped> = Effect.andThen(
      Effect.yieldNow,
      Effect.suspend(() => takeNow(true))
    )
    const take: Effect.Effect<Decision<A>, SequencerStopped> = Effect.suspend(() => takeNow(false))

    /** After an ACK is recorded: room for one more submission, the next decision for a taker. */
    const acknowledgedNow = () => {
      spaceWaiters.shift()?.(Effect.void)
      pump()
      notifyChange()
    }
    const ackNow = (seq: number): Effect.Effect<Acked> => {
      if (inFlight === undefined || inFlight.seq !== seq) {
        ignoredAcks++
        return Effect.succeed({ _tag: "Ignored", seq })
      }
      inFlight = undefined
      state.ackedThrough = seq
      pending--
      acknowledged++
      const acked: Acked = { _tag: "Acknowledged", seq }
      if (syncStore !== undefined) {
        syncStore.save(state)
        acknowledgedNow()
        return Effect.succeed(acked)
      }
      return Effect.map(store.save(snapshot()), () => {
        acknowledgedNow()
        return acked
      })
    }
    const ack = (seq: number): Effect.Effect<Acked> => Effect.suspend(() => ackNow(seq))

    const stop = (stopOptions?: { readonly drain?: boolean | undefined }): Effect.Effect<StopAck<A>> =>
      Effect.gen(function* () {
        state.stopped = true
        for (const resume of spaceWaiters.splice(0)) resume(Effect.void)
        yield* store.save(snapshot())
        if (stopOptions?.drain === true) {
          yield* waitUntil(() => pending === 0)
          pump()
          return { _tag: "StopAck", pending: [], inFlight: undefined, stats: stats() } satisfies StopAck<A>
        }
        yield* waitUntil(() => reserving === 0)
        const handedBack = ready.drain(nextDeliver)
        pending -= handedBack.length
        pump()
        notifyChange()
        return { _tag: "StopAck", pending: handedBack, inFlight: inFlight?.seq, stats: stats() } satisfies StopAck<A>
      })

    return {
      runId,
      branch,
      resumed,
      submit,
      take,
      ack,
      stop,
      stats: Effect.sync(stats)
    }
  })

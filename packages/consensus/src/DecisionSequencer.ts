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
    const loaded = yield* store.load(options.runId)
    const machine = new Machine(store, options, loaded)
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

/**
 * The sequencer's state machine. Every operation mutates it synchronously, so each is atomic for other
 * fibers; `state` is the live record handed to a synchronous store (which copies what it keeps), an
 * asynchronous store gets a snapshot of it.
 */
class Machine<A> {
  readonly syncStore: SequencerStore.SequencerStore<A>["sync"]
  readonly capacity: number
  readonly runId: string
  readonly branch: string | undefined
  readonly state: MutableState
  readonly keys = new Map<string, number>()
  /** Accepted, persisted, not yet delivered: delivered strictly in `seq` order. */
  readonly ready: Ready<A>
  readonly resumed: Resumed<A>
  readonly stoppedError: SequencerStopped
  nextDeliver: number
  inFlight: Decision<A> | undefined = undefined
  pending: number
  /** The last accept write of an asynchronous store: the next one starts after it. */
  lastWrite: Deferred.Deferred<void> | undefined = undefined
  /** Accepts whose store write has not completed yet. */
  reserving = 0
  accepted = 0
  duplicates = 0
  stale = 0
  acknowledged = 0
  ignoredAcks = 0
  readonly takers: Array<Resume<Decision<A>, SequencerStopped>> = []
  readonly spaceWaiters: Array<Resume<void>> = []
  readonly changeWaiters: Array<Resume<void>> = []

  constructor(
    readonly store: SequencerStore.SequencerStore<A>,
    options: Options<A>,
    loaded: SequencerStore.Loaded<A> | undefined
  ) {
    this.syncStore = store.sync
    this.capacity = Math.max(1, options.capacity ?? 1024)
    this.runId = options.runId
    this.branch = options.branch
    this.stoppedError = new SequencerStopped({ runId: options.runId })
    const entries = loaded?.entries ?? []
    const lastEntry = entries.length > 0 ? entries[entries.length - 1] : undefined
    this.state = {
      runId: options.runId,
      branch: options.branch,
      nextSeq: Math.max(loaded?.state.nextSeq ?? 1, (lastEntry?.seq ?? 0) + 1),
      ackedThrough: loaded?.state.ackedThrough ?? 0,
      stopped: false
    }
    this.ready = new Ready<A>(this.capacity)
    this.nextDeliver = this.state.ackedThrough + 1
    const acknowledgedBefore: Array<Decision<A>> = []
    for (const entry of entries) {
      this.keys.set(entry.key, entry.seq)
      const decision: Decision<A> = { seq: entry.seq, key: entry.key, value: entry.value }
      if (entry.seq > this.state.ackedThrough) this.ready.set(decision, this.nextDeliver)
      else acknowledgedBefore.push(decision)
    }
    this.resumed = { acknowledged: acknowledgedBefore, redelivered: this.ready.size }
    this.pending = this.ready.size
  }

  snapshot = (): SequencerStore.State => ({
    runId: this.runId,
    branch: this.branch,
    nextSeq: this.state.nextSeq,
    ackedThrough: this.state.ackedThrough,
    stopped: this.state.stopped
  })

  stats = (): Stats => ({
    accepted: this.accepted,
    redelivered: this.resumed.redelivered,
    duplicates: this.duplicates,
    stale: this.stale,
    acknowledged: this.acknowledged,
    ignoredAcks: this.ignoredAcks,
    pending: this.pending,
    nextSeq: this.state.nextSeq,
    ackedThrough: this.state.ackedThrough,
    inFlight: this.inFlight?.seq,
    stopped: this.state.stopped
  })

  exhausted = () =>
    this.state.stopped &&
    this.inFlight === undefined &&
    this.reserving === 0 &&
    this.ready.get(this.nextDeliver) === undefined

  notifyChange = () => {
    if (this.changeWaiters.length === 0) return
    for (const resume of this.changeWaiters.splice(0)) resume(Effect.void)
  }

  /** Hands the next decision to a waiting taker, if it may be delivered. */
  pump = () => {
    if (this.inFlight === undefined && this.takers.length > 0) {
      const next = this.ready.take(this.nextDeliver)
      if (next !== undefined) {
        this.nextDeliver++
        this.inFlight = next
        this.takers.shift()?.(Effect.succeed(next))
      }
    }
    if (this.state.stopped && this.exhausted()) {
      for (const resume of this.takers.splice(0)) resume(Effect.fail(this.stoppedError))
    }
  }

  waitFor = (list: Array<Resume<void>>) =>
    Effect.callback<void>((resume) => {
      list.push(resume)
      return removeFrom(list, resume)
    })

  waitUntil = (condition: () => boolean): Effect.Effect<void> =>
    Effect.suspend(() =>
      condition() ? Effect.void : Effect.andThen(this.waitFor(this.changeWaiters), this.waitUntil(condition))
    )

  /** Publishes an accepted decision once its store write is done. */
  publish = (decision: Decision<A>) => {
    this.reserving--
    this.ready.set(decision, this.nextDeliver)
    this.pump()
    this.notifyChange()
  }

  /** Why an envelope is not accepted (stale, stopped, duplicate), if it is not. */
  refusal = (envelope: Envelope<A>): Submitted<A> | undefined => {
    if (envelope.runId !== this.runId || envelope.branch !== this.branch) {
      this.stale++
      return {
        _tag: "Stale",
        key: envelope.key,
        runId: envelope.runId,
        branch: envelope.branch,
        currentRunId: this.runId,
        currentBranch: this.branch
      }
    }
    if (this.state.stopped) return { _tag: "Stopped", key: envelope.key }
    const known = this.keys.get(envelope.key)
    if (known === undefined) return undefined
    this.duplicates++
    return { _tag: "Duplicate", key: envelope.key, seq: known }
  }

  submitNow = (envelope: Envelope<A>, yielded: boolean): Effect.Effect<Submitted<A>> => {
    const refused = this.refusal(envelope)
    if (refused !== undefined) return Effect.succeed(refused)
    if (this.pending >= this.capacity) {
      // Full: first let the consumer run (it may free room for a batch), then wait for room.
      return yielded
        ? Effect.andThen(this.waitFor(this.spaceWaiters), this.submit(envelope))
        : Effect.andThen(
            Effect.yieldNow,
            Effect.suspend(() => this.submitNow(envelope, true))
          )
    }
    const seq = this.state.nextSeq++
    this.keys.set(envelope.key, seq)
    this.pending++
    this.accepted++
    this.reserving++
    const decision: Decision<A> = { seq, key: envelope.key, value: envelope.value }
    const result: Submitted<A> = { _tag: "Accepted", decision }
    if (this.syncStore !== undefined) {
      this.syncStore.accept(this.state, decision)
      this.publish(decision)
      return Effect.succeed(result)
    }
    return this.acceptAsync(decision, result)
  }

  /**
   * An asynchronous store's accept. Writes are chained in seq order: a store never holds seq N+1 without
   * N (a gap would stall delivery after a resume). A failed write fails the ones after it too.
   */
  acceptAsync = (decision: Decision<A>, result: Submitted<A>): Effect.Effect<Submitted<A>> => {
    const previous = this.lastWrite
    const written = Deferred.makeUnsafe<void>()
    this.lastWrite = written
    const write = this.store.accept(this.snapshot(), decision)
    // The seq is taken: publishing it must not be interrupted, or delivery would wait for it forever.
    return Effect.uninterruptible(
      Effect.flatMap(
        Effect.exit(previous === undefined ? write : Effect.andThen(Deferred.await(previous), write)),
        (exit) => {
          Deferred.doneUnsafe(written, exit)
          if (this.lastWrite === written) this.lastWrite = undefined
          if (Exit.isFailure(exit)) return Effect.failCause(exit.cause)
          this.publish(decision)
          return Effect.succeed(result)
        }
      )
    )
  }

  submit = (envelope: Envelope<A>): Effect.Effect<Submitted<A>> => Effect.suspend(() => this.submitNow(envelope, false))

  waitForDecision = Effect.callback<Decision<A>, SequencerStopped>((resume) => {
    this.takers.push(resume)
    return removeFrom(this.takers, resume)
  })

  takeNow = (yielded: boolean): Effect.Effect<Decision<A>, SequencerStopped> => {
    if (this.inFlight === undefined && this.takers.length === 0) {
      const next = this.ready.take(this.nextDeliver)
      if (next !== undefined) {
        this.nextDeliver++
        this.inFlight = next
        return Effect.succeed(next)
      }
    }
    if (this.exhausted()) return Effect.fail(this.stoppedError)
    // Nothing to deliver yet: first let the producers run (a batch may be ready after that), then wait.
    return yielded ? this.waitForDecision : this.takeAfterYield
  }

  takeAfterYield: Effect.Effect<Decision<A>, SequencerStopped> = Effect.andThen(
    Effect.yieldNow,
    Effect.suspend(() => this.takeNow(true))
  )

  take: Effect.Effect<Decision<A>, SequencerStopped> = Effect.suspend(() => this.takeNow(false))

  /** After an ACK is recorded: room for one more submission, the next decision for a taker. */
  acknowledgedNow = () => {
    this.spaceWaiters.shift()?.(Effect.void)
    this.pump()
    this.notifyChange()
  }

  ackNow = (seq: number): Effect.Effect<Acked> => {
    if (this.inFlight === undefined || this.inFlight.seq !== seq) {
      this.ignoredAcks++
      return Effect.succeed({ _tag: "Ignored", seq })
    }
    this.inFlight = undefined
    this.state.ackedThrough = seq
    this.pending--
    this.acknowledged++
    const acked: Acked = { _tag: "Acknowledged", seq }
    if (this.syncStore !== undefined) {
      this.syncStore.save(this.state)
      this.acknowledgedNow()
      return Effect.succeed(acked)
    }
    return Effect.map(this.store.save(this.snapshot()), () => {
      this.acknowledgedNow()
      return acked
    })
  }

  ack = (seq: number): Effect.Effect<Acked> => Effect.suspend(() => this.ackNow(seq))

  stop = (stopOptions?: { readonly drain?: boolean | undefined }): Effect.Effect<StopAck<A>> => {
    const machine = this
    return Effect.gen(function* () {
      machine.state.stopped = true
      for (const resume of machine.spaceWaiters.splice(0)) resume(Effect.void)
      yield* machine.store.save(machine.snapshot())
      if (stopOptions?.drain === true) {
        yield* machine.waitUntil(() => machine.pending === 0)
        machine.pump()
        return { _tag: "StopAck", pending: [], inFlight: undefined, stats: machine.stats() } satisfies StopAck<A>
      }
      yield* machine.waitUntil(() => machine.reserving === 0)
      const handedBack = machine.ready.drain(machine.nextDeliver)
      machine.pending -= handedBack.length
      machine.pump()
      machine.notifyChange()
      return {
        _tag: "StopAck",
        pending: handedBack,
        inFlight: machine.inFlight?.seq,
        stats: machine.stats()
      } satisfies StopAck<A>
    })
  }
}

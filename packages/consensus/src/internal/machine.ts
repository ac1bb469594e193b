/**
 * The sequencer's state machine behind `DecisionSequencer.make`.
 *
 * @internal
 */
import { Deferred, Effect, Exit } from "effect"
import type {
  Acked,
  Decision,
  Envelope,
  Options,
  Resumed,
  SequencerStopped,
  Stats,
  StopAck,
  Submitted
} from "../DecisionSequencer.ts"
import type * as SequencerStore from "../SequencerStore.ts"
import { type MutableState, Ready, removeFrom, type Resume } from "./ready.ts"

/**
 * The sequencer's state machine. Every operation mutates it synchronously, so each is atomic for other
 * fibers; `state` is the live record handed to a synchronous store (which copies what it keeps), an
 * asynchronous store gets a snapshot of it.
 */
export class Machine<A> {
  readonly syncStore: SequencerStore.SequencerStore<A>["sync"]
  readonly capacity: number
  readonly runId: string
  readonly branch: string | undefined
  readonly state: MutableState
  readonly keys = new Map<string, number>()
  /** Accepted, persisted, not yet delivered: delivered strictly in `seq` order. */
  readonly ready: Ready<A>
  readonly resumed: Resumed<A>
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
    loaded: SequencerStore.Loaded<A> | undefined,
    readonly stoppedError: SequencerStopped
  ) {
    const sync = store.sync
    this.syncStore = sync
    this.ack =
      sync === undefined
        ? (seq) => Effect.suspend(() => this.ackAsync(seq))
        : (seq) => Effect.sync(() => this.ackSync(sync, seq))
    this.capacity = Math.max(1, options.capacity ?? 1024)
    this.runId = options.runId
    this.branch = options.branch
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

  /** Records an ACK in memory: whether `seq` was the decision in flight (else it is counted as ignored). */
  recordAck = (seq: number): boolean => {
    if (this.inFlight === undefined || this.inFlight.seq !== seq) {
      this.ignoredAcks++
      return false
    }
    this.inFlight = undefined
    this.state.ackedThrough = seq
    this.pending--
    this.acknowledged++
    return true
  }

  /** An ACK with a synchronous store: it never waits. */
  ackSync = (sync: NonNullable<SequencerStore.SequencerStore<A>["sync"]>, seq: number): Acked => {
    if (!this.recordAck(seq)) return { _tag: "Ignored", seq }
    sync.save(this.state)
    this.acknowledgedNow()
    return { _tag: "Acknowledged", seq }
  }

  /** An ACK with an asynchronous store: the state is saved before the next decision is delivered. */
  ackAsync = (seq: number): Effect.Effect<Acked> => {
    if (!this.recordAck(seq)) return Effect.succeed({ _tag: "Ignored", seq })
    return Effect.map(this.store.save(this.snapshot()), (): Acked => {
      this.acknowledgedNow()
      return { _tag: "Acknowledged", seq }
    })
  }

  readonly ack: (seq: number) => Effect.Effect<Acked>

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

/**
 * core's {@link Sequencer.Sequencer} port over a {@link DecisionSequencer.DecisionSequencer}: gap-free
 * sequence numbers, each idempotency key accepted once, answers of another run or branch rejected as
 * stale, delivery with acknowledgement. "Memory" is the delivery, in process; the state is kept in a
 * {@link SequencerStore.SequencerStore}: in memory with {@link make} and {@link layer}, in any store
 * with {@link makeWith} and {@link layerStore} (durable with `SqlSequencerStore`, where `begin`
 * resumes a run after a crash).
 *
 * @since 0.1.0
 */
import { Sequencer } from "@speckit/core"
import { Effect, Layer } from "effect"
import * as DecisionSequencer from "./DecisionSequencer.ts"
import * as SequencerStore from "./SequencerStore.ts"

type Engine = DecisionSequencer.DecisionSequencer<Sequencer.Decision>

const toSubmitOutcome = (
  key: Sequencer.AnswerKey,
  submitted: DecisionSequencer.Submitted<Sequencer.Decision>
): Sequencer.SubmitOutcome => {
  switch (submitted._tag) {
    case "Accepted":
      return { _tag: "Accepted", decision: { ...submitted.decision.value, seq: submitted.decision.seq } }
    case "Duplicate":
      return { _tag: "Duplicate", key, seq: submitted.seq }
    case "Stale":
      return { _tag: "Stale", key, currentRunId: submitted.currentRunId, currentBranch: submitted.currentBranch }
    case "Stopped":
      return { _tag: "Stopped", key }
  }
}

const toDecision = (decision: DecisionSequencer.Decision<Sequencer.Decision>): Sequencer.Decision =>
  decision.value.seq === decision.seq ? decision.value : { ...decision.value, seq: decision.seq }

/** What a `begin` that changes nothing reports. */
const notResumed: Sequencer.Resumed = { acknowledged: [], redelivered: 0 }

/** The stats of a sequencer that has not begun a run. */
const idleStats: Sequencer.Stats = {
  accepted: 0,
  redelivered: 0,
  duplicates: 0,
  stale: 0,
  acknowledged: 0,
  ignoredAcks: 0,
  pending: 0,
  nextSeq: 1,
  ackedThrough: 0,
  inFlight: undefined,
  stopped: false
}

/**
 * Builds a sequencer service over a given store, with at most `capacity` decisions pending. With a
 * store that already holds the run, `begin` resumes it (see `Sequencer.Resumed`).
 *
 * @example
 * ```ts
 * import { MemorySequencer, SequencerStore } from "@speckit/consensus"
 *
 * const make = MemorySequencer.makeWith({ store: SequencerStore.memory(), capacity: 64 })
 * ```
 *
 * @since 0.1.0
 */
export const makeWith = (options: {
  readonly store: SequencerStore.SequencerStore<Sequencer.Decision>
  readonly capacity?: number | undefined
}): Effect.Effect<Sequencer.Sequencer["Service"]> =>
  Effect.sync(() => {
    let engine: Engine | undefined
    /** Whether `stop` was called on `engine`. */
    let stopped = false
    /**
     * Starts a run (or keeps the current one, unless it was stopped: a stopped run begun again is
     * resumed from the store) and returns its sequencer, and whether it was made now.
     */
    const begin = (runId: string, branch: string | undefined) =>
      Effect.gen(function* () {
        if (engine !== undefined && !stopped && engine.runId === runId && engine.branch === branch) {
          return { engine, made: false }
        }
        // A new run (or branch) replaces the current one: its consumer is released, its late answers are stale.
        if (engine !== undefined) yield* engine.stop()
        const next = yield* DecisionSequencer.make<Sequencer.Decision>({
          runId,
          branch,
          store: options.store,
          capacity: options.capacity
        })
        engine = next
        stopped = false
        return { engine: next, made: true }
      })
    const current = (key: Sequencer.AnswerKey): Effect.Effect<Engine> =>
      engine === undefined
        ? Effect.map(begin(key.runId, key.branch), (started) => started.engine)
        : Effect.succeed(engine)
    return Sequencer.Sequencer.of({
      begin: (runId, beginOptions) =>
        Effect.map(
          begin(runId, beginOptions?.branch),
          ({ engine, made }): Sequencer.Resumed =>
            made
              ? { acknowledged: engine.resumed.acknowledged.map(toDecision), redelivered: engine.resumed.redelivered }
              : notResumed
        ),
      submit: (key, payload) =>
        Effect.suspend(() =>
          Effect.flatMap(current(key), (sequencer) =>
            Effect.map(
              sequencer.submit({
                runId: key.runId,
                branch: key.branch,
                key: Sequencer.keyString(key),
                value: { seq: 0, key, payload }
              }),
              (submitted) => toSubmitOutcome(key, submitted)
            )
          )
        ),
      take: Effect.suspend(() =>
        engine === undefined
          ? Effect.fail(new Sequencer.SequencerStopped({ runId: "" }))
          : engine.take.pipe(
              Effect.map(toDecision),
              Effect.mapError((error) => new Sequencer.SequencerStopped({ runId: error.runId }))
            )
      ),
      ack: (seq) =>
        Effect.suspend(() => (engine === undefined ? Effect.succeed({ _tag: "Ignored", seq }) : engine.ack(seq))),
      stop: (stopOptions) =>
        Effect.suspend(() => {
          if (engine === undefined) {
            return Effect.succeed({
              _tag: "StopAck",
              pending: [],
              inFlight: undefined,
              stats: { ...idleStats, stopped: true }
            } satisfies Sequencer.StopAck)
          }
          stopped = true
          return Effect.map(engine.stop(stopOptions), (ack) => ({ ...ack, pending: ack.pending.map(toDecision) }))
        }),
      stats: Effect.suspend(() => (engine === undefined ? Effect.succeed(idleStats) : engine.stats)),
      forget: (runId) =>
        Effect.suspend(() => {
          if (engine !== undefined && engine.runId === runId) {
            // The current run is kept while it is in progress; once stopped, its sequencer goes too.
            if (!stopped) return Effect.void
            engine = undefined
          }
          return options.store.forget?.(runId) ?? Effect.void
        })
    })
  })

/**
 * Builds an in-memory sequencer service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MemorySequencer } from "@speckit/consensus"
 *
 * const program = Effect.gen(function* () {
 *   const sequencer = yield* MemorySequencer.make
 *   yield* sequencer.begin("run-1" as never)
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Sequencer.Sequencer["Service"]> = Effect.suspend(() =>
  makeWith({ store: SequencerStore.memory() })
)

/**
 * The in-memory sequencer as a layer.
 *
 * @example
 * ```ts
 * import { MemorySequencer } from "@speckit/consensus"
 *
 * const layer = MemorySequencer.layer
 * ```
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Sequencer.Sequencer> = Layer.effect(Sequencer.Sequencer, make)

/**
 * The sequencer service over a given store, as a layer.
 *
 * @example
 * ```ts
 * import { MemorySequencer, SequencerStore } from "@speckit/consensus"
 *
 * const layer = MemorySequencer.layerStore(SequencerStore.memory(), { capacity: 64 })
 * ```
 *
 * @since 0.2.0
 */
export const layerStore = (
  store: SequencerStore.SequencerStore<Sequencer.Decision>,
  options?: { readonly capacity?: number | undefined }
): Layer.Layer<Sequencer.Sequencer> =>
  Layer.effect(Sequencer.Sequencer, makeWith({ store, capacity: options?.capacity }))

/**
 * core's {@link Sequencer.Sequencer} port over a {@link DecisionSequencer.DecisionSequencer}: gap-free
 * sequence numbers, each idempotency key accepted once, answers of another run or branch rejected as
 * stale, delivery with acknowledgement. The state is kept in a {@link SequencerStore.SequencerStore}
 * (in memory here; a durable store plugs in through {@link makeWith}).
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

/** The stats of a sequencer that has not begun a run. */
const idleStats: Sequencer.Stats = {
  accepted: 0,
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
 * Builds a sequencer service over a given store, with at most `capacity` decisions pending.
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
    const begin = (runId: string, branch: string | undefined) =>
      Effect.gen(function* () {
        if (engine !== undefined && engine.runId === runId && engine.branch === branch) return engine
        // A new run (or branch) replaces the current one: its consumer is released, its late answers are stale.
        if (engine !== undefined) yield* engine.stop()
        const next = yield* DecisionSequencer.make<Sequencer.Decision>({
          runId,
          branch,
          store: options.store,
          capacity: options.capacity
        })
        engine = next
        return next
      })
    const current = (key: Sequencer.AnswerKey) =>
      engine === undefined ? begin(key.runId, key.branch) : Effect.succeed(engine)
    return Sequencer.Sequencer.of({
      begin: (runId, beginOptions) => Effect.asVoid(begin(runId, beginOptions?.branch)),
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
        Effect.suspend(() =>
          engine === undefined
            ? Effect.succeed({
                _tag: "StopAck",
                pending: [],
                inFlight: undefined,
                stats: { ...idleStats, stopped: true }
              } satisfies Sequencer.StopAck)
            : Effect.map(engine.stop(stopOptions), (ack) => ({ ...ack, pending: ack.pending.map(toDecision) }))
        ),
      stats: Effect.suspend(() => (engine === undefined ? Effect.succeed(idleStats) : engine.stats))
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

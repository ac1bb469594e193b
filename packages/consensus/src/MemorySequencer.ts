/**
 * An in-memory {@link Sequencer.Sequencer}: gap-free sequence numbers in arrival order, each
 * idempotency key accepted once, answers of another run rejected as stale.
 *
 * @since 0.1.0
 */
import { Sequencer } from "@speckit/core"
import { Effect, Layer } from "effect"

const keyOf = (key: Sequencer.AnswerKey) => `${key.runId}/${key.stage}/${key.agent}/${key.attempt}`

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
export const make: Effect.Effect<Sequencer.Sequencer["Service"]> = Effect.sync(() => {
  // Every operation is synchronous, so each one is atomic with respect to other fibers.
  let runId: Sequencer.AnswerKey["runId"] | undefined
  let accepted = new Set<string>()
  let decisions: Array<Sequencer.Decision> = []
  return Sequencer.Sequencer.of({
    begin: (id) =>
      Effect.sync(() => {
        if (runId === id) return
        runId = id
        accepted = new Set()
        decisions = []
      }),
    submit: (key, outcome) =>
      Effect.sync((): Sequencer.SubmitOutcome => {
        if (runId !== undefined && key.runId !== runId) return { _tag: "Stale", key, currentRunId: runId }
        runId ??= key.runId
        const id = keyOf(key)
        if (accepted.has(id)) return { _tag: "Duplicate", key }
        accepted.add(id)
        const decision: Sequencer.Decision = { seq: decisions.length + 1, key, outcome }
        decisions.push(decision)
        return { _tag: "Accepted", decision }
      }),
    decisions: Effect.sync(() => decisions.slice())
  })
})

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

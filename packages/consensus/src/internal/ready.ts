/**
 * The accepted, undelivered decisions of a sequencer by `seq`, and the small types the state machine
 * shares.
 *
 * @internal
 */
import { Effect } from "effect"
import type { Decision } from "../DecisionSequencer.ts"
import type * as SequencerStore from "../SequencerStore.ts"

export type Resume<A, E = never> = (effect: Effect.Effect<A, E>) => void

export type MutableState = { -readonly [K in keyof SequencerStore.State]: SequencerStore.State[K] }

export const removeFrom = <T>(list: Array<T>, item: T) =>
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
export class Ready<A> {
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

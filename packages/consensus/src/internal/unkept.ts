/**
 * The store of a sequencer made without one: it keeps nothing, since nothing could read it back.
 *
 * @internal
 */
import { Effect } from "effect"
import type * as SequencerStore from "../SequencerStore.ts"

const ignore = () => {}

/** A store that keeps nothing: the sequencer's own state is all there is. */
export const unkept = <A>(): SequencerStore.SequencerStore<A> => ({
  load: () => Effect.undefined,
  reset: () => Effect.void,
  accept: () => Effect.void,
  save: () => Effect.void,
  sync: { accept: ignore, save: ignore }
})

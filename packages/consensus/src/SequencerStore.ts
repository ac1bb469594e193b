/**
 * Where a {@link DecisionSequencer} keeps its state: one small record per run (next `seq`, the
 * acknowledged prefix, whether it was stopped) plus the accepted keys with their decisions. The shape
 * maps onto two SQL tables; `SqlSequencerStore` implements it over `effect/sql` (SQLite, PostgreSQL):
 *
 * ```sql
 * CREATE TABLE speckit_sequencer_state (run_id TEXT PRIMARY KEY, branch TEXT, next_seq INTEGER NOT NULL,
 *                                       acked_through INTEGER NOT NULL, stopped INTEGER NOT NULL);
 * CREATE TABLE speckit_sequencer_keys (run_id TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
 *                                      value TEXT NOT NULL, PRIMARY KEY (run_id, key), UNIQUE (run_id, seq));
 * ```
 *
 * `accept` inserts the key row (a store may also update the state row, or derive the next `seq`
 * from the highest key on load, as `DecisionSequencer` does); `acknowledge` and `stop`
 * update the state row (`save`). Pending decisions are the key rows with `seq > acked_through`;
 * acknowledged ones, those with `seq <= acked_through`.
 *
 * What the sequencer guarantees an asynchronous store (since 0.2.0): `accept`s are called one after
 * another in `seq` order, each after the previous one completed, so a store that commits each
 * `accept` atomically never holds a gap. A `save` may overlap an `accept`, with a state taken at
 * another moment: a store keeps `nextSeq` from `accept`s and the highest `ackedThrough` it was given
 * (`SqlSequencerStore` does), so neither undoes the other.
 *
 * Store operations have no error channel: a store that cannot write must not let the sequencer go
 * on (a durable store turns its errors into defects, and the run resumes from what was committed).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

/**
 * The state record of one run's sequencer.
 *
 * @since 0.1.0
 */
export interface State {
  readonly runId: string
  readonly branch: string | undefined
  /** The `seq` the next accepted decision gets (the first is 1). */
  readonly nextSeq: number
  /** Every `seq` up to and including this one is acknowledged (0: none). */
  readonly ackedThrough: number
  readonly stopped: boolean
}

/**
 * An accepted key with the decision it became.
 *
 * @since 0.1.0
 */
export interface Entry<A> {
  readonly seq: number
  readonly key: string
  readonly value: A
}

/**
 * What a store holds for a run.
 *
 * @since 0.1.0
 */
export interface Loaded<A> {
  readonly state: State
  /** Every accepted key, in `seq` order. */
  readonly entries: ReadonlyArray<Entry<A>>
}

/**
 * The state interface of a sequencer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SequencerStore } from "@speckit/consensus"
 *
 * const program = Effect.gen(function* () {
 *   const store = SequencerStore.memory<string>()
 *   return yield* store.load("run-1") // undefined: nothing stored yet
 * })
 * ```
 *
 * @since 0.1.0
 */
export interface SequencerStore<A> {
  /** The stored state of a run, or `undefined` for a run never seen. */
  readonly load: (runId: string) => Effect.Effect<Loaded<A> | undefined>
  /** Records a new run (or a restart of one under another branch): its state, no entries. */
  readonly reset: (state: State) => Effect.Effect<void>
  /** Records an accepted key and the state after it, atomically. */
  readonly accept: (state: State, entry: Entry<A>) => Effect.Effect<void>
  /** Records the state after an acknowledgement or a stop. */
  readonly save: (state: State) => Effect.Effect<void>
  /**
   * The same writes as plain functions, for stores that write synchronously (in memory): the
   * sequencer then stays off the effect machinery on its hot path. Durable stores leave it out.
   * The `state` passed here is the sequencer's live record, valid during the call only: a store
   * copies the fields it keeps (the effectful methods get snapshots they may keep).
   */
  readonly sync?:
    | {
        readonly accept: (state: State, entry: Entry<A>) => void
        readonly save: (state: State) => void
      }
    | undefined
  /**
   * Lets go of a run that ended for good (it is never resumed): a store that keeps runs in memory
   * drops its state and decisions, so a process that makes many runs does not keep them all.
   * Optional: a durable store keeps its rows.
   *
   * @since 0.4.0
   */
  readonly forget?: ((runId: string) => Effect.Effect<void>) | undefined
}

/**
 * An in-memory store. Keeps every run it has seen until the process ends or the run is forgotten
 * (`forget`: the pipeline forgets a run that completed or halted), so a sequencer made again for
 * the same run resumes where the previous one stopped.
 *
 * @example
 * ```ts
 * import { DecisionSequencer, SequencerStore } from "@speckit/consensus"
 *
 * const store = SequencerStore.memory<string>()
 * const sequencer = DecisionSequencer.make<string>({ runId: "run-1", store })
 * ```
 *
 * @since 0.1.0
 */
export const memory = <A>(): SequencerStore<A> => {
  type Run = {
    state: { -readonly [K in keyof State]: State[K] }
    readonly entries: Array<Entry<A>>
  }
  const runs = new Map<string, Run>()
  // One run is written at a time in practice: remember it to skip the map lookup.
  let last: Run | undefined
  const runOf = (state: State): Run => {
    if (last !== undefined && last.state.runId === state.runId) return last
    let run = runs.get(state.runId)
    if (run === undefined) {
      run = { state: { ...state }, entries: [] }
      runs.set(state.runId, run)
    }
    last = run
    return run
  }
  const save = (state: State) => {
    const kept = runOf(state).state
    kept.branch = state.branch
    kept.nextSeq = state.nextSeq
    kept.ackedThrough = state.ackedThrough
    kept.stopped = state.stopped
  }
  const accept = (state: State, entry: Entry<A>) => {
    save(state)
    runOf(state).entries.push(entry)
  }
  return {
    load: (runId) =>
      Effect.sync(() => {
        const run = runs.get(runId)
        return run === undefined ? undefined : { state: { ...run.state }, entries: run.entries.slice() }
      }),
    reset: (state) =>
      Effect.sync(() => {
        const run: Run = { state: { ...state }, entries: [] }
        runs.set(state.runId, run)
        last = run
      }),
    accept: (state, entry) => Effect.sync(() => accept(state, entry)),
    save: (state) => Effect.sync(() => save(state)),
    sync: { accept, save },
    forget: (runId) =>
      Effect.sync(() => {
        runs.delete(runId)
        if (last?.state.runId === runId) last = undefined
      })
  }
}

/**
 * @speckit/consensus: layers for speckit's sequencer and consensus ports, and a standalone
 * exactly-once sequencer for concurrent results.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as DecisionSequencer from "./DecisionSequencer.ts"
/** @since 0.1.0 */
export * as MemorySequencer from "./MemorySequencer.ts"
/** @since 0.1.0 */
export * as QuorumConsensus from "./QuorumConsensus.ts"
/** @since 0.1.0 */
export * as SequencerStore from "./SequencerStore.ts"
/** @since 0.2.0 */
export * as SqlSequencerStore from "./SqlSequencerStore.ts"

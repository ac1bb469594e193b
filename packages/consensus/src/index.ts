/**
 * @speckit/consensus: layers for speckit's sequencer and consensus ports.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as MemorySequencer from "./MemorySequencer.ts"
/** @since 0.1.0 */
export * as QuorumConsensus from "./QuorumConsensus.ts"

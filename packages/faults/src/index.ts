/**
 * @speckit/faults: deterministic fault injection for speckit's agent calls. Parses the
 * `SPEC_KIT_FAULTS` grammar and provides layers for core's `FaultInjector` port.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Faults from "./Faults.ts"
/** @since 0.1.0 */
export * as FaultSpec from "./FaultSpec.ts"

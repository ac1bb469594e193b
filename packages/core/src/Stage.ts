/**
 * The stages of a speckit pipeline, in the order they run.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Schema of a stage name.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Stage } from "@speckit/core"
 *
 * Schema.decodeUnknownSync(Stage.Stage)("plan") // "plan"
 * ```
 *
 * @since 0.1.0
 */
export const Stage = Schema.Literals(["plan", "tasks", "implement", "validate", "audit", "unlock"])

/**
 * A stage name.
 *
 * @since 0.1.0
 */
export type Stage = typeof Stage.Type

/**
 * Every stage, in pipeline order.
 *
 * @example
 * ```ts
 * import { Stage } from "@speckit/core"
 *
 * Stage.all[0] // "plan"
 * ```
 *
 * @since 0.1.0
 */
export const all: ReadonlyArray<Stage> = Stage.literals

/**
 * Stages whose agents vote (`verdict` or `decision`) instead of producing content.
 *
 * @example
 * ```ts
 * import { Stage } from "@speckit/core"
 *
 * Stage.isVerdictStage("audit") // true
 * ```
 *
 * @since 0.1.0
 */
export const isVerdictStage = (stage: Stage): boolean => stage === "validate" || stage === "audit" || stage === "unlock"

/**
 * The stage after `stage`, or `undefined` after the last one.
 *
 * @example
 * ```ts
 * import { Stage } from "@speckit/core"
 *
 * Stage.next("plan") // "tasks"
 * Stage.next("unlock") // undefined
 * ```
 *
 * @since 0.1.0
 */
export const next = (stage: Stage): Stage | undefined => all[all.indexOf(stage) + 1]

/**
 * Whether `value` names a stage.
 *
 * @example
 * ```ts
 * import { Stage } from "@speckit/core"
 *
 * Stage.isStage("deploy") // false
 * ```
 *
 * @since 0.1.0
 */
export const isStage = (value: string): value is Stage => (all as ReadonlyArray<string>).includes(value)

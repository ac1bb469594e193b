/**
 * Agent identifiers: the names under `agents` in `speckit.config.json`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Schema of an agent id: a lower-case name of letters, digits, `-` and `_`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { AgentId } from "@speckit/core"
 *
 * const id = Schema.decodeUnknownSync(AgentId.AgentId)("claude")
 * ```
 *
 * @since 0.1.0
 */
export const AgentId = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^[a-z][a-z0-9_-]{0,63}$/, {
      message: "an agent id is 1-64 lower-case letters, digits, '-' or '_', starting with a letter"
    })
  ),
  Schema.brand("@speckit/core/AgentId")
)

/**
 * An agent id.
 *
 * @since 0.1.0
 */
export type AgentId = typeof AgentId.Type

const decodeAgentId = Schema.decodeUnknownSync(AgentId)

/**
 * Builds an agent id, throwing on an invalid name (for literals in code and tests).
 *
 * @example
 * ```ts
 * import { AgentId } from "@speckit/core"
 *
 * const alpha = AgentId.make("alpha")
 * ```
 *
 * @since 0.1.0
 */
export const make = (name: string): AgentId => decodeAgentId(name)

/**
 * Why an agent call failed, as one typed error with a `kind` that tells callers how to react.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TokenUsage } from "./TokenUsage.ts"

/**
 * The kinds of agent-call failure.
 *
 * - `RateLimited`: retry after `resetAt`.
 * - `Overloaded`, `ServerError`, `Timeout`, `Disconnected`, `Empty`: transient, retried with backoff.
 * - `Malformed`: the answer is not a valid stage result; retried with a repair note.
 * - `AuthFailed`, `QuotaExhausted`, `InvalidRequest`, `ModelNotFound`: permanent, never retried.
 * - `CircuitOpen`: the agent's circuit breaker is open; the call was not made.
 * - `Interrupted`: the call was cancelled.
 * - `Rejected`: the agent's work was refused (a candidate change breaking a rule: see `Candidate.judge`);
 *   permanent.
 * - `Workspace`: the agent's workspace (its git worktree) could not be made, written or read; permanent.
 *
 * @since 0.1.0
 */
export const AgentErrorKind = Schema.Literals([
  "RateLimited",
  "Overloaded",
  "ServerError",
  "Timeout",
  "Disconnected",
  "AuthFailed",
  "QuotaExhausted",
  "InvalidRequest",
  "ModelNotFound",
  "Malformed",
  "Empty",
  "CircuitOpen",
  "Interrupted",
  "Rejected",
  "Workspace",
  "ContextTooLarge"
])

/**
 * A kind of agent-call failure.
 *
 * @since 0.1.0
 */
export type AgentErrorKind = typeof AgentErrorKind.Type

/**
 * A failed agent call. When the provider reported what the failed attempt spent (a CLI's error output
 * with usage or cost, a stream that failed after its usage chunk), `usage`, `reportedCostUsd` and
 * `model` carry it, so that it is attributed to the attempt like a successful one's.
 *
 * @example
 * ```ts
 * import { AgentError } from "@speckit/core"
 *
 * const error = new AgentError.AgentError({ agent: "alpha", kind: "Timeout", detail: "no answer after 30s" })
 * AgentError.isRetryable(error) // true
 * ```
 *
 * @since 0.1.0
 */
export class AgentError extends Schema.TaggedError<AgentError>()("AgentError", {
  agent: Schema.String,
  kind: AgentErrorKind,
  detail: Schema.String,
  /** For `RateLimited`: when the limit resets (epoch milliseconds), when known. */
  resetAt: Schema.optionalKey(Schema.Number),
  /** The HTTP status or process exit code behind the failure, when there is one. */
  status: Schema.optionalKey(Schema.Number),
  /** Whether the failure was injected by a fault layer. */
  injected: Schema.optionalKey(Schema.Boolean),
  /** The tokens the failed attempt spent, when the provider reported them. */
  usage: Schema.optionalKey(TokenUsage),
  /** The cost the provider reported for the failed attempt, when it did. */
  reportedCostUsd: Schema.optionalKey(Schema.Number),
  /** The model the provider reported for the failed attempt, when it did. */
  model: Schema.optionalKey(Schema.String)
}) {
  override get message() {
    const reset = this.resetAt === undefined ? "" : ` (resets at ${new Date(this.resetAt).toISOString()})`
    return `${this.agent}: ${this.kind}: ${this.detail}${reset}`
  }
}

const permanent: ReadonlySet<AgentErrorKind> = new Set([
  "AuthFailed",
  "QuotaExhausted",
  "InvalidRequest",
  "ModelNotFound",
  "CircuitOpen",
  "Interrupted",
  "Rejected",
  "Workspace",
  "ContextTooLarge"
])

/**
 * Whether a failure of this kind may succeed when tried again.
 *
 * @example
 * ```ts
 * import { AgentError } from "@speckit/core"
 *
 * AgentError.isRetryableKind("AuthFailed") // false
 * ```
 *
 * @since 0.1.0
 */
export const isRetryableKind = (kind: AgentErrorKind): boolean => !permanent.has(kind)

/**
 * Whether a failed call may succeed when tried again.
 *
 * @since 0.1.0
 */
export const isRetryable = (error: AgentError): boolean => isRetryableKind(error.kind)

/**
 * Optional facts about a failure: the HTTP status or exit code, a rate limit's reset time, and what
 * the failed attempt spent when the provider reported it.
 *
 * @since 0.1.0
 */
export interface Details {
  readonly status?: number | undefined
  readonly resetAt?: number | undefined
  readonly usage?: TokenUsage | undefined
  readonly reportedCostUsd?: number | undefined
  readonly model?: string | undefined
}

/**
 * Builds an {@link AgentError}, leaving out the details that are not known.
 *
 * @example
 * ```ts
 * import { AgentError } from "@speckit/core"
 *
 * AgentError.make("alpha", "RateLimited", "429 from the API", { status: 429, resetAt: Date.now() + 60_000 })
 * ```
 *
 * @since 0.1.0
 */
export const make = (agent: string, kind: AgentErrorKind, detail: string, details: Details = {}): AgentError =>
  new AgentError({
    agent,
    kind,
    detail,
    ...(details.status === undefined ? {} : { status: details.status }),
    ...(details.resetAt === undefined ? {} : { resetAt: details.resetAt }),
    ...(details.usage === undefined ? {} : { usage: details.usage }),
    ...(details.reportedCostUsd === undefined ? {} : { reportedCostUsd: details.reportedCostUsd }),
    ...(details.model === undefined ? {} : { model: details.model })
  })

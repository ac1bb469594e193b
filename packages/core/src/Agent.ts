/**
 * Agents: anything that answers a stage prompt. A provider (sim, exec, ...) turns an agent's
 * configuration into an {@link Agent}.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import type { AgentError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import type { RunId } from "./RunId.ts"
import type { Spec } from "./Spec.ts"
import type { Stage } from "./Stage.ts"
import type { StageResult } from "./StageResult.ts"
import type { TokenUsage } from "./TokenUsage.ts"

/**
 * One call to an agent: the prompt for a stage, with the context a provider may use.
 *
 * @since 0.1.0
 */
export interface AgentRequest {
  readonly runId: RunId
  readonly stage: Stage
  readonly agent: AgentId
  /** 1 for the first attempt, incremented on every retry. */
  readonly attempt: number
  /** The full prompt text sent to the agent. */
  readonly prompt: string
  readonly spec: Spec
  /** The previous stage's consensus, as Markdown (empty for the first stage). */
  readonly previous: string
  /** A stable key for this call (run, stage, agent, attempt), for providers that deduplicate. */
  readonly idempotencyKey: string
  /**
   * Set when the agent is called as the stage's aggregator: the answers to synthesize (the prompt
   * is then `Prompt.synthesis`, and the answer must be a `ResultMerge.Synthesis`).
   */
  readonly synthesisOf?: ReadonlyArray<StageResult> | undefined
  /**
   * Set in a stage that makes real changes (the implement stage in `changes` mode): the directory the
   * agent works in, a git worktree of the repository at the run's base commit. An agent that edits
   * files ({@link Agent.edits}) edits them there; the others answer with the files' new contents
   * (see `ChangePrompt`), which speckit writes there.
   *
   * @since 0.3.0
   */
  readonly workdir?: string | undefined
  /**
   * Set when the agent judges real candidates (the validate stage over candidates): what the prompt
   * shows of each, as data, for providers that use it (the `sim` agent ranks by it).
   *
   * @since 0.3.0
   */
  readonly candidates?: ReadonlyArray<CandidateView> | undefined
}

/**
 * A candidate as a validate agent is shown it (anonymised).
 *
 * @since 0.3.0
 */
export interface CandidateView {
  /** `C1`…`Cn`. */
  readonly id: string
  /** How many checks it passes. */
  readonly passed: number
  /** The checks that pass on the base and not on it. */
  readonly regressions: ReadonlyArray<string>
  /** Lines added + removed. */
  readonly lines: number
  /** The existing tests it changes. */
  readonly changedTests: ReadonlyArray<string>
}

/**
 * What an agent answered.
 *
 * @since 0.1.0
 */
export interface AgentResponse {
  /** The answer text, expected to hold the stage result as JSON. */
  readonly text: string
  readonly usage: TokenUsage
  /** The model that answered, as reported by the provider or configured. */
  readonly model: string
  /** The cost the provider itself reported, in USD, when it reports one. */
  readonly reportedCostUsd?: number | undefined
  /**
   * What the user should know although the call succeeded (e.g. tools an agent CLI denied itself);
   * shown in progress and kept with the answer.
   *
   * @since 0.3.0
   */
  readonly warnings?: ReadonlyArray<string> | undefined
}

/**
 * A configured agent, ready to be called.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type Agent, AgentId, TokenUsage } from "@speckit/core"
 *
 * const echo: Agent.Agent = {
 *   id: AgentId.make("echo"),
 *   provider: "custom",
 *   model: "echo-1",
 *   call: (request) => Effect.succeed({ text: request.prompt, usage: TokenUsage.empty, model: "echo-1" })
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface Agent {
  readonly id: AgentId
  /** The provider name that built it (`sim`, `exec`, ...). */
  readonly provider: string
  /** The configured model name. */
  readonly model: string
  /**
   * Whether the agent edits files itself in `AgentRequest.workdir` (coding CLIs, the `sim` agent);
   * an agent that cannot (an HTTP API) answers with the files' contents instead. Default: `false`.
   *
   * @since 0.3.0
   */
  readonly edits?: boolean | undefined
  readonly call: (request: AgentRequest) => Effect.Effect<AgentResponse, AgentError>
}

/**
 * Makes the idempotency key of an agent call.
 *
 * @example
 * ```ts
 * import { Agent } from "@speckit/core"
 *
 * Agent.idempotencyKey({ runId: "run-1", stage: "plan", agent: "alpha", attempt: 1 }) // "run-1/plan/alpha/1"
 * ```
 *
 * @since 0.1.0
 */
export const idempotencyKey = (key: {
  readonly runId: string
  readonly stage: string
  readonly agent: string
  readonly attempt: number
}): string => `${key.runId}/${key.stage}/${key.agent}/${key.attempt}`

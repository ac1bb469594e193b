/**
 * Runs the agents of one stage concurrently and collects their outcomes.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { StagePolicy } from "./SpeckitConfig.ts"

/**
 * Calls every agent of the stage's policy concurrently and returns their outcomes in the policy's
 * agent order.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StageRunner, SpeckitConfig } from "@speckit/core"
 *
 * declare const call: (agent: import("@speckit/core").AgentId.AgentId) => Effect.Effect<import("@speckit/core").AgentOutcome.AgentOutcome>
 * const outcomes = StageRunner.run(SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan"), call)
 * ```
 *
 * @since 0.1.0
 */
export const run = <E, R>(
  policy: StagePolicy,
  call: (agent: AgentId) => Effect.Effect<AgentOutcome, E, R>
): Effect.Effect<ReadonlyArray<AgentOutcome>, E, R> => Effect.forEach(policy.agents, call, { concurrency: "unbounded" })

/**
 * A {@link Consensus.Consensus} that applies the stage's quorum rule, votes on verdict stages and
 * merges content stages deterministically. The result depends only on the set of outcomes, never on
 * their arrival order.
 *
 * @since 0.1.0
 */
import {
  type AgentId,
  AgentOutcome,
  Consensus,
  type SpeckitConfig,
  ResultMerge,
  Stage,
  StageResult
} from "@speckit/core"
import { Effect, Layer } from "effect"

/**
 * Merges the results of a content stage (plan, tasks, implement) into one. Results are taken in
 * agent-id order, so the merge does not depend on arrival order. (The implementation is core's
 * `ResultMerge.merge`, which the simulated aggregator uses too.)
 *
 * @example
 * ```ts
 * import { QuorumConsensus } from "@speckit/consensus"
 *
 * declare const results: ReadonlyArray<import("@speckit/core").StageResult.StageResult>
 * const merged = QuorumConsensus.merge(results)
 * ```
 *
 * @since 0.1.0
 */
export const merge: (results: ReadonlyArray<StageResult.StageResult>) => StageResult.StageResult | undefined =
  ResultMerge.merge

/**
 * The conflicts between the answers of a content stage (plan, tasks, implement), as sentences, in a
 * deterministic order (core's `ResultMerge.conflictsOf`):
 *
 * - implement: the same path with different actions (`create` vs `delete`, ...);
 * - tasks: the same task (by title) with different dependencies, or a dependency cycle in the merge;
 * - plan: an acceptance criterion covered by no work item in the merge.
 *
 * @example
 * ```ts
 * import { QuorumConsensus } from "@speckit/consensus"
 *
 * declare const results: ReadonlyArray<import("@speckit/core").StageResult.StageResult>
 * const conflicts = QuorumConsensus.conflictsOf(results, QuorumConsensus.merge(results))
 * ```
 *
 * @since 0.1.0
 */
export const conflictsOf: (
  results: ReadonlyArray<StageResult.StageResult>,
  merged: StageResult.StageResult | undefined
) => Array<string> = ResultMerge.conflictsOf

const withVote = (result: StageResult.StageResult, vote: string): StageResult.StageResult => {
  switch (result.stage) {
    case "validate":
    case "audit":
      return vote === "pass" || vote === "fail" ? { ...result, verdict: vote } : result
    case "unlock":
      return vote === "unlock" || vote === "hold" ? { ...result, decision: vote } : result
    default:
      return result
  }
}

const isStopped = (outcome: AgentOutcome.AgentOutcome, stopped: ReadonlySet<string>) =>
  outcome._tag === "Failed" && stopped.has(outcome.agent)

const votesOf = (succeeded: ReadonlyArray<AgentOutcome.Succeeded>) => {
  const votes = new Map<string, Array<AgentId.AgentId>>()
  for (const outcome of succeeded) {
    const vote = StageResult.voteOf(outcome.result) ?? "none"
    const voters = votes.get(vote)
    if (voters === undefined) votes.set(vote, [outcome.agent])
    else voters.push(outcome.agent)
  }
  return [...votes.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
}

/**
 * Whether the outcomes so far already fix the stage's outcome, whatever the remaining agents of the
 * policy answer: the quorum can no longer be reached, every agent has answered, or (verdict stages) a
 * vote already holds a strict majority of all the stage's agents and the quorum, or a conflict is
 * certain. Then the stage's status class (proceed or halt) and its verdict can no longer change.
 * Content stages are settled only when the quorum is lost or every agent has answered. Pure.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { QuorumConsensus } from "@speckit/consensus"
 *
 * QuorumConsensus.settled(SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "validate"), []) // false
 * ```
 *
 * @since 0.1.0
 */
export const settled = (
  policy: SpeckitConfig.StagePolicy,
  outcomes: ReadonlyArray<AgentOutcome.AgentOutcome>
): boolean => {
  const tally = makeTally(policy)
  for (const outcome of outcomes) tally.add(outcome)
  return tally.settled()
}

/**
 * {@link settled}, incrementally: the check of one stage run, given each outcome as it arrives,
 * tells whether the outcomes given so far settle the stage, in constant time per outcome (`settled`
 * looks at every outcome so far, so calling it after each of a stage's N agents costs N² steps).
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { QuorumConsensus } from "@speckit/consensus"
 *
 * const check = QuorumConsensus.settling(SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "validate"))
 * // for each outcome as it arrives: if (check(outcome)) stop the others
 * ```
 *
 * @since 0.4.0
 */
export const settling = (policy: SpeckitConfig.StagePolicy): ((outcome: AgentOutcome.AgentOutcome) => boolean) => {
  const tally = makeTally(policy)
  return (outcome) => {
    tally.add(outcome)
    return tally.settled()
  }
}

/**
 * The running counts `settled` decides on: each agent's latest outcome, how many succeeded, and
 * (verdict stages) how many voted each way.
 */
const makeTally = (policy: SpeckitConfig.StagePolicy) => {
  const agents = new Set<string>(policy.agents)
  const required = Consensus.required(policy.quorum, policy.agents.length)
  const verdictStage = Stage.isVerdictStage(policy.stage)
  const latest = new Map<string, AgentOutcome.AgentOutcome>()
  const votes = new Map<string, number>()
  let succeeded = 0
  const count = (outcome: AgentOutcome.AgentOutcome, delta: 1 | -1) => {
    if (!AgentOutcome.isSucceeded(outcome)) return
    succeeded += delta
    if (!verdictStage) return
    const vote = StageResult.voteOf(outcome.result) ?? "none"
    const voters = (votes.get(vote) ?? 0) + delta
    if (voters === 0) votes.delete(vote)
    else votes.set(vote, voters)
  }
  return {
    add: (outcome: AgentOutcome.AgentOutcome) => {
      if (!agents.has(outcome.agent)) return
      const before = latest.get(outcome.agent)
      if (before !== undefined) count(before, -1)
      latest.set(outcome.agent, outcome)
      count(outcome, 1)
    },
    settled: (): boolean => {
      const remaining = policy.agents.length - latest.size
      if (remaining <= 0) return true
      if (succeeded + remaining < required) return true
      if (!verdictStage) return false
      if (policy.quorum === "all") return votes.size > 1
      let top = 0
      for (const voters of votes.values()) if (voters > top) top = voters
      // A strict majority of all agents that also meets the quorum wins whatever the others answer.
      if (top * 2 > policy.agents.length && top >= required) return true
      // No vote can reach a majority even if every remaining agent joins the leading one.
      return 2 * top + remaining <= succeeded
    }
  }
}

/**
 * Decides a stage from its agents' outcomes under a policy. Pure and deterministic: the same set of
 * outcomes in any order gives the same result. Agents in `options.stopped` (interrupted by an early
 * decision) count neither as failures nor against the quorum.
 *
 * On a content stage with `options.aggregation` (the stage's aggregator agent was called), a valid
 * synthesis is the merged result and its agreements and conflicts are the consensus's (any conflict:
 * status `conflict`); without one (the aggregator failed) the deterministic merge applies and the
 * `reason` says why.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { QuorumConsensus } from "@speckit/consensus"
 *
 * const decided = QuorumConsensus.decide(SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan"), [])
 * decided.status // "failed"
 * ```
 *
 * @since 0.1.0
 */
export const decide = (
  policy: SpeckitConfig.StagePolicy,
  outcomes: ReadonlyArray<AgentOutcome.AgentOutcome>,
  options?: Consensus.DecideOptions
): Consensus.StageConsensus => {
  const stoppedSet = new Set<string>(options?.stopped ?? [])
  const byAgent = [...outcomes].sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0))
  const succeeded = byAgent.filter(AgentOutcome.isSucceeded)
  const stopped = byAgent.filter((o) => isStopped(o, stoppedSet)).map((o) => o.agent)
  const failed = byAgent.filter((o) => !AgentOutcome.isSucceeded(o) && !isStopped(o, stoppedSet)).map((o) => o.agent)
  const required = Consensus.required(policy.quorum, policy.agents.length)
  const base = {
    stage: policy.stage,
    succeeded: succeeded.map((o) => o.agent),
    failed,
    ...(stopped.length > 0 ? { stopped } : {}),
    required,
    agreements: [] as Array<string>,
    conflicts: [] as Array<string>,
    dissent: [] as Array<AgentId.AgentId>
  }
  if (succeeded.length + stopped.length < required || succeeded.length === 0) {
    return {
      ...base,
      status: "failed",
      reason: `${succeeded.length} of ${policy.agents.length} agents answered, ${required} required${
        failed.length > 0 ? ` (failed: ${failed.join(", ")})` : ""
      }`
    }
  }
  const degraded = failed.length > 0
  const quorumNote = degraded ? `quorum met without ${failed.join(", ")}` : undefined
  const results = succeeded.map((o) => o.result)
  const merged = merge(results)
  if (!Stage.isVerdictStage(policy.stage)) {
    const aggregation = options?.aggregation
    const synthesis = aggregation?.synthesis
    if (aggregation !== undefined && synthesis !== undefined && synthesis.stage === policy.stage) {
      // The aggregator's synthesis is the merged result; its conflicts decide the status.
      const common = {
        ...base,
        result: ResultMerge.resultOf(synthesis),
        agreements: [...synthesis.agreements],
        conflicts: [...synthesis.conflicts],
        aggregator: aggregation.agent
      }
      if (synthesis.conflicts.length > 0) {
        return {
          ...common,
          status: "conflict",
          reason: `the aggregator ${aggregation.agent} reports conflicts: ${synthesis.conflicts.join("; ")}`
        }
      }
      return { ...common, status: degraded ? "degraded" : "ok", reason: quorumNote }
    }
    const fallback =
      aggregation === undefined
        ? undefined
        : `aggregator ${aggregation.agent} ${
            synthesis === undefined
              ? `failed (${aggregation.failure ?? "no valid synthesis"})`
              : `answered another stage (${synthesis.stage})`
          }, so the answers were merged deterministically`
    const note = (reason: string | undefined) =>
      reason === undefined ? fallback : fallback === undefined ? reason : `${reason}; ${fallback}`
    const conflicts = conflictsOf(results, merged)
    if (conflicts.length > 0) {
      return {
        ...base,
        status: "conflict",
        result: merged,
        conflicts,
        agreements: [`${succeeded.length} agent(s) contributed to the merged ${policy.stage}`],
        reason: note(`the agents disagree: ${conflicts.join("; ")}`)
      }
    }
    return {
      ...base,
      status: degraded ? "degraded" : "ok",
      result: merged,
      agreements: [`${succeeded.length} agent(s) contributed to the merged ${policy.stage}`],
      reason: note(quorumNote)
    }
  }
  const ranked = votesOf(succeeded)
  const [top, second] = ranked
  if (!top) return { ...base, status: "failed", reason: "no votes" }
  const [verdict, voters] = top
  const inMajority = new Set<string>(voters)
  const dissent = succeeded.map((o) => o.agent).filter((agent) => !inMajority.has(agent))
  const unanimous = dissent.length === 0
  const majority = voters.length * 2 > succeeded.length && (second === undefined || second[1].length < voters.length)
  const result = merged ? withVote(merged, verdict) : undefined
  if (unanimous || (policy.quorum !== "all" && majority)) {
    return {
      ...base,
      status: degraded ? "degraded" : "ok",
      result,
      verdict,
      dissent,
      agreements: [`${voters.length} of ${succeeded.length} voted ${verdict} (${voters.join(", ")})`],
      reason: dissent.length > 0 ? `dissent from ${dissent.join(", ")}` : quorumNote
    }
  }
  return {
    ...base,
    status: "conflict",
    result,
    dissent,
    conflicts: ranked.map(([vote, agents]) => `${agents.join(", ")} voted ${vote}`),
    reason: `the agents disagree: ${ranked.map(([vote, agents]) => `${vote} (${agents.join(", ")})`).join(" vs ")}`
  }
}

/**
 * The quorum consensus as a layer for core's `Consensus` port.
 *
 * @example
 * ```ts
 * import { QuorumConsensus } from "@speckit/consensus"
 *
 * const layer = QuorumConsensus.layer
 * ```
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Consensus.Consensus> = Layer.succeed(Consensus.Consensus, {
  decide: (policy, outcomes, options) => Effect.sync(() => decide(policy, outcomes, options)),
  settled,
  settling
})

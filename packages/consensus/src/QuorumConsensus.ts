/**
 * A {@link Consensus.Consensus} that applies the stage's quorum rule, votes on verdict stages and
 * merges content stages deterministically. The result depends only on the set of outcomes, never on
 * their arrival order.
 *
 * @since 0.1.0
 */
import { type AgentId, AgentOutcome, Consensus, type SpeckitConfig, Stage, StageResult } from "@speckit/core"
import { Effect, Layer } from "effect"

const norm = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .trim()

/** Merges lists from several answers: items keyed by `key`, ordered by support, then first appearance. */
const mergeLists = <A>(lists: ReadonlyArray<ReadonlyArray<A>>, key: (item: A) => string): Array<A> => {
  const seen = new Map<string, { item: A; support: number; order: number }>()
  let order = 0
  for (const list of lists) {
    for (const item of list) {
      const k = key(item)
      const entry = seen.get(k)
      if (entry) entry.support++
      else seen.set(k, { item, support: 1, order: order++ })
    }
  }
  return [...seen.values()].sort((a, b) => b.support - a.support || a.order - b.order).map((entry) => entry.item)
}

const renumber = <A extends { readonly id: string }>(items: ReadonlyArray<A>, prefix: string): Array<A> =>
  items.map((item, i) => ({ ...item, id: `${prefix}${i + 1}` }))

/**
 * Merges the results of a content stage (plan, tasks, implement) into one. Results are taken in
 * agent-id order, so the merge does not depend on arrival order.
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
export const merge = (results: ReadonlyArray<StageResult.StageResult>): StageResult.StageResult | undefined => {
  const sorted = [...results].sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0))
  const first = sorted[0]
  if (!first) return undefined
  switch (first.stage) {
    case "plan": {
      const plans = sorted.filter((r) => r.stage === "plan")
      const work = mergeLists(
        plans.map((p) => p.work_breakdown),
        (w) => norm(w.title)
      )
      const ids = new Map(work.map((w, i) => [norm(w.title), `W${i + 1}`]))
      const remap = (plan: StageResult.StageResultOf<"plan">, id: string) => {
        const item = plan.work_breakdown.find((w) => w.id === id)
        return item ? (ids.get(norm(item.title)) ?? id) : id
      }
      const mapping = mergeLists(
        plans.map((p) =>
          p.acceptance_mapping.map((m) => ({ ...m, covered_by: m.covered_by.map((id) => remap(p, id)) }))
        ),
        (m) => norm(m.criterion)
      )
      const [head, ...rest] = renumber(work, "W")
      if (!head) return first
      return { ...first, work_breakdown: [head, ...rest], acceptance_mapping: mapping }
    }
    case "tasks": {
      const tasks = mergeLists(
        sorted.filter((r) => r.stage === "tasks").map((r) => r.tasks),
        (t) => norm(t.title)
      )
      const [head, ...rest] = tasks
      return head ? { ...first, tasks: [head, ...rest] } : first
    }
    case "implement": {
      const changes = mergeLists(
        sorted.filter((r) => r.stage === "implement").map((r) => r.changes),
        (c) => `${c.path}`
      )
      const [head, ...rest] = changes
      return head ? { ...first, changes: [head, ...rest] } : first
    }
    case "validate": {
      const strategy = mergeLists(
        sorted.filter((r) => r.stage === "validate").map((r) => r.test_strategy),
        norm
      )
      const [head, ...rest] = strategy
      return head ? { ...first, test_strategy: [head, ...rest] } : first
    }
    case "audit":
      return {
        ...first,
        findings: mergeLists(
          sorted.filter((r) => r.stage === "audit").map((r) => r.findings),
          (f) => norm(f.title)
        )
      }
    case "unlock":
      return first
  }
}

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

/**
 * Decides a stage from its agents' outcomes under a policy. Pure and deterministic.
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
  outcomes: ReadonlyArray<AgentOutcome.AgentOutcome>
): Consensus.StageConsensus => {
  const byAgent = [...outcomes].sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0))
  const succeeded = byAgent.filter(AgentOutcome.isSucceeded)
  const failed = byAgent.filter((o) => !AgentOutcome.isSucceeded(o)).map((o) => o.agent)
  const required = Consensus.required(policy.quorum, policy.agents.length)
  const base = {
    stage: policy.stage,
    succeeded: succeeded.map((o) => o.agent),
    failed,
    required,
    agreements: [] as Array<string>,
    conflicts: [] as Array<string>,
    dissent: [] as Array<AgentId.AgentId>
  }
  if (succeeded.length < required) {
    return {
      ...base,
      status: "failed",
      reason: `${succeeded.length} of ${policy.agents.length} agents answered, ${required} required${
        failed.length > 0 ? ` (failed: ${failed.join(", ")})` : ""
      }`
    }
  }
  const degraded = failed.length > 0
  const results = succeeded.map((o) => o.result)
  const merged = merge(results)
  if (!Stage.isVerdictStage(policy.stage)) {
    return {
      ...base,
      status: degraded ? "degraded" : "ok",
      result: merged,
      agreements: [`${succeeded.length} agent(s) contributed to the merged ${policy.stage}`],
      reason: degraded ? `quorum met without ${failed.join(", ")}` : undefined
    }
  }
  const votes = new Map<string, Array<AgentId.AgentId>>()
  for (const outcome of succeeded) {
    const vote = StageResult.voteOf(outcome.result) ?? "none"
    votes.set(vote, [...(votes.get(vote) ?? []), outcome.agent])
  }
  const ranked = [...votes.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
  const [top, second] = ranked
  if (!top) return { ...base, status: "failed", reason: "no votes" }
  const [verdict, voters] = top
  const dissent = succeeded.map((o) => o.agent).filter((agent) => !voters.includes(agent))
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
      reason:
        dissent.length > 0
          ? `dissent from ${dissent.join(", ")}`
          : degraded
            ? `quorum met without ${failed.join(", ")}`
            : undefined
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
  decide: (policy, outcomes) => Effect.succeed(decide(policy, outcomes))
})

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

const byTaskId = (a: string, b: string) => Number(a.slice(1)) - Number(b.slice(1))

/** The normalized titles of the tasks a task depends on, resolved through its own answer's ids. */
const dependencyTitles = (
  result: StageResult.StageResultOf<"tasks">,
  task: StageResult.StageResultOf<"tasks">["tasks"][number]
): Array<string> => {
  const titles = new Map(result.tasks.map((t) => [t.id, norm(t.title)]))
  return task.depends_on.map((id) => titles.get(id) ?? `?${id}`).sort()
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
      const lists = sorted.filter((r) => r.stage === "tasks")
      const tasks = mergeLists(
        lists.map((r) => r.tasks),
        (t) => norm(t.title)
      )
      const ids = new Map(tasks.map((t, i) => [norm(t.title), `T${i + 1}`]))
      // Dependencies are remapped through each agent's own ids, then unioned per task.
      const deps = new Map<string, Set<string>>()
      for (const list of lists) {
        for (const task of list.tasks) {
          const own = deps.get(norm(task.title)) ?? new Set<string>()
          for (const dep of dependencyTitles(list, task)) {
            const id = ids.get(dep)
            if (id !== undefined) own.add(id)
          }
          deps.set(norm(task.title), own)
        }
      }
      const renumbered = tasks.map((t, i) => ({
        ...t,
        id: `T${i + 1}`,
        depends_on: [...(deps.get(norm(t.title)) ?? [])].sort(byTaskId)
      }))
      const [head, ...rest] = renumbered
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
 * The conflicts between the answers of a content stage (plan, tasks, implement), as sentences, in a
 * deterministic order:
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
export const conflictsOf = (
  results: ReadonlyArray<StageResult.StageResult>,
  merged: StageResult.StageResult | undefined
): Array<string> => {
  const sorted = [...results].sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0))
  const conflicts: Array<string> = []
  const disagreements = <K>(
    views: Map<string, Map<K, Array<string>>>,
    describe: (key: string, view: string) => string
  ) => {
    for (const [key, byView] of [...views.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (byView.size < 2) continue
      const parts = [...byView.entries()]
        .map(([view, agents]) => `${agents.join(", ")}: ${describe(key, String(view))}`)
        .sort()
      conflicts.push(`${key}: ${parts.join(" vs ")}`)
    }
  }
  if (merged?.stage === "implement") {
    const actions = new Map<string, Map<string, Array<string>>>()
    for (const result of sorted) {
      if (result.stage !== "implement") continue
      const seen = new Set<string>()
      for (const change of result.changes) {
        const id = `${change.path}=${change.action}`
        if (seen.has(id)) continue
        seen.add(id)
        const byAction = actions.get(change.path) ?? new Map<string, Array<string>>()
        byAction.set(change.action, [...(byAction.get(change.action) ?? []), result.agent])
        actions.set(change.path, byAction)
      }
    }
    disagreements(actions, (_, action) => action)
  }
  if (merged?.stage === "tasks") {
    const dependencies = new Map<string, Map<string, Array<string>>>()
    const titles = new Map<string, string>()
    for (const result of sorted) {
      if (result.stage !== "tasks") continue
      for (const task of result.tasks) {
        const title = norm(task.title)
        if (!titles.has(title)) titles.set(title, task.title)
        const view = dependencyTitles(result, task).join(" + ") || "no dependencies"
        const byView = dependencies.get(title) ?? new Map<string, Array<string>>()
        if (!(byView.get(view) ?? []).includes(result.agent))
          byView.set(view, [...(byView.get(view) ?? []), result.agent])
        dependencies.set(title, byView)
      }
    }
    disagreements(dependencies, (_, view) => `after ${view}`)
    const cycle = findCycle(merged.tasks)
    if (cycle !== undefined) conflicts.push(`dependency cycle: ${cycle.join(" -> ")}`)
  }
  if (merged?.stage === "plan") {
    const items = new Set(merged.work_breakdown.map((w) => w.id))
    for (const mapping of merged.acceptance_mapping) {
      if (!mapping.covered_by.some((id) => items.has(id))) {
        conflicts.push(`acceptance criterion "${mapping.criterion}" is covered by no work item`)
      }
    }
  }
  return conflicts
}

/** A cycle in the tasks' dependency graph, as task ids (the first repeated at the end), if there is one. */
const findCycle = (tasks: ReadonlyArray<StageResult.StageResultOf<"tasks">["tasks"][number]>) => {
  const edges = new Map(tasks.map((t) => [t.id, t.depends_on]))
  const state = new Map<string, "visiting" | "done">()
  const path: Array<string> = []
  const visit = (id: string): Array<string> | undefined => {
    const mark = state.get(id)
    if (mark === "done") return undefined
    if (mark === "visiting") return [...path.slice(path.indexOf(id)), id]
    state.set(id, "visiting")
    path.push(id)
    for (const dep of edges.get(id) ?? []) {
      const found = visit(dep)
      if (found) return found
    }
    path.pop()
    state.set(id, "done")
    return undefined
  }
  for (const task of tasks) {
    const found = visit(task.id)
    if (found) return found
  }
  return undefined
}

const isStopped = (outcome: AgentOutcome.AgentOutcome, stopped: ReadonlySet<string>) =>
  outcome._tag === "Failed" && stopped.has(outcome.agent)

const votesOf = (succeeded: ReadonlyArray<AgentOutcome.Succeeded>) => {
  const votes = new Map<string, Array<AgentId.AgentId>>()
  for (const outcome of succeeded) {
    const vote = StageResult.voteOf(outcome.result) ?? "none"
    votes.set(vote, [...(votes.get(vote) ?? []), outcome.agent])
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
  const agents = new Set<string>(policy.agents)
  const latest = new Map<string, AgentOutcome.AgentOutcome>()
  for (const outcome of outcomes) if (agents.has(outcome.agent)) latest.set(outcome.agent, outcome)
  const answered = [...latest.values()]
  const succeeded = answered.filter(AgentOutcome.isSucceeded)
  const remaining = policy.agents.length - answered.length
  const required = Consensus.required(policy.quorum, policy.agents.length)
  if (remaining <= 0) return true
  if (succeeded.length + remaining < required) return true
  if (!Stage.isVerdictStage(policy.stage)) return false
  const ranked = votesOf(succeeded)
  const top = ranked[0]?.[1].length ?? 0
  if (policy.quorum === "all") return ranked.length > 1
  // A strict majority of all agents that also meets the quorum wins whatever the others answer.
  if (top * 2 > policy.agents.length && top >= required) return true
  // No vote can reach a majority even if every remaining agent joins the leading one.
  return 2 * top + remaining <= succeeded.length
}

/**
 * Decides a stage from its agents' outcomes under a policy. Pure and deterministic: the same set of
 * outcomes in any order gives the same result. Agents in `options.stopped` (interrupted by an early
 * decision) count neither as failures nor against the quorum.
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
    const conflicts = conflictsOf(results, merged)
    if (conflicts.length > 0) {
      return {
        ...base,
        status: "conflict",
        result: merged,
        conflicts,
        agreements: [`${succeeded.length} agent(s) contributed to the merged ${policy.stage}`],
        reason: `the agents disagree: ${conflicts.join("; ")}`
      }
    }
    return {
      ...base,
      status: degraded ? "degraded" : "ok",
      result: merged,
      agreements: [`${succeeded.length} agent(s) contributed to the merged ${policy.stage}`],
      reason: quorumNote
    }
  }
  const ranked = votesOf(succeeded)
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
  settled
})

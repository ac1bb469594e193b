/**
 * How several agents' results for a stage become one: `merge` (the deterministic union a simulated
 * aggregator and the quorum consensus use), `conflictsOf` (where the answers disagree), and the
 * aggregator's `Synthesis` (its schema, parser, and the result it stands for).
 *
 * @since 0.3.0
 */
import { Effect, Schema } from "effect"
import type { AgentId } from "./AgentId.ts"
import { isVerdictStage, type Stage } from "./Stage.ts"
import {
  ImplementResult,
  MalformedResult,
  PlanResult,
  parseWith,
  type StageResult,
  type StageResultOf,
  TasksResult
} from "./StageResult.ts"

const Text = Schema.String.check(Schema.isMinLength(1))

// A stage's answers repeat the same titles (each agent's copy of one text): each is normalised once.
const normalised = new Map<string, string>()

const norm = (text: string): string => {
  const known = normalised.get(text)
  if (known !== undefined) return known
  const made = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .trim()
  if (normalised.size >= 4096) normalised.clear()
  normalised.set(text, made)
  return made
}

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
  result: StageResultOf<"tasks">,
  task: StageResultOf<"tasks">["tasks"][number]
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
 * import { StageResult } from "@speckit/core"
 *
 * declare const results: ReadonlyArray<StageResult.StageResult>
 * const merged = ResultMerge.merge(results)
 * ```
 *
 * @since 0.1.0
 */
export const merge = (results: ReadonlyArray<StageResult>): StageResult | undefined => {
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
      const remap = (plan: StageResultOf<"plan">, id: string) => {
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

/**
 * Records that `agent` holds `view` on `key`, once. Agents arrive in id order, so a repeat is the
 * last one listed (a linear pass, where copying the list on every agent was quadratic).
 */
const addAgent = (views: Map<string, Map<string, Array<string>>>, key: string, view: string, agent: string) => {
  let byView = views.get(key)
  if (byView === undefined) {
    byView = new Map()
    views.set(key, byView)
  }
  const agents = byView.get(view)
  if (agents === undefined) byView.set(view, [agent])
  else if (agents[agents.length - 1] !== agent) agents.push(agent)
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
 * import { StageResult } from "@speckit/core"
 *
 * declare const results: ReadonlyArray<StageResult.StageResult>
 * const conflicts = QuorumConsensus.conflictsOf(results, ResultMerge.merge(results))
 * ```
 *
 * @since 0.1.0
 */
export const conflictsOf = (results: ReadonlyArray<StageResult>, merged: StageResult | undefined): Array<string> => {
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
      for (const change of result.changes) addAgent(actions, change.path, change.action, result.agent)
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
        addAgent(dependencies, title, view, result.agent)
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
const findCycle = (tasks: ReadonlyArray<StageResultOf<"tasks">["tasks"][number]>) => {
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

const synthesisFields = {
  /** What the answers agree on, one sentence each. */
  agreements: Schema.Array(Text),
  /** Where the answers disagree and the synthesis could not resolve it, one sentence each. */
  conflicts: Schema.Array(Text)
}

/**
 * An aggregator's synthesis of a content stage's answers: the stage result it merged, plus what the
 * answers agree on and where they conflict. Only content stages (plan, tasks, implement) have one.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { StageResult } from "@speckit/core"
 *
 * Schema.decodeUnknownSync(ResultMerge.Synthesis)({
 *   stage: "implement",
 *   agent: "alpha",
 *   summary: "One module.",
 *   changes: [{ path: "src/a.ts", action: "create", description: "the module" }],
 *   agreements: ["both answers create src/a.ts"],
 *   conflicts: []
 * })
 * ```
 *
 * @since 0.1.0
 */
export const Synthesis = Schema.Union([
  Schema.Struct({ ...PlanResult.fields, ...synthesisFields }),
  Schema.Struct({ ...TasksResult.fields, ...synthesisFields }),
  Schema.Struct({ ...ImplementResult.fields, ...synthesisFields })
])

/**
 * A synthesis of a content stage's answers.
 *
 * @since 0.1.0
 */
export type Synthesis = typeof Synthesis.Type

const decodeSynthesis = Schema.decodeUnknownResult(Synthesis)

/**
 * Parses and validates an aggregator's answer text as the synthesis of `stage` (a content stage),
 * with the same rules as {@link parse}: `agent` is filled in when omitted and must match otherwise.
 *
 * @example
 * ```ts
 * import { AgentId, StageResult } from "@speckit/core"
 *
 * const program = ResultMerge.parseSynthesis(
 *   "tasks",
 *   AgentId.make("alpha"),
 *   '{"stage":"tasks","summary":"s","tasks":[{"id":"T1","title":"t","depends_on":[],"done_when":"d"}],"agreements":[],"conflicts":[]}'
 * )
 * ```
 *
 * @since 0.1.0
 */
export const parseSynthesis = (
  stage: Stage,
  agent: AgentId,
  text: string
): Effect.Effect<Synthesis, MalformedResult> =>
  isVerdictStage(stage)
    ? Effect.fail(new MalformedResult({ stage, agent, reason: `the ${stage} stage takes no synthesis` }))
    : parseWith(decodeSynthesis, stage, agent, text)

/**
 * The stage result of a synthesis, without its agreements and conflicts.
 *
 * @example
 * ```ts
 * import { StageResult } from "@speckit/core"
 *
 * declare const synthesis: ResultMerge.Synthesis
 * const result = ResultMerge.resultOf(synthesis)
 * ```
 *
 * @since 0.1.0
 */
export const resultOf = (synthesis: Synthesis): StageResult => {
  switch (synthesis.stage) {
    case "plan": {
      const { agreements: _agreements, conflicts: _conflicts, ...result } = synthesis
      return result
    }
    case "tasks": {
      const { agreements: _agreements, conflicts: _conflicts, ...result } = synthesis
      return result
    }
    case "implement": {
      const { agreements: _agreements, conflicts: _conflicts, ...result } = synthesis
      return result
    }
  }
}

/** What every answer has in common, one sentence per item all of them include. */
const agreementsOf = (results: ReadonlyArray<StageResult>, merged: StageResult): Array<string> => {
  const all = results.length
  const count = (items: ReadonlyArray<ReadonlyArray<string>>) => {
    const support = new Map<string, number>()
    for (const keys of items) for (const key of new Set(keys)) support.set(key, (support.get(key) ?? 0) + 1)
    return support
  }
  const shared = (label: string, keys: (result: StageResult) => ReadonlyArray<string>, shown: Map<string, string>) => {
    const support = count(results.map(keys))
    return [...shown.entries()]
      .filter(([key]) => support.get(key) === all)
      .map(([, text]) => `all ${all} answer(s) include ${label} ${text}`)
  }
  switch (merged.stage) {
    case "plan":
      return shared(
        "the step",
        (r) => (r.stage === "plan" ? r.work_breakdown.map((w) => norm(w.title)) : []),
        new Map(merged.work_breakdown.map((w) => [norm(w.title), `${w.id} "${w.title}"`]))
      )
    case "tasks":
      return shared(
        "the task",
        (r) => (r.stage === "tasks" ? r.tasks.map((t) => norm(t.title)) : []),
        new Map(merged.tasks.map((t) => [norm(t.title), `${t.id} "${t.title}"`]))
      )
    case "implement":
      return shared(
        "a change to",
        (r) => (r.stage === "implement" ? r.changes.map((c) => c.path) : []),
        new Map(merged.changes.map((c) => [c.path, c.path]))
      )
    default:
      return []
  }
}

/**
 * The deterministic synthesis of a content stage's answers, as `agent`: the {@link merge} of the
 * answers, the items every answer includes as agreements and {@link conflictsOf} as conflicts.
 * `undefined` for no answers or a verdict stage. The simulated agent answers synthesis requests
 * with it.
 *
 * @example
 * ```ts
 * import { AgentId, StageResult } from "@speckit/core"
 *
 * declare const answers: ReadonlyArray<StageResult.StageResult>
 * const synthesis = ResultMerge.synthesize(answers, AgentId.make("alpha"))
 * ```
 *
 * @since 0.1.0
 */
export const synthesize = (results: ReadonlyArray<StageResult>, agent: AgentId): Synthesis | undefined => {
  const merged = merge(results)
  if (merged === undefined) return undefined
  const agreements = agreementsOf(results, merged)
  const conflicts = conflictsOf(results, merged)
  switch (merged.stage) {
    case "plan":
    case "tasks":
    case "implement":
      return { ...merged, agent, agreements, conflicts }
    default:
      return undefined
  }
}

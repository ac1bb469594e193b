/**
 * Stage results: the structured answer an agent gives for a stage, validated with `Schema`.
 *
 * Every result has `stage`, `agent` and `summary`; each stage adds its own fields.
 *
 * @since 0.1.0
 */
import { Effect, Result, Schema } from "effect"
import { AgentId } from "./AgentId.ts"
import { isVerdictStage, type Stage } from "./Stage.ts"

const Text = Schema.String.check(Schema.isMinLength(1))
const Verdict = Schema.Literals(["pass", "fail"])

/**
 * A step of a plan's work breakdown.
 *
 * @since 0.1.0
 */
export const WorkItem = Schema.Struct({ id: Text, title: Text, detail: Schema.String })

/**
 * How one acceptance criterion of the spec will be shown to hold.
 *
 * @since 0.1.0
 */
export const AcceptanceMapping = Schema.Struct({
  criterion: Text,
  covered_by: Schema.Array(Schema.String),
  check: Text
})

/**
 * A task of the `tasks` stage.
 *
 * @since 0.1.0
 */
export const Task = Schema.Struct({
  id: Text,
  title: Text,
  depends_on: Schema.Array(Schema.String),
  done_when: Text
})

/**
 * A change of the `implement` stage.
 *
 * @since 0.1.0
 */
export const Change = Schema.Struct({
  path: Text,
  action: Schema.Literals(["create", "modify", "delete"]),
  description: Text
})

/**
 * An audit finding.
 *
 * @since 0.1.0
 */
export const Finding = Schema.Struct({
  severity: Schema.Literals(["info", "low", "medium", "high", "critical"]),
  title: Text,
  detail: Schema.String,
  /** The file it concerns (in an audit of real changes), repository-relative. */
  file: Schema.optionalKey(Schema.String),
  /** The line it concerns in that file. */
  line: Schema.optionalKey(Schema.Int)
})

const common = { agent: AgentId, summary: Text }

/**
 * Result of the `plan` stage.
 *
 * @since 0.1.0
 */
export const PlanResult = Schema.Struct({
  stage: Schema.Literal("plan"),
  ...common,
  work_breakdown: Schema.NonEmptyArray(WorkItem),
  acceptance_mapping: Schema.Array(AcceptanceMapping)
})

/**
 * Result of the `tasks` stage.
 *
 * @since 0.1.0
 */
export const TasksResult = Schema.Struct({
  stage: Schema.Literal("tasks"),
  ...common,
  tasks: Schema.NonEmptyArray(Task)
})

/**
 * Result of the `implement` stage.
 *
 * @since 0.1.0
 */
export const ImplementResult = Schema.Struct({
  stage: Schema.Literal("implement"),
  ...common,
  changes: Schema.NonEmptyArray(Change)
})

/**
 * Result of the `validate` stage.
 *
 * @since 0.1.0
 */
export const ValidateResult = Schema.Struct({
  stage: Schema.Literal("validate"),
  ...common,
  test_strategy: Schema.NonEmptyArray(Text),
  verdict: Verdict,
  /** When validating real candidates (anonymised `C1`…`Cn`): a verdict per candidate. */
  candidates: Schema.optionalKey(
    Schema.Array(Schema.Struct({ id: Text, verdict: Verdict, reason: Schema.optionalKey(Schema.String) }))
  ),
  /** When validating real candidates: their ranking, best first. */
  ranking: Schema.optionalKey(Schema.Array(Text))
})

/**
 * Result of the `audit` stage.
 *
 * @since 0.1.0
 */
export const AuditResult = Schema.Struct({
  stage: Schema.Literal("audit"),
  ...common,
  findings: Schema.Array(Finding),
  verdict: Verdict
})

/**
 * Result of the `unlock` stage.
 *
 * @since 0.1.0
 */
export const UnlockResult = Schema.Struct({
  stage: Schema.Literal("unlock"),
  ...common,
  decision: Schema.Literals(["unlock", "hold"])
})

/**
 * Schema of any stage result, discriminated by `stage`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { StageResult } from "@speckit/core"
 *
 * Schema.decodeUnknownSync(StageResult.StageResult)({ stage: "unlock", agent: "alpha", summary: "ok", decision: "unlock" })
 * ```
 *
 * @since 0.1.0
 */
export const StageResult = Schema.Union([
  PlanResult,
  TasksResult,
  ImplementResult,
  ValidateResult,
  AuditResult,
  UnlockResult
])

/**
 * Any stage result.
 *
 * @since 0.1.0
 */
export type StageResult = typeof StageResult.Type

/**
 * The result type of one stage.
 *
 * @since 0.1.0
 */
export type StageResultOf<S extends Stage> = Extract<StageResult, { readonly stage: S }>

/**
 * An answer that is not a valid result for the stage: not JSON, wrong schema or wrong stage.
 *
 * @since 0.1.0
 */
export class MalformedResult extends Schema.TaggedError<MalformedResult>()("MalformedResult", {
  stage: Schema.String,
  agent: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.agent} answered ${this.stage} with a malformed result: ${this.reason}`
  }
}

const decodeResult = Schema.decodeUnknownResult(StageResult)

/**
 * Finds the JSON object in an answer text: the whole text, a fenced ```json block, or the outermost
 * `{...}` span.
 *
 * @example
 * ```ts
 * import { StageResult } from "@speckit/core"
 *
 * StageResult.extractJson("Here you go:\n```json\n{\"a\":1}\n```") // { a: 1 }
 * ```
 *
 * @since 0.1.0
 */
export const extractJson = (text: string): unknown => {
  const candidates: Array<string> = [text.trim()]
  const fenced = /```(?:json)?\s*\n([\s\S]*?)\n```/.exec(text)
  if (fenced?.[1]) candidates.push(fenced[1])
  const start = text.indexOf("{")
  const end = text.lastIndexOf("}")
  if (start >= 0 && end > start) candidates.push(text.slice(start, end + 1))
  for (const candidate of candidates) {
    try {
      return JSON.parse(candidate)
    } catch {
      // try the next candidate
    }
  }
  return undefined
}

/**
 * Parses and validates an agent's answer text as the result of `stage`.
 *
 * The `agent` field is taken from the caller when the answer omits it, and must match it otherwise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentId, StageResult } from "@speckit/core"
 *
 * const program = StageResult.parse("unlock", AgentId.make("alpha"), '{"stage":"unlock","summary":"ok","decision":"unlock"}')
 * ```
 *
 * @since 0.1.0
 */
export const parse = (stage: Stage, agent: AgentId, text: string): Effect.Effect<StageResult, MalformedResult> =>
  parseWith(decodeResult, stage, agent, text)

/** Extracts the JSON object of an answer, checks its `stage` and `agent` (filling in the agent) and decodes it. */
const parseWith = <A>(
  decode: (input: unknown) => Result.Result<A, { readonly message: string }>,
  stage: Stage,
  agent: AgentId,
  text: string
): Effect.Effect<A, MalformedResult> => {
  const fail = (reason: string) => Effect.fail(new MalformedResult({ stage, agent, reason }))
  const json = extractJson(text)
  if (json === undefined) return fail("the answer holds no JSON object")
  if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("the answer is not a JSON object")
  const record = { agent, ...json } as Record<string, unknown>
  if (record.stage !== stage) return fail(`expected "stage": "${stage}", got ${JSON.stringify(record.stage)}`)
  if (record.agent !== agent) return fail(`expected "agent": "${agent}", got ${JSON.stringify(record.agent)}`)
  const decoded = decode(record)
  return Result.isSuccess(decoded) ? Effect.succeed(decoded.success) : fail(decoded.failure.message)
}

/**
 * The vote of a verdict-stage result (`verdict`, or `decision` for unlock), if it has one.
 *
 * @example
 * ```ts
 * import { AgentId, StageResult } from "@speckit/core"
 *
 * StageResult.voteOf({ stage: "unlock", agent: AgentId.make("a"), summary: "s", decision: "hold" }) // "hold"
 * ```
 *
 * @since 0.1.0
 */
export const voteOf = (result: StageResult): string | undefined => {
  switch (result.stage) {
    case "validate":
    case "audit":
      return result.verdict
    case "unlock":
      return result.decision
    default:
      return undefined
  }
}

const bullet = (lines: ReadonlyArray<string>) => lines.map((line) => `- ${line}`).join("\n")

/**
 * Renders a stage result as Markdown: the body of `specs/<SPEC-ID>/<stage>.md`.
 *
 * @example
 * ```ts
 * import { AgentId, StageResult } from "@speckit/core"
 *
 * StageResult.toMarkdown({ stage: "unlock", agent: AgentId.make("a"), summary: "Ready.", decision: "unlock" })
 * ```
 *
 * @since 0.1.0
 */
export const toMarkdown = (result: StageResult): string => {
  const sections: Array<string> = [`## Summary\n\n${result.summary}`]
  switch (result.stage) {
    case "plan":
      sections.push(
        `## Work breakdown\n\n${result.work_breakdown
          .map((item) => `- **${item.id}** ${item.title}${item.detail ? `: ${item.detail}` : ""}`)
          .join("\n")}`
      )
      if (result.acceptance_mapping.length > 0) {
        sections.push(
          `## Acceptance mapping\n\n| Criterion | Covered by | Check |\n| --- | --- | --- |\n${result.acceptance_mapping
            .map((row) => `| ${row.criterion} | ${row.covered_by.join(", ")} | ${row.check} |`)
            .join("\n")}`
        )
      }
      break
    case "tasks":
      sections.push(
        `## Tasks\n\n${result.tasks
          .map(
            (task) =>
              `- [ ] **${task.id}** ${task.title}${task.depends_on.length ? ` (after ${task.depends_on.join(", ")})` : ""}\n  - done when: ${task.done_when}`
          )
          .join("\n")}`
      )
      break
    case "implement":
      sections.push(
        `## Changes\n\n${result.changes.map((change) => `- \`${change.path}\` (${change.action}): ${change.description}`).join("\n")}`
      )
      break
    case "validate":
      sections.push(`## Test strategy\n\n${bullet(result.test_strategy)}`, `## Verdict\n\n**${result.verdict}**`)
      break
    case "audit":
      sections.push(
        `## Findings\n\n${
          result.findings.length === 0
            ? "No findings."
            : result.findings.map((f) => `- **${f.severity}** ${f.title}${f.detail ? `: ${f.detail}` : ""}`).join("\n")
        }`,
        `## Verdict\n\n**${result.verdict}**`
      )
      break
    case "unlock":
      sections.push(`## Decision\n\n**${result.decision}**`)
      break
  }
  return sections.join("\n\n")
}

// ---------------------------------------------------------------------------------------------------
// Deterministic merge of content-stage answers, and syntheses (an aggregator's merged answer)
// ---------------------------------------------------------------------------------------------------

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
 * const merged = StageResult.merge(results)
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
 * const conflicts = QuorumConsensus.conflictsOf(results, StageResult.merge(results))
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
 * Schema.decodeUnknownSync(StageResult.Synthesis)({
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
 * const program = StageResult.parseSynthesis(
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
 * declare const synthesis: StageResult.Synthesis
 * const result = StageResult.resultOf(synthesis)
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
 * const synthesis = StageResult.synthesize(answers, AgentId.make("alpha"))
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

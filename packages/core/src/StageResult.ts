/**
 * Stage results: the structured answer an agent gives for a stage, validated with `Schema`.
 *
 * Every result has `stage`, `agent` and `summary`; each stage adds its own fields.
 *
 * @since 0.1.0
 */
import { Effect, Result, Schema } from "effect"
import { AgentId } from "./AgentId.ts"
import * as AnswerRepair from "./AnswerRepair.ts"
import type { Stage } from "./Stage.ts"

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

/**
 * {@link parse} without an effect: the result and the repairs that made it (see `AnswerRepair`), or
 * why the answer is malformed. `strict` turns the repairs off (`answers.strict`).
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { AgentId, StageResult } from "@speckit/core"
 *
 * const read = StageResult.read("unlock", AgentId.make("alpha"), '{"summary":"ok","decision":"yes"}', false)
 * Result.isSuccess(read) // true; read.success.repairs: ['filled "stage" from the call', 'decision "yes" read as "unlock"']
 * ```
 *
 * @since 0.4.0
 */
export const read = (
  stage: Stage,
  agent: AgentId,
  text: string,
  strict: boolean
): Result.Result<AnswerRepair.Repaired<StageResult>, MalformedResult> =>
  readWith(decodeResult, stage, agent, text, strict)

/** The synchronous core of {@link parseWith}: extract, repair, check `stage` and `agent`, decode. */
const readWith = <A>(
  decode: (input: unknown) => Result.Result<A, { readonly message: string }>,
  stage: Stage,
  agent: AgentId,
  text: string,
  strict: boolean
): Result.Result<AnswerRepair.Repaired<A>, MalformedResult> => {
  const fail = (reason: string) => Result.fail(new MalformedResult({ stage, agent, reason }))
  const extracted = AnswerRepair.extract(text, strict)
  if (extracted === undefined) {
    return fail(extractJson(text) === undefined ? "the answer holds no JSON object" : "the answer is not a JSON object")
  }
  // An answer that is already valid is read as it is: no repair changes one (`AnswerRepair`).
  if (extracted.repairs.length === 0 && extracted.value.stage === stage && extracted.value.agent === agent) {
    const decoded = decode(extracted.value)
    if (Result.isSuccess(decoded)) return Result.succeed({ value: decoded.success, repairs: [] })
  }
  const { value: record, repairs } = AnswerRepair.coerce(stage, agent, extracted.value, strict)
  if (record.stage !== stage) return fail(`expected "stage": "${stage}", got ${JSON.stringify(record.stage)}`)
  if (record.agent !== agent) return fail(`expected "agent": "${agent}", got ${JSON.stringify(record.agent)}`)
  const decoded = decode(record)
  if (Result.isFailure(decoded)) return fail(decoded.failure.message)
  return Result.succeed({
    value: decoded.success,
    repairs: extracted.repairs.length === 0 ? repairs : [...extracted.repairs, ...repairs]
  })
}

/**
 * Extracts the JSON object of an answer, checks its `stage` and `agent` (filling in the agent) and
 * decodes it with `decode`: {@link parse} with another schema (e.g. a synthesis).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { AgentId, StageResult } from "@speckit/core"
 *
 * const decode = Schema.decodeUnknownResult(Schema.Struct({ stage: Schema.String, agent: Schema.String }))
 * const program = StageResult.parseWith(decode, "plan", AgentId.make("alpha"), '{"stage":"plan"}')
 * ```
 *
 * @since 0.3.0
 */
export const parseWith: <A>(
  decode: (input: unknown) => Result.Result<A, { readonly message: string }>,
  stage: Stage,
  agent: AgentId,
  text: string
) => Effect.Effect<A, MalformedResult> = Effect.fnUntraced(function* <A>(
  decode: (input: unknown) => Result.Result<A, { readonly message: string }>,
  stage: Stage,
  agent: AgentId,
  text: string
) {
  const read = readWith(decode, stage, agent, text, yield* AnswerRepair.Strict)
  if (Result.isFailure(read)) return yield* Effect.fail(read.failure)
  const applied = yield* AnswerRepair.Applied
  applied?.push(...read.success.repairs)
  return read.success.value
})

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

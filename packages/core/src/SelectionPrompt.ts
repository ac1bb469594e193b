/**
 * The validate stage's prompt when it chooses among real candidates, and the reading of its answers.
 * Candidates are anonymised as `C1`…`Cn` (in an order drawn from the run id, the same for every
 * agent), each shown with its stats, its check results against the base's, whether it changes tests
 * that exist on the base, and its diff (trimmed by `Diff.trim` to {@link diffChars} characters).
 * Each agent answers with a verdict per candidate and a ranking; an answer naming an unknown candidate,
 * or ranking none, is `Malformed` with a note saying which.
 *
 * @since 0.3.0
 */
import { Effect } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { Candidate } from "./Candidate.ts"
import type { CheckResult } from "./Checks.ts"
import * as Diff from "./Diff.ts"
import { prng } from "./internal/specText.ts"
import type { Spec } from "./Spec.ts"
import * as Stage from "./Stage.ts"
import * as StageResult from "./StageResult.ts"

/**
 * How much of each candidate's diff a prompt shows, in characters.
 *
 * @since 0.3.0
 */
export const diffChars = 12_000

/**
 * A candidate as the validate agents see it.
 *
 * @since 0.3.0
 */
export interface Shown {
  /** `C1`…`Cn`. */
  readonly id: string
  readonly agent: string
  readonly candidate: Candidate
  readonly checks: ReadonlyArray<CheckResult>
  /** The tests that exist on the base that it modifies, renames or deletes. */
  readonly changedTests: ReadonlyArray<string>
}

/**
 * The existing tests a candidate changes (modified, renamed or deleted test files).
 *
 * @example
 * ```ts
 * import { SelectionPrompt } from "@speckit/core"
 *
 * declare const candidate: import("@speckit/core").Candidate.Candidate
 * const changed = SelectionPrompt.changedTests(candidate)
 * ```
 *
 * @since 0.3.0
 */
export const changedTests = (candidate: Candidate): ReadonlyArray<string> =>
  candidate.files
    .filter((file) => file.status !== "added" && candidate.stats.tests.includes(file.path))
    .map((file) => file.previousPath ?? file.path)

/**
 * Anonymises candidates: `C1`…`Cn` in an order drawn from `seed` (the run id).
 *
 * @example
 * ```ts
 * import { SelectionPrompt } from "@speckit/core"
 *
 * SelectionPrompt.anonymise(["alpha", "beta"], "run-1") // e.g. [["C1", "beta"], ["C2", "alpha"]]
 * ```
 *
 * @since 0.3.0
 */
export const anonymise = (agents: ReadonlyArray<string>, seed: string): ReadonlyArray<readonly [string, string]> => {
  const random = prng(`anonymise/${seed}`)
  const order = [...agents].sort()
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const a = order[i] as string
    order[i] = order[j] as string
    order[j] = a
  }
  return order.map((agent, index) => [`C${index + 1}`, agent] as const)
}

const checkLine = (result: CheckResult) =>
  `${result.check} ${result.status}${result.exitCode === undefined ? "" : ` (exit ${result.exitCode})`}${result.detail ? `: ${result.detail}` : ""}`

const candidateSection = (shown: Shown) => {
  const { stats } = shown.candidate
  const lines = [
    `## Candidate ${shown.id}`,
    "",
    `- Changes: ${stats.files} file(s), +${stats.added} −${stats.removed}`,
    `- Checks: ${shown.checks.map(checkLine).join("; ") || "none"}`
  ]
  if (shown.changedTests.length > 0) {
    lines.push(`- **Flag:** it changes tests that exist on the base: ${shown.changedTests.join(", ")}`)
  }
  lines.push("", "```diff", Diff.trim(shown.candidate.patch, diffChars).trimEnd(), "```")
  return lines.join("\n")
}

const shape = (agent: AgentId, ids: ReadonlyArray<string>) =>
  `{"stage":"validate","agent":"${agent}","summary":"...","test_strategy":["..."],"verdict":"pass|fail","candidates":[${ids
    .map((id) => `{"id":"${id}","verdict":"pass|fail","reason":"..."}`)
    .join(",")}],"ranking":[${ids.map((id) => `"${id}"`).join(",")}]}`

/**
 * The validate prompt over real candidates.
 *
 * @example
 * ```ts
 * import { AgentId, SelectionPrompt } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * const prompt = SelectionPrompt.make({ agent: AgentId.make("alpha"), spec, previous: "", base: [], candidates: [] })
 * ```
 *
 * @since 0.3.0
 */
export const make = (input: {
  readonly agent: AgentId
  readonly spec: Spec
  readonly previous: string
  readonly base: ReadonlyArray<CheckResult>
  readonly candidates: ReadonlyArray<Shown>
  readonly repairNote?: string | undefined
}): string => {
  const index = Stage.all.indexOf("validate")
  const ids = input.candidates.map((shown) => shown.id)
  const parts = [
    `You are agent "${input.agent}" in a spec-driven, multi-agent pipeline.`,
    `Stage ${index + 1} of ${Stage.all.length}: validate.`,
    `Several agents implemented the spec independently. Judge each candidate change below on the evidence: its diff and the results of the project's checks, run on the base commit and on each candidate. A check that passes on the base and fails on a candidate is a regression; a check that fails on the base and passes on a candidate is evidence it does the work. Be wary of candidates that change existing tests. Give each candidate a verdict (pass when it satisfies the spec's acceptance criteria without breaking anything), rank them all best first, and give an overall verdict: pass when at least one candidate passes.`,
    `Answer with exactly one JSON object and nothing else, of this shape:\n${shape(input.agent, ids)}`,
    `# Spec ${input.spec.id}\n\n${input.spec.text.trim()}`,
    `# Checks on the base commit\n\n${input.base.map((result) => `- ${checkLine(result)}`).join("\n") || "- no checks are configured"}`,
    `# Candidates\n\n${input.candidates.map(candidateSection).join("\n\n")}`
  ]
  if (input.repairNote) {
    parts.push(
      `# Your previous answer was rejected\n\n${input.repairNote}\nAnswer again with valid JSON of the shape above.`
    )
  }
  return `${parts.join("\n\n")}\n`
}

/**
 * Reads a validate answer over candidates `ids`: a validate result whose candidate verdicts and ranking
 * name only those ids, and rank at least one.
 *
 * @example
 * ```ts
 * import { AgentId, SelectionPrompt } from "@speckit/core"
 *
 * const program = SelectionPrompt.parse(AgentId.make("alpha"), ["C1"], '{"stage":"validate","summary":"s","test_strategy":["t"],"verdict":"pass","ranking":["C1"]}')
 * ```
 *
 * @since 0.3.0
 */
export const parse = (
  agent: AgentId,
  ids: ReadonlyArray<string>,
  text: string
): Effect.Effect<StageResult.StageResult, StageResult.MalformedResult> =>
  Effect.flatMap(StageResult.parse("validate", agent, text), (result) => {
    const fail = (reason: string) => Effect.fail(new StageResult.MalformedResult({ stage: "validate", agent, reason }))
    if (result.stage !== "validate") return fail("expected a validate result")
    const ranking = result.ranking ?? []
    const unknown = [...ranking, ...(result.candidates ?? []).map((c) => c.id)].find((id) => !ids.includes(id))
    if (unknown !== undefined) return fail(`"${unknown}" is not a candidate (the candidates are ${ids.join(", ")})`)
    if (ids.length > 0 && ranking.length === 0) return fail(`"ranking" must rank the candidates (${ids.join(", ")})`)
    return Effect.succeed(result)
  })

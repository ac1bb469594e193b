/**
 * The audit and unlock stages when the run made real changes.
 *
 * - **Audit** reviews the chosen candidate's diff: each agent answers with findings (a severity, and the
 *   file and line they concern). A `high` or `critical` finding is confirmed when at least the stage's
 *   quorum of agents report one for the same file (or, without a file, for the change as a whole);
 *   confirmed findings block the release (the audit's verdict is `fail`).
 * - **Unlock** decides as usual; when it says `unlock` and nothing blocks, the chosen patch is delivered
 *   (`Worktrees.deliver`): committed on top of the base commit, with the spec's artifacts so far, onto
 *   a new branch `speckit/<SPEC-ID>/<run-id>`, as one step of the run (a resume never commits twice).
 *   Blocked, it ends in conflict (`onConflict` decides: halt by default).
 *
 * @since 0.3.0
 */
import { Effect, Schema } from "effect"
import type * as Agent from "./Agent.ts"
import type * as AgentCall from "./AgentCall.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import * as AnswerStage from "./AnswerStage.ts"
import type { Candidate } from "./Candidate.ts"
import type { StageConsensus } from "./Consensus.ts"
import * as Diff from "./Diff.ts"
import { FaultInjector } from "./FaultInjector.ts"
import * as Prompt from "./Prompt.ts"
import type { RunContext } from "./RunContext.ts"
import type { Spec } from "./Spec.ts"
import type { StageDefinition, StageInput } from "./StageDefinition.ts"
import * as StageResult from "./StageResult.ts"
import * as Worktrees from "./Worktrees.ts"

/**
 * How much of the chosen diff the audit prompt shows, in characters.
 *
 * @since 0.3.0
 */
export const auditDiffChars = 40_000

/**
 * The candidate validate chose, with its agent, when there is one.
 *
 * @example
 * ```ts
 * import { ReleaseStages } from "@speckit/core"
 *
 * ReleaseStages.chosenOf([]) // undefined
 * ```
 *
 * @since 0.3.0
 */
export const chosenOf = (
  earlier: StageInput["earlier"]
): { readonly agent: string; readonly candidate: Candidate } | undefined => {
  const winner = earlier.find((stage) => stage.consensus.stage === "validate")?.consensus.selection?.winner
  const implement = earlier.find((stage) => stage.consensus.stage === "implement")
  const outcome = implement?.outcomes.find((o) => o.agent === winner)
  return outcome?.candidate === undefined ? undefined : { agent: outcome.agent, candidate: outcome.candidate }
}

const consensusOf = (earlier: StageInput["earlier"], stage: string) =>
  earlier.find((decided) => decided.consensus.stage === stage)?.consensus

/**
 * The confirmed high or critical findings of an audit (see the module): one line each.
 *
 * @example
 * ```ts
 * import { ReleaseStages } from "@speckit/core"
 *
 * ReleaseStages.confirmedFindings([], 2) // []
 * ```
 *
 * @since 0.3.0
 */
export const confirmedFindings = (outcomes: ReadonlyArray<AgentOutcome>, required: number): ReadonlyArray<string> => {
  const byFile = new Map<string, { agents: Set<string>; titles: Set<string>; severity: string }>()
  for (const outcome of outcomes) {
    if (outcome._tag !== "Succeeded" || outcome.result.stage !== "audit") continue
    for (const finding of outcome.result.findings) {
      if (finding.severity !== "high" && finding.severity !== "critical") continue
      const key = finding.file ?? "(the change as a whole)"
      const entry = byFile.get(key) ?? { agents: new Set(), titles: new Set(), severity: "high" }
      entry.agents.add(outcome.agent)
      entry.titles.add(`${finding.title}${finding.line === undefined ? "" : ` (line ${finding.line})`}`)
      if (finding.severity === "critical") entry.severity = "critical"
      byFile.set(key, entry)
    }
  }
  return [...byFile.entries()]
    .filter(([, entry]) => entry.agents.size >= Math.max(1, required))
    .map(
      ([file, entry]) =>
        `${entry.severity} in ${file}: ${[...entry.titles].join("; ")} (confirmed by ${[...entry.agents].sort().join(", ")})`
    )
    .sort()
}

const auditAsk = (run: RunContext, input: StageInput, agent: Agent.Agent): AgentCall.Ask => {
  const chosen = chosenOf(input.earlier)
  const change = chosen
    ? `# The change to audit\n\nThe candidate validate chose (${chosen.candidate.stats.files} file(s), +${chosen.candidate.stats.added} −${chosen.candidate.stats.removed}). Give every finding the \`file\` (repository-relative) and \`line\` it concerns.\n\n\`\`\`diff\n${Diff.trim(chosen.candidate.patch, auditDiffChars).trimEnd()}\n\`\`\``
    : "# The change to audit\n\nNo candidate was chosen."
  return {
    prompt: (repairNote: string | undefined) =>
      `${Prompt.make({ stage: "audit", agent: agent.id, spec: run.spec, previous: input.previous, repairNote }).trimEnd()}\n\n${change}\n`,
    parse: (text: string) => StageResult.parse("audit", agent.id, text)
  }
}

const blockFindings = (consensus: StageConsensus, outcomes: ReadonlyArray<AgentOutcome>): StageConsensus => {
  const blocking = confirmedFindings(outcomes, consensus.required)
  if (blocking.length === 0) return { ...consensus, blocking: [] }
  return {
    ...consensus,
    blocking,
    verdict: "fail",
    reason: `confirmed findings block the release: ${blocking.join("; ")}`
  }
}

/**
 * The audit stage of a run with real changes (see the module).
 *
 * @since 0.3.0
 */
export const audit: StageDefinition = AnswerStage.make({
  stage: "audit",
  ask: auditAsk,
  annotate: blockFindings
})

/** The commit message of a delivery: the spec, the run, the agents and the check results. */
const commitMessage = (run: RunContext, input: StageInput, agent: string): string => {
  const validate = consensusOf(input.earlier, "validate")
  const implement = consensusOf(input.earlier, "implement")
  const checks = validate?.checks ?? []
  const byTarget = new Map<string, Array<string>>()
  for (const result of checks) {
    byTarget.set(result.candidate, [...(byTarget.get(result.candidate) ?? []), `${result.check} ${result.status}`])
  }
  return [
    `${run.spec.title} (${run.spec.id})`,
    "",
    `Delivered by speckit run ${run.runId} from the candidate of agent ${agent}.`,
    `Implementing agents: ${(implement?.candidates ?? []).map((c) => `${c.agent} (${c.status})`).join(", ") || "none"}.`,
    `Selection: ${validate?.selection ? `${validate.selection.winner}, ${validate.selection.reason}` : "none"}.`,
    "",
    "Checks:",
    ...[...byTarget.entries()].map(([target, results]) => `  ${target}: ${results.join(", ")}`),
    ""
  ].join("\n")
}

const Delivered = Schema.Union([
  Schema.TaggedStruct("Delivered", { branch: Schema.String, commit: Schema.String }),
  Schema.TaggedStruct("Failed", { reason: Schema.String })
])

/** Delivers the chosen candidate once unlock said `unlock` and nothing blocks it. */
const deliver = (run: RunContext, consensus: StageConsensus, input: StageInput) =>
  Effect.gen(function* () {
    if (consensus.verdict !== "unlock") return consensus
    const blocking = consensusOf(input.earlier, "audit")?.blocking ?? []
    if (blocking.length > 0) {
      return {
        ...consensus,
        status: "conflict" as const,
        verdict: "hold",
        reason: `the audit blocks the release: ${blocking.join("; ")}`
      }
    }
    const chosen = chosenOf(input.earlier)
    const base = run.record.git?.commit
    if (chosen === undefined || base === undefined) {
      return {
        ...consensus,
        status: "conflict" as const,
        verdict: "hold",
        reason: "no candidate was chosen to deliver"
      }
    }
    const worktrees = yield* Worktrees.Worktrees
    const done = yield* run.step({
      name: "deliver",
      success: Delivered,
      execute: worktrees
        .deliver({
          runId: run.runId,
          base,
          patch: chosen.candidate.patch,
          branch: `speckit/${run.spec.id}/${run.runId}`,
          message: commitMessage(run, input, chosen.agent),
          files: input.earlier.map((stage) => ({
            path: `${run.spec.directory}/${stage.consensus.stage}.md`,
            text: stage.markdown
          })),
          at: Date.parse(run.record.startedAt)
        })
        .pipe(
          Effect.tap(() => FaultInjector.use((faults) => faults.crashPoint("after_delivery"))),
          Effect.map((delivered) => ({ _tag: "Delivered" as const, ...delivered })),
          Effect.catch((error) => Effect.succeed({ _tag: "Failed" as const, reason: error.message }))
        )
    })
    if (done.value._tag === "Failed") {
      return {
        ...consensus,
        status: "failed" as const,
        reason: `the change could not be delivered: ${done.value.reason}`
      }
    }
    const { branch, commit } = done.value
    yield* run.emit({ _tag: "Delivered", branch, commit, candidate: chosen.agent })
    return { ...consensus, delivery: { branch, commit, base, candidate: chosen.agent } }
  })

const renderUnlock = (spec: Spec, consensus: StageConsensus) => {
  const text = AnswerStage.defaultRender(spec, consensus)
  const delivery = consensus.delivery
  if (delivery === undefined) return text
  return `${text}\n## Delivery\n\n- Branch: \`${delivery.branch}\` (commit ${delivery.commit.slice(0, 12)}, on base ${delivery.base.slice(0, 12)}), the candidate of ${delivery.candidate}.\n- Look at it: \`git log -p ${delivery.base.slice(0, 12)}..${delivery.branch}\`\n- Merge it: \`git merge ${delivery.branch}\`\n`
}

/**
 * The unlock stage of a run with real changes (see the module).
 *
 * @since 0.3.0
 */
export const unlock: StageDefinition = AnswerStage.make({ stage: "unlock", settle: deliver, render: renderUnlock })

/**
 * The implement stage when it makes real changes (`implement.mode: "changes"`): each agent works in a
 * fresh git worktree made from the run's recorded base commit; an agent that edits files edits them
 * there, the others answer with the files' contents, which are written there; then everything it
 * changed is taken from git as a binary patch against the base, its candidate. A candidate that breaks
 * a rule (`Candidate.judge`) is rejected, an empty one is the failure `Empty`. The worktree is removed
 * as soon as the candidate is collected (a later step re-makes one from the recorded patch), so
 * nothing is left when the run ends, halts, pauses or is cancelled. The candidate is the result of the
 * agent's step: a resumed run never calls an agent again whose candidate was recorded.
 *
 * The quorum applies to the accepted candidates; the artifact lists every candidate.
 *
 * @since 0.3.0
 */
import { Clock, Effect, Result } from "effect"
import type * as Agent from "./Agent.ts"
import type * as AgentCall from "./AgentCall.ts"
import type { AgentErrorKind } from "./AgentError.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import * as AgentStep from "./AgentStep.ts"
import * as Candidate from "./Candidate.ts"
import * as ChangePrompt from "./ChangePrompt.ts"
import type { StageConsensus } from "./Consensus.ts"
import { FaultInjector } from "./FaultInjector.ts"
import * as FileAnswer from "./FileAnswer.ts"
import type { RunContext } from "./RunContext.ts"
import { RunStore } from "./RunStore.ts"
import type { Spec } from "./Spec.ts"
import * as SpeckitConfig from "./SpeckitConfig.ts"
import * as StageAgents from "./StageAgents.ts"
import * as StageArtifact from "./StageArtifact.ts"
import * as StageDefinition from "./StageDefinition.ts"
import * as StageResult from "./StageResult.ts"
import * as StageVerdict from "./StageVerdict.ts"
import * as Worktrees from "./Worktrees.ts"

/**
 * How much of the repository an agent that answers with contents is shown: files up to 32 KiB, up to
 * 256 KiB in all (every file is listed).
 *
 * @since 0.3.0
 */
export const shownLimits = { fileBytes: 32_768, totalBytes: 262_144 } as const

/**
 * The rules a candidate must keep, from `implement.*`.
 *
 * @example
 * ```ts
 * import { ChangeStage, SpeckitConfig } from "@speckit/core"
 *
 * ChangeStage.rulesOf(SpeckitConfig.defaultConfig) // { protect: [], maxFileBytes: 1048576 }
 * ```
 *
 * @since 0.3.0
 */
export const rulesOf = (config: SpeckitConfig.SpeckitConfig): Candidate.Rules => ({
  protect: config.implement?.protect ?? Candidate.defaultRules.protect,
  maxFileBytes: config.implement?.maxFileBytes ?? Candidate.defaultRules.maxFileBytes
})

/**
 * Reads an editing agent's report: its implement result when it gave a valid one, else its text as the
 * summary (the change itself comes from git, not from the report).
 */
const readReport = (agent: Agent.Agent, text: string) =>
  StageResult.parse("implement", agent.id, text).pipe(
    Effect.orElseSucceed(
      (): StageResult.StageResult => ({
        stage: "implement",
        agent: agent.id,
        summary: text.trim().slice(0, 2000) || "(the agent gave no report)",
        // Replaced by what git shows it changed (see `reported`).
        changes: [{ path: ".", action: "modify", description: "" }]
      })
    )
  )

/**
 * An agent's report with the changes git shows it made (its own list is incomplete or absent): each
 * file with the description the report gave for it, else its status and line counts.
 */
const reported = (outcome: AgentOutcome, files: ReadonlyArray<Candidate.ChangedFile>): AgentOutcome => {
  if (outcome._tag !== "Succeeded" || outcome.result.stage !== "implement") return outcome
  const described = new Map(outcome.result.changes.map((change) => [change.path, change.description]))
  const changes = files.map((file) => ({
    path: file.path,
    action:
      file.status === "added"
        ? ("create" as const)
        : file.status === "deleted"
          ? ("delete" as const)
          : ("modify" as const),
    description:
      described.get(file.path) || `${file.status}, +${file.added} −${file.removed}${file.binary ? " (binary)" : ""}`
  }))
  const [first, ...rest] = changes
  if (first === undefined) return outcome
  return { ...outcome, result: { ...outcome.result, changes: [first, ...rest] } }
}

/** An outcome turned into the agent's failure, keeping what it spent. */
const failed = (
  outcome: AgentOutcome,
  kind: AgentErrorKind,
  detail: string,
  candidate?: Candidate.Candidate | undefined
): AgentOutcome => ({
  _tag: "Failed",
  agent: outcome.agent,
  model: outcome.model,
  attempts: outcome.attempts,
  history: outcome.history,
  usage: outcome.usage,
  costUsd: outcome.costUsd,
  durationMs: outcome.durationMs,
  kind,
  detail,
  ...(candidate === undefined ? {} : { candidate })
})

/** The outcome of an agent whose worktree could not be used, before it was called. */
const workspaceFailure = (agent: Agent.Agent, error: Worktrees.WorktreeError): AgentOutcome => ({
  _tag: "Failed",
  agent: agent.id,
  model: agent.model,
  attempts: 0,
  history: [],
  usage: { input: 0, cachedInput: 0, output: 0, reasoning: 0 },
  costUsd: 0,
  durationMs: 0,
  kind: "Workspace",
  detail: error.message
})

/** Judges what an agent changed and records its candidate (the patch is saved unless it is empty). */
const judged = (run: RunContext, outcome: AgentOutcome, base: string, collected: Candidate.Collected) =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const judgement = Candidate.judge(collected, rulesOf(run.config))
    if (judgement._tag === "Empty") return failed(outcome, "Empty", judgement.reason)
    const candidate = yield* Candidate.make(base, collected)
    if (store.saveCandidate) yield* store.saveCandidate(run.runId, outcome.agent, candidate)
    yield* FaultInjector.use((faults) => faults.crashPoint("after_candidate"))
    if (judgement._tag === "Rejected") return failed(outcome, "Rejected", judgement.reason, candidate)
    return { ...reported(outcome, collected.files), candidate }
  })

/**
 * One part of an agent's work in its worktree: open it, ask the agent (to edit, or for contents that
 * are then written), collect and judge the change. The worktree is removed when the part ends.
 */
const inWorktree =
  (run: RunContext, base: string, previous: string): AgentStep.Work =>
  (agent, part) =>
    Effect.scoped(
      Effect.gen(function* () {
        const worktrees = yield* Worktrees.Worktrees
        const opened = yield* Effect.result(worktrees.open({ runId: run.runId, name: agent.id, base }))
        if (Result.isFailure(opened)) return workspaceFailure(agent, opened.failure)
        const workdir = opened.success
        const input = { agent: agent.id, spec: run.spec, previous, base }
        let answer: FileAnswer.FileAnswer | undefined
        let ask: AgentCall.Ask
        if (agent.edits === true) {
          ask = {
            prompt: (repairNote) => ChangePrompt.edit({ ...input, repairNote }),
            parse: (text) => readReport(agent, text)
          }
        } else {
          const shown = yield* Effect.result(worktrees.files(workdir, shownLimits))
          if (Result.isFailure(shown)) return workspaceFailure(agent, shown.failure)
          ask = {
            prompt: (repairNote) => ChangePrompt.contents({ ...input, repairNote }, shown.success),
            parse: (text) =>
              FileAnswer.parse("implement", agent.id, text).pipe(
                Effect.map((read) => {
                  answer = read
                  return read.result
                })
              )
          }
        }
        const outcome = yield* part({ workdir, ask })
        if (outcome._tag === "Failed") return outcome
        if (answer !== undefined) {
          const written = yield* Effect.result(worktrees.write(workdir, answer))
          if (Result.isFailure(written)) return failed(outcome, "Rejected", written.failure.message)
        }
        const collected = yield* Effect.result(worktrees.collect(workdir, base))
        if (Result.isFailure(collected)) return failed(outcome, "Workspace", collected.failure.message)
        return yield* judged(run, outcome, base, collected.success)
      })
    )

/**
 * The candidates of a stage as its consensus lists them.
 *
 * @example
 * ```ts
 * import { ChangeStage } from "@speckit/core"
 *
 * ChangeStage.rowsOf([], ".speckit/runs/run-1") // []
 * ```
 *
 * @since 0.3.0
 */
export const rowsOf = (outcomes: ReadonlyArray<AgentOutcome>, runDir: string): ReadonlyArray<Candidate.CandidateRow> =>
  outcomes.map((outcome) => {
    const stats = outcome.candidate?.stats ?? { files: 0, added: 0, removed: 0, tests: [] }
    const status =
      outcome._tag === "Succeeded"
        ? "accepted"
        : outcome.kind === "Rejected"
          ? "rejected"
          : outcome.kind === "Empty"
            ? "empty"
            : "failed"
    return {
      agent: outcome.agent,
      status,
      files: stats.files,
      added: stats.added,
      removed: stats.removed,
      tests: stats.tests,
      reason: outcome._tag === "Failed" ? `${outcome.kind}: ${outcome.detail}` : undefined,
      patch: outcome.candidate === undefined ? undefined : `${runDir}/candidates/${outcome.agent}.patch`
    }
  })

/**
 * Renders the stage's consensus with a table of its candidates.
 *
 * @example
 * ```ts
 * import { ChangeStage } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * declare const consensus: import("@speckit/core").Consensus.StageConsensus
 * const markdown = ChangeStage.render(spec, consensus)
 * ```
 *
 * @since 0.3.0
 */
export const render = (spec: Spec, consensus: StageConsensus): string => {
  const rows = consensus.candidates ?? []
  const table = [
    "## Candidates",
    "",
    "| Agent | Status | Files | + | − | Tests touched | Patch | Note |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (row) =>
        `| ${row.agent} | ${row.status} | ${row.files} | ${row.added} | ${row.removed} | ${row.tests.length > 0 ? row.tests.join(", ") : "none"} | ${row.patch ? `\`${row.patch}\`` : "—"} | ${(row.reason ?? "").replaceAll("|", "\\|")} |`
    ),
    ""
  ]
  return `${StageArtifact.render(spec, consensus)}\n${table.join("\n")}`
}

/** Runs the stage (see the module). */
const runStage = (run: RunContext, input: StageDefinition.StageInput, pauses: StageDefinition.Pauses) =>
  Effect.gen(function* () {
    const stage = "implement" as const
    const store = yield* RunStore
    const base = run.record.git?.commit
    if (base === undefined) {
      const stopped: StageDefinition.Stopped = {
        _tag: "Stopped",
        reason: "no base commit",
        hint: "implement.mode changes needs a git repository with a commit; use implement.mode describe outside one"
      }
      return stopped
    }
    // Reports are not merged by an aggregator: the candidates are the stage's work.
    const policy = { ...SpeckitConfig.policyFor(run.config, stage), aggregator: undefined }
    const started = yield* Clock.currentTimeMillis
    yield* run.emit({ _tag: "StageStarted", stage, agents: policy.agents })
    const work = inWorktree(run, base, input.previous)
    const ran = yield* StageAgents.run(run, stage, policy, pauses, (agent, stop, generation) =>
      AgentStep.call(run, { stage, agent, previous: input.previous, stop, generation, work })
    )
    if (StageAgents.isStopped(ran)) return ran
    const runDir = store.runDir(run.runId)
    const decided = yield* StageVerdict.decide(run, {
      stage,
      policy,
      stopped: ran.stopped,
      previous: input.previous,
      annotate: (consensus, outcomes) => ({ ...consensus, candidates: rowsOf(outcomes, runDir) })
    })
    if (!("consensus" in decided)) return decided
    const { consensus, outcomes } = decided
    return yield* StageArtifact.finish(run, {
      consensus,
      outcomes,
      stopped: ran.stopped,
      startedAt: started,
      markdown: render(run.spec, consensus)
    })
  })

/**
 * The implement stage making real changes (see the module).
 *
 * @example
 * ```ts
 * import { ChangeStage, Pipeline } from "@speckit/core"
 *
 * const stages = Pipeline.standardStages.map((stage) => (stage.stage === "implement" ? ChangeStage.implement : stage))
 * ```
 *
 * @since 0.3.0
 */
export const implement: StageDefinition.StageDefinition = StageDefinition.make({
  stage: "implement",
  kind: "changes",
  agents: (config) => SpeckitConfig.policyFor(config, "implement").agents,
  run: runStage
})

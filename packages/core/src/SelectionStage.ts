/**
 * The validate stage when the implement stage made real changes: grounded in what was actually run.
 * The project's checks run on the base commit and on every accepted candidate (`CheckPhase`); then,
 * unless `selection` is `checks-only`, the validate agents judge the candidates on that evidence
 * (`SelectionPrompt`: anonymised, with their diffs and check results) and rank them; `Selection.select`
 * chooses. No survivor: the stage fails with the check results as its reason. The artifact shows the
 * candidates × checks and the choice.
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import type { AgentOutcome } from "./AgentOutcome.ts"
import * as AgentStep from "./AgentStep.ts"
import type { Candidate } from "./Candidate.ts"
import * as CheckPhase from "./CheckPhase.ts"
import type { CheckResult } from "./Checks.ts"
import type { SelectionRecord, StageConsensus } from "./Consensus.ts"
import type { RunContext } from "./RunContext.ts"
import * as Selection from "./Selection.ts"
import * as SelectionPrompt from "./SelectionPrompt.ts"
import type { Spec } from "./Spec.ts"
import * as SpeckitConfig from "./SpeckitConfig.ts"
import * as StageAgents from "./StageAgents.ts"
import * as StageArtifact from "./StageArtifact.ts"
import * as StageDefinition from "./StageDefinition.ts"
import * as StageVerdict from "./StageVerdict.ts"

/**
 * The accepted candidates of the run's implement stage, in its agents' order.
 *
 * @example
 * ```ts
 * import { SelectionStage } from "@speckit/core"
 *
 * SelectionStage.candidatesOf([]) // []
 * ```
 *
 * @since 0.3.0
 */
export const candidatesOf = (
  earlier: ReadonlyArray<StageDefinition.Decided>
): ReadonlyArray<{ readonly agent: string; readonly candidate: Candidate }> =>
  (earlier.find((stage) => stage.consensus.stage === "implement")?.outcomes ?? []).flatMap((outcome) =>
    outcome._tag === "Succeeded" && outcome.candidate !== undefined
      ? [{ agent: outcome.agent, candidate: outcome.candidate }]
      : []
  )

const statusesOf = (results: ReadonlyArray<CheckResult>, candidate: string) =>
  Object.fromEntries(results.filter((r) => r.candidate === candidate).map((r) => [r.check, r.status]))

/** The ballots of the validate agents: each one's ranking, mapped back from ids to agents. */
const ballotsOf = (outcomes: ReadonlyArray<AgentOutcome>, ids: ReadonlyMap<string, string>) =>
  outcomes.flatMap((outcome) =>
    outcome._tag === "Succeeded" && outcome.result.stage === "validate" && outcome.result.ranking
      ? [outcome.result.ranking.flatMap((id) => ids.get(id) ?? [])]
      : []
  )

/** The stage's consensus with the selection applied: no survivor fails it. */
const selected = (
  consensus: StageConsensus,
  record: Omit<SelectionRecord, "winner" | "order" | "out" | "reason">,
  choice: Selection.Selected,
  checks: ReadonlyArray<CheckResult>
): StageConsensus => {
  const selection: SelectionRecord = {
    ...record,
    winner: choice._tag === "Selected" ? choice.winner : undefined,
    order: choice._tag === "Selected" ? choice.order : [],
    out: choice.out,
    reason: choice.reason
  }
  const noSurvivor = choice._tag === "NoSurvivor"
  const agentsFailed = record.mode === "agents" && consensus.status === "failed"
  return {
    ...consensus,
    status: noSurvivor || agentsFailed ? "failed" : record.mode === "checks-only" ? "ok" : consensus.status,
    verdict: noSurvivor ? "fail" : agentsFailed ? consensus.verdict : "pass",
    reason: noSurvivor
      ? choice.reason
      : agentsFailed
        ? consensus.reason
        : `selected ${choice._tag === "Selected" ? choice.winner : ""}: ${choice.reason}`,
    result: noSurvivor ? undefined : consensus.result,
    checks,
    selection
  }
}

const cell = (results: ReadonlyArray<CheckResult>, candidate: string, check: string) => {
  const result = results.find((r) => r.candidate === candidate && r.check === check)
  if (result === undefined) return "—"
  const failing = result.failures?.length ? `: ${result.failures.join("; ").replaceAll("|", "\\|")}` : ""
  return `${result.status}${result.exitCode === undefined ? "" : ` (${result.exitCode})`}${failing}`
}

/**
 * Renders the stage's consensus with the candidates × checks table and the choice.
 *
 * @example
 * ```ts
 * import { SelectionStage } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * declare const consensus: import("@speckit/core").Consensus.StageConsensus
 * const markdown = SelectionStage.render(spec, consensus)
 * ```
 *
 * @since 0.3.0
 */
export const render = (spec: Spec, consensus: StageConsensus): string => {
  const results = consensus.checks ?? []
  const checks = [...new Set(results.map((r) => r.check))]
  const targets = [...new Set(results.map((r) => r.candidate))]
  const selection = consensus.selection
  const flagged = new Map((selection?.flagged ?? []).map((f) => [f.agent, f.tests]))
  const lines = [
    "## Candidates × checks",
    "",
    `| Candidate | ${checks.join(" | ")} | Note |`,
    `| --- | ${checks.map(() => "---").join(" | ")} | --- |`,
    ...targets.map((target) => {
      const note = [
        selection?.winner === target ? "**selected**" : "",
        selection?.out.some((r) => r.agent === target)
          ? `regression: ${selection.out.find((r) => r.agent === target)?.regressions.join(", ")}`
          : "",
        flagged.has(target) ? `changes existing tests: ${flagged.get(target)?.join(", ")}` : ""
      ]
        .filter((part) => part !== "")
        .join("; ")
      return `| ${target} | ${checks.map((check) => cell(results, target, check)).join(" | ")} | ${note} |`
    }),
    "",
    "## Selection",
    "",
    selection
      ? `- ${selection.winner ? `Selected **${selection.winner}**: ` : ""}${selection.reason}`
      : "- no selection",
    ...(selection?.order ?? []).map(
      (r, index) => `- ${index + 1}. ${r.agent}: ${r.passed} check(s) passed, Borda ${r.borda}, ${r.lines} line(s)`
    ),
    ""
  ]
  return `${StageArtifact.render(spec, consensus)}\n${lines.join("\n")}`
}

/** Runs the stage (see the module). */
const runStage = (run: RunContext, input: StageDefinition.StageInput, pauses: StageDefinition.Pauses) =>
  Effect.gen(function* () {
    const stage = "validate" as const
    const started = yield* Clock.currentTimeMillis
    const base = run.record.git?.commit ?? ""
    const mode = run.config.selection ?? "agents"
    const policy = { ...SpeckitConfig.policyFor(run.config, stage), ...(mode === "checks-only" ? { agents: [] } : {}) }
    yield* run.emit({ _tag: "StageStarted", stage, agents: policy.agents })
    const candidates = candidatesOf(input.earlier)
    const checks = SpeckitConfig.checksOf(run.config, 1)
    const results = yield* CheckPhase.run(run, {
      stage,
      base,
      targets: [{ name: CheckPhase.base }, ...candidates.map((c) => ({ name: c.agent, patch: c.candidate.patch }))],
      checks: checks.commands,
      concurrency: checks.concurrency
    })
    const anonymised = SelectionPrompt.anonymise(
      candidates.map((c) => c.agent),
      run.runId
    )
    const ids = new Map(anonymised)
    const shown = anonymised.flatMap(([id, agent]) => {
      const found = candidates.find((c) => c.agent === agent)
      return found === undefined
        ? []
        : [
            {
              id,
              agent,
              candidate: found.candidate,
              checks: results.filter((r) => r.candidate === agent),
              changedTests: SelectionPrompt.changedTests(found.candidate)
            }
          ]
    })
    const baseStatuses = statusesOf(results, CheckPhase.base)
    const views = shown.map((view) => ({
      id: view.id,
      passed: view.checks.filter((r) => r.status === "pass").length,
      regressions: view.checks
        .filter((r) => baseStatuses[r.check] === "pass" && r.status !== "pass")
        .map((r) => r.check),
      lines: view.candidate.stats.added + view.candidate.stats.removed,
      changedTests: view.changedTests
    }))
    const ask = (agent: Parameters<AgentStep.Work>[0]) => ({
      prompt: (repairNote: string | undefined) =>
        SelectionPrompt.make({
          agent: agent.id,
          spec: run.spec,
          previous: input.previous,
          base: results.filter((r) => r.candidate === CheckPhase.base),
          candidates: shown,
          repairNote
        }),
      parse: (text: string) => SelectionPrompt.parse(agent.id, [...ids.keys()], text),
      candidates: views
    })
    const ran = yield* StageAgents.run(run, stage, policy, pauses, (agent, stop, generation) =>
      AgentStep.call(run, {
        stage,
        agent,
        previous: input.previous,
        stop,
        generation,
        work: (called, part) => part({ ask: ask(called) })
      })
    )
    if (StageAgents.isStopped(ran)) return ran
    const evidence = candidates.map((c, order) => ({
      agent: c.agent,
      order,
      lines: c.candidate.stats.added + c.candidate.stats.removed,
      checks: statusesOf(results, c.agent)
    }))
    const record = {
      mode,
      flagged: shown.filter((s) => s.changedTests.length > 0).map((s) => ({ agent: s.agent, tests: s.changedTests })),
      ids: Object.fromEntries(ids)
    }
    const decided = yield* StageVerdict.decide(run, {
      stage,
      policy,
      stopped: ran.stopped,
      previous: input.previous,
      annotate: (consensus, outcomes) =>
        selected(
          consensus,
          record,
          Selection.select(statusesOf(results, CheckPhase.base), evidence, ballotsOf(outcomes, ids)),
          results
        )
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
 * The validate stage choosing among real candidates (see the module).
 *
 * @example
 * ```ts
 * import { SelectionStage } from "@speckit/core"
 *
 * SelectionStage.validate.kind // "selection"
 * ```
 *
 * @since 0.3.0
 */
export const validate: StageDefinition.StageDefinition = StageDefinition.make({
  stage: "validate",
  kind: "selection",
  agents: (config) => (config.selection === "checks-only" ? [] : SpeckitConfig.policyFor(config, "validate").agents),
  run: runStage
})

/**
 * The human-readable summary `speckit auto`, `resume` and `demo` print when a run stops (`--json`
 * prints the `RunSummary` itself).
 *
 * @since 0.3.0
 */
import type { RunSummary } from "@speckit/core"

const stoppedText = (stage: RunSummary.StageSummary) => {
  const stopped = stage.agents.filter((a) => a.status === "stopped").length
  return stopped > 0 ? ` (${stopped} stopped early)` : ""
}

/** One line per failed agent of each stage: its error's kind and the first line of its detail. */
const failureLines = (summary: RunSummary.RunSummary): Array<string> =>
  summary.stages.flatMap((stage) =>
    stage.agents.flatMap((agent) => {
      if (agent.status !== "failed" || agent.error === undefined) return []
      const detail = agent.error.detail.split("\n")[0] ?? ""
      const short = detail.length > 160 ? `${detail.slice(0, 159)}…` : detail
      return [`  failed    ${stage.stage} ${agent.agent}: ${agent.error.kind}: ${short}`]
    })
  )

/** The candidates, the checks' verdict, the selection and the delivery of a run that made real changes. */
const changeLines = (summary: RunSummary.RunSummary): Array<string> => {
  const lines: Array<string> = []
  for (const stage of summary.stages) {
    for (const row of stage.candidates ?? []) {
      lines.push(
        `  candidate ${row.agent.padEnd(10)} ${row.status.padEnd(8)} ${row.files} file(s) +${row.added} −${row.removed}${row.tests.length > 0 ? ` (tests: ${row.tests.join(", ")})` : ""}${row.reason ? `  ${row.reason}` : ""}`
      )
    }
    if (stage.selection) {
      for (const flagged of stage.selection.flagged) {
        lines.push(`  flagged   ${flagged.agent} changes existing tests: ${flagged.tests.join(", ")}`)
      }
      lines.push(`  selected  ${stage.selection.winner ?? "none"}: ${stage.selection.reason}`)
    }
    for (const result of stage.checks ?? []) {
      if (result.status === "pass" || result.candidate === "base") continue
      const failing = result.failures?.length ? `: failing ${result.failures.map((f) => `"${f}"`).join(", ")}` : ""
      lines.push(`  check     ${result.candidate}: ${result.check} ${result.status}${failing}`)
    }
    for (const blocking of stage.blocking ?? []) lines.push(`  blocking  ${blocking}`)
  }
  const delivery = summary.delivery
  if (delivery) {
    lines.push(
      `  branch    ${delivery.branch} (commit ${delivery.commit.slice(0, 12)}, the change of ${delivery.candidate})`,
      `  see it    git log -p ${delivery.base.slice(0, 12)}..${delivery.branch}`,
      `  merge it  git merge ${delivery.branch}`
    )
  }
  return lines
}

/**
 * Renders a run's summary for people: one line per stage, tokens, cost, where the records are, the
 * candidates, checks, selection and delivery of a run that made real changes, and what to do next.
 *
 * @example
 * ```ts
 * import type { RunSummary } from "@speckit/core"
 * import { SummaryText } from "@speckit/cli"
 *
 * declare const summary: RunSummary.RunSummary
 * process.stdout.write(SummaryText.format(summary))
 * ```
 *
 * @since 0.3.0
 */
export const format = (summary: RunSummary.RunSummary): string => {
  const lines = [
    "",
    `${summary.status === "completed" ? "✔" : "✖"} run ${summary.runId} ${summary.status} in ${(summary.durationMs / 1000).toFixed(1)}s`,
    ...summary.stages.map(
      (stage) =>
        `  ${stage.stage.padEnd(10)} ${stage.status.padEnd(9)} ${stage.agents.filter((a) => a.status === "succeeded").length}/${stage.agents.length} agents${stoppedText(stage)}${stage.verdict ? `  verdict ${stage.verdict}` : ""}${stage.dissent.length > 0 ? `  dissent ${stage.dissent.join(", ")}` : ""}${stage.reason && stage.status !== "ok" ? `  (${stage.reason})` : ""}`
    ),
    `  tokens   ${summary.usage.input} in (${summary.usage.cachedInput} cached) · ${summary.usage.output} out (${summary.usage.reasoning} reasoning)`,
    `  cost     $${summary.costUsd.toFixed(4)}${summary.estimatedCostUsd ? `  ($${summary.estimatedCostUsd.toFixed(4)} of it estimated: the input of calls stopped in flight)` : ""}${summary.unpriced.length > 0 ? `  (unpriced: ${summary.unpriced.join(", ")})` : ""}`,
    `  records  ${summary.runDir}/`,
    `  report   ${summary.runDir}/report.html`
  ]
  lines.push(...failureLines(summary), ...changeLines(summary))
  const last = summary.stages.at(-1)
  if (last?.artifact) lines.push(`  output   ${last.artifact}`)
  if (summary.hint) lines.push(`  next     ${summary.hint}`)
  return `${lines.join("\n")}\n`
}

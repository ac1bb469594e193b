/**
 * The report's sections, each a pure function of the run's records: the header, the money, the
 * consensus per stage and the evidence (candidates, checks, selection, the delivered diff).
 *
 * @internal
 */
import { Diff, type RunSummary, type SessionMetrics } from "@speckit/core"
import type { RunRecords } from "../../RunRecords.ts"
import { barTable, html, seconds, usd } from "./page.ts"

const missing = (what: string) => `<p class="muted">${html(what)}</p>`

const card = (label: string, value: string, note = "") =>
  `<div class="card"><span class="muted">${html(label)}</span><b>${value}</b>${note ? `<span class="muted">${note}</span>` : ""}</div>`

const titleOf = (records: RunRecords): string => {
  const started = records.events.find((event) => event._tag === "RunStarted")
  return started?._tag === "RunStarted" ? started.title : ""
}

export const header = (records: RunRecords): string => {
  const summary = records.summary
  const specId = summary?.specId ?? records.run?.specId ?? "?"
  const git = records.run?.git
  const tokens = summary ? summary.usage.input + summary.usage.output : undefined
  const estimated = summary?.estimatedCostUsd ? ` (${usd(summary.estimatedCostUsd)} estimated)` : ""
  const budget = records.cost?.budgetUsd
  const cards = [
    card(
      "status",
      `<span class="status-${html(summary?.status ?? "unknown")}">${html(summary?.status ?? "unknown")}</span>`,
      html(summary?.phase ?? "")
    ),
    card(
      "duration",
      summary ? seconds(summary.durationMs) : "?",
      html(summary?.startedAt ?? records.run?.startedAt ?? "")
    ),
    card(
      "tokens",
      tokens === undefined ? "?" : tokens.toLocaleString("en-US"),
      summary ? `${summary.usage.input} in · ${summary.usage.output} out` : ""
    ),
    card("cost", summary ? `<span data-total="cost">${usd(summary.costUsd)}</span>` : "?", html(estimated)),
    card(
      "budget used",
      budget && summary ? `${((summary.costUsd / budget) * 100).toFixed(1)}%` : "no budget",
      budget ? `of ${usd(budget)}` : ""
    ),
    card(
      "git",
      git?.branch ? html(git.branch) : "not a git repository",
      git?.commit ? `<code>${html(git.commit.slice(0, 12))}</code>` : ""
    )
  ]
  return `<h1>${html(specId)} <span class="muted">${html(titleOf(records))}</span></h1><p class="muted">run <code>${html(records.runId)}</code>${summary ? "" : " · no summary.json: the run did not finish writing its records"}</p><div class="grid">${cards.join("")}</div>`
}

const breakdownRows = (breakdown: Readonly<Record<string, SessionMetrics.Breakdown>>) =>
  Object.entries(breakdown)
    .sort(([, a], [, b]) => b.costUsd - a.costUsd)
    .map(([name, row]) => ({
      cells: [
        html(name),
        String(row.calls),
        (row.usage.input + row.usage.output).toLocaleString("en-US"),
        usd(row.costUsd)
      ],
      value: row.costUsd
    }))

export const money = (records: RunRecords): string => {
  const summary = records.summary
  if (!summary) return missing("No summary.json: costs are not known.")
  const cost = records.cost
  const lines = [
    `<div class="grid">${card("total", `<span data-total="money">${usd(summary.costUsd)}</span>`, summary.estimatedCostUsd ? `${usd(summary.estimatedCostUsd)} of it estimated (the input of calls stopped in flight)` : "as reported or priced")}${card("wasted", cost?.wastedUsd === undefined ? "?" : usd(cost.wastedUsd), cost?.wastedTokens === undefined ? "" : `${cost.wastedTokens} tokens on failed or discarded attempts`)}${card("estimate before the run", cost?.estimateUsd === undefined ? "not recorded" : usd(cost.estimateUsd), cost?.estimateUsd ? `actual ${((summary.costUsd / cost.estimateUsd) * 100).toFixed(0)}% of it` : "")}${summary.unpriced.length > 0 ? card("unpriced", html(summary.unpriced.join(", ")), "counted as $0") : ""}</div>`,
    "<h3>By agent</h3>",
    barTable(["agent", "calls", "tokens", "cost"], breakdownRows(summary.byAgent)),
    "<h3>By stage</h3>",
    barTable(["stage", "calls", "tokens", "cost"], breakdownRows(summary.byStage))
  ]
  return lines.join("")
}

const list = (items: ReadonlyArray<string> | undefined) =>
  items && items.length > 0
    ? `<ul>${items.map((item) => `<li>${html(item)}</li>`).join("")}</ul>`
    : `<span class="muted">none</span>`

const agentRows = (stage: RunSummary.StageSummary) =>
  stage.agents
    .map(
      (agent) =>
        `<tr><td>${html(agent.agent)}</td><td>${html(agent.model)}</td><td class="${html(agent.status)}">${html(agent.status)}</td><td class="num">${agent.attempts}</td><td class="num">${(agent.usage.input + agent.usage.output).toLocaleString("en-US")}</td><td class="num">${usd(agent.costUsd)}${agent.estimatedCostUsd ? " (est.)" : ""}</td><td>${html(agent.vote ?? "")}</td><td class="error">${agent.error ? html(`${agent.error.kind}: ${agent.error.detail}`) : ""}</td></tr>`
    )
    .join("")

export const consensus = (records: RunRecords): string => {
  const stages = records.summary?.stages ?? []
  if (stages.length === 0) return missing("No stage finished.")
  return stages
    .map((stage) => {
      const record = records.consensus[stage.stage]
      const artifact = records.artifacts[stage.stage]
      return `<h3 id="stage-${html(stage.stage)}">${html(stage.stage)} <span class="status-${html(stage.status)}">${html(stage.status)}</span>${stage.verdict ? ` · verdict <b>${html(stage.verdict)}</b>` : ""} <span class="muted">· ${seconds(stage.durationMs)} · ${usd(stage.costUsd)}</span></h3>
${stage.reason ? `<p>${html(stage.reason)}</p>` : ""}
<table><thead><tr><th>agent</th><th>model</th><th>status</th><th>attempts</th><th>tokens</th><th>cost</th><th>vote</th><th>error</th></tr></thead><tbody>${agentRows(stage)}</tbody></table>
<details><summary>agreements, conflicts, dissent</summary><p>Agreements:</p>${list(record?.agreements)}<p>Conflicts:</p>${list(record?.conflicts)}<p>Dissent:</p>${list(stage.dissent)}</details>
${artifact === undefined ? missing(`No artifact text for ${stage.stage}.`) : `<details><summary>artifact: ${html(stage.artifact ?? "")}</summary><pre>${html(artifact)}</pre></details>`}`
    })
    .join("\n")
}

const diffHtml = (patch: string): string =>
  Diff.trim(patch, 60_000)
    .split("\n")
    .map((line) => {
      const kind =
        line.startsWith("+") && !line.startsWith("+++")
          ? "add"
          : line.startsWith("-") && !line.startsWith("---")
            ? "del"
            : line.startsWith("@@")
              ? "hunk"
              : ""
      return kind ? `<span class="${kind}">${html(line)}</span>` : html(line)
    })
    .join("\n")

const checksMatrix = (checks: ReadonlyArray<NonNullable<RunSummary.StageSummary["checks"]>[number]>): string => {
  const names = [...new Set(checks.map((c) => c.check))]
  const candidates = [...new Set(checks.map((c) => c.candidate))]
  const cell = (candidate: string, check: string) => {
    const result = checks.find((c) => c.candidate === candidate && c.check === check)
    if (!result) return `<td class="muted">–</td>`
    const failing = result.failures?.length ? `: ${result.failures.join(", ")}` : ""
    return `<td class="${html(result.status)}" data-tip="${html(`${check} on ${candidate}: ${result.status}${failing}`)}">${html(result.status)}</td>`
  }
  return `<table><thead><tr><th>candidate</th>${names.map((n) => `<th>${html(n)}</th>`).join("")}</tr></thead><tbody>${candidates.map((c) => `<tr><td>${html(c)}</td>${names.map((n) => cell(c, n)).join("")}</tr>`).join("")}</tbody></table>`
}

export const evidence = (records: RunRecords): string => {
  const stages = records.summary?.stages ?? []
  const candidates = stages.flatMap((stage) => stage.candidates ?? [])
  const checks = stages.flatMap((stage) => stage.checks ?? [])
  const selection = stages.find((stage) => stage.selection)?.selection
  const delivery = records.summary?.delivery
  if (candidates.length === 0 && checks.length === 0) {
    return missing(
      "This run made no real changes (implement.mode describe, or no git repository): no candidates or checks."
    )
  }
  const rows = candidates
    .map(
      (row) =>
        `<tr><td>${html(row.agent)}</td><td class="${row.status === "accepted" ? "ok" : "failed"}">${html(row.status)}</td><td class="num">${row.files}</td><td class="num">+${row.added} −${row.removed}</td><td>${html(row.tests.join(", "))}</td><td>${html(row.reason ?? "")}</td></tr>`
    )
    .join("")
  return [
    "<h3>Candidates</h3>",
    `<table><thead><tr><th>agent</th><th>status</th><th>files</th><th>lines</th><th>tests</th><th>reason</th></tr></thead><tbody>${rows}</tbody></table>`,
    "<h3>Checks</h3>",
    checks.length > 0 ? checksMatrix(checks) : missing("No checks ran."),
    "<h3>Selection</h3>",
    selection
      ? `<p>Chosen: <b>${html(selection.winner ?? "none")}</b>: ${html(selection.reason)}</p>${selection.flagged.length > 0 ? `<p class="warn">Changes existing tests: ${html(selection.flagged.map((f) => `${f.agent} (${f.tests.join(", ")})`).join("; "))}</p>` : ""}`
      : missing("No selection was made."),
    "<h3>Delivery</h3>",
    delivery
      ? `<p>Branch <code>${html(delivery.branch)}</code> (commit <code>${html(delivery.commit.slice(0, 12))}</code> on base <code>${html(delivery.base.slice(0, 12))}</code>), the change of ${html(delivery.candidate)}.</p>`
      : missing("Nothing was delivered."),
    records.patch
      ? `<details open><summary>the diff of ${html(records.patch.agent)}</summary><pre class="diff">${diffHtml(records.patch.text)}</pre></details>`
      : ""
  ].join("")
}

/**
 * A run's report as one self-contained HTML page, rendered from the run's records only
 * ({@link RunRecords.RunRecords}): a header (spec, status, git, duration, tokens, cost, budget), the
 * timeline (a lane per agent in each stage, a bar per attempt, waits, breaker periods, early decisions,
 * pauses, checks), the money (per agent and stage, wasted spend, the estimate against the actual), the
 * consensus of each stage with its artifact, and the evidence of a run that made real changes
 * (candidates, the checks matrix, the selection, the delivered diff).
 *
 * No network access of any kind: inline CSS and SVG, no fonts or scripts from elsewhere. Readable
 * without JavaScript (tables and SVG titles); a few lines of inline script add hover details. Light and
 * dark colour schemes; printable. Parts a run did not record say so.
 *
 * @since 0.3.0
 */
import { timelineOf } from "./internal/report/timeline.ts"
import { css, html, legend, script, timelineSvg } from "./internal/report/page.ts"
import * as Sections from "./internal/report/sections.ts"
import type { RunRecords } from "./RunRecords.ts"

const timelineSection = (records: RunRecords): string => {
  const timeline = timelineOf(records.events)
  if (timeline === undefined) {
    return `<p class="muted">${records.events.length === 0 ? "No events.jsonl: no timeline." : "This run's events carry no times (recorded by a speckit before 0.3): no timeline."}</p>`
  }
  return `${legend}${timelineSvg(timeline)}<p class="muted">${timeline.bars.filter((bar) => !bar.lane.startsWith("check ")).length} attempts, ${timeline.bars.filter((bar) => bar.lane.startsWith("check ")).length} checks; hover a bar for its details.</p>`
}

/**
 * Renders a run's report.
 *
 * @example
 * ```ts
 * import { ReportHtml, type RunRecords } from "@speckit/cli"
 *
 * declare const records: RunRecords.RunRecords
 * const html = ReportHtml.render(records)
 * ```
 *
 * @since 0.3.0
 */
export const render = (records: RunRecords): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>speckit report: ${html(records.summary?.specId ?? records.runId)} ${html(records.runId)}</title>
<style>${css}</style>
</head>
<body>
<div id="tip" role="tooltip"></div>
<header>${Sections.header(records)}</header>
<section id="timeline"><h2>Timeline</h2>${timelineSection(records)}</section>
<section id="money"><h2>Money</h2>${Sections.money(records)}</section>
<section id="consensus"><h2>Consensus</h2>${Sections.consensus(records)}</section>
<section id="evidence"><h2>Evidence</h2>${Sections.evidence(records)}</section>
<footer class="muted"><p>Written by speckit from the run's records in .speckit/runs/${html(records.runId)}/.</p></footer>
<script>${script}</script>
</body>
</html>
`

/**
 * The report's page parts: escaping, the inline stylesheet (light and dark schemes, print), the small
 * inline script (hover details), horizontal bar charts as tables, and the timeline as inline SVG.
 * Nothing here refers to anything outside the page.
 *
 * @internal
 */
import type { Bar, Timeline } from "./timeline.ts"

const entities: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;"
}

/** Text made safe for HTML content and attribute values. */
export const html = (text: string): string => text.replace(/[&<>"']/g, (c) => entities[c] ?? c)

export const usd = (value: number): string => `$${value.toFixed(value >= 1 ? 2 : 4)}`

export const seconds = (ms: number): string =>
  ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`

export const css = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1d2330;--muted:#5b6475;--line:#d9dee7;--card:#f6f8fb;--ok:#2e9d5b;--failed:#d64545;--retried:#e0a030;--stopped:#8a94a6;--unfinished:#6b8cd6;--wait:#e0a030;--breaker:#d64545;--accent:#3b6fd6}
@media (prefers-color-scheme:dark){:root{--bg:#12151c;--fg:#e4e8f0;--muted:#9aa3b5;--line:#2b3140;--card:#1a1f29;--accent:#7aa2f7}}
*{box-sizing:border-box}body{margin:0;padding:24px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:14px;margin:16px 0 6px}
.muted{color:var(--muted)}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:8px;margin:12px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 10px}.card b{display:block;font-size:16px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}th{font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.bar{height:10px;background:var(--accent);border-radius:2px;min-width:1px}
.status-ok,.pass,.ok{color:var(--ok)}.status-failed,.fail,.failed,.error{color:var(--failed)}.status-conflict,.status-degraded,.warn{color:var(--retried)}
svg text{fill:var(--fg);font:11px system-ui,sans-serif}svg .axis{stroke:var(--line)}svg .lane{fill:var(--card)}
svg .ok{fill:var(--ok)}svg .failed{fill:var(--failed)}svg .retried{fill:var(--retried)}svg .stopped{fill:var(--stopped)}svg .unfinished{fill:var(--unfinished)}
svg .wait{fill:url(#hatch-wait)}svg .breaker{fill:url(#hatch-breaker)}svg .mark{stroke:var(--accent);stroke-dasharray:3 2}
svg [data-tip]:hover{stroke:var(--fg);stroke-width:1.5}
pre{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px;overflow:auto;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;max-height:480px}
.diff .add{color:var(--ok)}.diff .del{color:var(--failed)}.diff .hunk{color:var(--accent)}
details{margin:4px 0}summary{cursor:pointer}
#tip{position:fixed;display:none;pointer-events:none;max-width:420px;background:var(--fg);color:var(--bg);padding:6px 8px;border-radius:4px;font-size:12px;white-space:pre-line;z-index:10}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px;vertical-align:-1px}
@media print{body{padding:0}details{display:block}details>*{display:block}pre{max-height:none}#tip{display:none}}
`

/** Hover details for every element with `data-tip` (the SVG `<title>`s give the same without script). */
export const script = `
(() => {
  const tip = document.getElementById("tip");
  document.addEventListener("mouseover", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-tip]") : null;
    if (!target) { tip.style.display = "none"; return; }
    tip.textContent = target.getAttribute("data-tip");
    tip.style.display = "block";
  });
  document.addEventListener("mousemove", (event) => {
    tip.style.left = Math.min(event.clientX + 12, window.innerWidth - 440) + "px";
    tip.style.top = event.clientY + 14 + "px";
  });
})();
`

/** A table of rows with a proportional bar each. */
export const barTable = (
  head: ReadonlyArray<string>,
  rows: ReadonlyArray<{ readonly cells: ReadonlyArray<string>; readonly value: number }>
): string => {
  const max = Math.max(0, ...rows.map((row) => row.value))
  const body = rows
    .map(
      (row) =>
        `<tr>${row.cells.map((cell, i) => `<td${i > 0 ? ' class="num"' : ""}>${cell}</td>`).join("")}<td style="width:40%"><div class="bar" style="width:${max > 0 ? ((row.value / max) * 100).toFixed(1) : 0}%"></div></td></tr>`
    )
    .join("")
  return `<table><thead><tr>${head.map((h) => `<th>${html(h)}</th>`).join("")}<th></th></tr></thead><tbody>${body}</tbody></table>`
}

const barTip = (bar: Bar): string =>
  [
    `${bar.lane} · ${bar.stage}${bar.lane.startsWith("check ") ? "" : ` · attempt ${bar.attempt}`}`,
    `${bar.outcome} in ${seconds(bar.end - bar.start)}`,
    bar.model === undefined ? "" : `model ${bar.model}`,
    bar.tokens === undefined ? "" : `${bar.tokens} tokens · ${usd(bar.costUsd ?? 0)} (the call)`,
    bar.detail
  ]
    .filter((line) => line.length > 0)
    .join("\n")

const laneHeight = 18
const labelWidth = 190
const width = 1000

/** The timeline as inline SVG: a band per stage, a lane per agent (and per check), a shared time axis. */
export const timelineSvg = (timeline: Timeline): string => {
  const span = Math.max(1, timeline.end - timeline.start)
  const x = (at: number) => labelWidth + ((at - timeline.start) / span) * (width - labelWidth - 10)
  const rows: Array<string> = []
  let y = 24
  for (const band of timeline.stages) {
    rows.push(
      `<text x="0" y="${y + 12}" font-weight="600">${html(band.stage)} <tspan class="muted">${html(band.status)} · ${seconds(band.end - band.start)}</tspan></text>`
    )
    y += laneHeight
    const top = y
    for (const lane of band.lanes) {
      rows.push(
        `<rect class="lane" x="${labelWidth}" y="${y}" width="${width - labelWidth - 10}" height="${laneHeight - 4}"/>`
      )
      rows.push(`<text x="12" y="${y + 11}">${html(lane)}</text>`)
      for (const gap of timeline.gaps.filter((g) => g.stage === band.stage && g.lane === lane)) {
        const w = Math.max(1, x(gap.end) - x(gap.start))
        rows.push(
          `<rect class="${gap.kind}" x="${x(gap.start).toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${laneHeight - 4}" data-tip="${html(`${lane}: ${gap.reason}, ${seconds(gap.end - gap.start)}`)}"><title>${html(gap.reason)}</title></rect>`
        )
      }
      for (const bar of timeline.bars.filter((b) => b.stage === band.stage && b.lane === lane)) {
        const w = Math.max(2, x(bar.end) - x(bar.start))
        const tip = barTip(bar)
        rows.push(
          `<rect class="${bar.outcome}" data-bar="${bar.lane.startsWith("check ") ? "check" : "attempt"}" x="${x(bar.start).toFixed(1)}" y="${y + 1}" width="${w.toFixed(1)}" height="${laneHeight - 6}" rx="2" data-tip="${html(tip)}"><title>${html(tip)}</title></rect>`
        )
      }
      y += laneHeight
    }
    for (const mark of timeline.marks.filter((m) => m.stage === band.stage)) {
      rows.push(
        `<line class="mark" x1="${x(mark.at).toFixed(1)}" x2="${x(mark.at).toFixed(1)}" y1="${top - 2}" y2="${y - 2}" data-tip="${html(mark.label)}"><title>${html(mark.label)}</title></line>`
      )
    }
    y += 8
  }
  const ticks = Array.from({ length: 6 }, (_, i) => timeline.start + (span * i) / 5)
    .map(
      (at) =>
        `<line class="axis" x1="${x(at).toFixed(1)}" x2="${x(at).toFixed(1)}" y1="14" y2="${y}"/><text x="${(x(at) - 10).toFixed(1)}" y="10">${seconds(at - timeline.start)}</text>`
    )
    .join("")
  const defs = `<defs><pattern id="hatch-wait" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="none"/><line x1="0" y1="0" x2="0" y2="6" stroke="#e0a030" stroke-width="3"/></pattern><pattern id="hatch-breaker" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#d64545" stroke-width="3"/></pattern></defs>`
  return `<svg role="img" aria-label="timeline" viewBox="0 0 ${width} ${y + 4}" width="100%" xmlns="http://www.w3.org/2000/svg">${defs}${ticks}${rows.join("")}</svg>`
}

export const legend = `<p class="legend muted"><span><i style="background:var(--ok)"></i>answered / passed</span><span><i style="background:var(--failed)"></i>failed</span><span><i style="background:var(--retried)"></i>failed, retried</span><span><i style="background:var(--stopped)"></i>stopped early</span><span><i style="background:repeating-linear-gradient(45deg,#e0a030 0 3px,transparent 3px 6px)"></i>retry or rate-limit wait</span><span><i style="background:repeating-linear-gradient(45deg,#d64545 0 3px,transparent 3px 6px)"></i>circuit open</span><span><i style="border-left:2px dashed var(--accent);border-radius:0"></i>decided / paused / delivered</span></p>`

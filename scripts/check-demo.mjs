#!/usr/bin/env node
// Checks the artifacts of a `speckit demo DIR --json` run: node scripts/check-demo.mjs DIR SUMMARY_FILE
import * as fs from "node:fs"
import * as path from "node:path"

const [dir, summaryFile] = process.argv.slice(2)
if (!dir || !summaryFile) {
  console.error("usage: check-demo.mjs DIR SUMMARY_FILE")
  process.exit(2)
}
const stages = ["plan", "tasks", "implement", "validate", "audit", "unlock"]
const problems = []
const check = (ok, what) => {
  if (!ok) problems.push(what)
}
const summary = JSON.parse(fs.readFileSync(summaryFile, "utf8"))
check(summary.status === "completed", `status is ${summary.status}`)
check(summary.stages.length === 6, `${summary.stages.length} stages`)
check(summary.costUsd > 0, "no cost recorded")
const byAgent = Object.values(summary.byAgent).reduce((sum, b) => sum + b.costUsd, 0)
check(Math.abs(byAgent - summary.costUsd) < 0.005, `total cost ${summary.costUsd} != sum of agents ${byAgent}`)
const specDir = path.join(dir, "specs", "SPEC-001-slugify")
const runDir = path.join(dir, summary.runDir)
for (const stage of stages) {
  const md = path.join(specDir, `${stage}.md`)
  check(fs.existsSync(md) && fs.statSync(md).size > 100, `missing or short ${md}`)
  check(fs.existsSync(path.join(runDir, "consensus", `${stage}.json`)), `missing consensus/${stage}.json`)
  // One raw answer a line, each whole JSON.
  const log = path.join(runDir, "answers", `${stage}.jsonl`)
  const lines = fs.existsSync(log)
    ? fs
        .readFileSync(log, "utf8")
        .split("\n")
        .filter((line) => line.length > 0)
    : []
  const answers = lines.flatMap((line) => {
    try {
      return [JSON.parse(line)]
    } catch {
      problems.push(`answers/${stage}.jsonl has a line that is not JSON`)
      return []
    }
  })
  // Verdict stages may stop a straggler early: its answer is written only if it arrived meanwhile.
  const stopped =
    summary.stages.find((s) => s.stage === stage)?.agents.filter((a) => a.status === "stopped").length ?? 0
  check(
    answers.length >= 3 - stopped && answers.length <= 3,
    `answers/${stage}.jsonl has ${answers.length} answers, ${stopped} agent(s) stopped early`
  )
}
for (const file of ["run.json", "summary.json"]) check(fs.existsSync(path.join(runDir, file)), `missing ${file}`)
// Real changes: three candidates with patches, checks on the base and each, a delivered branch.
const implement = summary.stages.find((s) => s.stage === "implement")
check((implement?.candidates ?? []).length === 3, `${(implement?.candidates ?? []).length} candidates`)
for (const row of implement?.candidates ?? []) {
  if (row.status === "accepted" || row.status === "rejected") {
    check(fs.existsSync(path.join(runDir, "candidates", `${row.agent}.patch`)), `missing candidates/${row.agent}.patch`)
  }
}
const validate = summary.stages.find((s) => s.stage === "validate")
check(
  (validate?.checks ?? []).some((r) => r.candidate === "base"),
  "no check ran on the base"
)
check(validate?.selection?.winner !== undefined, "no candidate selected")
check(
  typeof summary.delivery?.branch === "string" && summary.delivery.branch.startsWith("speckit/"),
  "nothing delivered"
)
const report = path.join(runDir, "report.html")
if (fs.existsSync(report)) {
  const html = fs.readFileSync(report, "utf8")
  check(html.length < 200 * 1024, `report.html is ${html.length} bytes (over 200 KB)`)
  check(!/(src|href)=["']?(https?:)?\/\//i.test(html), "report.html refers to something outside itself")
} else check(false, "missing report.html")
if (problems.length > 0) {
  console.error(`demo artifacts: FAIL\n- ${problems.join("\n- ")}`)
  process.exit(1)
}
console.log(
  `demo artifacts: PASS (run ${summary.runId}, 6 stages, 3 candidates, delivered ${summary.delivery.branch}, $${summary.costUsd.toFixed(4)})`
)

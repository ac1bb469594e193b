/**
 * How fast the `speckit` executable starts: whole processes (spawn to exit) of the bundled bin
 * (`packages/cli/dist/bundle/speckit.js`, what `pnpm pack` ships) against `node -e 0` in the same run,
 * several rounds, medians; peak RSS from `/usr/bin/time` when it is there. `speckit --help` is the
 * measured figure; `runs` and `status` on a workspace of 50 runs (3 agents a stage; and again with
 * 1,000, whose summaries are megabytes: listing reads each run's summary head, not its summary), and
 * `demo` against its own pipeline time, are printed too.
 *
 * ratio = `speckit --help` wall / `node -e 0` wall (target ≤ 3). Goals: `--help` peak RSS ≤ 80 MB,
 * `runs` and `status` ≤ 4× `node -e 0`, `demo` ≤ 1.3× its pipeline.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Benchmark, type Goal, median, round2 } from "./Bench.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = path.join(root, "packages/cli/dist/bundle/speckit.js")
const rounds = 7
const timeBin = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined

/** One process: wall ms and (with /usr/bin/time) peak RSS in MB. */
const runOnce = (args: ReadonlyArray<string>, cwd: string) => {
  const started = performance.now()
  const result = timeBin
    ? spawnSync(timeBin, ["-f", "%M", process.execPath, ...args], { cwd, encoding: "utf8" })
    : spawnSync(process.execPath, [...args], { cwd, encoding: "utf8" })
  const wall = performance.now() - started
  if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr}`)
  const rss = timeBin ? Number(result.stderr.trim().split("\n").at(-1)) / 1024 : Number.NaN
  return { wall, rss, stdout: result.stdout }
}

const medianOf = (args: ReadonlyArray<string>, cwd: string) => {
  const runs = Array.from({ length: rounds }, () => runOnce(args, cwd))
  return {
    wall: median(runs.map((r) => r.wall)),
    rss: median(runs.map((r) => r.rss)),
    samples: runs.map((r) => round2(r.wall))
  }
}

/**
 * A workspace with 50 finished runs, for `runs` and `status`: each run's record, summary and summary
 * head (`status.json`), as the file-system run store writes them; `agents` agents per stage in each
 * summary (a summary of 1,000 agents × 6 stages is about 2.5 MB).
 */
const workspaceWithRuns = (agents: number) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-bench-startup-"))
  const stages = ["plan", "tasks", "implement", "validate", "audit", "unlock"].map((stage) => ({
    stage,
    status: "ok",
    required: Math.floor(agents / 2) + 1,
    dissent: [],
    agents: Array.from({ length: agents }, (_, i) => ({
      agent: `a${i}`,
      model: "sim-small",
      status: "succeeded",
      attempts: 1,
      durationMs: 1000,
      usage: { input: 1500, cachedInput: 0, output: 300, reasoning: 0 },
      costUsd: 0.0006,
      retries: []
    })),
    durationMs: 1000,
    costUsd: 0.6
  }))
  for (let i = 0; i < 50; i++) {
    const runId = `run-20260101-0000${String(i).padStart(2, "0")}-ab${String(i).padStart(2, "0")}`
    const runDir = path.join(dir, ".speckit", "runs", runId)
    fs.mkdirSync(runDir, { recursive: true })
    fs.writeFileSync(
      path.join(runDir, "run.json"),
      JSON.stringify({ runId, specId: "SPEC-1", startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() })
    )
    const head = {
      runId,
      specId: "SPEC-1",
      status: "completed",
      phase: "Completed",
      startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      finishedAt: new Date(Date.UTC(2026, 0, 1, 0, 1, i)).toISOString(),
      durationMs: 60_000,
      costUsd: 0.01
    }
    const summary = {
      ...head,
      stages,
      usage: { input: 1, output: 1, cachedInput: 0, reasoning: 0 },
      unpriced: [],
      byAgent: {},
      byStage: {},
      decisions: 0,
      runDir: `.speckit/runs/${runId}`
    }
    fs.writeFileSync(path.join(runDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`)
    fs.writeFileSync(path.join(runDir, "status.json"), `${JSON.stringify(head, null, 2)}\n`)
  }
  return dir
}

const benchmark: Benchmark = {
  name: "startup",
  description: "the bundled speckit bin: `--help` (and `runs`, `status`, `demo`) as whole processes vs `node -e 0`",
  target: { ratio: 3, direction: "max" },
  run: async () => {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: build first (pnpm build)`)
    const cwd = workspaceWithRuns(3)
    const large = workspaceWithRuns(1_000)
    try {
      const node = medianOf(["-e", "0"], cwd)
      const help = medianOf([bin, "--help"], cwd)
      const runs = medianOf([bin, "runs"], cwd)
      const status = medianOf([bin, "status"], cwd)
      const runsLarge = medianOf([bin, "runs"], large)
      const statusLarge = medianOf([bin, "status"], large)
      // demo: the whole process against the pipeline's own duration (summary.durationMs).
      const demos = Array.from({ length: 3 }, () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-bench-demo-"))
        const run = runOnce([bin, "demo", dir, "--json"], cwd)
        const summary = JSON.parse(run.stdout) as { readonly durationMs: number }
        fs.rmSync(dir, { recursive: true, force: true })
        return { wall: run.wall, pipeline: summary.durationMs }
      })
      const demoRatio = median(demos.map((d) => d.wall / d.pipeline))
      return {
        baseline: { label: "node -e 0", value: round2(node.wall), unit: "ms", samples: node.samples },
        measured: { label: "speckit --help", value: round2(help.wall), unit: "ms", samples: help.samples },
        extra: [
          { label: "node -e 0 peak RSS", value: round2(node.rss), unit: "MB" },
          {
            label: "speckit runs (50 runs of 1,000 agents × 6 stages) / node -e 0",
            value: round2(runsLarge.wall / node.wall),
            unit: "×"
          },
          { label: "its peak RSS", value: round2(runsLarge.rss), unit: "MB" },
          {
            label: "speckit status (50 runs of 1,000 agents × 6 stages) / node -e 0",
            value: round2(statusLarge.wall / node.wall),
            unit: "×"
          }
        ],
        goals: [
          ...(Number.isNaN(help.rss)
            ? []
            : ([
                { label: "speckit --help peak RSS", value: round2(help.rss), unit: "MB", limit: 80, direction: "max" }
              ] satisfies Array<Goal>)),
          {
            label: "speckit runs (50 runs) / node -e 0",
            value: round2(runs.wall / node.wall),
            unit: "×",
            limit: 4,
            direction: "max"
          },
          {
            label: "speckit status (50 runs) / node -e 0",
            value: round2(status.wall / node.wall),
            unit: "×",
            limit: 4,
            direction: "max"
          },
          {
            label: "speckit demo process / its pipeline",
            value: round2(demoRatio),
            unit: "×",
            limit: 1.3,
            direction: "max"
          }
        ] satisfies Array<Goal>
      }
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true })
      fs.rmSync(large, { recursive: true, force: true })
    }
  }
}

export default benchmark

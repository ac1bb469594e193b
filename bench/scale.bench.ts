/**
 * How the orchestrator scales within one process: one run of N = 100, 1,000 and 5,000 `sim` agents ×
 * 6 stages at 1 s latency (each N in a process of its own, `scale-child.mjs`: plain JavaScript, so its
 * RSS is speckit's; on the layers a fleet worker and `speckit auto` run, the run's telemetry included),
 * printing wall / ideal, CPU ms per agent call and peak RSS per N, so that growth is visible (it should
 * be flat per call).
 * `SPECKIT_BENCH_SCALE=100,1000` picks the Ns.
 *
 * ratio = wall / ideal at N = 1,000 (target ≤ 1.2). Goals: at N = 1,000, CPU per agent call ≤ 0.25 ms and
 * peak RSS ≤ 300 MB; at N = 5,000, CPU and peak RSS per call ≤ 1.5× N = 1,000's. The CPU is the whole
 * process's (every thread); the main thread's part is printed beside it where `/proc` tells it (Linux).
 * The N = 1,000 process then makes two more runs, as a worker does: their CPU per call (median) is
 * printed as "warm", with the peak RSS after three runs and the live heap after each run (after a full
 * GC: memory a run leaves behind would show as growth there). The goals are the first run's: at
 * N = 1,000 the first-run figures are the median of that process and two more fresh processes (a single
 * process's CPU moves by ±5% between runs on the same machine). One more process makes the run at
 * N = 1,000 with the configuration's default early decision (verdict stages stop their other agents
 * once a majority agrees): whether a stage's settling check stays cheap per answer.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Benchmark, type Goal, median, round2, round3 } from "./Bench.ts"

const here = path.dirname(fileURLToPath(import.meta.url))
const ns = (process.env.SPECKIT_BENCH_SCALE ?? "100,1000,5000").split(",").map(Number)

interface Figures {
  readonly n: number
  readonly wallMs: number
  readonly idealMs: number
  readonly cpuMs: number
  readonly calls: number
  readonly peakRssMb: number
  /** The main thread's share of `cpuMs` (Linux); the rest is V8's compiler and GC threads. */
  readonly mainShare?: number | undefined
  /** Each fresh process's first-run CPU ms, when the figures are their median (N = 1,000). */
  readonly samplesCpuMs?: ReadonlyArray<number> | undefined
  /** The later runs' CPU ms, and the peak RSS after the last (with `runs` > 1). */
  readonly warm?:
    | {
        readonly cpuMs: ReadonlyArray<number>
        readonly peakRssMb: number
        /** The live heap after each run (a full GC first), the first run included. */
        readonly liveHeapMb: ReadonlyArray<number>
      }
    | undefined
}

/** The runs made in the N = 1,000 process (the first is the measured one; the others are warm). */
const warmRuns = 3

/** Fresh processes whose first run is measured at N = 1,000 (the median is the figure). */
const samplesAt1000 = 3

const measure = (n: number, runs: number, early = false): Figures => {
  const args = [
    ...(runs > 1 ? ["--expose-gc"] : []),
    path.join(here, "scale-child.mjs"),
    String(n),
    "1000",
    String(runs),
    ...(early ? ["early"] : [])
  ]
  const result = spawnSync(process.execPath, args, {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024
  })
  if (result.status !== 0) throw new Error(`scale-child ${n} exited ${result.status}: ${result.stderr.slice(-2000)}`)
  return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as Figures
}

/** The label of N's first-run CPU per call (saying when it is a median of processes). */
const cpuLabel = (f: Figures) =>
  `N=${f.n} CPU per agent call${f.samplesCpuMs ? ` (median of ${f.samplesCpuMs.length} processes)` : ""}`

/**
 * N's first-run figures as the median of fresh processes (wall, CPU, its main-thread share and peak RSS
 * each), the first of which also makes the warm runs.
 */
const medianOfProcesses = (n: number): Figures => {
  const all = Array.from({ length: samplesAt1000 }, (_, i) => measure(n, i === 0 ? warmRuns : 1))
  const first = all[0]
  if (first === undefined) throw new Error("no process measured")
  const shares = all.flatMap((f) => (f.mainShare === undefined ? [] : [f.mainShare]))
  return {
    ...first,
    wallMs: median(all.map((f) => f.wallMs)),
    cpuMs: median(all.map((f) => f.cpuMs)),
    peakRssMb: median(all.map((f) => f.peakRssMb)),
    mainShare: shares.length === 0 ? undefined : median(shares),
    samplesCpuMs: all.map((f) => f.cpuMs)
  }
}

const benchmark: Benchmark = {
  name: "scale",
  description: `one run of N sim agents × 6 stages at 1 s, N = ${ns.join(", ")} (at N = 1000 the median of ${samplesAt1000} fresh processes, and ${warmRuns - 1} warm runs): wall / ideal, CPU ms per call, peak RSS`,
  target: { ratio: 1.2, direction: "max" },
  run: async () => {
    const figures = ns.map((n) => (n === 1_000 ? medianOfProcesses(n) : measure(n, 1)))
    const at = figures.find((f) => f.n === 1_000) ?? figures.at(-1)
    if (at === undefined) throw new Error("no N measured")
    const early = measure(at.n, 1, true)
    const perCall = (f: Figures) => f.cpuMs / f.calls
    const rssPerCall = (f: Figures) => f.peakRssMb / f.calls
    const first = figures[0]
    const largest = figures.find((f) => f.n === 5_000)
    const goals: Array<Goal> = [
      {
        label: cpuLabel(at),
        value: round3(perCall(at)),
        unit: "ms",
        limit: 0.25,
        direction: "max",
        ...(at.samplesCpuMs ? { samples: at.samplesCpuMs.map((cpuMs) => round3(cpuMs / at.calls)) } : {})
      },
      { label: `N=${at.n} peak RSS`, value: round2(at.peakRssMb), unit: "MB", limit: 300, direction: "max" },
      ...(largest && largest !== at
        ? ([
            {
              label: `N=${largest.n} CPU per call / N=${at.n}'s`,
              value: round2(perCall(largest) / perCall(at)),
              unit: "×",
              limit: 1.5,
              direction: "max"
            },
            {
              label: `N=${largest.n} peak RSS per call / N=${at.n}'s`,
              value: round2(rssPerCall(largest) / rssPerCall(at)),
              unit: "×",
              limit: 1.5,
              direction: "max"
            }
          ] satisfies Array<Goal>)
        : [])
    ]
    return {
      baseline: { label: `ideal (N=${at.n})`, value: round2(at.idealMs), unit: "ms" },
      measured: { label: `wall (N=${at.n})`, value: round2(at.wallMs), unit: "ms" },
      extra: [
        ...figures.flatMap((f) => [
          { label: `N=${f.n} wall / ideal`, value: round2(f.wallMs / f.idealMs), unit: "×" },
          {
            label: cpuLabel(f),
            value: round3(perCall(f)),
            unit: "ms"
          },
          ...(f.mainShare === undefined
            ? []
            : [{ label: `N=${f.n} of it on the main thread`, value: round3(perCall(f) * f.mainShare), unit: "ms" }]),
          { label: `N=${f.n} peak RSS`, value: round2(f.peakRssMb), unit: "MB" },
          ...(f.warm === undefined
            ? []
            : [
                {
                  label: `N=${f.n} CPU per agent call, warm (runs 2-${f.warm.cpuMs.length + 1} of a process, median)`,
                  value: round3(median(f.warm.cpuMs) / f.calls),
                  unit: "ms"
                },
                {
                  label: `N=${f.n} peak RSS after ${f.warm.cpuMs.length + 1} runs`,
                  value: round2(f.warm.peakRssMb),
                  unit: "MB"
                },
                ...f.warm.liveHeapMb.map((mb, i) => ({
                  label: `N=${f.n} live heap after run ${i + 1} (full GC)`,
                  value: round2(mb),
                  unit: "MB"
                }))
              ]),
          ...(first && f !== first
            ? [
                {
                  label: `N=${f.n} CPU per call / N=${first.n}'s`,
                  value: round2(perCall(f) / perCall(first)),
                  unit: "×"
                }
              ]
            : [])
        ]),
        {
          label: `N=${early.n} early decision on: wall / ideal`,
          value: round2(early.wallMs / early.idealMs),
          unit: "×"
        },
        { label: `N=${early.n} early decision on: CPU per agent call`, value: round3(perCall(early)), unit: "ms" }
      ],
      goals
    }
  }
}

export default benchmark

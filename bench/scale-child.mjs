/**
 * One measurement of `scale.bench.ts`, in a process of its own (so that its peak RSS is its own, and
 * plain JavaScript on the built packages, without the TypeScript loader, so that it is speckit's): one
 * run of N `sim` agents × 6 stages at a fixed latency through `Pipeline.run` on the real plugin layers
 * composed as a fleet worker and `speckit auto` compose them (`Run.layer` with the run's telemetry,
 * `RunTelemetry.layer`, and a silent display), the in-memory sequencer, and a real temp workspace.
 * Prints one JSON line: wall ms, ideal ms, CPU ms, agent calls, peak RSS MB, and (on Linux, from
 * `/proc/self/task`) the share of that CPU the main thread used: the rest is V8's
 * helper threads (optimising compiler, parallel GC) and libuv's pool. Those are the first run's, the
 * run a CLI user makes. With `runs` > 1 the same process then makes more runs, each in a workspace of
 * its own, as a worker does, and `warm` gives their CPU ms, the peak RSS after the last and (run
 * with `--expose-gc`) the live heap after each run, first included: what runs leave behind.
 * Build first (`pnpm build`).
 *
 * The stage's early decision is off (every agent answers), unless `early` is given: then the
 * configuration's default (on) applies, and a verdict stage is decided, and its other agents stopped,
 * once a majority of all agents agrees.
 *
 * Usage: node bench/scale-child.mjs N [latencyMs] [runs] [early]
 */
import { readdirSync, readFileSync } from "node:fs"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
// The same built modules `deps.ts` names (this file runs without the TypeScript loader).
import * as NodeServices from "../packages/cli/node_modules/@effect/platform-node/dist/NodeServices.js"
import { Effect, Layer } from "../packages/cli/node_modules/effect/dist/index.js"
import { Run } from "../packages/cli/dist/index.js"
import { Pipeline } from "../packages/core/dist/index.js"
import { RunTelemetry } from "../packages/telemetry/dist/index.js"

const n = Number(process.argv[2] ?? "100")
const latencyMs = Number(process.argv[3] ?? "1000")
const runs = Math.max(1, Number(process.argv[4] ?? "1"))
const earlyDecision = process.argv[5] === "early"
const stages = 6

/** CPU clock ticks so far of the main thread and of all threads (Linux); undefined elsewhere. */
const threadTicks = () => {
  try {
    let main = 0
    let all = 0
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8")
      // After the command name in parentheses: state is field 3, utime 14 and stime 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const ticks = Number(fields[11]) + Number(fields[12])
      all += ticks
      if (Number(tid) === process.pid) main = ticks
    }
    return { main, all }
  } catch {
    return undefined
  }
}

/** One run in a fresh temp workspace: its wall ms, CPU ms, main-thread share and the peak RSS so far. */
const runOnce = Effect.gen(function* () {
  const root = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "speckit-bench-scale-")))
  const agents = Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`a${i}`, { provider: "sim", model: "sim-small", latencyMs, seed: i }])
  )
  const config = { agents, defaults: { quorum: "majority", earlyDecision }, implement: { mode: "describe" } }
  yield* Effect.promise(async () => {
    await writeFile(join(root, "speckit.config.json"), JSON.stringify(config))
    await mkdir(join(root, "specs", "SPEC-1"), { recursive: true })
    await writeFile(
      join(root, "specs", "SPEC-1", "spec.md"),
      "# Greeting\n\nPrint `greet(name)`: a friendly greeting.\n"
    )
  })
  const prepared = yield* Run.prepare("SPEC-1", root)
  const ticks0 = threadTicks()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  // The run's telemetry as a worker has it (`metrics.json`, `cost.json`), without a display.
  const telemetry = RunTelemetry.layer({
    workspace: root,
    config: prepared.config,
    spec: prepared.spec,
    runDir: join(root, ".speckit", "telemetry"),
    display: { emit: () => Effect.void },
    warnings: process.stderr
  })
  const summary = yield* Pipeline.run({ spec: prepared.spec, config: prepared.config }).pipe(
    Effect.provide(Run.layer(prepared.config, root, undefined, { metrics: false }).pipe(Layer.provideMerge(telemetry)))
  )
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const ticks1 = threadTicks()
  const mainShare =
    ticks0 && ticks1 && ticks1.all > ticks0.all ? (ticks1.main - ticks0.main) / (ticks1.all - ticks0.all) : undefined
  yield* Effect.promise(() => rm(root, { recursive: true, force: true }))
  if (summary.status !== "completed") return yield* Effect.die(new Error(`the run ended ${summary.status}`))
  const peakRssMb = process.resourceUsage().maxRSS / 1024
  // With `--expose-gc`: what the run left behind (the live heap after a full collection).
  let liveHeapMb
  if (typeof globalThis.gc === "function") {
    globalThis.gc()
    liveHeapMb = process.memoryUsage().heapUsed / 1e6
  }
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, mainShare, peakRssMb, liveHeapMb }
})

const main = Effect.gen(function* () {
  const first = yield* runOnce
  // The later runs of the same process (a worker's): the code is compiled and warm by then.
  const later = []
  for (let i = 1; i < runs; i++) later.push(yield* runOnce)
  const calls = n * stages
  const warm =
    later.length === 0
      ? undefined
      : {
          cpuMs: later.map((r) => r.cpuMs),
          peakRssMb: later.at(-1).peakRssMb,
          liveHeapMb: [first, ...later].map((r) => r.liveHeapMb)
        }
  process.stdout.write(`${JSON.stringify({ n, idealMs: stages * latencyMs, calls, ...first, warm })}\n`)
})

Effect.runPromise(main.pipe(Effect.provide(NodeServices.layer))).catch((error) => {
  console.error(error)
  process.exit(1)
})

/**
 * One measurement of `scale.bench.ts`, in a process of its own (so that its peak RSS is its own, and
 * plain JavaScript on the built packages, without the TypeScript loader, so that it is speckit's): one
 * run of N `sim` agents × 6 stages at a fixed latency through `Pipeline.run` on the real plugin layers
 * and a real temp workspace. Prints one JSON line: wall ms, ideal ms, CPU ms, agent calls, peak RSS MB,
 * and (on Linux, from `/proc/self/task`) the share of that CPU the main thread used: the rest is V8's
 * helper threads (optimising compiler, parallel GC) and libuv's pool.
 * Build first (`pnpm build`).
 *
 * Usage: node bench/scale-child.mjs N [latencyMs]
 */
import { readdirSync, readFileSync } from "node:fs"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
// The same built modules `deps.ts` names (this file runs without the TypeScript loader).
import { NodeServices } from "../packages/cli/node_modules/@effect/platform-node/dist/index.js"
import { Effect } from "../packages/cli/node_modules/effect/dist/index.js"
import { Run } from "../packages/cli/dist/index.js"
import { Pipeline } from "../packages/core/dist/index.js"

const n = Number(process.argv[2] ?? "100")
const latencyMs = Number(process.argv[3] ?? "1000")
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

const main = Effect.gen(function* () {
  const root = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "speckit-bench-scale-")))
  const agents = Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`a${i}`, { provider: "sim", model: "sim-small", latencyMs, seed: i }])
  )
  const config = { agents, defaults: { quorum: "majority", earlyDecision: false }, implement: { mode: "describe" } }
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
  const summary = yield* Pipeline.run({ spec: prepared.spec, config: prepared.config }).pipe(
    Effect.provide(Run.layer(prepared.config, root))
  )
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const ticks1 = threadTicks()
  const mainShare =
    ticks0 && ticks1 && ticks1.all > ticks0.all ? (ticks1.main - ticks0.main) / (ticks1.all - ticks0.all) : undefined
  yield* Effect.promise(() => rm(root, { recursive: true, force: true }))
  if (summary.status !== "completed") return yield* Effect.die(new Error(`the run ended ${summary.status}`))
  const calls = n * stages
  process.stdout.write(
    `${JSON.stringify({ n, wallMs, idealMs: stages * latencyMs, cpuMs: (cpu.user + cpu.system) / 1000, calls, peakRssMb: process.resourceUsage().maxRSS / 1024, mainShare })}\n`
  )
})

Effect.runPromise(main.pipe(Effect.provide(NodeServices.layer))).catch((error) => {
  console.error(error)
  process.exit(1)
})

/**
 * Takeover on a real PostgreSQL: a runner process is SIGKILLed in the middle of a run (at a seeded
 * moment after the plan is recorded) and a second runner process completes it once the dead runner's
 * shard locks expire. No agent call whose result was recorded is made again; a call in flight at the
 * kill is made again at most once. Prints the seed and the takeover time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { freshDatabase, stopServer } from "./postgres.ts"
import { freePort, makeWorkspace, readCalls as readLog, until } from "./run.ts"

afterAll(stopServer)

const script = fileURLToPath(new URL("./fixtures/runner.ts", import.meta.url))
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

/** A runner process; `finished` resolves with the status it printed (or undefined if it died). */
const startRunner = async (url: string, workspace: string, runId: string, log: string) => {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", script, url, String(await freePort()), workspace, runId, log],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
  )
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const finished = new Promise<string | undefined>((resolve) => {
    let buffer = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      for (const line of buffer.split("\n")) {
        if (!line.startsWith("{")) continue
        const event = JSON.parse(line) as { readonly event: string; readonly status?: string }
        if (event.event === "finished") resolve(event.status)
      }
    })
    child.on("exit", () => resolve(undefined))
  })
  return { child, finished, stderr: () => stderr }
}

describe("Runner takeover", () => {
  for (const signal of ["SIGKILL", "SIGTERM"] as const)
    it.live(
      `a runner stopped by ${signal} mid-run: another completes it, recorded calls are not made again, in-flight ones at most once`,
      () =>
        Effect.gen(function* () {
          const url = yield* freshDatabase
          const seed = Number(process.env.TEST_TAKEOVER_SEED ?? Date.now() % 100_000)
          // The kill's moment after `tasks` began, from the seed (replay with TEST_TAKEOVER_SEED).
          const delay = (seed * 7_919) % 1_500
          const workspace = makeWorkspace()
          const log = path.join(workspace, "calls.log")
          const runId = `run-20261204-120000-${signal === "SIGKILL" ? "kill" : "term"}`

          const result = yield* Effect.promise(async () => {
            const first = await startRunner(url, workspace, runId, log)
            const planned = await until(() => readLog(log).some((l) => l.call.startsWith("tasks/")), 60_000)
            if (!planned) throw new Error(`the first runner never reached tasks: ${first.stderr()}`)
            await new Promise((resolve) => setTimeout(resolve, delay))
            first.child.kill(signal)
            const killedAt = Date.now()
            await new Promise((resolve) => first.child.once("exit", resolve))
            const second = await startRunner(url, workspace, runId, log)
            const status = await Promise.race([
              second.finished,
              new Promise<string>((resolve) => setTimeout(() => resolve("timed out"), 90_000))
            ])
            second.child.kill("SIGTERM")
            return { status, killedAt, firstPid: first.child.pid, stderr: second.stderr() }
          })

          const lines = readLog(log)
          const afterKill = lines.filter((l) => l.pid !== result.firstPid)
          const takeoverMs = (afterKill[0]?.at ?? Number.NaN) - result.killedAt
          assert.strictEqual(result.status, "completed", result.stderr)

          // A stage whose successor had begun before the kill was recorded: none of its calls is made again.
          const stages = ["plan", "tasks", "implement", "validate", "audit", "unlock"]
          const byFirst = lines.filter((l) => l.pid === result.firstPid)
          const begun = new Set(byFirst.map((l) => l.call.split("/")[0]))
          const recordedStages = stages.filter((_, i) => begun.has(stages[i + 1] ?? ""))
          assert.include(recordedStages, "plan")
          for (const line of afterKill) {
            assert.notInclude(recordedStages, line.call.split("/")[0], `${line.call} was recorded before the kill`)
          }
          // Calls in flight at the kill are made again at most once: no call is made more than twice.
          const counts = new Map<string, number>()
          for (const line of lines.filter((l) => l.kind === "start"))
            counts.set(line.call, (counts.get(line.call) ?? 0) + 1)
          const remade = [...counts].filter(([, count]) => count > 1).map(([call]) => call)
          console.log(
            `seed ${seed}: ${signal} ${delay} ms after tasks began; takeover (kill to the next agent call) ${takeoverMs} ms; made again: ${remade.join(", ") || "none"}`
          )
          for (const [call, count] of counts) assert.isAtMost(count, 2, `${call} made ${count} times`)
          for (const stage of stages) {
            assert.isTrue(fs.existsSync(path.join(workspace, "specs", "SPEC-1", `${stage}.md`)), `${stage}.md`)
          }
        }),
      180_000
    )
})

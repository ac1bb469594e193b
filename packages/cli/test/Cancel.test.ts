/**
 * Cancellation with real processes: `speckit auto` running exec agents that spawn children and
 * sleep, interrupted with SIGINT.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { binPath, ensureBuilt, makeWorkspace, readJson, removeTempDirs, repoRoot, runDirs } from "./helpers.ts"

const sleeper = path.join(repoRoot, "packages/cli/test/fixtures/cancel/sleeper.mjs")
const agents = ["one", "two", "three"] as const

beforeAll(ensureBuilt)
afterAll(removeTempDirs)

/** Whether a process still runs (a zombie, dead but not yet reaped, does not count). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return !fs.existsSync("/proc/self")
  }
}

const pidsIn = (file: string): Array<number> =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map(Number)
    : []

const until = async (condition: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (condition()) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return condition()
}

interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly finishedAt: number
}

const start = (dir: string): { readonly child: ChildProcess; readonly done: Promise<Finished> } => {
  const child = spawn(process.execPath, [binPath, "auto", "SPEC-1", "-C", dir, "--json"], {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
  const done = new Promise<Finished>((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, finishedAt: Date.now() })
    })
  )
  return { child, done }
}

/** A workspace whose three exec agents run the sleeper, each writing its pids to its own file. */
const sleepyWorkspace = (options: { readonly stubborn: boolean; readonly killGraceMs: number }) => {
  const dir = makeWorkspace({ config: {} })
  const pidFile = (agent: string) => path.join(dir, `${agent}.pids`)
  const config = {
    agents: Object.fromEntries(
      agents.map((agent) => [
        agent,
        {
          provider: "exec",
          command: ["node", sleeper, ...(options.stubborn ? ["stubborn"] : [])],
          model: "sleeper",
          price: { inputPerMTok: 0, outputPerMTok: 0 },
          timeoutMs: 120_000,
          killGraceMs: options.killGraceMs,
          env: { PID_FILE: pidFile(agent) }
        }
      ])
    ),
    defaults: { agents: [...agents], quorum: "majority" }
  }
  fs.writeFileSync(path.join(dir, "speckit.config.json"), JSON.stringify(config))
  const allPids = () => agents.flatMap((agent) => pidsIn(pidFile(agent)))
  const allRunning = () => agents.every((agent) => pidsIn(pidFile(agent)).length === 3)
  return { dir, allPids, allRunning }
}

describe("cancellation", () => {
  it("SIGINT terminates every agent process and its descendants: exit 130, summary cancelled", async () => {
    const { dir, allPids, allRunning } = sleepyWorkspace({ stubborn: true, killGraceMs: 500 })
    const { child, done } = start(dir)
    assert.isTrue(await until(allRunning, 20_000), "all agents and their descendants started")
    const pids = allPids()
    assert.lengthOf(pids, 9)
    assert.isTrue(
      pids.every((pid) => alive(pid)),
      "all running"
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    child.kill("SIGINT")
    const result = await done
    assert.strictEqual(result.code, 130, result.stderr)
    assert.include(result.stderr, "continue it with `speckit resume", result.stderr)
    const left = await until(() => pids.every((pid) => !alive(pid)), 2_000)
    assert.isTrue(left, `no process left: ${pids.filter(alive).join(", ")}`)
    const [runDir = ""] = runDirs(dir)
    const summary = readJson(path.join(runDir, "summary.json")) as { status: string; hint?: string }
    assert.strictEqual(summary.status, "cancelled")
    assert.include(summary.hint ?? "", "speckit resume")
  }, 60_000)

  it("a second SIGINT during a slow shutdown exits at once, leaving no process behind", async () => {
    // SIGTERM is ignored by every agent process and the grace before SIGKILL is 30 s: the first
    // SIGINT starts a shutdown that would take 30 s; the second one ends it now.
    const { dir, allPids, allRunning } = sleepyWorkspace({ stubborn: true, killGraceMs: 30_000 })
    const { child, done } = start(dir)
    assert.isTrue(await until(allRunning, 20_000), "all agents and their descendants started")
    const pids = allPids()
    await new Promise((resolve) => setTimeout(resolve, 200))
    child.kill("SIGINT")
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.isNull(child.exitCode, "the first SIGINT is still shutting down (waiting for the agents)")
    const second = Date.now()
    child.kill("SIGINT")
    const result = await done
    assert.strictEqual(result.code, 130, result.stderr)
    assert.include(result.stderr, "exiting now")
    assert.isBelow(result.finishedAt - second, 15_000, "did not wait for the 30 s grace period")
    const left = await until(() => pids.every((pid) => !alive(pid)), 2_000)
    assert.isTrue(left, `no process left: ${pids.filter(alive).join(", ")}`)
  }, 60_000)
})

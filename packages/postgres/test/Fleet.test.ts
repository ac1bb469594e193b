/**
 * A fleet on a real PostgreSQL: two runner processes serve `FleetRun.workflow`; a client submits
 * runs (each payload carries the spec's text and the configuration, nothing else is shared but the
 * database and, here, the machine) and polls them. One runner is SIGKILLed once the runs are under
 * way (at a seeded moment): the other takes its runs over and every run completes; no agent call is
 * made more than twice (a call in flight at the kill is made again at most once), and resubmitting a
 * run starts nothing new. Prints the seed, the takeover time and where the runs ran.
 */
import { assert, describe, it } from "@effect/vitest"
import { FleetRun } from "@speckit/core"
import { Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import * as Runner from "../src/Runner.ts"
import { freshDatabase, stopServer } from "./postgres.ts"
import { config, freePort, readCalls, until } from "./run.ts"

afterAll(stopServer)

const script = fileURLToPath(new URL("./fixtures/fleet-runner.ts", import.meta.url))
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

const specText = "# Login\n\n## Requirements\n\n- Users sign in with email\n- Lock after 5 failures\n"

/** The calls logged by the runners, each with its run (the first part of the call). */
const readLog = (file: string) => readCalls(file).map((line) => ({ ...line, run: line.call.split("/")[0] ?? "" }))

/** A fleet runner process; `serving` resolves once it has registered the workflow. */
const startRunner = async (url: string, cache: string, log: string) => {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", script, url, String(await freePort()), cache, log],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
  )
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const serving = new Promise<boolean>((resolve) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes('"serving"')) resolve(true)
    })
    child.on("exit", () => resolve(false))
  })
  return { child, serving, stderr: () => stderr }
}

/** A submitted run's state once it is no longer running. */
const ended = (runId: string) =>
  Effect.gen(function* () {
    while (true) {
      const state = yield* FleetRun.poll(runId)
      if (state._tag !== "Running") return state
      yield* Effect.sleep("200 millis")
    }
  })

describe("Fleet", () => {
  it.live(
    "runs submitted to two runners all complete when one is SIGKILLed; calls are made at most twice, a resubmission starts nothing",
    () =>
      Effect.gen(function* () {
        const url = yield* freshDatabase
        const seed = Number(process.env.TEST_FLEET_SEED ?? Date.now() % 100_000)
        const delay = (seed * 7_919) % 1_000
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-fleet-"))
        const log = path.join(cache, "calls.log")
        const runners = yield* Effect.promise(async () => {
          const started = [await startRunner(url, cache, log), await startRunner(url, cache, log)]
          for (const runner of started) {
            if (!(await runner.serving)) throw new Error(`a runner did not start: ${runner.stderr()}`)
          }
          return started
        })
        const runIds = Array.from({ length: 4 }, (_, i) => `run-20261204-130000-fl${i}`)
        const client = Runner.client({ url, shardLockExpiration: "4 seconds", pollInterval: "100 millis" })

        const outcome = yield* Effect.gen(function* () {
          const payloadOf = (runId: string): FleetRun.Payload => ({
            runId,
            specId: "SPEC-1",
            specText,
            config: JSON.stringify(config)
          })
          const executions = yield* Effect.forEach(runIds, (runId) => FleetRun.submit(payloadOf(runId)))
          const again = yield* FleetRun.submit(payloadOf(runIds[0] ?? ""))
          // Once the runs are under way, the runner that made the first agent call is killed.
          const { victim, survivor, killedAt } = yield* Effect.promise(async () => {
            const busy = await until(() => readLog(log).length > 0, 60_000)
            if (!busy) throw new Error(`no run started: ${runners.map((runner) => runner.stderr()).join("\n")}`)
            const first = readLog(log)[0]?.pid
            const [victim, survivor] = runners[0]?.child.pid === first ? runners : [...runners].reverse()
            if (victim === undefined || survivor === undefined) throw new Error("two runners were started")
            await new Promise((resolve) => setTimeout(resolve, delay))
            // The moment of the kill, not of the exit: the other runner may take over before it is seen.
            const killedAt = Date.now()
            victim.child.kill("SIGKILL")
            await new Promise((resolve) => victim.child.once("exit", resolve))
            return { victim, survivor, killedAt }
          })
          const states = yield* Effect.forEach(runIds, (runId) =>
            ended(runId).pipe(Effect.timeoutOption("120 seconds"))
          )
          return { executions, again, victim, survivor, killedAt, states }
        }).pipe(Effect.provide(client.pipe(Layer.orDie)), Effect.scoped)
        const { victim, survivor } = outcome
        survivor.child.kill("SIGTERM")

        const lines = readLog(log)
        const afterKill = lines.filter((line) => line.pid !== victim.child.pid && line.at >= outcome.killedAt)
        const byVictim = new Set(lines.filter((line) => line.pid === victim.child.pid).map((line) => line.run))
        const bySurvivor = new Set(lines.filter((line) => line.pid === survivor.child.pid).map((line) => line.run))
        const takenOver = [...byVictim].filter((run) => bySurvivor.has(run))
        const takeoverMs = (afterKill.find((line) => takenOver.includes(line.run))?.at ?? Number.NaN) - outcome.killedAt
        const counts = new Map<string, number>()
        for (const line of lines.filter((l) => l.kind === "start"))
          counts.set(line.call, (counts.get(line.call) ?? 0) + 1)
        const remade = [...counts].filter(([, count]) => count > 1).map(([call]) => call)
        console.log(
          `seed ${seed}: SIGKILL ${delay} ms after the first agent call; runs begun on the victim ${byVictim.size}, taken over ${takenOver.length}, takeover (kill to its next call of a taken-over run) ${takeoverMs} ms; made again: ${remade.join(", ") || "none"}`
        )

        assert.strictEqual(outcome.again, outcome.executions[0], "a resubmitted run has the same execution")
        for (const [i, state] of outcome.states.entries()) {
          assert.deepStrictEqual(
            state._tag === "Some" ? state.value : state,
            { _tag: "Finished", status: "completed" },
            `${runIds[i]}: ${survivor.stderr()}`
          )
        }
        assert.isAbove(byVictim.size, 0, "the victim had runs")
        for (const [call, count] of counts) assert.isAtMost(count, 2, `${call} made ${count} times`)
        for (const runId of runIds) {
          for (const stage of ["plan", "tasks", "implement", "validate", "audit", "unlock"]) {
            assert.isTrue(
              fs.existsSync(path.join(cache, runId, "specs", "SPEC-1", `${stage}.md`)),
              `${runId}: ${stage}.md`
            )
          }
        }
      }),
    180_000
  )
})

/**
 * A fleet on PostgreSQL: 100 runs of 3 `sim` agents at 1 s latency (6 stages, so 6 s each at best),
 * submitted at once to one `speckit worker`, then to two, each time on a fresh database. Prints each
 * fleet's wall time from the first submission to the last run's end, and the workers' CPU per agent
 * call (their processes' user + system time, from /proc, over the calls made).
 *
 * The runs are submitted once the workers share the shards (each holds its part of the 300 shard
 * locks): a worker that joins a fleet whose runs are going takes its shards over from the others, and
 * the runs on those shards move to it between two steps (the CLI's fleet test measures that); that
 * one-time cost is a fleet's growth, not its throughput, and the time the shards took to settle is
 * printed apart.
 *
 * Then the takeover after a SIGKILL at the default settings: two workers, 20 runs going, the worker
 * running more of them killed; the time until the other writes a record of one of its runs (target
 * ≤ 15 s; every run must still complete).
 *
 * ratio = one worker's wall / the ideal (6 stages × 1 s): the fleet's overhead at 100 concurrent
 * runs. Informational target: within 5×. Needs PostgreSQL (`TEST_POSTGRES_URL`, which `.ci/run` sets, or
 * `scripts/postgres.sh`) and the built CLI (`pnpm build`).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { FleetRun } from "../packages/core/dist/index.js"
import { PgStore, Runner } from "../packages/postgres/dist/index.js"
import { type Benchmark, round2 } from "./Bench.ts"
import { freePort, freshDatabase, server } from "./Postgres.ts"

const runs = 100
const latencyMs = 1_000
const stages = 6
const agents = ["alpha", "beta", "gamma"]
const calls = runs * stages * agents.length
const idealMs = stages * latencyMs

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", "cli", "dist", "bundle", "speckit.js")

const config = JSON.stringify({
  agents: Object.fromEntries(
    agents.map((id, i) => [id, { provider: "sim", model: "sim-small", latencyMs, seed: i + 1 }])
  ),
  defaults: { quorum: "all" }
})

/** A process's user + system CPU time in ms, from /proc (Linux; clock ticks of 10 ms). */
const cpuMsOf = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** What the workers of the current fleet wrote on stderr (shown when a run fails). */
let workerLogs = ""

/** A `speckit worker` on a free port (at its default settings), once it listens. */
const startWorker = async (store: string, cache: string, address?: string): Promise<ChildProcess> => {
  const listen = address ?? `127.0.0.1:${await freePort()}`
  const child = spawn(process.execPath, [bin, "worker", "--store", store, "--listen", listen, "--cache", cache], {
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
      workerLogs += chunk.toString()
      if (stderr.includes("listening on")) resolve()
    })
    child.on("exit", (code) => reject(new Error(`a worker exited ${code}: ${stderr}`)))
  })
  return child
}

/** How many shard locks each runner of the database holds (PostgreSQL advisory locks, by session). */
const shardLocks = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly held: string | number }>`
    SELECT count(*) AS held FROM pg_locks l JOIN pg_database d ON d.oid = l.database
    WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() GROUP BY l.pid`
  return rows.map((row) => Number(row.held))
})

/** Waits until `workers` runners each hold at least a fair part of the 300 shards. */
const shardsSettled = (workers: number) =>
  Effect.gen(function* () {
    while (true) {
      const held = (yield* shardLocks).filter((count) => count >= 300 / workers - 30)
      if (held.length >= workers) return
      yield* Effect.sleep("200 millis")
    }
  })

/** Submits every run (the bench's one-line spec). */
const submitAll = (runIds: ReadonlyArray<string>) =>
  Effect.forEach(
    runIds,
    (runId) => FleetRun.submit({ runId, specId: "SPEC-1", specText: "# Greeting\n\nPrint a greeting.\n", config }),
    { concurrency: 10, discard: true }
  )

/** Polls the runs until none is running; fails (with the workers' last errors) if one did not complete. */
const awaitCompleted = (runIds: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    while (true) {
      const states = yield* Effect.forEach(runIds, FleetRun.poll, { concurrency: 10 })
      if (states.every((state) => state._tag !== "Running")) {
        const other = states.find((state) => state._tag !== "Finished" || state.status !== "completed")
        if (other !== undefined) {
          const errors = workerLogs
            .split("\n")
            .filter((line) => !line.startsWith("speckit worker: run "))
            .slice(-30)
          return yield* Effect.die(new Error(`a run did not complete: ${JSON.stringify(other)}\n${errors.join("\n")}`))
        }
        return
      }
      yield* Effect.sleep("250 millis")
    }
  })

/** Stops the workers still running (SIGTERM) and waits for each to exit. */
const stopWorkers = (processes: ReadonlyArray<ChildProcess>) => {
  for (const child of processes) child.kill("SIGTERM")
  return Promise.all(
    processes.map((child) =>
      child.exitCode !== null || child.signalCode !== null
        ? undefined
        : new Promise((resolve) => child.once("exit", resolve))
    )
  )
}

/** One fleet of `workers` workers on a fresh database: wall ms and the workers' CPU ms per agent call. */
const fleet = async (url: string, workers: number) => {
  const store = freshDatabase(url)
  const caches = await Promise.all(
    Array.from({ length: workers }, () => mkdtemp(join(tmpdir(), "speckit-bench-fleet-")))
  )
  const processes: Array<ChildProcess> = []
  try {
    for (const cache of caches) processes.push(await startWorker(store, cache))
    const runIds = Array.from({ length: runs }, (_, i) => `run-20261204-000000-w${workers}r${i}`)
    const joined = performance.now()
    await Effect.runPromise(
      shardsSettled(workers).pipe(
        Effect.timeout("60 seconds"),
        Effect.provide(PgStore.client({ url: store }).pipe(Layer.orDie))
      )
    )
    const settleMs = performance.now() - joined
    const started = performance.now()
    await Effect.runPromise(
      Effect.andThen(submitAll(runIds), awaitCompleted(runIds)).pipe(
        Effect.timeout("300 seconds"),
        Effect.provide(Runner.client({ url: store }).pipe(Layer.orDie))
      )
    )
    const wallMs = performance.now() - started
    const cpuMs = processes.reduce((total, child) => total + (child.pid === undefined ? 0 : cpuMsOf(child.pid)), 0)
    return { wallMs, cpuMsPerCall: cpuMs / calls, settleMs }
  } finally {
    await stopWorkers(processes)
    await Promise.all(caches.map((cache) => rm(cache, { recursive: true, force: true })))
  }
}

/** The workers that wrote each submitted run's last records (`PgRunStore` marks them), by run. */
const workersOfRuns = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ readonly run_id: string; readonly worker: string | null }>`
    SELECT run_id, worker FROM speckit_run_records`
  return new Map(rows.map((row) => [row.run_id, row.worker ?? ""]))
})

/**
 * Takeover after a SIGKILL at the default settings: two workers share the shards, 20 runs are going;
 * the worker running more of them is killed, and the time is taken until the other writes a record
 * (an event, an answer) of a run the killed one was running. Then every run must complete.
 */
const takeover = async (url: string) => {
  const store = freshDatabase(url)
  const caches = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), "speckit-bench-takeover-"))))
  const addresses = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`]
  const processes: Array<ChildProcess> = []
  try {
    for (const [i, cache] of caches.entries()) processes.push(await startWorker(store, cache, addresses[i]))
    const runIds = Array.from({ length: 20 }, (_, i) => `run-20261204-000000-k${i}`)
    const sql = PgStore.client({ url: store }).pipe(Layer.orDie)
    await Effect.runPromise(shardsSettled(2).pipe(Effect.timeout("60 seconds"), Effect.provide(sql)))
    const client = Runner.client({ url: store }).pipe(Layer.orDie)
    await Effect.runPromise(submitAll(runIds).pipe(Effect.provide(client)))
    const measured = await Effect.runPromise(
      Effect.gen(function* () {
        // Every run going, on one worker or the other.
        let owners = yield* workersOfRuns
        while (owners.size < runIds.length || [...owners.values()].some((worker) => worker === "")) {
          yield* Effect.sleep("50 millis")
          owners = yield* workersOfRuns
        }
        const count = (address: string | undefined) => [...owners.values()].filter((w) => w === address).length
        const victim = count(addresses[0]) >= count(addresses[1]) ? 0 : 1
        const victimRuns = [...owners].filter(([, worker]) => worker === addresses[victim]).map(([run]) => run)
        const killedAt = performance.now()
        processes[victim]?.kill("SIGKILL")
        while (true) {
          const now = yield* workersOfRuns
          if (victimRuns.some((run) => now.get(run) === addresses[1 - victim])) break
          yield* Effect.sleep("50 millis")
        }
        return { takeoverMs: performance.now() - killedAt, runsOnVictim: victimRuns.length }
      }).pipe(Effect.timeout("120 seconds"), Effect.provide(sql))
    )
    await Effect.runPromise(awaitCompleted(runIds).pipe(Effect.timeout("180 seconds"), Effect.provide(client)))
    return measured
  } finally {
    await stopWorkers(processes)
    await Promise.all(caches.map((cache) => rm(cache, { recursive: true, force: true })))
  }
}

const benchmark: Benchmark = {
  name: "fleet",
  description: `${runs} runs of ${agents.length} sim agents × ${stages} stages at ${latencyMs / 1000} s submitted at once to one speckit worker, then two, on PostgreSQL; then the takeover after a SIGKILL`,
  target: { ratio: 5, direction: "max" },
  run: async () => {
    const pg = server()
    try {
      const one = await fleet(pg.url, 1)
      const two = await fleet(pg.url, 2)
      const killed = await takeover(pg.url)
      return {
        baseline: { label: `ideal (${stages} stages × ${latencyMs} ms)`, value: idealMs, unit: "ms" },
        measured: { label: "one worker: wall", value: Math.round(one.wallMs), unit: "ms" },
        extra: [
          { label: "one worker: CPU per agent call", value: round2(one.cpuMsPerCall), unit: "ms" },
          { label: "two workers: wall", value: Math.round(two.wallMs), unit: "ms" },
          { label: "two workers: CPU per agent call", value: round2(two.cpuMsPerCall), unit: "ms" },
          { label: "two workers' wall / one's", value: round2(two.wallMs / one.wallMs), unit: "×" },
          { label: "two workers: shards settled after start", value: Math.round(two.settleMs), unit: "ms" },
          {
            label: `takeover after SIGKILL, default settings (${killed.runsOnVictim} of 20 runs on the killed worker)`,
            value: Math.round(killed.takeoverMs),
            unit: "ms"
          },
          { label: "takeover / its 15 s target", value: round2(killed.takeoverMs / 15_000), unit: "×" }
        ],
        details: { runs, agentCalls: calls }
      }
    } finally {
      pg.stop()
    }
  }
}

export default benchmark

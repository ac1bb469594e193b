/**
 * `speckit worker`, and `auto`, `status` and `cancel` with `--store`, as real processes on a real
 * PostgreSQL (the one `.ci/run` started, `TEST_POSTGRES_URL`, else one started here with
 * `scripts/postgres.sh`): a run submitted from a workspace runs on the worker, in its cache, and is
 * followed, looked up and cancelled from other processes; a worker stops on SIGTERM with exit 0.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { agentConfig, checkout, configure, repository, specId, summaryOf } from "./changes.ts"
import {
  ensureBuilt,
  execAgent,
  git,
  makeWorkspace,
  removeTempDirs,
  repoRoot,
  runCli,
  startCli,
  tempDir
} from "./helpers.ts"

const script = path.join(repoRoot, "scripts/postgres.sh")
let server: { readonly url: string; readonly dir: string | undefined } | undefined

/** The PostgreSQL server's URL: the one given, or one started here (stopped after the tests). */
const serverUrl = (): string => {
  if (server !== undefined) return server.url
  const given = process.env.TEST_POSTGRES_URL
  if (given !== undefined && given !== "") {
    server = { url: given, dir: undefined }
    return given
  }
  const output = execFileSync("bash", [script, "start"], { encoding: "utf8" })
  const value = (name: string) => output.match(new RegExp(`${name}=(\\S+)`))?.[1]
  server = { url: value("TEST_POSTGRES_URL") ?? "", dir: value("TEST_POSTGRES_DIR") }
  return server.url
}

/** A fresh database on the server: its URL. */
const freshStore = (): string =>
  execFileSync("bash", [script, "createdb", serverUrl(), `speckit_fleet_${process.pid}_${Date.now()}`], {
    encoding: "utf8"
  }).trim()

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const probe = net.createServer()
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

/** Every worker a test started: one a failed test left running is killed when the file ends. */
const started: Array<ReturnType<typeof startCli>> = []

beforeAll(ensureBuilt)
afterAll(() => {
  for (const worker of started) if (worker.child.exitCode === null) worker.child.kill("SIGKILL")
  removeTempDirs()
  if (server?.dir !== undefined) execFileSync("bash", [script, "stop", server.dir])
})

/** Three sim agents at `latencyMs`, answering every stage. */
const config = (latencyMs: number) => ({
  agents: Object.fromEntries(
    ["alpha", "beta", "gamma"].map((id, i) => [id, { provider: "sim", model: "sim-small", latencyMs, seed: i + 1 }])
  ),
  defaults: { quorum: "all" }
})

const stages = ["plan", "tasks", "implement", "validate", "audit", "unlock"]

/** A `speckit worker` process on a free port, once it says it listens. */
const startWorker = async (store: string, cache: string) => {
  const address = `127.0.0.1:${await freePort()}`
  const worker = startCli(["worker", "--store", store, "--listen", address, "--cache", cache], {
    timeoutMs: 170_000
  })
  started.push(worker)
  const deadline = Date.now() + 30_000
  while (!worker.stderr().includes("listening on") && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.include(worker.stderr(), `speckit worker: listening on ${address}`)
  return Object.assign(worker, { address })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface LoggedCall {
  readonly kind: string
  readonly run: string
  readonly stage: string
  readonly call: string
  readonly pid: number
  readonly worker: number
  readonly at: number
}

/** The exec agents' log (`fixtures/fleet/agent.mjs`). */
const readCalls = (file: string): ReadonlyArray<LoggedCall> =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
          const [kind = "", call = "", pid, worker, at] = line.split(" ")
          const [run = "", stage = ""] = call.split("/")
          return { kind, run, stage, call, pid: Number(pid), worker: Number(worker), at: Number(at) }
        })
    : []

const fleetAgent = path.join(repoRoot, "packages/cli/test/fixtures/fleet/agent.mjs")

/** `runs --store --json` once `count` runs are listed and none is running (or as it is at `timeoutMs`). */
const runsWhenEnded = async (store: string, count: number, timeoutMs: number) => {
  let listed: ReadonlyArray<{ readonly runId: string; readonly state: string; readonly status?: string }> = []
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    listed = JSON.parse((await runCli(["runs", "--store", store, "--json"])).stdout)
    if (listed.length === count && listed.every((run) => run.state !== "running")) break
    await sleep(1_000)
  }
  return listed
}

describe("speckit worker and --store", () => {
  it("a submitted run runs on the worker and is followed, looked up and cancelled from other processes; SIGTERM stops the worker with exit 0", async () => {
    const store = freshStore()
    const cache = tempDir()
    const worker = await startWorker(store, cache)

    // Followed: the run ends completed, exit 0; its artifacts are in the worker's cache.
    const workspace = makeWorkspace({ config: config(20) })
    const followed = await runCli(["auto", "SPEC-1", "-C", workspace, "--store", store, "--json"], {
      timeoutMs: 60_000
    })
    assert.strictEqual(followed.code, 0, followed.stderr)
    const finished = JSON.parse(followed.stdout) as {
      readonly runId: string
      readonly state: string
      readonly status: string
    }
    assert.deepInclude(finished, { state: "finished", status: "completed" })
    for (const stage of stages) {
      assert.isTrue(fs.existsSync(path.join(cache, finished.runId, "specs", "SPEC-1", `${stage}.md`)), stage)
    }
    assert.isFalse(fs.existsSync(path.join(workspace, ".speckit")), "nothing written in the submitting workspace")
    // Followed with the live view (on stderr with --json), from the events the worker logs in the store.
    assert.include(followed.stderr, `run ${finished.runId}: SPEC-1`)
    for (const stage of stages) assert.include(followed.stderr, `[${stage}] started with alpha, beta, gamma`)
    assert.include(followed.stderr, "[unlock] ok")

    // Its records are in the store: each stage's status, and the report, from any machine.
    const looked = JSON.parse((await runCli(["status", finished.runId, "--store", store, "--json"])).stdout) as {
      readonly stages: ReadonlyArray<{ readonly stage: string; readonly status: string }>
    }
    assert.deepStrictEqual(
      looked.stages,
      stages.map((stage) => ({ stage, status: "ok" }))
    )
    const elsewhere = tempDir()
    const reported = await runCli(["report", finished.runId, "--store", store, "-C", elsewhere, "--json"])
    assert.strictEqual(reported.code, 0, reported.stderr)
    const report = JSON.parse(reported.stdout) as { readonly report: string }
    assert.strictEqual(report.report, path.join(elsewhere, ".speckit", "fleet", finished.runId, "report.html"))
    const html = fs.readFileSync(report.report, "utf8")
    assert.include(html, finished.runId)
    // The cost report the worker's telemetry wrote (cost.json) is in the store too.
    assert.include(html, "tokens on failed or discarded attempts")
    for (const file of ["metrics.json", "cost.json", "report.html"]) {
      assert.isTrue(fs.existsSync(path.join(cache, finished.runId, ".speckit", "runs", finished.runId, file)), file)
    }
    for (const stage of stages) assert.include(html, stage)

    // Detached, with the store from SPECKIT_STORE: the run id at once, then looked up until it ends.
    const detached = await runCli(["auto", "SPEC-1", "-C", workspace, "--detach"], { env: { SPECKIT_STORE: store } })
    assert.strictEqual(detached.code, 0, detached.stderr)
    const runId = detached.stdout.trim()
    assert.match(runId, /^run-/)
    assert.include(detached.stderr, `speckit resume ${runId} --store`)
    let state = ""
    for (let i = 0; i < 200 && !state.includes('"finished"'); i++) {
      state = (await runCli(["status", runId, "--store", store, "--json"])).stdout
      if (!state.includes('"finished"')) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    assert.deepInclude(JSON.parse(state), { runId, state: "finished", status: "completed" })

    // Cancelled while its agents run (exec agents that take 60 s): it ends cancelled, their processes gone.
    const log = path.join(tempDir(), "calls.log")
    const slowAgent = { ...execAgent(), command: ["node", fleetAgent, log, "60000"], timeoutMs: 120_000 }
    const slow = makeWorkspace({ config: { agents: { alpha: slowAgent, beta: slowAgent, gamma: slowAgent } } })
    const submitted = await runCli(["auto", "SPEC-1", "-C", slow, "--store", store, "--detach"])
    const slowId = submitted.stdout.trim()
    while (readCalls(log).filter((call) => call.run === slowId).length < 3) await sleep(50)
    // A third process sees it running on the worker.
    const status = await runCli(["status", slowId, "--store", store])
    assert.match(
      status.stdout,
      new RegExp(
        `^run ${slowId} is running on the fleet, on worker ${worker.address.replace(/\./g, "\\.")} \\(its last record at `
      )
    )
    const cancelled = await runCli(["cancel", slowId, "--store", store])
    assert.strictEqual(cancelled.code, 0, cancelled.stderr)
    assert.strictEqual(cancelled.stdout, `cancelled run ${slowId}\n`)
    let after = ""
    for (let i = 0; i < 100 && !after.includes("cancelled"); i++) {
      after = (await runCli(["status", slowId, "--store", store])).stdout
      if (!after.includes("cancelled")) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    assert.strictEqual(after, `run ${slowId} cancelled\n`)
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    const agentPids = readCalls(log).map((call) => call.pid)
    for (let i = 0; i < 50 && agentPids.some(alive); i++) await sleep(100)
    assert.deepStrictEqual(agentPids.filter(alive), [], "the cancelled run's agent processes are gone")

    // An unknown run id is bad input, not a run waiting for a worker.
    const unknown = await runCli(["status", "run-20990101-000000-none", "--store", store])
    assert.strictEqual(unknown.code, 2)
    assert.include(unknown.stderr, "no run run-20990101-000000-none was submitted to the fleet")

    worker.child.kill("SIGTERM")
    const stopped = await worker.done
    assert.strictEqual(stopped.code, 0, stopped.stderr)
    assert.include(stopped.stderr, `speckit worker: run ${finished.runId} (SPEC-1)`)
    assert.include(stopped.stderr, "speckit worker: stopped")
  }, 180_000)

  it("20 runs of exec agents on two workers (5 changing code against a bare remote), one SIGKILLed mid-way: every run completes, recorded calls are not made again, in-flight ones at most once, every change is pushed; artifacts and delivered trees are those of the same runs on the embedded default", async () => {
    const store = freshStore()
    const log = path.join(tempDir(), "calls.log")
    const seed = Number(process.env.TEST_FLEET_SEED ?? Date.now() % 100_000)
    const delay = (seed * 7_919) % 1_500
    const caches = [tempDir(), tempDir()]
    const workers = [await startWorker(store, caches[0] ?? ""), await startWorker(store, caches[1] ?? "")]
    const workspace = makeWorkspace({
      config: {
        agents: Object.fromEntries(
          ["alpha", "beta", "gamma"].map((id) => [
            id,
            { ...execAgent(), command: ["node", fleetAgent, log, "150"], timeoutMs: 30_000 }
          ])
        ),
        defaults: { quorum: "all" }
      }
    })
    // The second batch changes code: a repository whose remote is a bare repository here.
    const changing = repository()
    // Three different candidates (one passes both checks), so that which one is selected does not
    // depend on the run's id (a tie is broken by an order the run's id seeds).
    const fleetChanges = (behaviour: string) => ({
      ...execAgent(),
      command: ["node", fleetAgent, log, "150", "--changes", "--behaviour", behaviour],
      timeoutMs: 30_000
    })
    configure(changing, { alpha: fleetChanges("good"), beta: fleetChanges("wrong"), gamma: fleetChanges("empty") })
    const remote = path.join(tempDir(), "math.git")
    git(changing, "clone", "--quiet", "--bare", changing, remote)
    git(changing, "remote", "add", "origin", remote)
    git(changing, "fetch", "--quiet", "origin")
    const runIds: Array<string> = []
    const changeRuns: Array<string> = []
    for (let batch = 0; batch < 4; batch++) {
      const from = batch === 1 ? changing : workspace
      const submitted = await Promise.all(
        Array.from({ length: 5 }, () => runCli(["auto", "SPEC-1", "-C", from, "--store", store, "--detach"]))
      )
      for (const result of submitted) {
        assert.strictEqual(result.code, 0, result.stderr)
        runIds.push(result.stdout.trim())
        if (batch === 1) changeRuns.push(result.stdout.trim())
      }
    }
    // The worker that made the first agent call is SIGKILLed, a seeded moment later.
    while (readCalls(log).length === 0) await sleep(25)
    const first = readCalls(log)[0]?.worker
    const victim = workers.find((worker) => worker.child.pid === first)
    const survivor = workers.find((worker) => worker.child.pid !== first)
    if (victim === undefined || survivor === undefined) throw new Error(`no worker has pid ${first}`)
    await sleep(delay)
    // The moment of the kill, not of the exit: the survivor may take a run over before the exit is seen.
    const killedAt = Date.now()
    victim.child.kill("SIGKILL")
    await victim.done

    const listed = await runsWhenEnded(store, 20, 150_000)
    survivor.child.kill("SIGTERM")
    const stopped = await survivor.done

    const calls = readCalls(log)
    const byVictim = calls.filter((call) => call.worker === victim.child.pid)
    const afterKill = calls.filter(
      (call) => call.kind === "start" && call.worker !== victim.child.pid && call.at >= killedAt
    )
    const takenOver = new Set(
      byVictim.map((call) => call.run).filter((run) => afterKill.some((call) => call.run === run))
    )
    const counts = new Map<string, number>()
    for (const call of calls.filter((c) => c.kind === "start")) counts.set(call.call, (counts.get(call.call) ?? 0) + 1)
    const remade = [...counts].filter(([, count]) => count > 1).map(([call]) => call)
    const firstAfter = afterKill.find((call) => takenOver.has(call.run))
    console.log(
      `seed ${seed}: SIGKILL ${delay} ms after the first agent call; runs begun on the killed worker ${new Set(byVictim.map((c) => c.run)).size}, taken over ${takenOver.size}; takeover (kill to the next call of a taken-over run) ${(firstAfter?.at ?? Number.NaN) - killedAt} ms; made again: ${remade.length} (${remade.join(", ") || "none"})`
    )

    assert.sameMembers(
      listed.map((run) => run.runId),
      runIds
    )
    for (const run of listed) assert.deepInclude(run, { state: "finished", status: "completed" }, JSON.stringify(run))
    for (const [call, count] of counts) assert.isAtMost(count, 2, `${call} made ${count} times`)
    // The runs that changed code pushed their branches, each on the base, with the change.
    const base = git(changing, "rev-parse", "HEAD")
    for (const run of changeRuns) {
      assert.strictEqual(git(remote, "rev-parse", `speckit/SPEC-1/${run}^`), base, run)
      assert.include(git(remote, "show", `speckit/SPEC-1/${run}:src/math.js`), "Math.min(Math.max(value, min), max)")
    }
    // Per run, a stage whose successor the killed worker had begun was recorded: none of its calls is made again.
    for (const run of takenOver) {
      const begun = new Set(byVictim.filter((call) => call.run === run).map((call) => call.stage))
      const recorded = stages.filter((_, i) => begun.has(stages[i + 1] ?? ""))
      for (const call of afterKill.filter((c) => c.run === run)) {
        assert.notInclude(recorded, call.stage, `${call.call} was recorded before the kill`)
      }
    }
    assert.strictEqual(stopped.code, 0, stopped.stderr)

    // The same runs on the embedded default: the same artifacts, and for the runs that changed code
    // the same delivered tree. Each fleet run's artifacts are in the cache of the worker that finished it.
    const cacheOf = (run: string) => {
      const last = calls.filter((call) => call.run === run).at(-1)
      return caches[workers.findIndex((worker) => worker.child.pid === last?.worker)] ?? ""
    }
    const normalised = (text: string) =>
      text.replaceAll(/run-\d{8}-\d{6}-[a-z0-9]{4}/g, "RUN").replaceAll(/Borda \d+/g, "Borda N")
    const local = await runCli(["auto", "SPEC-1", "-C", workspace, "--json"], { timeoutMs: 120_000 })
    assert.strictEqual(local.code, 0, local.stderr)
    const localArtifact = (stage: string) =>
      normalised(fs.readFileSync(path.join(workspace, "specs", "SPEC-1", `${stage}.md`), "utf8"))
    for (const run of runIds.filter((id) => !changeRuns.includes(id))) {
      for (const stage of stages.slice(0, -1)) {
        const file = path.join(cacheOf(run), run, "specs", "SPEC-1", `${stage}.md`)
        assert.strictEqual(normalised(fs.readFileSync(file, "utf8")), localArtifact(stage), `${run}: ${stage}`)
      }
    }
    const localChange = await runCli(["auto", "SPEC-1", "-C", changing, "--json"], { timeoutMs: 120_000 })
    assert.strictEqual(localChange.code, 0, localChange.stderr)
    const delivered = summaryOf(localChange).delivery?.branch ?? ""
    const filesOf = (repo: string, ref: string) => git(repo, "ls-tree", "-r", "--name-only", ref)
    const artifactAt = (repo: string, ref: string, stage: string) =>
      normalised(git(repo, "show", `${ref}:specs/SPEC-1/${stage}.md`))
    for (const run of changeRuns) {
      const branch = `speckit/SPEC-1/${run}`
      assert.strictEqual(filesOf(remote, branch), filesOf(changing, delivered), run)
      for (const tree of ["src", "test"]) {
        assert.strictEqual(
          git(remote, "rev-parse", `${branch}:${tree}`),
          git(changing, "rev-parse", `${delivered}:${tree}`)
        )
      }
      for (const stage of stages.slice(0, -1)) {
        assert.strictEqual(
          artifactAt(remote, branch, stage),
          artifactAt(changing, delivered, stage),
          `${run}: ${stage}`
        )
      }
    }
  }, 300_000)

  it("a run that changes code: the worker checks the base out from the remote, runs the checks there and pushes speckit/<SPEC-ID>/<run-id>, the tree the embedded default delivers; a remote it cannot reach fails the run", async () => {
    const store = freshStore()
    const cache = tempDir()
    const worker = await startWorker(store, cache)
    const dir = repository()
    configure(dir, { right: agentConfig("good"), wrong: agentConfig("wrong") })
    const remote = path.join(tempDir(), "math.git")
    git(dir, "clone", "--quiet", "--bare", dir, remote)
    git(dir, "remote", "add", "origin", remote)
    git(dir, "fetch", "--quiet", "origin")
    const before = checkout(dir)

    const fleet = await runCli(["auto", specId, "-C", dir, "--store", store, "--json"], { timeoutMs: 120_000 })
    assert.strictEqual(fleet.code, 0, `${fleet.stderr}\n${worker.stderr()}`)
    const runId = (JSON.parse(fleet.stdout) as { readonly runId: string }).runId
    const branch = `speckit/${specId}/${runId}`
    assert.strictEqual(git(remote, "rev-parse", `${branch}^`), before.head)
    assert.include(git(remote, "show", `${branch}:src/math.js`), "Math.min(Math.max(value, min), max)")
    assert.include(git(remote, "show", `${branch}:specs/${specId}/validate.md`), "right")
    assert.deepStrictEqual(checkout(dir), before, "the submitting checkout is untouched")
    assert.strictEqual(git(dir, "branch", "--list", "speckit/*"), "")

    // The same spec on the embedded default delivers the same change and the same artifacts' files.
    const local = await runCli(["auto", specId, "-C", dir, "--json"], { timeoutMs: 120_000 })
    assert.strictEqual(local.code, 0, local.stderr)
    const delivered = summaryOf(local).delivery?.branch ?? ""
    const filesOf = (repo: string, ref: string) => git(repo, "ls-tree", "-r", "--name-only", ref).split("\n")
    assert.deepStrictEqual(filesOf(remote, branch), filesOf(dir, delivered))
    assert.strictEqual(git(remote, "rev-parse", `${branch}:src`), git(dir, "rev-parse", `${delivered}:src`))
    assert.strictEqual(git(remote, "rev-parse", `${branch}:test`), git(dir, "rev-parse", `${delivered}:test`))
    // The artifacts differ only by the run's id and what it seeds (the anonymised candidates' order).
    const artifact = (repo: string, ref: string, stage: string) =>
      git(repo, "show", `${ref}:specs/${specId}/${stage}.md`)
        .replaceAll(/run-\d{8}-\d{6}-[a-z0-9]{4}/g, "RUN")
        .replaceAll(/Borda \d+/g, "Borda N")
    for (const stage of stages.slice(0, -1)) {
      assert.strictEqual(artifact(remote, branch, stage), artifact(dir, delivered, stage), stage)
    }

    // A remote the worker cannot reach fails the run at its first step, with the reason.
    const unreachable = await runCli(
      ["auto", specId, "-C", dir, "--store", store, "--remote", path.join(cache, "gone.git"), "--json"],
      { timeoutMs: 60_000 }
    )
    assert.strictEqual(unreachable.code, 1, unreachable.stderr)
    const failed = JSON.parse(unreachable.stdout) as { readonly state: string; readonly reason: string }
    assert.strictEqual(failed.state, "failed")
    assert.include(failed.reason, `cannot use repository ${path.join(cache, "gone.git")}`)

    worker.child.kill("SIGTERM")
    assert.strictEqual((await worker.done).code, 0)
  }, 240_000)

  it("a run paused for a review on a fleet: followed to exit 3, shown paused, approved from another process, then it completes on its worker", async () => {
    const store = freshStore()
    const worker = await startWorker(store, tempDir())
    // gamma fails validate, where all must agree: a conflict that pauses the run.
    const workspace = makeWorkspace({
      config: {
        agents: { alpha: execAgent(), beta: execAgent(), gamma: execAgent("fail") },
        defaults: { quorum: "majority" },
        stages: { validate: { quorum: "all", onConflict: "pause" } }
      }
    })
    const followed = await runCli(["auto", "SPEC-1", "-C", workspace, "--store", store, "--json"], {
      timeoutMs: 60_000
    })
    assert.strictEqual(followed.code, 3, `${followed.stderr}\n${worker.stderr()}`)
    const paused = JSON.parse(followed.stdout) as {
      readonly runId: string
      readonly state: string
      readonly pause: unknown
    }
    assert.deepStrictEqual(paused.pause, { kind: "review", name: "review/validate", stage: "validate" })
    const runId = paused.runId
    const shown = await runCli(["status", runId, "--store", store])
    assert.match(
      shown.stdout,
      new RegExp(`^run ${runId} is paused on the fleet, waiting for a review \\(review/validate\\)`)
    )
    assert.include(shown.stdout, "  validate: conflict")
    const listed = await runCli(["runs", "--store", store])
    assert.include(listed.stdout, `${runId}  SPEC-1  paused (review/validate)`)

    const wrong = await runCli(["budget", runId, "--usd", "5", "--store", store])
    assert.strictEqual(wrong.code, 2)
    assert.include(
      wrong.stderr,
      `run ${runId} is not waiting for a budget raise (it waits for a review: review/validate)`
    )
    const approved = await runCli(["approve", runId, "--note", "wording only", "--store", store])
    assert.strictEqual(approved.code, 0, approved.stderr)
    assert.include(approved.stdout, `answered run ${runId} (review/validate)`)
    // Followed again from another process until it completes.
    const resumed = await runCli(["resume", runId, "--store", store, "--json"], { timeoutMs: 60_000 })
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.deepStrictEqual(JSON.parse(resumed.stdout), { runId, state: "finished", status: "completed" })
    assert.match(resumed.stderr, /\[audit\] alpha: ok/)
    const again = await runCli(["approve", runId, "--store", store])
    assert.strictEqual(again.code, 2)
    assert.include(again.stderr, `run ${runId} is not waiting for a review`)
    worker.child.kill("SIGTERM")
    assert.strictEqual((await worker.done).code, 0)
  }, 180_000)

  it("a worker stopped with SIGTERM in a 20 s step: the step finishes, the run is handed over before its next step and completes on the other worker, nothing made again", async () => {
    const store = freshStore()
    const log = path.join(tempDir(), "calls.log")
    const workers = [await startWorker(store, tempDir()), await startWorker(store, tempDir())]
    // The shards settle between the two (a run on a shard that moves would wait for the move).
    await sleep(3_000)
    // The plan stage's calls take 20 s, longer than the cluster's 15 s termination timeout.
    const slowPlan = { ...execAgent(), command: ["node", fleetAgent, log, "20000:plan"], timeoutMs: 60_000 }
    const workspace = makeWorkspace({
      config: { agents: { alpha: slowPlan, beta: slowPlan, gamma: slowPlan }, defaults: { quorum: "all" } }
    })
    const submitted = await runCli(["auto", "SPEC-1", "-C", workspace, "--store", store, "--detach"])
    const runId = submitted.stdout.trim()
    while (readCalls(log).filter((call) => call.kind === "start").length < 3) await sleep(50)
    const victim = workers.find((worker) => worker.child.pid === readCalls(log)[0]?.worker)
    const survivor = workers.find((worker) => worker !== victim)
    if (victim === undefined || survivor === undefined) throw new Error("no worker made the first call")
    const stoppedAt = Date.now()
    victim.child.kill("SIGTERM")
    const stopped = await victim.done
    const stoppedAfter = Date.now() - stoppedAt
    assert.strictEqual(stopped.code, 0, stopped.stderr)
    assert.include(stopped.stderr, `speckit worker: run ${runId} handed over`)
    let state = ""
    for (let i = 0; i < 300 && !state.includes('"finished"'); i++) {
      state = (await runCli(["status", runId, "--store", store, "--json"])).stdout
      if (!state.includes('"finished"')) await sleep(200)
    }
    assert.deepInclude(JSON.parse(state), { runId, state: "finished", status: "completed" })
    const calls = readCalls(log)
    // The three plan calls ran once each, to the end, on the stopped worker.
    assert.sameMembers(
      calls.filter((call) => call.stage === "plan").map((call) => `${call.kind} ${call.call} ${call.worker}`),
      ["alpha", "beta", "gamma"].flatMap((agent) =>
        ["start", "done"].map((kind) => `${kind} ${runId}/plan/${agent} ${victim.child.pid}`)
      )
    )
    // Every later stage ran on the other worker, each call once.
    const later = calls.filter((call) => call.stage !== "plan" && call.kind === "start")
    assert.lengthOf(later, 15)
    assert.isTrue(later.every((call) => call.worker === survivor.child.pid))
    console.log(`SIGTERM in a 20 s step: the stopped worker exited ${stoppedAfter} ms later, its step done`)
    survivor.child.kill("SIGTERM")
    assert.strictEqual((await survivor.done).code, 0)
  }, 180_000)

  it("a worker joining a busy fleet: the runs on the shards it takes leave the first worker before their next step and go on with it at once, nothing made again", async () => {
    const store = freshStore()
    const log = path.join(tempDir(), "calls.log")
    const first = await startWorker(store, tempDir())
    // Each call takes 3 s: a run (six stages) takes longer than the cluster's 15 s termination timeout,
    // which a run still going on a shard being moved would wait for.
    const slow = { ...execAgent(), command: ["node", fleetAgent, log, "3000"], timeoutMs: 60_000 }
    const workspace = makeWorkspace({
      config: { agents: { alpha: slow, beta: slow, gamma: slow }, defaults: { quorum: "all" } }
    })
    const runIds = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const submitted = await runCli(["auto", "SPEC-1", "-C", workspace, "--store", store, "--detach"])
        assert.strictEqual(submitted.code, 0, submitted.stderr)
        return submitted.stdout.trim()
      })
    )
    while (new Set(readCalls(log).map((call) => call.run)).size < runIds.length) await sleep(100)
    const joinedAt = Date.now()
    const joining = await startWorker(store, tempDir())
    const listed = await runsWhenEnded(store, runIds.length, 120_000)
    first.child.kill("SIGTERM")
    joining.child.kill("SIGTERM")
    const [firstStopped, joiningStopped] = await Promise.all([first.done, joining.done])
    for (const worker of [firstStopped, joiningStopped]) assert.strictEqual(worker?.code, 0, worker?.stderr)

    for (const run of listed) assert.deepInclude(run, { state: "finished", status: "completed" }, JSON.stringify(run))
    const calls = readCalls(log)
    const starts = calls.filter((call) => call.kind === "start")
    assert.strictEqual(new Set(starts.map((call) => call.call)).size, starts.length, "no call made twice")
    const moved = runIds.filter((run) => starts.some((call) => call.run === run && call.worker === joining.child.pid))
    // How many runs move depends on where their ids hash (usually some); each that moved was handed over.
    for (const run of moved) {
      assert.include(firstStopped?.stderr, `speckit worker: run ${run} handed over (its shard moved to another worker)`)
    }
    const gaps = moved.map((run) => {
      const lastOnFirst = Math.max(
        ...calls.filter((call) => call.run === run && call.worker === first.child.pid).map((call) => call.at)
      )
      const firstOnJoining = Math.min(
        ...starts.filter((call) => call.run === run && call.worker === joining.child.pid).map((call) => call.at)
      )
      return firstOnJoining - lastOnFirst
    })
    console.log(
      `a worker joined ${runIds.length} busy runs: ${moved.length} moved to it (${Date.now() - joinedAt} ms from its start to the end); between a moved run's last call on the first worker and its next on the joining one: ${gaps.join(", ")} ms`
    )
  }, 240_000)

  it("a store that cannot be used, a bad --listen, --detach without a store, --apply with one: one line, exit 2", async () => {
    const workspace = makeWorkspace({ config: config(10) })
    for (const [args, expected] of [
      [
        ["worker", "--store", "postgres://speckit@127.0.0.1:1/none"],
        "cannot use PostgreSQL store postgres://speckit@127.0.0.1:1/none"
      ],
      [["worker", "--store", "postgres://x/y", "--listen", "nowhere"], "--listen nowhere is not HOST:PORT"],
      [["status", "run-1", "--store", "mysql://db/x"], "not a postgres:// URL"],
      [["auto", "SPEC-1", "-C", workspace, "--detach"], "--detach is for a run submitted to a fleet: give --store"],
      [["auto", "SPEC-1", "-C", workspace, "--remote", "origin"], "--remote is for a run submitted to a fleet"],
      [["cancel", "run-1"], "cancel stops a run submitted to a fleet"],
      [
        ["auto", "SPEC-1", "-C", workspace, "--store", "postgres://x/y", "--remote", "upstream"],
        "a run that changes code on a fleet needs a remote its workers can reach: the workspace is in no git repository with a commit"
      ],
      [
        ["auto", "SPEC-1", "-C", workspace, "--store", "postgres://x/y", "--apply"],
        "--apply works on a run in this workspace, not on a run submitted with --store"
      ]
    ] as const) {
      const result = await runCli(args, { env: { SPECKIT_STORE: "" } })
      assert.strictEqual(result.code, 2, `${args.join(" ")}: ${result.stderr}`)
      assert.include(result.stderr, expected)
      assert.strictEqual(result.stderr.trim().split("\n").length, 1, result.stderr)
    }
  })
})

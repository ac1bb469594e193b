import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { ensureBuilt, git, makeWorkspace, readJson, removeTempDirs, runCli, tempDir } from "./helpers.ts"

beforeAll(ensureBuilt, 120_000)
afterAll(removeTempDirs)

const fastSims = {
  agents: {
    alpha: { provider: "sim", model: "sim-large", latencyMs: 5, seed: 1 },
    beta: { provider: "sim", model: "sim-small", latencyMs: 5, seed: 2 }
  }
}

/** A workspace committed to a new git repository, on `branch`. */
const committedWorkspace = (branch: string) => {
  const dir = makeWorkspace({ config: fastSims })
  git(dir, "init", "-q", "-b", branch)
  git(dir, "add", ".")
  git(dir, "commit", "-q", "-m", "spec")
  return dir
}

describe("speckit runs and status", () => {
  it("records the git branch and commit and lists the runs newest first", async () => {
    const dir = committedWorkspace("feature/greeting")
    const first = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(first.code, 0, first.stderr)
    const second = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(second.code, 0, second.stderr)
    const firstId = JSON.parse(first.stdout).runId
    const secondId = JSON.parse(second.stdout).runId

    const record = readJson(path.join(dir, ".speckit", "runs", firstId, "run.json")) as {
      git?: { branch: string; commit: string }
    }
    assert.deepStrictEqual(record.git, { branch: "feature/greeting", commit: git(dir, "rev-parse", "HEAD") })

    const listed = await runCli(["runs", "-C", dir, "--json"])
    assert.strictEqual(listed.code, 0, listed.stderr)
    const runs = JSON.parse(listed.stdout) as Array<{ runId: string; branch: string; status: string; costUsd: number }>
    assert.deepStrictEqual(
      runs.map((r) => r.runId),
      [secondId, firstId]
    )
    for (const run of runs) {
      assert.strictEqual(run.branch, "feature/greeting")
      assert.strictEqual(run.status, "completed")
      assert.isAbove(run.costUsd, 0)
    }
    const table = await runCli(["runs", "-C", dir])
    assert.match(table.stdout, /^RUN\s+SPEC\s+BRANCH\s+STATUS\s+COST\s+AGE$/m)
    assert.include(table.stdout, `${firstId}  SPEC-1`)
  })

  it("shows a run's status, the newest by default, and its summary with --json", async () => {
    const dir = makeWorkspace({ config: fastSims })
    const done = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    const runId = JSON.parse(done.stdout).runId
    const text = await runCli(["status", "-C", dir])
    assert.strictEqual(text.code, 0, text.stderr)
    assert.include(text.stdout, `run ${runId}`)
    assert.match(text.stdout, /status {3}completed {2}phase Completed/)
    for (const stage of ["plan", "tasks", "implement", "validate", "audit", "unlock"])
      assert.include(text.stdout, stage)
    const json = await runCli(["status", runId, "-C", dir, "--json"])
    assert.deepStrictEqual(JSON.parse(json.stdout), JSON.parse(done.stdout))
  })

  it("lists runs from their summary heads (status.json); status reads the one run's whole summary", async () => {
    const dir = makeWorkspace({ config: fastSims })
    const done = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(done.code, 0, done.stderr)
    const summary = JSON.parse(done.stdout) as { runId: string; status: string; phase: string; costUsd: number }
    const runDir = path.join(dir, ".speckit", "runs", summary.runId)
    const head = readJson(path.join(runDir, "status.json")) as { status: string; costUsd: number; finishedAt: string }
    assert.strictEqual(head.status, "completed")
    assert.strictEqual(head.costUsd, summary.costUsd)
    const listedFrom = async () => {
      const listed = await runCli(["runs", "-C", dir, "--json"])
      assert.strictEqual(listed.code, 0, listed.stderr)
      return JSON.parse(listed.stdout) as Array<{ runId: string; status: string; costUsd: number; finishedAt?: string }>
    }
    // The listing does not read the summary: a summary it cannot parse changes nothing in it.
    const whole = fs.readFileSync(path.join(runDir, "summary.json"), "utf8")
    fs.writeFileSync(path.join(runDir, "summary.json"), "{ not json")
    const [listed] = await listedFrom()
    assert.deepStrictEqual(
      { runId: listed?.runId, status: listed?.status, costUsd: listed?.costUsd, finishedAt: listed?.finishedAt },
      { runId: summary.runId, status: "completed", costUsd: summary.costUsd, finishedAt: head.finishedAt }
    )
    // A run recorded without a head (an older speckit) is listed from its summary.
    fs.writeFileSync(path.join(runDir, "summary.json"), whole)
    fs.rmSync(path.join(runDir, "status.json"))
    const [legacy] = await listedFrom()
    assert.strictEqual(legacy?.status, "completed")
    assert.strictEqual(legacy?.costUsd, summary.costUsd)
    const status = await runCli(["status", summary.runId, "-C", dir, "--json"])
    assert.deepStrictEqual(JSON.parse(status.stdout), JSON.parse(done.stdout))
  })

  it("says when there are no runs or no such run: exit 2", async () => {
    const dir = tempDir()
    const empty = await runCli(["runs", "-C", dir])
    assert.strictEqual(empty.code, 0)
    assert.include(empty.stdout, "no runs in this workspace yet")
    const missing = await runCli(["status", "run-nope", "-C", dir])
    assert.strictEqual(missing.code, 2)
    assert.include(missing.stderr, "speckit: error: no run run-nope in this workspace")
  })

  it("lists many runs newest first, whatever their folders' order; status finds a named run", async () => {
    const dir = tempDir()
    const runsDir = path.join(dir, ".speckit", "runs")
    // 40 finished runs written in a scrambled order, each started a minute after the one before.
    const ids = Array.from({ length: 40 }, (_, i) => `run-20260101-00${String(i).padStart(2, "0")}00-ab${i}`)
    const startedAt = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString()
    for (const i of ids.map((_, i) => (i * 17) % ids.length)) {
      const runId = ids[i] ?? ""
      const runDir = path.join(runsDir, runId)
      fs.mkdirSync(runDir, { recursive: true })
      fs.writeFileSync(
        path.join(runDir, "run.json"),
        JSON.stringify({ runId, specId: "SPEC-1", startedAt: startedAt(i) })
      )
      const head = {
        runId,
        specId: "SPEC-1",
        status: "completed",
        phase: "Completed",
        startedAt: startedAt(i),
        costUsd: i
      }
      fs.writeFileSync(path.join(runDir, "status.json"), JSON.stringify(head))
      fs.writeFileSync(path.join(runDir, "summary.json"), JSON.stringify({ ...head, stages: [] }))
    }
    // Not runs: a folder without a record, and one whose record is not JSON.
    fs.mkdirSync(path.join(runsDir, "stray"), { recursive: true })
    fs.mkdirSync(path.join(runsDir, "run-broken"), { recursive: true })
    fs.writeFileSync(path.join(runsDir, "run-broken", "run.json"), "{ not json")
    // A run recorded under another folder name than its id (moved by hand) is still found by its id.
    const moved = path.join(runsDir, "moved")
    fs.mkdirSync(moved)
    fs.writeFileSync(
      path.join(moved, "run.json"),
      JSON.stringify({ runId: "run-19990101-000000-old", specId: "SPEC-0", startedAt: "1999-01-01T00:00:00.000Z" })
    )

    const listed = await runCli(["runs", "-C", dir, "--json"])
    assert.strictEqual(listed.code, 0, listed.stderr)
    const runs = JSON.parse(listed.stdout) as Array<{ runId: string; costUsd: number; status: string }>
    assert.deepStrictEqual(
      runs.map((run) => run.runId),
      [...[...ids].reverse(), "run-19990101-000000-old"]
    )
    assert.deepStrictEqual(
      runs.slice(0, 3).map((run) => run.costUsd),
      [39, 38, 37]
    )
    const newest = await runCli(["status", "-C", dir, "--json"])
    assert.strictEqual((JSON.parse(newest.stdout) as { runId: string }).runId, ids.at(-1))
    const named = await runCli(["status", ids[7] ?? "", "-C", dir, "--json"])
    assert.deepStrictEqual(JSON.parse(named.stdout) as unknown, {
      ...(readJson(path.join(runsDir, ids[7] ?? "", "summary.json")) as object)
    })
    const old = await runCli(["status", "run-19990101-000000-old", "-C", dir])
    assert.strictEqual(old.code, 0, old.stderr)
    assert.include(old.stdout, "run run-19990101-000000-old  spec SPEC-0")
    assert.include(old.stdout, "unfinished")
  })

  it("status names the worktrees a crash left of the run, until `speckit clean` removes them", async () => {
    const dir = committedWorkspace("main")
    const done = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(done.code, 0, done.stderr)
    const runId = (JSON.parse(done.stdout) as { runId: string }).runId
    const clean = await runCli(["status", runId, "-C", dir, "--json"])
    assert.notProperty(JSON.parse(clean.stdout), "leftovers")

    // What a killed run leaves: a worktree of its own, registered with git, holding a change.
    const worktree = path.join(dir, ".speckit", "worktrees", runId, "alpha")
    git(dir, "worktree", "add", "-q", "--detach", worktree)
    fs.writeFileSync(path.join(worktree, "half-done.txt"), "work in progress\n")
    const text = await runCli(["status", runId, "-C", dir])
    assert.strictEqual(text.code, 0, text.stderr)
    assert.include(
      text.stdout,
      `leftovers 1 worktree(s) from a crash: alpha (held changes); remove them with \`speckit clean ${runId}\``
    )
    const json = JSON.parse((await runCli(["status", runId, "-C", dir, "--json"])).stdout) as {
      leftovers?: Array<{ name: string; dirty: boolean }>
    }
    assert.deepStrictEqual(
      json.leftovers?.map(({ name, dirty }) => ({ name, dirty })),
      [{ name: "alpha", dirty: true }]
    )

    const cleaned = await runCli(["clean", runId, "-C", dir])
    assert.strictEqual(cleaned.code, 0, cleaned.stderr)
    assert.isFalse(fs.existsSync(worktree))
    const after = await runCli(["status", runId, "-C", dir])
    assert.notInclude(after.stdout, "leftovers")
  })

  it("lists a run stopped abruptly as unfinished", async () => {
    const dir = makeWorkspace({ config: fastSims })
    const runDir = path.join(dir, ".speckit", "runs", "run-20260101-000000-abcd")
    fs.mkdirSync(runDir, { recursive: true })
    fs.writeFileSync(
      path.join(runDir, "run.json"),
      JSON.stringify({ runId: "run-20260101-000000-abcd", specId: "SPEC-1", startedAt: "2026-01-01T00:00:00.000Z" })
    )
    const listed = await runCli(["runs", "-C", dir, "--json"])
    const [run] = JSON.parse(listed.stdout) as Array<{ status: string }>
    assert.strictEqual(run?.status, "unfinished")
    const status = await runCli(["status", "-C", dir])
    assert.include(status.stdout, "unfinished")
  })
})

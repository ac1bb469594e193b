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

describe("speckit runs and status", () => {
  it("records the git branch and commit and lists the runs newest first", async () => {
    const dir = makeWorkspace({ config: fastSims })
    git(dir, "init", "-q", "-b", "feature/greeting")
    git(dir, "add", ".")
    git(dir, "commit", "-q", "-m", "spec")
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

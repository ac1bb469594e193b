/**
 * Answers real models give, end to end: three exec agents (real subprocesses) answering every stage
 * near the requested shape (synonyms, strings for lists, prose, fences, broken JSON) complete a run
 * with no repair round-trip, the repairs recorded with each answer; with `answers.strict` the same run
 * fails, as it did before the repairs existed. And every cent is counted: agents answering at the same
 * instant in a majority run are all billed, the ones stopped by the early decision included.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { SummaryText } from "@speckit/cli"
import { RunStore, type RunSummary } from "@speckit/core"
import {
  ensureBuilt,
  execAgent,
  freePrice,
  makeWorkspace,
  removeTempDirs,
  repoRoot,
  runCli,
  stages,
  tempDir
} from "./helpers.ts"

interface Summary {
  readonly status: string
  readonly runDir: string
  readonly stages: ReadonlyArray<{
    readonly stage: string
    readonly status: string
    readonly agents: ReadonlyArray<{
      readonly agent: string
      readonly status: string
      readonly attempts: number
      readonly costUsd: number
      readonly estimatedCostUsd?: number
      readonly error?: { readonly kind: string; readonly detail: string }
    }>
  }>
}

const nearMissWorkspace = (strict: boolean) =>
  makeWorkspace({
    config: {
      agents: { a: execAgent("near"), b: execAgent("near"), c: execAgent("near") },
      defaults: { agents: ["a", "b", "c"], quorum: "all" },
      implement: { mode: "describe" },
      ...(strict ? { answers: { strict: true } } : {})
    }
  })

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => removeTempDirs())

describe("near-miss answers", () => {
  it("three agents answering near the shape complete the run with no repair round-trip", async () => {
    const dir = nearMissWorkspace(false)
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"], { timeoutMs: 60_000 })
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout) as Summary
    assert.strictEqual(summary.status, "completed")
    assert.deepStrictEqual(
      summary.stages.map((s) => s.stage),
      [...stages]
    )
    for (const stage of summary.stages) {
      for (const agent of stage.agents) {
        assert.strictEqual(agent.status, "succeeded", `${stage.stage}/${agent.agent}`)
        assert.strictEqual(agent.attempts, 1, `${stage.stage}/${agent.agent}: no repair round-trip`)
      }
    }
    // Every answer is recorded with the repairs that read it.
    interface SavedAnswer {
      readonly agent: string
      readonly attempt: number
      readonly repairs?: ReadonlyArray<string>
    }
    const answer = (stage: string, agent: string): SavedAnswer | undefined =>
      (
        RunStore.parseJsonLines(
          fs.readFileSync(path.join(dir, summary.runDir, "answers", `${stage}.jsonl`), "utf8")
        ) as Array<SavedAnswer>
      ).find((saved) => saved.agent === agent && saved.attempt === 1)
    const unlockA = answer("unlock", "a")?.repairs ?? []
    assert.isTrue(unlockA.includes("repaired JSON syntax"), JSON.stringify(unlockA))
    assert.isTrue(
      unlockA.some((r) => r.includes('"approve" read as "unlock"')),
      JSON.stringify(unlockA)
    )
    const planB = answer("plan", "b")?.repairs ?? []
    assert.isTrue(
      planB.some((r) => r.includes('filled "stage"')),
      JSON.stringify(planB)
    )
    assert.isTrue(
      planB.some((r) => r.includes("work_breakdown[0] given as a string")),
      JSON.stringify(planB)
    )
    const validateC = answer("validate", "c")?.repairs ?? []
    assert.isTrue(
      validateC.some((r) => r.includes("fenced block")),
      JSON.stringify(validateC)
    )
    assert.isTrue(
      validateC.some((r) => r.includes('"passed" read as "pass"')),
      JSON.stringify(validateC)
    )
  }, 90_000)

  it("with answers.strict the same run fails, each agent's reason on one summary line", async () => {
    const dir = nearMissWorkspace(true)
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"], { timeoutMs: 60_000 })
    assert.strictEqual(result.code, 1, result.stderr)
    const summary = JSON.parse(result.stdout) as Summary
    assert.strictEqual(summary.status, "halted")
    const plan = summary.stages.find((s) => s.stage === "plan")
    assert.strictEqual(plan?.status, "failed")
    for (const agent of plan?.agents ?? []) {
      assert.strictEqual(agent.status, "failed")
      assert.strictEqual(agent.error?.kind, "Malformed")
    }
    const text = SummaryText.format(summary as unknown as RunSummary.RunSummary)
    const failed = text.split("\n").filter((line) => line.trimStart().startsWith("failed"))
    assert.lengthOf(failed, 3, text)
    for (const line of failed) assert.match(line, /failed\s+plan [abc]: Malformed: \S/)
  }, 120_000)
})

describe("every cent counted", () => {
  it("a majority run with three agents answering at the same instant: costUsd is the sum of what they reported", async () => {
    const ledger = path.join(tempDir(), "ledger.txt")
    const script = path.join(repoRoot, "packages/cli/test/fixtures/answers/same-instant.mjs")
    const agent = { provider: "exec", command: ["node", script, ledger], format: "claude", price: freePrice }
    const dir = makeWorkspace({
      config: {
        agents: { a: agent, b: agent, c: agent },
        defaults: { agents: ["a", "b", "c"], quorum: "majority" },
        implement: { mode: "describe" }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"], { timeoutMs: 60_000 })
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout) as Summary & { readonly costUsd: number }
    const billed = fs
      .readFileSync(ledger, "utf8")
      .trim()
      .split("\n")
      .map((line) => Number(line.split(" ")[2]))
    const agentsTotal = summary.stages.flatMap((s) => s.agents).reduce((sum, a) => sum + a.costUsd, 0)
    assert.closeTo(
      summary.costUsd,
      billed.reduce((sum, cost) => sum + cost, 0),
      1e-9,
      `billed ${billed.length} answers`
    )
    assert.closeTo(agentsTotal, summary.costUsd, 1e-9, "the agents' rows add up to the total")
  }, 90_000)

  it("an agent stopped in flight is charged the input it was sent, marked as an estimate", async () => {
    const sleeper = path.join(repoRoot, "packages/cli/test/fixtures/cancel/sleeper.mjs")
    const dir = makeWorkspace({
      config: {
        agents: {
          a: execAgent(),
          b: execAgent(),
          slow: { provider: "exec", command: ["node", sleeper], price: { inputPerMTok: 1000, outputPerMTok: 0 } }
        },
        defaults: { agents: ["a", "b", "slow"], quorum: "majority" },
        stages: { plan: { agents: ["a", "b"] }, tasks: { agents: ["a", "b"] }, implement: { agents: ["a", "b"] } },
        implement: { mode: "describe" }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"], {
      timeoutMs: 60_000,
      env: { PID_FILE: path.join(tempDir(), "pids") }
    })
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout) as Summary & {
      readonly costUsd: number
      readonly estimatedCostUsd?: number
    }
    const slowRows = summary.stages.flatMap((s) => s.agents).filter((a) => a.agent === "slow")
    assert.lengthOf(slowRows, 3)
    for (const row of slowRows) {
      assert.strictEqual(row.status, "stopped")
      assert.isAbove(row.costUsd, 0, "the input it was sent is billed")
      assert.strictEqual(row.estimatedCostUsd, row.costUsd, "and marked as an estimate")
    }
    const estimated = slowRows.reduce((sum, row) => sum + row.costUsd, 0)
    assert.closeTo(summary.estimatedCostUsd ?? 0, estimated, 1e-9)
    assert.closeTo(summary.costUsd, estimated, 1e-9, "the free agents cost nothing")
    const text = SummaryText.format(summary as unknown as RunSummary.RunSummary)
    assert.match(text, /of it estimated: the input of calls stopped in flight/)
  }, 120_000)
})

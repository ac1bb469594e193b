/**
 * Telemetry end to end with the built `speckit` binary: estimates before and after a run, budget
 * enforcement with priced exec agents, the Prometheus metrics file and the run's cost files.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import {
  ensureBuilt,
  makeWorkspace,
  readJson,
  removeTempDirs,
  repoRoot,
  runCli,
  runDirs,
  tempDir,
  unpricedExecAgent
} from "./helpers.ts"

const demoSpecId = "SPEC-001-slugify"
const pricedAgent = path.join(repoRoot, "packages/cli/test/fixtures/telemetry/priced-agent.mjs")

interface Range {
  readonly low: number
  readonly expected: number
  readonly high: number
}
interface EstimateJson {
  readonly costUsd: Range
  readonly historyRuns: number
  readonly stages: ReadonlyArray<{
    readonly stage: string
    readonly calls: ReadonlyArray<{ readonly inputSource: string; readonly outputSource: string }>
  }>
}
interface SummaryJson {
  readonly status: string
  readonly costUsd: number
  readonly byAgent: Readonly<Record<string, { readonly costUsd: number }>>
  readonly stages: ReadonlyArray<{ readonly stage: string }>
  readonly runDir: string
  readonly hint?: string
  readonly unpriced: ReadonlyArray<string>
}

/** Parses Prometheus text into samples. */
const prometheus = (text: string) =>
  text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
      if (!match) throw new Error(`not a Prometheus sample: ${line}`)
      return { name: match[1] ?? "", labels: match[2] ?? "", value: Number(match[3]) }
    })

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => removeTempDirs())

describe("speckit estimate", () => {
  it("estimates from defaults before any run, then from history within 15% of a second identical run", async () => {
    const dir = path.join(tempDir(), "workspace")
    // create the demo workspace, then forget its run, so the workspace has no history
    const demo = await runCli(["demo", dir, "--json"], { timeoutMs: 60_000 })
    assert.strictEqual(demo.code, 0, demo.stderr)
    fs.rmSync(path.join(dir, ".speckit"), { recursive: true, force: true })

    const before = await runCli(["estimate", demoSpecId, "-C", dir, "--json"])
    assert.strictEqual(before.code, 0, before.stderr)
    const first = JSON.parse(before.stdout) as EstimateJson
    assert.strictEqual(first.historyRuns, 0)
    assert.strictEqual(first.stages[0]?.calls[0]?.inputSource, "counted")
    assert.strictEqual(first.stages[1]?.calls[0]?.outputSource, "default")
    assert.isBelow(first.costUsd.low, first.costUsd.high)
    const text = await runCli(["estimate", demoSpecId, "-C", dir])
    assert.include(text.stdout, "no earlier runs in this workspace")

    const run1 = await runCli(["auto", demoSpecId, "-C", dir, "--json"], { timeoutMs: 60_000 })
    assert.strictEqual(run1.code, 0, run1.stderr)

    const after = await runCli(["estimate", demoSpecId, "-C", dir, "--json"])
    assert.strictEqual(after.code, 0, after.stderr)
    const second = JSON.parse(after.stdout) as EstimateJson
    assert.strictEqual(second.historyRuns, 1)
    assert.strictEqual(second.stages[1]?.calls[0]?.inputSource, "history")
    assert.strictEqual(second.stages[1]?.calls[0]?.outputSource, "history")

    const run2 = await runCli(["auto", demoSpecId, "-C", dir, "--json"], { timeoutMs: 60_000 })
    assert.strictEqual(run2.code, 0, run2.stderr)
    const actual = (JSON.parse(run2.stdout) as SummaryJson).costUsd
    const error = Math.abs(second.costUsd.expected - actual) / actual
    assert.isBelow(error, 0.15, `estimate ${second.costUsd.expected} vs actual ${actual}`)
  }, 120_000)

  it("refuses an unpriced model with exit 2, naming the agent and the model", async () => {
    const dir = makeWorkspace({ config: { agents: { x: { provider: "sim", model: "mystery-1" } } } })
    for (const args of [
      ["estimate", "SPEC-1", "-C", dir],
      ["auto", "SPEC-1", "-C", dir]
    ]) {
      const result = await runCli(args)
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, /^speckit: error: agent "x" uses model "mystery-1", which has no known price/)
      assert.strictEqual(runDirs(dir).length, 0)
    }
  })

  it("refuses an exec agent without price or model (billed under its command), unless allowUnpriced", async () => {
    const agents = { local: unpricedExecAgent() }
    const dir = makeWorkspace({ config: { agents, defaults: { agents: ["local"] } } })
    for (const args of [
      ["estimate", "SPEC-1", "-C", dir],
      ["auto", "SPEC-1", "-C", dir]
    ]) {
      const result = await runCli(args)
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, /^speckit: error: agent "local" uses model "node", which has no known price/)
      assert.include(result.stderr, "agents.local.price")
      assert.strictEqual(runDirs(dir).length, 0)
    }

    fs.writeFileSync(
      path.join(dir, "speckit.config.json"),
      JSON.stringify({ agents, defaults: { agents: ["local"] }, pricing: { allowUnpriced: true } })
    )
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stderr, 'speckit: warning: agent "local" (model "node") has no known price')
    const summary = JSON.parse(result.stdout) as SummaryJson
    assert.strictEqual(summary.status, "completed")
    assert.deepStrictEqual(summary.unpriced, ["node"])
    assert.strictEqual(summary.costUsd, 0)
    const text = await runCli(["auto", "SPEC-1", "-C", dir])
    assert.strictEqual(text.code, 0, text.stderr)
    assert.include(text.stdout, "(unpriced: node)")
  }, 60_000)
})

describe("speckit auto: budgets, metrics and costs", () => {
  const config = (budget?: number) => ({
    agents: {
      priced: {
        provider: "exec",
        command: ["node", pricedAgent],
        format: "claude",
        model: "priced-model",
        timeoutMs: 15_000
      }
    },
    pricing: { models: { "priced-model": { inputPerMTok: 0, outputPerMTok: 100 } } },
    ...(budget === undefined ? {} : { budget: { usd: budget } })
  })

  it("stops before the call that would cross the budget, alerting at 80% and 90% once each", async () => {
    const dir = makeWorkspace({ config: config() })
    // a first run without a budget teaches the history each stage's usage
    const free = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(free.code, 0, free.stderr)
    assert.closeTo((JSON.parse(free.stdout) as SummaryJson).costUsd, 0.12, 1e-9)

    // $0.10: after implement $0.08 (80%), after validate $0.09 (90%), audit brings it to exactly $0.10;
    // unlock ($0.02 more) would cross it and is never called
    fs.writeFileSync(path.join(dir, "speckit.config.json"), JSON.stringify(config(0.1)))
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 1, result.stderr)
    const summary = JSON.parse(result.stdout) as SummaryJson
    assert.strictEqual(summary.status, "halted")
    assert.closeTo(summary.costUsd, 0.1, 1e-9)
    assert.isAtMost(summary.costUsd, 0.1 + 1e-9)
    assert.match(summary.hint ?? "", /budget of \$0\.10 would be exceeded/)
    assert.notInclude(
      summary.stages.map((s) => s.stage),
      "unlock"
    )
    const alerts = result.stderr.split("\n").filter((line) => line.includes("speckit: warning: budget:"))
    assert.deepStrictEqual(
      alerts.map((line) => /budget: (\d+)%/.exec(line)?.[1]),
      ["80", "90"]
    )
  }, 60_000)

  it("charges a failed attempt for the usage its error output reported, to the agent that spent it", async () => {
    const base = config()
    const dir = makeWorkspace({
      config: {
        ...base,
        agents: {
          priced: { ...base.agents.priced, command: [...base.agents.priced.command, "--fail-first-plan"] }
        },
        retry: { maxRetries: 1, initialDelayMs: 10, jitter: 0 }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout) as SummaryJson
    // $0.12 for the six answers and $0.05 for the failed plan attempt's 500 output tokens
    assert.closeTo(summary.costUsd, 0.17, 1e-9)
    assert.closeTo(summary.byAgent.priced?.costUsd ?? 0, 0.17, 1e-9)
    const costFile = readJson(path.join(dir, summary.runDir, "cost.json")) as {
      readonly costUsd: number
      readonly wastedUsd: number
    }
    assert.closeTo(costFile.costUsd, 0.17, 1e-9)
    assert.closeTo(costFile.wastedUsd, 0.05, 1e-9)
  }, 60_000)

  it("writes the Prometheus file, metrics.json and cost.json; total cost = sum of per-agent costs", async () => {
    const dir = path.join(tempDir(), "workspace")
    const metricsFile = path.join(dir, "out", "metrics.prom")
    const result = await runCli(["demo", dir, "--json", "--metrics-file", metricsFile], { timeoutMs: 60_000 })
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout) as SummaryJson
    const perAgent = Object.values(summary.byAgent).reduce((sum, agent) => sum + agent.costUsd, 0)
    assert.strictEqual(Math.round(summary.costUsd * 100), Math.round(perAgent * 100))
    assert.closeTo(summary.costUsd, perAgent, 1e-9)

    const samples = prometheus(fs.readFileSync(metricsFile, "utf8"))
    const cost = samples.filter((s) => s.name === "speckit_cost_usd_total").reduce((sum, s) => sum + s.value, 0)
    assert.closeTo(cost, summary.costUsd, 1e-9)
    const calls = samples.filter((s) => s.name === "speckit_calls_total").reduce((sum, s) => sum + s.value, 0)
    assert.strictEqual(calls, 18)

    const runDir = path.join(dir, summary.runDir)
    const metrics = readJson(path.join(runDir, "metrics.json")) as { costUsd: number; calls: number }
    assert.closeTo(metrics.costUsd, summary.costUsd, 1e-12)
    const costFile = readJson(path.join(runDir, "cost.json")) as { costUsd: number; budgetUsd: number }
    assert.closeTo(costFile.costUsd, summary.costUsd, 1e-12)
    assert.strictEqual(costFile.budgetUsd, 1)
  }, 60_000)

  it("refreshes the estimate for the rest of the run after every stage (plain progress)", async () => {
    const dir = path.join(tempDir(), "workspace")
    const result = await runCli(["demo", dir], { timeoutMs: 60_000 })
    assert.strictEqual(result.code, 0, result.stderr)
    const lines = result.stdout.split("\n").filter((line) => line.startsWith("[estimate] after "))
    assert.deepStrictEqual(
      lines.map((line) => /after (\w+):/.exec(line)?.[1]),
      ["plan", "tasks", "implement", "validate", "audit"]
    )
  }, 60_000)
})

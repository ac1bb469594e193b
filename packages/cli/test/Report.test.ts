/**
 * The run report in a real browser: headless Chromium (Debian's `chromium`, driven with
 * `playwright-core`) opens the report of a demo run (real changes, checks, delivery) and of a run with
 * retries, a rate-limit wait, an early stop and a failed agent (fault injection), and checks that it
 * makes no request and logs no error, draws one bar per attempt in `events.jsonl`, shows the totals of
 * `summary.json`, and shows an attempt's details on hover. Screenshots are kept next to each report and
 * under `.ci/artifacts/`; sizes and render times are printed.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ReportHtml } from "@speckit/cli"
import { AgentId } from "@speckit/core"
import { type Browser, chromium } from "playwright-core"
import { ensureBuilt, makeWorkspace, removeTempDirs, repoRoot, runCli, tempDir } from "./helpers.ts"

const executablePath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((file) => fs.existsSync(file))
const artifacts = path.join(repoRoot, ".ci", "artifacts")
let browser: Browser | undefined

beforeAll(async () => {
  ensureBuilt()
  if (executablePath === undefined) {
    if (process.env.CI) throw new Error("CI needs Chromium for the report test: apt-get install chromium")
    return
  }
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] })
}, 120_000)
afterAll(async () => {
  await browser?.close()
  removeTempDirs()
})

interface Summary {
  readonly runId: string
  readonly runDir: string
  readonly costUsd: number
  readonly usage: { readonly input: number; readonly output: number }
  readonly stages: ReadonlyArray<{
    readonly agents: ReadonlyArray<{ readonly status: string; readonly attempts: number }>
    readonly checks?: ReadonlyArray<{ readonly check: string; readonly candidate: string }>
    readonly selection?: { readonly winner?: string }
  }>
}

/** Opens a report and checks what every report must hold; returns what the page showed. */
const inspect = async (name: string, workspace: string, summary: Summary) => {
  if (browser === undefined) return undefined
  const runDir = path.join(workspace, summary.runDir)
  const file = path.join(runDir, "report.html")
  const events = fs
    .readFileSync(path.join(runDir, "events.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { readonly _tag: string })
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const errors: Array<string> = []
  const requests: Array<string> = []
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text())
  })
  page.on("pageerror", (error) => errors.push(error.message))
  page.on("request", (request) => {
    if (request.url() !== `file://${file}`) requests.push(request.url())
  })
  await page.route("**/*", (route) =>
    route.request().url() === `file://${file}` ? route.continue() : route.abort("blockedbyclient")
  )
  const started = performance.now()
  await page.goto(`file://${file}`, { waitUntil: "load" })
  const renderMs = performance.now() - started

  assert.deepStrictEqual(errors, [], "no console errors")
  assert.deepStrictEqual(requests, [], "no network request")
  const bars = await page.locator('svg rect[data-bar="attempt"]').count()
  assert.strictEqual(bars, events.filter((event) => event._tag === "AgentStarted").length, "a bar per attempt")
  assert.strictEqual(await page.locator('[data-total="cost"]').textContent(), `$${summary.costUsd.toFixed(4)}`)
  assert.strictEqual(await page.locator('[data-total="money"]').textContent(), `$${summary.costUsd.toFixed(4)}`)
  const tokens = (summary.usage.input + summary.usage.output).toLocaleString("en-US")
  assert.include((await page.locator("header").textContent()) ?? "", tokens)

  const bar = page.locator('svg rect[data-bar="attempt"]').first()
  await bar.hover()
  const tip = page.locator("#tip")
  assert.isTrue(await tip.isVisible(), "hover shows the details")
  const shown = (await tip.textContent()) ?? ""
  assert.match(shown, /attempt \d+/)
  assert.match(shown, /model /)

  fs.mkdirSync(artifacts, { recursive: true })
  const screenshot = path.join(runDir, "report.png")
  await page.screenshot({ path: screenshot, fullPage: true })
  fs.copyFileSync(screenshot, path.join(artifacts, `report-${name}.png`))
  const bytes = fs.statSync(file).size
  console.log(
    `report of the ${name} run: ${(bytes / 1024).toFixed(1)} KB, rendered in ${renderMs.toFixed(0)} ms; ${bars} attempt bars; screenshot ${screenshot}`
  )
  await page.close()
  return { shown, bytes }
}

describe("speckit report in Chromium", () => {
  it.skipIf(executablePath === undefined && !process.env.CI)(
    "the demo run's report (real changes, checks, delivery)",
    async () => {
      const dir = path.join(tempDir(), "workspace")
      const result = await runCli(["demo", dir, "--json"], { timeoutMs: 60_000 })
      assert.strictEqual(result.code, 0, result.stderr)
      const summary = JSON.parse(result.stdout) as Summary
      assert.isTrue(fs.existsSync(path.join(dir, summary.runDir, "report.html")), "every run writes its report")
      await inspect("demo", dir, summary)
      const html = fs.readFileSync(path.join(dir, summary.runDir, "report.html"), "utf8")
      // Which candidates reach the checks depends on timing (an agent stopped early has none): every
      // check the run recorded has its bar, and the chosen candidate is named.
      const checks = summary.stages.flatMap((stage) => stage.checks ?? [])
      const winner = summary.stages.find((stage) => stage.selection !== undefined)?.selection?.winner
      assert.isAbove(checks.length, 0, "the demo runs the project's checks")
      for (const part of [
        ...checks.map((result) => `check ${result.check} · ${result.candidate}`),
        "Candidates",
        `Chosen: <b>${winner}</b>`,
        "speckit/SPEC-001-slugify/",
        "diff --git"
      ]) {
        assert.include(html, part)
      }
    },
    120_000
  )

  it.skipIf(executablePath === undefined && !process.env.CI)(
    "a run with retries, a rate-limit wait, an early stop and a failed agent",
    async () => {
      const dir = makeWorkspace({
        config: {
          agents: {
            alpha: { provider: "sim", model: "sim-large", latencyMs: 40 },
            beta: { provider: "sim", model: "sim-medium", latencyMs: 60 },
            gamma: { provider: "sim", model: "sim-small", latencyMs: 1_500 },
            delta: { provider: "sim", model: "sim-small", latencyMs: 20 },
            epsilon: { provider: "sim", model: "sim-medium", latencyMs: 30 }
          },
          defaults: { agents: ["alpha", "beta", "gamma", "delta", "epsilon"], quorum: "majority" },
          retry: { maxRetries: 1, initialDelayMs: 50, jitter: 0 },
          implement: { mode: "describe" }
        }
      })
      const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"], {
        timeoutMs: 90_000,
        env: { SPEC_KIT_FAULTS: "rate_limit:1@alpha,agent_timeout:1@beta,server_error:*@delta" }
      })
      assert.strictEqual(result.code, 0, result.stderr)
      const summary = JSON.parse(result.stdout) as Summary
      const agents = summary.stages.flatMap((stage) => stage.agents)
      assert.isTrue(
        agents.some((agent) => agent.status === "stopped"),
        "an early stop"
      )
      assert.isTrue(
        agents.some((agent) => agent.status === "failed"),
        "a failed agent"
      )
      assert.isTrue(
        agents.some((agent) => agent.attempts > 1),
        "retries"
      )
      await inspect("faults", dir, summary)
      const html = fs.readFileSync(path.join(dir, summary.runDir, "report.html"), "utf8")
      assert.include(html, "rate-limit wait (RateLimited)")
      assert.include(html, "retry wait (Timeout)")
      assert.include(html, "stopped early")
    },
    150_000
  )
})

describe("ReportHtml.render", () => {
  it("renders a run recorded by an older speckit (no times, no summary) and says what is missing", () => {
    const html = ReportHtml.render({
      runId: "run-20250101-000000-abcd",
      events: [
        { _tag: "StageStarted", stage: "plan", agents: [AgentId.make("alpha")] },
        { _tag: "AgentStarted", stage: "plan", agent: AgentId.make("alpha"), attempt: 1 }
      ],
      consensus: {},
      artifacts: {}
    })
    assert.include(html, "carry no times (recorded by a speckit before 0.3): no timeline")
    assert.include(html, "no summary.json")
    assert.include(html, "No summary.json: costs are not known.")
    assert.notMatch(html, /(src|href)=["']?(https?:)?\/\//)
  })
})

/**
 * End-to-end consensus policies with exec agents (real subprocesses): unanimous, majority with
 * dissent, conflicts naming the agents, early decision stopping a straggler, and the event log.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { RunStore } from "@speckit/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ensureBuilt, freePrice, makeWorkspace, removeTempDirs, repoRoot, runCli, runDirs, tempDir } from "./helpers.ts"

const script = path.join(repoRoot, "packages/cli/test/fixtures/consensus/agent.mjs")
const aggregatorScript = path.join(repoRoot, "packages/cli/test/fixtures/consensus/aggregator.mjs")
const agent = (...args: ReadonlyArray<string>) => ({
  provider: "exec",
  command: ["node", script, ...args],
  price: { inputPerMTok: 0, outputPerMTok: 0 },
  timeoutMs: 30_000
})

interface StageJson {
  readonly stage: string
  readonly status: string
  readonly verdict?: string
  readonly reason?: string
  readonly dissent: ReadonlyArray<string>
  readonly durationMs: number
  readonly agents: ReadonlyArray<{
    readonly agent: string
    readonly status: string
    readonly error?: { readonly kind: string }
  }>
}
interface SummaryJson {
  readonly status: string
  readonly stages: ReadonlyArray<StageJson>
  readonly hint?: string
  readonly runDir: string
}

const stageOf = (summary: SummaryJson, stage: string): StageJson => {
  const found = summary.stages.find((s) => s.stage === stage)
  if (found === undefined) throw new Error(`no stage ${stage}`)
  return found
}

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => removeTempDirs())

describe.concurrent("consensus policies with exec agents", () => {
  it("unanimous: every stage ok, no dissent, exit 0; every event is in events.jsonl", async () => {
    const dir = makeWorkspace({
      config: { agents: { a: agent(), b: agent(), c: agent() }, defaults: { agents: ["a", "b", "c"] } }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout) as SummaryJson
    for (const stage of summary.stages) {
      assert.strictEqual(stage.status, "ok", stage.stage)
      assert.deepStrictEqual(stage.dissent, [])
    }
    assert.strictEqual(stageOf(summary, "validate").verdict, "pass")
    const [runDir = ""] = runDirs(dir)
    const events = fs
      .readFileSync(path.join(runDir, "events.jsonl"), "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { _tag: string; seq?: number })
    const tags = events.map((e) => e._tag)
    assert.strictEqual(tags[0], "RunStarted")
    assert.strictEqual(tags.at(-1), "RunFinished")
    assert.strictEqual(tags.filter((t) => t === "StageVerdict").length, 6)
    const accepted = events.filter((e) => e._tag === "DecisionAccepted").map((e) => e.seq)
    const acked = events.filter((e) => e._tag === "DecisionAcknowledged").map((e) => e.seq)
    assert.deepStrictEqual(
      accepted.slice().sort((x = 0, y = 0) => x - y),
      accepted.map((_, i) => i + 1),
      "gap-free"
    )
    assert.deepStrictEqual(
      acked,
      accepted.map((_, i) => i + 1),
      "acknowledged in order, each once"
    )
  })

  it("majority with dissent: ok, the dissenting agent recorded, exit 0", async () => {
    const dir = makeWorkspace({
      config: {
        agents: { a: agent("pass"), b: agent("pass"), c: agent("fail") },
        defaults: { agents: ["a", "b", "c"], quorum: "majority", earlyDecision: false }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout) as SummaryJson
    const validate = stageOf(summary, "validate")
    assert.strictEqual(validate.status, "ok")
    assert.strictEqual(validate.verdict, "pass")
    assert.deepStrictEqual(validate.dissent, ["c"])
    assert.include(validate.reason ?? "", "dissent from c")
  })

  it("verdict conflict: exit 1, the conflicting agents named in the output", async () => {
    const dir = makeWorkspace({
      config: {
        agents: { yes: agent("pass"), no: agent("fail") },
        defaults: { agents: ["yes", "no"], quorum: "majority" }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir])
    assert.strictEqual(result.code, 1, result.stderr)
    assert.match(result.stdout, /validate\s+conflict/)
    assert.include(result.stdout, "fail (no)")
    assert.include(result.stdout, "pass (yes)")
  })

  it("content conflict (same path, different actions): exit 1 at implement, agents named", async () => {
    const dir = makeWorkspace({
      config: {
        agents: { maker: agent("--action", "create"), remover: agent("--action", "delete") },
        defaults: { agents: ["maker", "remover"], quorum: "all" }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 1, result.stderr)
    const summary = JSON.parse(result.stdout) as SummaryJson
    const implement = stageOf(summary, "implement")
    assert.strictEqual(implement.status, "conflict")
    assert.include(implement.reason ?? "", "maker: create")
    assert.include(implement.reason ?? "", "remover: delete")
    assert.include(summary.hint ?? "", "conflict")
  })

  it("aggregator: an exec aggregator's synthesis decides; its conflict halts the run, exit 1, named", async () => {
    const dir = makeWorkspace({
      config: {
        agents: {
          a: agent(),
          b: agent(),
          judge: {
            provider: "exec",
            command: ["node", aggregatorScript, "--conflict", "the error path is untested"],
            timeoutMs: 30_000,
            price: freePrice
          }
        },
        defaults: { agents: ["a", "b"] },
        stages: { plan: { aggregator: "none" }, tasks: { aggregator: "judge" } }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 1, result.stderr)
    const summary = JSON.parse(result.stdout) as SummaryJson
    assert.strictEqual(summary.status, "halted")
    assert.strictEqual(stageOf(summary, "plan").status, "ok", "no aggregator on plan: the deterministic merge")
    const tasks = stageOf(summary, "tasks")
    assert.strictEqual(tasks.status, "conflict")
    assert.include(tasks.reason ?? "", "aggregator judge reports conflicts: the error path is untested (a vs b)")
    assert.include(summary.hint ?? "", "the error path is untested")
    const consensus = JSON.parse(fs.readFileSync(path.join(dir, summary.runDir, "consensus", "tasks.json"), "utf8"))
    assert.strictEqual(consensus.aggregator, "judge")
    assert.deepStrictEqual(consensus.agreements, ["a and b answered tasks"])
    const tasksAnswers = RunStore.parseJsonLines(
      fs.readFileSync(path.join(dir, summary.runDir, "answers", "tasks.jsonl"), "utf8")
    ) as Array<{ readonly agent: string; readonly attempt: number }>
    assert.isTrue(tasksAnswers.some((answer) => answer.agent === "aggregate.judge" && answer.attempt === 1))
    const markdown = fs.readFileSync(path.join(dir, "specs", "SPEC-1", "tasks.md"), "utf8")
    assert.include(markdown, "- Conflicts: the error path is untested (a vs b)")
    assert.include(markdown, "- Synthesized by: judge")
  })

  it("early decision: two quick passes settle a majority stage at once; the straggler's process is gone", async () => {
    const pids = path.join(tempDir(), "slow.pid")
    const dir = makeWorkspace({
      config: {
        agents: {
          quick1: agent("pass", "--delay-ms", "100"),
          quick2: agent("pass", "--delay-ms", "100"),
          slow: agent("pass", "--delay-ms", "10000", "--pid-file", pids)
        },
        defaults: { agents: ["quick1", "quick2", "slow"], quorum: "majority" },
        stages: {
          plan: { agents: ["quick1", "quick2"] },
          tasks: { agents: ["quick1", "quick2"] },
          implement: { agents: ["quick1", "quick2"] },
          audit: { agents: ["quick1", "quick2"] },
          unlock: { agents: ["quick1", "quick2"] }
        }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"], { timeoutMs: 30_000 })
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = JSON.parse(result.stdout) as SummaryJson
    const validate = stageOf(summary, "validate")
    assert.strictEqual(validate.status, "ok")
    assert.isBelow(validate.durationMs, 1_000, "well under a second, not the straggler's 10 s")
    const slow = validate.agents.find((a) => a.agent === "slow")
    assert.strictEqual(slow?.status, "stopped")
    assert.strictEqual(slow?.error?.kind, "Interrupted")
    const pid = Number(fs.readFileSync(`${pids}.validate`, "utf8"))
    assert.throws(() => process.kill(pid, 0), /ESRCH/, "the straggler's process is gone")
  })
})

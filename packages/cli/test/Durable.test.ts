/**
 * Durable runs end to end with the built `speckit` binary and real exec agents (the deterministic,
 * idempotent fixture `fixtures/durable/agent.mjs`, which logs every billed invocation): a run SIGKILLed
 * at random moments and resumed completes with the same artifacts and a cost equal to what the agents
 * billed, without calling again an agent whose answer was recorded; a review pause survives a restart;
 * two processes on one workspace; an unfinished run blocks a new one; a corrupt state database; runs
 * tied to their git branch.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { RunStore } from "@speckit/core"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  type CliResult,
  ensureBuilt,
  git,
  makeWorkspace,
  removeTempDirs,
  repoRoot,
  runCli,
  stages,
  startCli,
  tempDir
} from "./helpers.ts"

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => removeTempDirs())

// ---------------------------------------------------------------------------------------------
// The CLI's JSON output: every field the tests read is read here
// ---------------------------------------------------------------------------------------------

/** What `auto --json` and `resume --json` print on stdout. */
interface Summary {
  readonly runId: string
  /** `completed` | `halted` | `awaiting-review` | `cancelled` | `failed` (a rejected review may say `rejected`). */
  readonly status: string
  readonly costUsd: number
}

/** One entry of `runs --json`. */
interface RunEntry {
  readonly runId: string
  readonly specId: string
  readonly branch?: string | undefined
  readonly status: string
}

const parseJson = (text: string, what: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    throw new Error(`${what}: not JSON: ${text.slice(0, 500)}`)
  }
}

/** The `--json` summary of `auto` or `resume`. */
const summaryOf = (result: CliResult): Summary => {
  const json = parseJson(result.stdout, `summary (exit ${result.code}, stderr ${result.stderr.slice(-500)})`) as Summary
  return { runId: json.runId, status: json.status, costUsd: json.costUsd }
}

/** The runs of `runs --json` for a spec, as listed (newest first); none when there is no state yet. */
const runsOf = (result: CliResult, specId = "SPEC-1"): Array<RunEntry> => {
  assert.strictEqual(result.code, 0, `runs: ${result.stderr}`)
  const json = parseJson(result.stdout, "runs --json")
  assert.isArray(json, "runs --json prints an array")
  return (json as Array<RunEntry>).filter((run) => run.specId === specId)
}

/** Agent states in `status --json` that do not mean an answer is recorded. */
const notRecorded = /^(running|pending|queued|waiting|started|in-?flight|stopped)$/i

/** The answers `status --json` says are recorded, as `stage/agent`. */
const recordedOf = (result: CliResult): Set<string> => {
  assert.strictEqual(result.code, 0, `status: ${result.stderr}`)
  const json = parseJson(result.stdout, "status --json") as {
    readonly stages?: ReadonlyArray<{
      readonly stage: string
      readonly agents?: ReadonlyArray<{ readonly agent: string; readonly status?: string }>
    }>
  }
  const recorded = new Set<string>()
  for (const stage of json.stages ?? []) {
    for (const agent of stage.agents ?? []) {
      if (!notRecorded.test(agent.status ?? "")) recorded.add(`${stage.stage}/${agent.agent}`)
    }
  }
  return recorded
}

/** The run status and phase of `status --json` (a phase may be printed as a string or a tagged object). */
const stateOf = (result: CliResult): { readonly status: string; readonly phase: string } => {
  assert.strictEqual(result.code, 0, `status: ${result.stderr}`)
  const json = parseJson(result.stdout, "status --json") as { status?: string; phase?: unknown }
  const phase =
    typeof json.phase === "object" && json.phase !== null && "_tag" in json.phase
      ? String(json.phase._tag)
      : String(json.phase)
  return { status: String(json.status), phase }
}

// ---------------------------------------------------------------------------------------------
// Workspaces with the durable fixture agent
// ---------------------------------------------------------------------------------------------

const fixture = path.join(repoRoot, "packages/cli/test/fixtures/durable/agent.mjs")
const agentIds = ["a", "b", "c"] as const
const model = "durable-model"
/** The fixture's latency range: small, distinct per (stage, agent), so answers interleave. */
const fastLatency = "20:120"

/** One line of the fixture's invocation log. */
interface Invocation {
  readonly stage: string
  readonly agent: string
  readonly attempt: number
  readonly key: string
  readonly costUsd: number
  readonly pid: number
  readonly ppid: number
  readonly cached: boolean
}

interface DurableWorkspace {
  readonly dir: string
  /** The fixture's invocation log (outside the workspace). */
  readonly log: string
  /** The fixture's idempotency cache (outside the workspace). */
  readonly cache: string
}

/**
 * A workspace whose agents a, b and c run the durable fixture on every stage, under a majority quorum
 * without early decisions (so that which agents answer a stage never depends on timing and the
 * artifacts of every run are identical).
 *
 * The price declared for the model (10 USD per million tokens: about $0.011 a call) is there only
 * because `auto` refuses an exec agent with no known price; the cost speckit must count is the one the
 * agents report (about $0.001–$0.007 a call), so a total equal to the reported costs shows that the
 * reported cost is what counts.
 */
const durableWorkspace = (
  options: {
    readonly latency?: string | undefined
    /** Extra fixture arguments per agent, e.g. `{ c: ["--fail-on", "validate"] }`. */
    readonly extraArgs?: Partial<Record<(typeof agentIds)[number], ReadonlyArray<string>>> | undefined
    readonly stagePolicies?: Readonly<Record<string, unknown>> | undefined
    /** `budget` of speckit.config.json. */
    readonly budget?: { readonly usd: number; readonly onExceed: "halt" | "pause" } | undefined
  } = {}
): DurableWorkspace => {
  const side = tempDir()
  const log = path.join(side, "invocations.jsonl")
  const cache = path.join(side, "cache")
  const agents = Object.fromEntries(
    agentIds.map((id) => [
      id,
      {
        provider: "exec",
        command: ["node", fixture, "--latency-ms", options.latency ?? fastLatency, ...(options.extraArgs?.[id] ?? [])],
        format: "claude",
        model,
        timeoutMs: 30_000,
        env: { SPECKIT_TEST_LOG: log, SPECKIT_TEST_CACHE: cache }
      }
    ])
  )
  const dir = makeWorkspace({
    config: {
      agents,
      defaults: { agents: [...agentIds], quorum: "majority", earlyDecision: false },
      // These runs test durability itself: agents describe their changes (see RealChanges.test.ts).
      implement: { mode: "describe" },
      ...(options.stagePolicies === undefined ? {} : { stages: options.stagePolicies }),
      pricing: { models: { [model]: { inputPerMTok: 10, outputPerMTok: 10 } } },
      ...(options.budget === undefined ? {} : { budget: options.budget })
    }
  })
  return { dir, log, cache }
}

/** The invocation log's lines (none before the first invocation). */
const readLog = (file: string): Array<Invocation> =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Invocation)
    : []

/** What the agents billed: the cost of every invocation not answered from the idempotency cache. */
const billedUsd = (lines: ReadonlyArray<Invocation>): number =>
  lines.filter((line) => !line.cached).reduce((sum, line) => sum + line.costUsd, 0)

/** The (stage, agent) pairs billed more than once, to explain a cost mismatch. */
const billedTwice = (lines: ReadonlyArray<Invocation>): Array<string> => {
  const counts = new Map<string, number>()
  for (const line of lines.filter((l) => !l.cached)) {
    const id = `${line.stage}/${line.agent}`
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return [...counts].filter(([, count]) => count > 1).map(([id, count]) => `${id} ×${count}`)
}

/** The stage artifacts `specs/SPEC-1/<stage>.md` (missing ones as `null`). */
const artifacts = (dir: string): Record<string, string | null> =>
  Object.fromEntries(
    stages.map((stage) => {
      const file = path.join(dir, "specs", "SPEC-1", `${stage}.md`)
      return [stage, fs.existsSync(file) ? fs.readFileSync(file).toString("base64") : null]
    })
  )

/** A completed run: status completed, and the cost it reports is exactly what the agents billed. */
const assertCompleted = (summary: Summary, ws: DurableWorkspace, label: string): void => {
  assert.strictEqual(summary.status, "completed", label)
  const lines = readLog(ws.log)
  const billed = billedUsd(lines)
  assert.closeTo(
    summary.costUsd,
    billed,
    1e-9,
    `${label}: cost ${summary.costUsd} vs billed ${billed}; billed more than once: ${billedTwice(lines).join(", ") || "none"}`
  )
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const until = async (condition: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (condition()) return true
    await sleep(20)
  }
  return condition()
}

/** Runs a command and SIGKILLs it after `delayMs` (if it is still running then). */
/** Whether the CLI's progress (stderr with `--json`) shows that its run has started. */
const runStarted = (stderr: string) => /^run run-[\w-]+:/m.test(stderr)

/**
 * Starts the CLI and SIGKILLs it `delayMs` after its run started (its progress names the run), or
 * `delayMs` after the process started with `fromStart` (a kill during start-up).
 */
const killAfter = async (args: ReadonlyArray<string>, delayMs: number, fromStart = false) => {
  const started = startCli(args)
  if (!fromStart) await until(() => runStarted(started.stderr()) || started.child.exitCode !== null, 30_000)
  const timer = setTimeout(() => started.child.kill("SIGKILL"), delayMs)
  const result = await started.done
  clearTimeout(timer)
  return result
}

/** Starts `auto` and SIGKILLs it once the invocation log holds `answers` lines; fails if it ended first. */
const killAfterAnswers = async (ws: DurableWorkspace, answers: number): Promise<void> => {
  const started = startCli(["auto", "SPEC-1", "-C", ws.dir, "--json"])
  const reached = await until(() => readLog(ws.log).length >= answers || started.child.exitCode !== null, 30_000)
  started.child.kill("SIGKILL")
  const result = await started.done
  assert.isTrue(reached, "the agents answered")
  assert.strictEqual(result.signal, "SIGKILL", `killed mid-run, not ended first: ${result.stderr}`)
  // an agent whose speckit is gone does not answer; give the orphans a moment to notice
  await sleep(200)
}

/** The newest run of SPEC-1 per `runs --json`, if any. */
const newestRun = async (dir: string): Promise<RunEntry | undefined> =>
  runsOf(await runCli(["runs", "-C", dir, "--json"]))[0]

/** mulberry32: a small deterministic PRNG, values in [0, 1). */
const prng = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const long = { timeoutMs: 60_000 }

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

describe("crash and resume", () => {
  it("SIGKILL at a seeded random moment, then resume: completes, same artifacts, cost = billed, recorded answers never asked again", async () => {
    const reference = durableWorkspace()
    const running = startCli(["auto", "SPEC-1", "-C", reference.dir, "--json"], long)
    await until(() => runStarted(running.stderr()) || running.child.exitCode !== null, 30_000)
    const startedAt = Date.now()
    const uninterrupted = await running.done
    // How long the run itself takes (start-up excluded): kills land in that window.
    const wallMs = Date.now() - startedAt
    assert.strictEqual(uninterrupted.code, 0, uninterrupted.stderr)
    assertCompleted(summaryOf(uninterrupted), reference, "reference run")
    const expected = artifacts(reference.dir)
    assert.notInclude(Object.values(expected), null, "the reference run wrote every artifact")
    console.log(
      `uninterrupted run: ${wallMs} ms after its start; kills land in [0, ${wallMs}) ms after the run started (every fifth seed: in [0, 1000) ms after the process started)`
    )

    const crashAndResume = async (seed: number): Promise<void> => {
      const random = prng(seed)
      const ws = durableWorkspace()
      // a quarter of the seeds crash twice: once in `auto`, once more in the `resume` that follows
      const crashes = seed % 4 === 0 ? 2 : 1
      const windows: Array<{ readonly logLength: number; readonly recorded: Set<string> }> = []
      let runId: string | undefined
      let finished: Summary | undefined
      for (let crash = 0; crash < crashes && finished === undefined; crash++) {
        const fromStart = seed % 5 === 0
        const delayMs = Math.floor(random() * (fromStart ? 1000 : wallMs))
        const args =
          runId === undefined ? ["auto", "SPEC-1", "-C", ws.dir, "--json"] : ["resume", runId, "-C", ws.dir, "--json"]
        const result = await killAfter(args, delayMs, fromStart)
        if (result.signal !== "SIGKILL") {
          console.log(
            `seed ${seed}: ${args[0]} ended with exit ${result.code} before its SIGKILL at ${delayMs} ms${fromStart ? " (from the start)" : ""}`
          )
          assert.strictEqual(result.code, 0, `seed ${seed}: ${result.stderr}`)
          finished = summaryOf(result)
          runId = finished.runId
          break
        }
        await sleep(100)
        runId = (await newestRun(ws.dir))?.runId
        if (runId === undefined) {
          const logLength = readLog(ws.log).length
          console.log(
            `seed ${seed}: ${args[0]} SIGKILLed at ${delayMs} ms${fromStart ? " from the start" : ""}, before any run was listed (${logLength} invocations logged)`
          )
          assert.strictEqual(logLength, 0, `seed ${seed}: agents were called for a run that \`runs\` does not list`)
          windows.push({ logLength, recorded: new Set() })
          continue
        }
        const recorded = recordedOf(await runCli(["status", runId, "-C", ws.dir, "--json"]))
        const logLength = readLog(ws.log).length
        windows.push({ logLength, recorded })
        console.log(
          `seed ${seed}: ${args[0]} SIGKILLed at ${delayMs} ms${fromStart ? " from the start" : " into the run"}; ${runId} has ${recorded.size} answers recorded, ${logLength} invocations logged`
        )
      }

      let final: Summary
      if (finished !== undefined) {
        final = finished
      } else {
        const args =
          runId === undefined ? ["auto", "SPEC-1", "-C", ws.dir, "--json"] : ["resume", runId, "-C", ws.dir, "--json"]
        const result = await runCli(args, long)
        assert.strictEqual(result.code, 0, `seed ${seed}: ${args[0]}: ${result.stderr}`)
        final = summaryOf(result)
      }
      assertCompleted(final, ws, `seed ${seed}`)
      if (runId !== undefined) assert.strictEqual(final.runId, runId, `seed ${seed}: the resumed run is the same run`)
      const lines = readLog(ws.log)
      for (const window of windows) {
        const again = lines
          .slice(window.logLength)
          .map((line) => `${line.stage}/${line.agent}`)
          .filter((id) => window.recorded.has(id))
        assert.deepStrictEqual(again, [], `seed ${seed}: answers recorded before the kill were asked again`)
      }
      assert.deepStrictEqual(artifacts(ws.dir), expected, `seed ${seed}: artifacts identical to the reference run's`)
      // The run's log has its milestones once each, the ones a kill lost from the last batch included.
      const milestones = RunStore.parseJsonLines(
        fs.readFileSync(path.join(ws.dir, ".speckit", "runs", final.runId, "events.jsonl"), "utf8")
      ).flatMap((event) => {
        const { _tag, stage } = event as { readonly _tag: string; readonly stage?: string }
        return ["RunStarted", "StageStarted", "StageFinished", "RunFinished"].includes(_tag)
          ? [`${_tag}${stage === undefined ? "" : `:${stage}`}`]
          : []
      })
      assert.sameMembers(
        milestones,
        [
          "RunStarted",
          ...stages.flatMap((stage) => [`StageStarted:${stage}`, `StageFinished:${stage}`]),
          "RunFinished"
        ],
        `seed ${seed}: the run's logged milestones`
      )
    }

    // two lanes of seeds at a time keep the whole test near a minute on two cores
    const seeds = Array.from({ length: 20 }, (_, index) => index + 1)
    await Promise.all(
      [0, 1].map(async (lane) => {
        for (const seed of seeds.filter((s) => s % 2 === lane)) await crashAndResume(seed)
      })
    )
  }, 420_000)
})

describe("review pauses", () => {
  // c votes fail on validate, where every agent must agree: a conflict that pauses the run
  const pausing = () =>
    durableWorkspace({
      extraArgs: { c: ["--fail-on", "validate"] },
      stagePolicies: { validate: { quorum: "all", onConflict: "pause" } }
    })
  const before = ["plan", "tasks", "implement", "validate"]

  it("a paused run survives the process: approve, then resume completes without asking earlier stages again", async () => {
    const ws = pausing()
    const paused = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json"], long)
    assert.strictEqual(paused.code, 3, paused.stderr)
    const summary = summaryOf(paused)
    assert.strictEqual(summary.status, "awaiting-review")
    const runId = summary.runId

    const state = stateOf(await runCli(["status", runId, "-C", ws.dir, "--json"]))
    assert.match(state.phase, /awaiting.?review/i)
    const logLength = readLog(ws.log).length

    const approved = await runCli(["approve", runId, "--note", "looks fine", "-C", ws.dir])
    assert.strictEqual(approved.code, 0, approved.stderr)
    const resumed = await runCli(["resume", runId, "-C", ws.dir, "--json"], long)
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    const done = summaryOf(resumed)
    assert.strictEqual(done.runId, runId)
    assertCompleted(done, ws, "approved run")

    const after = readLog(ws.log).slice(logLength)
    assert.deepStrictEqual(
      after.filter((line) => before.includes(line.stage)).map((line) => `${line.stage}/${line.agent}`),
      [],
      "no agent of the stages up to the paused one was asked again"
    )
    assert.includeMembers(
      after.map((line) => line.stage),
      ["audit", "unlock"],
      "the stages after the pause ran"
    )
  }, 60_000)

  it("reject: resume ends the run with exit 1 (halted), asking nobody", async () => {
    const ws = pausing()
    const paused = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json"], long)
    assert.strictEqual(paused.code, 3, paused.stderr)
    const runId = summaryOf(paused).runId
    const logLength = readLog(ws.log).length

    const rejected = await runCli(["reject", runId, "--note", "the validation split is not acceptable", "-C", ws.dir])
    assert.strictEqual(rejected.code, 0, rejected.stderr)
    const resumed = await runCli(["resume", runId, "-C", ws.dir, "--json"], long)
    assert.strictEqual(resumed.code, 1, resumed.stderr)
    assert.oneOf(summaryOf(resumed).status, ["halted", "rejected"])
    assert.deepStrictEqual(readLog(ws.log).slice(logLength), [], "no agent was asked anything")
  }, 60_000)
})

describe("budget pauses", () => {
  it("a call that would cross the budget pauses the run (exit 3); `budget --usd` and `resume` complete it, asking nobody twice", async () => {
    const ws = durableWorkspace({ budget: { usd: 0.04, onExceed: "pause" } })
    const paused = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json"], long)
    assert.strictEqual(paused.code, 3, paused.stderr)
    const json = parseJson(paused.stdout, "auto --json") as {
      readonly runId: string
      readonly status: string
      readonly pause?: { readonly kind: string; readonly stage: string }
    }
    assert.strictEqual(json.status, "awaiting-review")
    assert.strictEqual(json.pause?.kind, "budget")
    const before = readLog(ws.log)

    // Answering the wrong kind of pause is refused.
    const approved = await runCli(["approve", json.runId, "-C", ws.dir])
    assert.strictEqual(approved.code, 2, approved.stdout)
    assert.match(approved.stderr, /not waiting for a review/)
    // Until the budget is raised, resume only reports the pause.
    const early = await runCli(["resume", json.runId, "-C", ws.dir, "--json"], long)
    assert.strictEqual(early.code, 3, early.stderr)
    assert.strictEqual(readLog(ws.log).length, before.length, "nobody was asked anything")

    const raised = await runCli(["budget", json.runId, "--usd", "10", "-C", ws.dir])
    assert.strictEqual(raised.code, 0, raised.stderr)
    const resumed = await runCli(["resume", json.runId, "-C", ws.dir, "--json"], long)
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    const done = summaryOf(resumed)
    assert.strictEqual(done.status, "completed")
    const after = readLog(ws.log).slice(before.length)
    const askedBefore = new Set(before.map((line) => `${line.stage}/${line.agent}`))
    assert.deepStrictEqual(
      after.filter((line) => askedBefore.has(`${line.stage}/${line.agent}`)),
      [],
      "the agents that answered before the pause are not asked again"
    )
    assert.closeTo(done.costUsd, billedUsd(readLog(ws.log)), 1e-9)
    for (const stage of stages) assert.isTrue(fs.existsSync(path.join(ws.dir, "specs", "SPEC-1", `${stage}.md`)))
  }, 60_000)
})

describe("one workspace, two processes", () => {
  it("a second `auto` while the first runs exits 2 at once (state database in use); the first completes", async () => {
    const ws = durableWorkspace({ latency: "900:1100" })
    const stateDb = path.join(ws.dir, ".speckit", "state.db")
    const first = startCli(["auto", "SPEC-1", "-C", ws.dir, "--json"])
    await until(() => fs.existsSync(stateDb) || first.child.exitCode !== null, 20_000)
    assert.isTrue(fs.existsSync(stateDb), "the running `auto` created .speckit/state.db")
    await Promise.all([until(() => first.stderr().includes("[plan]"), 5_000), sleep(500)])
    assert.isNull(first.child.exitCode, "the first run is still running")

    const secondStarted = Date.now()
    const second = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json", "--new"])
    const secondAt = Date.now()
    assert.strictEqual(second.code, 2, second.stderr)
    assert.match(second.stderr, /in use/)
    assert.isBelow(secondAt - secondStarted, 5_000, "gave up at once, without waiting for the database")
    assert.isNull(first.child.exitCode, "the second process gave up while the first was still running")

    const result = await first.done
    assert.isBelow(secondAt, result.finishedAt)
    assert.strictEqual(result.code, 0, result.stderr)
    assertCompleted(summaryOf(result), ws, "first run")
    assert.notInclude(Object.values(artifacts(ws.dir)), null, "every artifact written")
    assert.lengthOf(runsOf(await runCli(["runs", "-C", ws.dir, "--json"])), 1, "the second process started no run")
  }, 60_000)
})

describe("unfinished runs", () => {
  it("`auto` refuses while an unfinished run of the spec exists on the branch, naming it; `auto --new` starts another", async () => {
    const ws = durableWorkspace({ latency: "100:200" })
    await killAfterAnswers(ws, 3)
    const unfinished = await newestRun(ws.dir)
    assert.isDefined(unfinished, "the killed run is listed")
    const runId = unfinished?.runId ?? ""

    const refused = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json"])
    assert.strictEqual(refused.code, 2, refused.stderr)
    assert.include(refused.stderr, runId)
    assert.include(refused.stderr, "speckit resume")

    const fresh = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json", "--new"], long)
    assert.strictEqual(fresh.code, 0, fresh.stderr)
    const summary = summaryOf(fresh)
    assert.strictEqual(summary.status, "completed")
    assert.notStrictEqual(summary.runId, runId, "a second run")
    assert.lengthOf(runsOf(await runCli(["runs", "-C", ws.dir, "--json"])), 2)
  }, 60_000)
})

describe("corrupt state", () => {
  it("garbage in .speckit/state.db: `auto` exits 2 naming the file and leaves it untouched", async () => {
    const ws = durableWorkspace()
    const stateDb = path.join(ws.dir, ".speckit", "state.db")
    const random = prng(42)
    const garbage = Buffer.concat([
      Buffer.from("this is not an SQLite database\n"),
      Buffer.from(Array.from({ length: 8192 }, () => Math.floor(random() * 256)))
    ])
    fs.mkdirSync(path.dirname(stateDb), { recursive: true })
    fs.writeFileSync(stateDb, garbage)

    const result = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json"])
    assert.strictEqual(result.code, 2, result.stderr)
    assert.include(result.stderr, path.join(".speckit", "state.db"))
    assert.isTrue(fs.readFileSync(stateDb).equals(garbage), "the file is untouched")
    assert.deepStrictEqual(readLog(ws.log), [], "no agent was called")
  })
})

describe("runs and git branches", () => {
  it("resume refuses a run of another branch (exit 2) unless --force", async () => {
    const ws = durableWorkspace({ latency: "100:200" })
    git(ws.dir, "init", "-q", "-b", "feature/durable-start")
    git(ws.dir, "add", ".")
    git(ws.dir, "commit", "-q", "-m", "spec")
    await killAfterAnswers(ws, 3)
    const unfinished = await newestRun(ws.dir)
    assert.isDefined(unfinished, "the killed run is listed")
    const runId = unfinished?.runId ?? ""
    assert.strictEqual(unfinished?.branch, "feature/durable-start")

    git(ws.dir, "checkout", "-q", "-b", "other-branch")
    const refused = await runCli(["resume", runId, "-C", ws.dir, "--json"])
    assert.strictEqual(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /feature\/durable-start|other-branch/, "names the branch")

    const forced = await runCli(["resume", runId, "-C", ws.dir, "--json", "--force"], long)
    assert.strictEqual(forced.code, 0, forced.stderr)
    const summary = summaryOf(forced)
    assert.strictEqual(summary.runId, runId)
    assertCompleted(summary, ws, "forced resume")
  }, 60_000)
})

describe("retention", () => {
  it("the journal of a run that ended more than 7 days ago is deleted at the next run; `resume` still reports it", async () => {
    const ws = durableWorkspace()
    const first = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json"], long)
    assert.strictEqual(first.code, 0, first.stderr)
    const firstRun = summaryOf(first).runId
    // The run ended 8 days ago, as its summary and its head (what listing runs reads) say.
    for (const name of ["summary.json", "status.json"]) {
      const file = path.join(ws.dir, ".speckit", "runs", firstRun, name)
      const saved = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>
      fs.writeFileSync(
        file,
        JSON.stringify({ ...saved, finishedAt: new Date(Date.now() - 8 * 86_400_000).toISOString() })
      )
    }
    const journalRows = () => {
      const db = new Database(path.join(ws.dir, ".speckit", "state.db"), { readonly: true })
      try {
        const steps = db.prepare("SELECT count(*) AS n FROM speckit_workflow_activities").get() as { n: number }
        const keys = db.prepare("SELECT count(*) AS n FROM speckit_sequencer_keys WHERE run_id = ?").get(firstRun) as {
          n: number
        }
        return { steps: steps.n, firstRunKeys: keys.n }
      } finally {
        db.close()
      }
    }
    const before = journalRows()
    assert.isAbove(before.firstRunKeys, 0)

    const second = await runCli(["auto", "SPEC-1", "-C", ws.dir, "--json"], long)
    assert.strictEqual(second.code, 0, second.stderr)
    const after = journalRows()
    assert.strictEqual(after.firstRunKeys, 0, "the old run's sequencer state is gone")
    assert.strictEqual(after.steps, before.steps, "the old run's steps are gone, the new run's are there")

    const resumed = await runCli(["resume", firstRun, "-C", ws.dir, "--json"], long)
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.strictEqual(summaryOf(resumed).status, "completed")
  }, 60_000)
})

describe("Ctrl-C, then resume", () => {
  it("an interrupted run is recorded as cancelled (exit 130); `resume` completes it without asking recorded agents again", async () => {
    const ws = durableWorkspace({ latency: "150:250" })
    const reference = durableWorkspace({ latency: "150:250" })
    const uninterrupted = await runCli(["auto", "SPEC-1", "-C", reference.dir, "--json"], long)
    assert.strictEqual(uninterrupted.code, 0, uninterrupted.stderr)

    const first = startCli(["auto", "SPEC-1", "-C", ws.dir, "--json"])
    await until(() => first.stderr().includes("[tasks] started"), 20_000)
    first.child.kill("SIGINT")
    const cancelled = await first.done
    assert.strictEqual(cancelled.code, 130, cancelled.stderr)
    assert.match(cancelled.stderr, /speckit resume/)
    // With --json, the cancelled run's summary is still printed.
    const summary = summaryOf(cancelled)
    assert.strictEqual(summary.status, "cancelled")
    assert.deepStrictEqual(
      runsOf(await runCli(["runs", "-C", ws.dir, "--json"])).map((run) => [run.runId, run.status]),
      [[summary.runId, "cancelled"]]
    )
    const before = readLog(ws.log)
    const recorded = recordedOf(await runCli(["status", summary.runId, "-C", ws.dir, "--json"]))
    assert.includeMembers([...recorded], ["plan/a", "plan/b", "plan/c"])

    const resumed = await runCli(["resume", summary.runId, "-C", ws.dir, "--json"], long)
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    const done = summaryOf(resumed)
    assert.strictEqual(done.status, "completed")
    const after = readLog(ws.log).slice(before.length)
    assert.deepStrictEqual(
      after.filter((line) => recorded.has(`${line.stage}/${line.agent}`)),
      [],
      "recorded answers are not asked again"
    )
    assert.closeTo(done.costUsd, billedUsd(readLog(ws.log)), 1e-9)
    for (const stage of stages) {
      assert.strictEqual(
        fs.readFileSync(path.join(ws.dir, "specs", "SPEC-1", `${stage}.md`), "utf8"),
        fs.readFileSync(path.join(reference.dir, "specs", "SPEC-1", `${stage}.md`), "utf8")
      )
    }
  }, 90_000)
})

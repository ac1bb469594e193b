/**
 * Crash tests through real changes: SIGKILL during the implement stage (at a seeded random moment),
 * during the checks and during delivery (at crash points), then `speckit resume`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { agentConfig, configure, repository, repoRoot, specId, summaryOf } from "./changes.ts"
import { ensureBuilt, git, removeTempDirs, runCli, runDirs, startCli, tempDir } from "./helpers.ts"

const checkFixture = path.join(repoRoot, "packages/cli/test/fixtures/changes/check.mjs")

/** A small seeded PRNG (mulberry32). */
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

interface Invocation {
  readonly stage: string
  readonly agent: string
  readonly at: number
}

const readLines = <A>(file: string): Array<A> =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as A)
    : []

/** The agents whose implement step was recorded, as the run's event log shows. */
const recordedImplementers = (runDir: string): Set<string> => {
  const events = readLines<{ _tag: string; stage?: string; outcome?: { agent: string } }>(
    path.join(runDir, "events.jsonl")
  )
  return new Set(
    events.flatMap((event) =>
      event._tag === "AgentFinished" && event.stage === "implement" && event.outcome ? [event.outcome.agent] : []
    )
  )
}

/** Three implementers of different speeds, logging every invocation to `log`. */
const implementers = (log: string) => {
  const logged = (behaviour: string, ms: number) => ({
    ...agentConfig(behaviour, ["--implement-latency-ms", String(ms)]),
    env: { SPECKIT_TEST_LOG: log }
  })
  return { x: logged("good", 150), y: logged("wrong", 450), z: logged("good", 750) }
}

const patchesOf = (runDir: string) =>
  Object.fromEntries(
    fs
      .readdirSync(path.join(runDir, "candidates"))
      .filter((file) => file.endsWith(".patch"))
      .map((file) => [file, fs.readFileSync(path.join(runDir, "candidates", file), "utf8")])
  )

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => removeTempDirs())

describe("crash and resume through real changes", () => {
  it("SIGKILL during implement at a seeded moment, then resume: recorded candidates are not asked again, same patches", async () => {
    // The uninterrupted reference run.
    const reference = repository()
    configure(reference, implementers(path.join(tempDir(), "log.jsonl")))
    const uninterrupted = await runCli(["auto", specId, "-C", reference, "--json"], { timeoutMs: 90_000 })
    assert.strictEqual(uninterrupted.code, 0, uninterrupted.stderr)
    const expected = patchesOf(path.join(reference, summaryOf(uninterrupted).runDir))
    assert.deepStrictEqual(Object.keys(expected).sort(), ["x.patch", "y.patch", "z.patch"])

    for (const seed of [1, 2, 3]) {
      const random = prng(seed)
      const dir = repository()
      const log = path.join(tempDir(), "log.jsonl")
      configure(dir, implementers(log))
      const started = startCli(["auto", specId, "-C", dir, "--json"], { timeoutMs: 90_000 })
      // Once implement has begun, wait a seeded 0–900 ms, then SIGKILL.
      const deadline = Date.now() + 60_000
      while (!readLines<Invocation>(log).some((line) => line.stage === "implement") && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const delay = Math.floor(random() * 900)
      await new Promise((resolve) => setTimeout(resolve, delay))
      started.child.kill("SIGKILL")
      const killed = await started.done
      const killedAt = Date.now()
      const [runDir = ""] = runDirs(dir)
      const recorded = recordedImplementers(runDir)
      console.log(
        `seed ${seed}: SIGKILL ${delay} ms into implement; recorded before: ${[...recorded].join(", ") || "none"}`
      )
      const runId = path.basename(runDir)
      if (killed.signal !== "SIGKILL") {
        // The run finished before the kill landed: nothing to resume.
        assert.strictEqual(killed.code, 0, killed.stderr)
        continue
      }
      const resumed = await runCli(["resume", runId, "-C", dir, "--json"], { timeoutMs: 90_000 })
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      const again = readLines<Invocation>(log).filter((line) => line.stage === "implement" && line.at >= killedAt)
      for (const agent of recorded) {
        assert.isFalse(
          again.some((line) => line.agent === agent),
          `seed ${seed}: ${agent}'s candidate was recorded, yet it was asked again`
        )
      }
      assert.deepStrictEqual(patchesOf(runDir), expected, `seed ${seed}: the patches`)
      assert.notInclude(git(dir, "worktree", "list"), ".speckit")
    }
  }, 300_000)

  it("SIGKILL during the third check, then resume: no recorded check runs again", async () => {
    const dir = repository()
    const log = path.join(tempDir(), "checks.jsonl")
    const logged = (name: string, folder: string) => ({
      name,
      command: ["node", checkFixture, "--log", log, "--", "node", "--test", folder]
    })
    configure(
      dir,
      { right: agentConfig("good"), wrong: agentConfig("wrong") },
      { checks: { commands: [logged("unit", "test/unit/"), logged("accept", "test/accept/")], concurrency: 1 } }
    )
    // Checks run one at a time: once the third has started, the first two are recorded. SIGKILL then.
    const started = startCli(["auto", specId, "-C", dir], { timeoutMs: 90_000 })
    const deadline = Date.now() + 60_000
    while (readLines(log).length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    started.child.kill("SIGKILL")
    const crashed = await started.done
    assert.strictEqual(crashed.signal, "SIGKILL", crashed.stdout)
    const before = readLines<{ check: string; candidate: string }>(log)
    assert.lengthOf(before, 3)
    const [runDir = ""] = runDirs(dir)
    const resumed = await runCli(["resume", path.basename(runDir), "-C", dir, "--json"], { timeoutMs: 90_000 })
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    const counts = new Map<string, number>()
    for (const line of readLines<{ check: string; candidate: string }>(log)) {
      const key = `${line.candidate}/${line.check}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    const [first, second, third] = before.map((line) => `${line.candidate}/${line.check}`)
    assert.strictEqual(counts.get(first ?? ""), 1, "recorded before the crash: not run again")
    assert.strictEqual(counts.get(second ?? ""), 1, "recorded before the crash: not run again")
    assert.strictEqual(counts.get(third ?? ""), 2, "in flight at the crash: run again once")
    assert.deepStrictEqual([...counts.keys()].sort(), [
      "base/accept",
      "base/unit",
      "right/accept",
      "right/unit",
      "wrong/accept",
      "wrong/unit"
    ])
    assert.strictEqual(summaryOf(resumed).delivery?.candidate, "right")
  }, 180_000)

  it("SIGKILL during delivery, then resume: exactly one delivered commit", async () => {
    const dir = repository()
    configure(dir, { right: agentConfig("good"), wrong: agentConfig("wrong") })
    const crashed = await runCli(["auto", specId, "-C", dir], { env: { SPEC_KIT_FAULTS: "crash:after_delivery:1" } })
    assert.strictEqual(crashed.signal, "SIGKILL", crashed.stdout)
    const branches = () => git(dir, "branch", "--list", "speckit/*", "--format=%(refname:short) %(objectname)")
    const made = branches()
    assert.lengthOf(made.split("\n"), 1, "the commit was made before the crash")
    const [runDir = ""] = runDirs(dir)
    const resumed = await runCli(["resume", path.basename(runDir), "-C", dir, "--json"], { timeoutMs: 90_000 })
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    const delivery = summaryOf(resumed).delivery
    assert.strictEqual(branches(), made, "no second branch, no second commit")
    assert.strictEqual(made, `${delivery?.branch} ${delivery?.commit}`)
    assert.notInclude(git(dir, "worktree", "list"), ".speckit")
  }, 180_000)
})

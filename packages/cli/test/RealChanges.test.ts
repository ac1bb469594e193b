/**
 * Real changes, end to end: real git repositories, real exec agents editing their worktrees, real
 * checks (`node --test`), delivery to a branch.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { agentConfig, checkout, configure, noWorktreeLeft, repository, specId, stageOf, summaryOf } from "./changes.ts"
import {
  ensureBuilt,
  freePrice,
  git,
  readJson,
  removeTempDirs,
  runCli,
  runDirs,
  startCli,
  startChatServer,
  tempDir,
  writeFile
} from "./helpers.ts"

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => removeTempDirs())

describe("real changes", () => {
  it("every behaviour: each candidate collected or rejected for its reason; the checkout untouched", async () => {
    const dir = repository()
    configure(
      dir,
      {
        good: agentConfig("good"),
        empty: agentConfig("empty"),
        git: agentConfig("git"),
        symlink: agentConfig("symlink"),
        protected: agentConfig("protected"),
        huge: agentConfig("huge")
      },
      { implement: { protect: ["test/unit/math.test.js"], maxFileBytes: 1_000_000 } }
    )
    const before = checkout(dir)
    const result = await runCli(["auto", specId, "-C", dir, "--json"], { timeoutMs: 90_000 })
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = summaryOf(result)
    const rows = new Map((stageOf(summary, "implement")?.candidates ?? []).map((row) => [row.agent, row]))
    assert.strictEqual(rows.get("good")?.status, "accepted")
    assert.strictEqual(rows.get("good")?.files, 2)
    assert.strictEqual(rows.get("empty")?.status, "empty")
    assert.match(rows.get("git")?.reason ?? "", /Rejected: it wrote into \.git/)
    assert.match(rows.get("symlink")?.reason ?? "", /Rejected: its symlink src\/escape points outside the repository/)
    assert.match(rows.get("protected")?.reason ?? "", /Rejected: it touches test\/unit\/math\.test\.js, protected/)
    assert.match(rows.get("huge")?.reason ?? "", /Rejected: huge\.bin is 2097152 bytes, over implement\.maxFileBytes/)
    const runDir = path.join(dir, summary.runDir)
    assert.isTrue(fs.existsSync(path.join(runDir, "candidates", "good.patch")))
    assert.isFalse(fs.existsSync(path.join(runDir, "candidates", "empty.patch")))
    assert.include(fs.readFileSync(path.join(dir, "specs", specId, "implement.md"), "utf8"), "| huge | rejected |")
    assert.strictEqual(summary.delivery?.candidate, "good")
    assert.deepStrictEqual(checkout(dir), before)
    noWorktreeLeft(dir)
  }, 120_000)

  it("checks ground the choice: the correct candidate is delivered, the failing one named with its test, the test-weakening one flagged; --apply", async () => {
    const dir = repository()
    configure(dir, { right: agentConfig("good"), wrong: agentConfig("wrong"), weakener: agentConfig("weaken") })
    const before = checkout(dir)
    const result = await runCli(["auto", specId, "-C", dir, "--json"], { timeoutMs: 90_000 })
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = summaryOf(result)
    const validate = stageOf(summary, "validate")
    const status = (candidate: string, check: string) =>
      validate?.checks?.find((r) => r.candidate === candidate && r.check === check)?.status
    assert.strictEqual(status("base", "unit"), "pass")
    assert.strictEqual(status("base", "accept"), "fail")
    assert.strictEqual(status("right", "accept"), "pass")
    assert.strictEqual(status("wrong", "accept"), "fail")
    assert.deepStrictEqual(validate?.checks?.find((r) => r.candidate === "wrong" && r.check === "accept")?.failures, [
      "clamp(5, 0, 3) is 3"
    ])
    assert.strictEqual(validate?.selection?.winner, "right")
    assert.deepStrictEqual(validate?.selection?.flagged, [{ agent: "weakener", tests: ["test/unit/math.test.js"] }])
    const delivery = summary.delivery
    assert.strictEqual(delivery?.candidate, "right")
    assert.include(git(dir, "show", `${delivery?.branch}:src/math.js`), "Math.min(Math.max(value, min), max)")
    assert.strictEqual(git(dir, "rev-parse", `${delivery?.branch}^`), before.head)
    assert.deepStrictEqual(checkout(dir), before)
    noWorktreeLeft(dir)

    // Not applied on a dirty tree (the branch stays); applied once the tree is clean.
    const refused = await runCli(["auto", specId, "-C", dir, "--new", "--apply"], { timeoutMs: 90_000 })
    assert.strictEqual(refused.code, 1, refused.stdout)
    assert.match(refused.stderr, /--apply refused: the working tree has uncommitted changes/)
    assert.strictEqual(git(dir, "rev-parse", "HEAD"), before.head)
    git(dir, "checkout", "--", "README.md")
    git(dir, "reset", "--quiet")
    fs.rmSync(path.join(dir, "staged.txt"))
    const applied = await runCli(["auto", specId, "-C", dir, "--new", "--apply", "--json"], { timeoutMs: 90_000 })
    assert.strictEqual(applied.code, 0, applied.stderr)
    const commit = summaryOf(applied).delivery?.commit
    assert.strictEqual(git(dir, "rev-parse", "HEAD"), commit)
    assert.strictEqual(git(dir, "rev-parse", "--abbrev-ref", "HEAD"), "main")
  }, 240_000)

  it("no worktree is left after a halt and after Ctrl-C", async () => {
    const dir = repository()
    configure(dir, { a: agentConfig("empty"), b: agentConfig("empty") })
    const halted = await runCli(["auto", specId, "-C", dir], { timeoutMs: 60_000 })
    assert.strictEqual(halted.code, 1, halted.stdout)
    assert.include(halted.stdout, "implement  failed")
    noWorktreeLeft(dir)

    configure(dir, { a: agentConfig("good", ["--latency-ms", "5000"]) })
    const started = startCli(["auto", specId, "-C", dir, "--new"], { timeoutMs: 60_000 })
    // Once agent a works in its worktree, Ctrl-C.
    const worktreeOfA = () =>
      fs.existsSync(path.join(dir, ".speckit/worktrees")) &&
      fs
        .readdirSync(path.join(dir, ".speckit/worktrees"))
        .some((run) => fs.existsSync(path.join(dir, ".speckit/worktrees", run, "a")))
    const deadline = Date.now() + 30_000
    while (!worktreeOfA() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    assert.isTrue(worktreeOfA(), started.stderr())
    started.child.kill("SIGINT")
    const cancelled = await started.done
    assert.strictEqual(cancelled.code, 130, cancelled.stderr)
    noWorktreeLeft(dir)
  }, 120_000)

  it("exit 2, one line, nothing written: changes outside git, a missing check program, a base gone", async () => {
    const plain = tempDir()
    writeFile(path.join(plain, "specs", specId, "spec.md"), "# X\n\nDo it.\n")
    writeFile(path.join(plain, "speckit.config.json"), JSON.stringify({ implement: { mode: "changes" } }))
    const outside = await runCli(["auto", specId, "-C", plain])
    assert.strictEqual(outside.code, 2)
    assert.match(outside.stderr, /^speckit: error: implement\.mode changes needs a git repository/)
    assert.isFalse(fs.existsSync(path.join(plain, ".speckit")))

    const dir = repository()
    configure(dir, { a: agentConfig("good") }, { checks: [{ name: "lint", command: ["no-such-linter-xyz"] }] })
    const missing = await runCli(["auto", specId, "-C", dir])
    assert.strictEqual(missing.code, 2)
    assert.strictEqual(
      missing.stderr,
      'speckit: error: check "lint": program no-such-linter-xyz not found (not on PATH and not a file)\n'
    )
    assert.lengthOf(runDirs(dir), 0)
  }, 60_000)
})

describe("an openai agent makes real changes through file contents", () => {
  it("its contents become a candidate; an answer writing ../outside gets a repair note", async () => {
    const dir = repository()
    const answers = [
      { files: [{ path: "../outside.js", content: "x" }] },
      {
        files: [
          {
            path: "src/math.js",
            content:
              "export const add = (a, b) => a + b\nexport const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi)\n"
          }
        ]
      }
    ]
    const { baseUrl, prompts, close } = await startChatServer((prompt, received) => {
      const stage = /Stage \d of 6: (\w+)/.exec(prompt)?.[1] ?? "plan"
      const ids = [...prompt.matchAll(/^## Candidate (C\d+)$/gm)].map((m) => m[1])
      const implementCalls = received.filter((p) => p.includes("Stage 3 of 6: implement")).length
      const content = {
        stage,
        summary: `gpt on ${stage}`,
        ...(stage === "plan"
          ? { work_breakdown: [{ id: "W1", title: "clamp", detail: "" }], acceptance_mapping: [] }
          : stage === "tasks"
            ? { tasks: [{ id: "T1", title: "clamp", depends_on: [], done_when: "tests pass" }] }
            : stage === "implement"
              ? {
                  changes: [{ path: "src/math.js", action: "modify", description: "clamp" }],
                  ...answers[Math.min(implementCalls, answers.length) - 1]
                }
              : stage === "validate"
                ? { test_strategy: ["checks"], verdict: "pass", ranking: ids }
                : stage === "audit"
                  ? { findings: [], verdict: "pass" }
                  : { decision: "unlock" })
      }
      return content
    })
    try {
      configure(dir, {
        gpt: {
          provider: "openai",
          baseUrl,
          model: "gpt-test",
          stream: false,
          price: freePrice,
          retry: { initialDelayMs: 10, jitter: 0 }
        }
      })
      const result = await runCli(["auto", specId, "-C", dir, "--json"], { timeoutMs: 90_000 })
      assert.strictEqual(result.code, 0, result.stderr)
      const implementPrompts = prompts.filter((p) => p.includes("Stage 3 of 6: implement"))
      assert.lengthOf(implementPrompts, 2)
      assert.include(implementPrompts[0] ?? "", "# Repository files")
      assert.include(implementPrompts[0] ?? "", "## src/math.js")
      assert.include(
        implementPrompts[1] ?? "",
        'files[0].path "../outside.js" cannot be written: it leaves the repository'
      )
      const summary = summaryOf(result)
      assert.strictEqual(stageOf(summary, "implement")?.candidates?.[0]?.status, "accepted")
      assert.strictEqual(summary.delivery?.candidate, "gpt")
      assert.isFalse(fs.existsSync(path.join(dir, "..", "outside.js")))
      const saved = readJson(path.join(dir, summary.runDir, "candidates", "gpt.json")) as { stats: { files: number } }
      assert.strictEqual(saved.stats.files, 1)
    } finally {
      close()
    }
  }, 120_000)
})

/**
 * Helpers for the real-changes tests: a repository with a module, a passing unit test, an acceptance
 * test failing on the base, the user's own work in progress, and the scripted editing agent.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert } from "@effect/vitest"
import { type CliResult, freePrice, git, repoRoot, tempDir, writeFile } from "./helpers.ts"

export { repoRoot }
export const fixture = path.join(repoRoot, "packages/cli/test/fixtures/changes/agent.mjs")
export const specId = "SPEC-1"

export interface Summary {
  readonly status: string
  readonly runId: string
  readonly runDir: string
  readonly stages: ReadonlyArray<{
    readonly stage: string
    readonly status: string
    readonly candidates?: ReadonlyArray<{ agent: string; status: string; files: number; reason?: string }>
    readonly checks?: ReadonlyArray<{ check: string; candidate: string; status: string; failures?: Array<string> }>
    readonly selection?: { winner?: string; flagged: ReadonlyArray<{ agent: string; tests: ReadonlyArray<string> }> }
  }>
  readonly delivery?: { branch: string; commit: string; base: string; candidate: string }
}

export const summaryOf = (result: CliResult): Summary => JSON.parse(result.stdout) as Summary
export const stageOf = (summary: Summary, stage: string) => summary.stages.find((s) => s.stage === stage)

/**
 * A repository with `src/math.js` (add), a unit test that passes and an acceptance test of the
 * missing `clamp` that fails on the base; the user's own uncommitted change and staged file; the spec.
 */
export const repository = () => {
  const dir = tempDir()
  writeFile(path.join(dir, "package.json"), '{ "name": "math", "type": "module" }\n')
  writeFile(path.join(dir, ".gitignore"), ".speckit/\nnode_modules/\n")
  writeFile(path.join(dir, "src/math.js"), "export const add = (a, b) => a + b\n")
  writeFile(
    path.join(dir, "test/unit/math.test.js"),
    'import { test } from "node:test"\nimport assert from "node:assert/strict"\nimport { add } from "../../src/math.js"\n\ntest("add adds", () => {\n  assert.equal(add(1, 2), 3)\n})\n'
  )
  writeFile(
    path.join(dir, "test/accept/clamp.test.js"),
    'import { test } from "node:test"\nimport assert from "node:assert/strict"\nimport * as math from "../../src/math.js"\n\ntest("clamp(5, 0, 3) is 3", () => {\n  assert.equal(math.clamp?.(5, 0, 3), 3)\n})\n'
  )
  writeFile(path.join(dir, "specs", specId, "spec.md"), "# Clamp\n\nAdd `clamp(value, min, max)` to `src/math.js`.\n")
  writeFile(path.join(dir, "README.md"), "# math\n")
  git(dir, "init", "--quiet", "--initial-branch=main")
  git(dir, "add", "-A")
  git(dir, "commit", "--quiet", "-m", "base")
  // The user's work in progress: an uncommitted edit and a staged new file.
  fs.appendFileSync(path.join(dir, "README.md"), "notes\n")
  writeFile(path.join(dir, "staged.txt"), "staged\n")
  git(dir, "add", "staged.txt")
  return dir
}

export const agentConfig = (behaviour: string, extra: ReadonlyArray<string> = []) => ({
  provider: "exec",
  command: ["node", fixture, "--behaviour", behaviour, ...extra],
  timeoutMs: 20_000,
  price: freePrice
})

export const configure = (dir: string, agents: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  writeFile(
    path.join(dir, "speckit.config.json"),
    `${JSON.stringify(
      {
        agents,
        defaults: { agents: Object.keys(agents), quorum: 1, earlyDecision: false },
        checks: [
          { name: "unit", command: ["node", "--test", "test/unit/"] },
          { name: "accept", command: ["node", "--test", "test/accept/"] }
        ],
        ...extra
      },
      null,
      2
    )}\n`
  )

/** What the user sees of their checkout: branch, HEAD, index, working tree. */
export const checkout = (dir: string) => ({
  branch: git(dir, "rev-parse", "--abbrev-ref", "HEAD"),
  head: git(dir, "rev-parse", "HEAD"),
  index: git(dir, "diff", "--cached", "--stat"),
  status: git(dir, "status", "--porcelain", "--untracked-files=no"),
  readme: fs.readFileSync(path.join(dir, "README.md"), "utf8")
})

export const noWorktreeLeft = (dir: string) => assert.notInclude(git(dir, "worktree", "list"), ".speckit")

import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Candidate, Worktrees } from "@speckit/core"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { GitWorktrees } from "../src/index.ts"
import { git } from "./git.ts"

const created: Array<string> = []
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-git-test-"))
  created.push(dir)
  return dir
}
const removeTempDirs = (): void => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}
/** A repository with a module, a test, an ignored file and an uncommitted change of the user's. */
const repository = () => {
  const dir = tempDir()
  git(dir, "init", "--quiet", "--initial-branch=main")
  fs.mkdirSync(path.join(dir, "src"))
  fs.mkdirSync(path.join(dir, "test"))
  fs.writeFileSync(path.join(dir, "src/math.js"), "export const add = (a, b) => a + b\n")
  fs.writeFileSync(path.join(dir, "test/math.test.js"), "// test\n")
  fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules/\n.env\n.speckit/\n")
  git(dir, "add", "-A")
  git(dir, "commit", "--quiet", "-m", "base")
  fs.writeFileSync(path.join(dir, "src/math.js"), "export const add = (a, b) => a + b // mine\n")
  fs.writeFileSync(path.join(dir, ".env"), "SECRET=1\n")
  fs.mkdirSync(path.join(dir, "node_modules/dep"), { recursive: true })
  fs.writeFileSync(path.join(dir, "node_modules/dep/index.js"), "module.exports = 1\n")
  return { dir, base: git(dir, "rev-parse", "HEAD") }
}

const snapshot = (dir: string) => ({
  head: git(dir, "rev-parse", "HEAD"),
  branch: git(dir, "rev-parse", "--abbrev-ref", "HEAD"),
  status: git(dir, "status", "--porcelain"),
  mine: fs.readFileSync(path.join(dir, "src/math.js"), "utf8")
})

const withWorktrees = <A, E>(dir: string, use: (worktrees: Worktrees.Service) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    return yield* use(yield* Worktrees.Worktrees)
  }).pipe(
    Effect.provide(
      GitWorktrees.layer({ workspace: dir, setup: { files: [".env", "node_modules"] } }).pipe(
        Layer.provide(NodeServices.layer)
      )
    )
  )

describe("GitWorktrees", () => {
  it.live("opens a worktree at the base with the setup, collects the change as a patch, removes it", () =>
    Effect.gen(function* () {
      const { dir, base } = repository()
      const before = snapshot(dir)
      const result = yield* withWorktrees(dir, (worktrees) =>
        Effect.scoped(
          Effect.gen(function* () {
            yield* worktrees.check(base)
            const where = yield* worktrees.open({ runId: "run-1", name: "alpha", base })
            assert.strictEqual(where, path.join(dir, ".speckit/worktrees/run-1/alpha"))
            // The base, not the user's uncommitted change; the setup files are there.
            assert.strictEqual(
              fs.readFileSync(path.join(where, "src/math.js"), "utf8"),
              "export const add = (a, b) => a + b\n"
            )
            assert.isTrue(fs.existsSync(path.join(where, ".env")))
            fs.writeFileSync(
              path.join(where, "src/math.js"),
              "export const add = (a, b) => a + b\nexport const sub = (a, b) => a - b\n"
            )
            fs.writeFileSync(path.join(where, "src/data.bin"), Buffer.from([0, 1, 2, 255]))
            fs.rmSync(path.join(where, "test/math.test.js"))
            const collected = yield* worktrees.collect(where, base)
            const leftovers = yield* worktrees.leftovers("run-1")
            return { collected, leftovers, where }
          })
        )
      )
      const byPath = new Map(result.collected.files.map((file) => [file.path, file]))
      assert.deepStrictEqual([...byPath.keys()].sort(), ["src/data.bin", "src/math.js", "test/math.test.js"])
      assert.strictEqual(byPath.get("src/math.js")?.added, 1)
      assert.isTrue(byPath.get("src/data.bin")?.binary)
      assert.strictEqual(byPath.get("src/data.bin")?.bytes, 4)
      assert.strictEqual(byPath.get("test/math.test.js")?.status, "deleted")
      assert.isFalse(result.collected.gitTampered)
      assert.include(result.collected.patch, "GIT binary patch")
      assert.strictEqual(Candidate.judge(result.collected, Candidate.defaultRules)._tag, "Accepted")
      assert.strictEqual(result.leftovers.length, 1)
      // Removed when the scope closed; the user's checkout is as it was.
      assert.isFalse(fs.existsSync(result.where))
      assert.notInclude(git(dir, "worktree", "list"), ".speckit")
      assert.deepStrictEqual(snapshot(dir), before)
    }).pipe(Effect.ensuring(Effect.sync(removeTempDirs)))
  )

  it.live("re-makes a worktree from a recorded patch, and delivers it to a new branch once", () =>
    Effect.gen(function* () {
      const { dir, base } = repository()
      const before = snapshot(dir)
      const patch = yield* withWorktrees(dir, (worktrees) =>
        Effect.scoped(
          Effect.gen(function* () {
            const where = yield* worktrees.open({ runId: "run-2", name: "beta", base })
            fs.writeFileSync(path.join(where, "src/sub.js"), "export const sub = (a, b) => a - b\n")
            return (yield* worktrees.collect(where, base)).patch
          })
        )
      )
      const delivery = {
        runId: "run-2",
        base,
        patch,
        branch: "speckit/S-1/run-2",
        message: "Sub (S-1)\n\nDelivered by speckit.",
        files: [{ path: "specs/S-1/plan.md", text: "# Plan\n" }],
        at: Date.parse("2026-12-01T00:00:00Z")
      }
      const first = yield* withWorktrees(dir, (worktrees) => worktrees.deliver(delivery))
      const again = yield* withWorktrees(dir, (worktrees) => worktrees.deliver(delivery))
      assert.deepStrictEqual(again, first)
      assert.strictEqual(first.branch, "speckit/S-1/run-2")
      assert.strictEqual(git(dir, "show", `${first.commit}:src/sub.js`), "export const sub = (a, b) => a - b")
      assert.strictEqual(git(dir, "show", `${first.commit}:specs/S-1/plan.md`), "# Plan")
      assert.strictEqual(git(dir, "rev-parse", `${first.commit}^`), base)
      // Another commit wanting the same branch gets a numbered one.
      const other = yield* withWorktrees(dir, (worktrees) => worktrees.deliver({ ...delivery, message: "other" }))
      assert.strictEqual(other.branch, "speckit/S-1/run-2-2")
      assert.deepStrictEqual(snapshot(dir), before)
      // --apply refuses while the user has uncommitted changes, then fast-forwards once they are gone.
      const refused = yield* withWorktrees(dir, (worktrees) =>
        Effect.flip(worktrees.apply({ base, commit: first.commit }))
      )
      assert.match(refused.reason, /uncommitted changes/)
      git(dir, "checkout", "--", "src/math.js")
      yield* withWorktrees(dir, (worktrees) => worktrees.apply({ base, commit: first.commit }))
      assert.strictEqual(git(dir, "rev-parse", "HEAD"), first.commit)
      assert.strictEqual(git(dir, "rev-parse", "--abbrev-ref", "HEAD"), "main")
    }).pipe(Effect.ensuring(Effect.sync(removeTempDirs)))
  )

  it.live("refuses a path that is not its own, and cleans what a crash left", () =>
    Effect.gen(function* () {
      const { dir, base } = repository()
      fs.mkdirSync(path.join(dir, ".speckit/worktrees/run-3/alpha"), { recursive: true })
      const taken = yield* withWorktrees(dir, (worktrees) =>
        Effect.scoped(Effect.flip(worktrees.open({ runId: "run-3", name: "alpha", base })))
      )
      assert.strictEqual(taken.kind, "PathTaken")
      // A crash: a worktree left registered.
      git(dir, "worktree", "add", "--detach", path.join(dir, ".speckit/worktrees/run-4/beta"), base)
      const cleaned = yield* withWorktrees(dir, (worktrees) => worktrees.clean())
      assert.deepStrictEqual(cleaned.map((l) => `${l.runId}/${l.name}`).sort(), ["run-3/alpha", "run-4/beta"])
      assert.notInclude(git(dir, "worktree", "list"), ".speckit")
      const missing = yield* withWorktrees(dir, (worktrees) => Effect.flip(worktrees.check("0".repeat(40))))
      assert.strictEqual(missing.kind, "BaseMissing")
      const notRepo = yield* withWorktrees(tempDir(), (worktrees) => Effect.flip(worktrees.check(base)))
      assert.strictEqual(notRepo.kind, "NotARepository")
    }).pipe(Effect.ensuring(Effect.sync(removeTempDirs)))
  )

  it.live("many worktrees opened and removed at once, from two layers over one repository, all succeed", () =>
    Effect.gen(function* () {
      const { dir, base } = repository()
      // Git fails a `worktree add` that reads another one still being made (without the adds taking
      // turns this failed 1 run in 3 here, at 48 at once); the adds take turns.
      const openMany = (runId: string) =>
        withWorktrees(dir, (worktrees) =>
          Effect.forEach(
            Array.from({ length: 24 }, (_, i) => `agent${i}`),
            (name) =>
              Effect.scoped(
                Effect.gen(function* () {
                  const where = yield* worktrees.open({ runId, name, base })
                  fs.writeFileSync(path.join(where, `src/${name}.js`), `export const ${name} = 1\n`)
                  return (yield* worktrees.collect(where, base)).files.length
                })
              ),
            { concurrency: "unbounded" }
          )
        )
      const [first, second] = yield* Effect.all([openMany("run-a"), openMany("run-b")], { concurrency: 2 })
      assert.deepStrictEqual(
        [...first, ...second],
        Array.from({ length: 48 }, () => 1)
      )
      assert.notInclude(git(dir, "worktree", "list"), ".speckit")
    }).pipe(Effect.ensuring(Effect.sync(removeTempDirs)))
  )
})

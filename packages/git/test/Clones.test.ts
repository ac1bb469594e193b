/**
 * The cache of clones a fleet's worker keeps, on real repositories: a bare repository on this machine
 * is the remote; a run's checkout is made at its base commit, found again, fetched only when the base
 * is new; a delivered branch is pushed to the remote; a remote that cannot be reached, or lacks the
 * base, fails with the reason.
 */
import { NodeServices } from "@effect/platform-node"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Worktrees } from "@speckit/core"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Clones, Git, GitWorktrees } from "../src/index.ts"
import { git } from "./git.ts"

const created: Array<string> = []
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-clones-test-"))
  created.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** A user's repository with a module, its bare remote (`origin`), and the base commit. */
const remoteRepository = () => {
  const dir = tempDir()
  git(dir, "init", "--quiet", "--initial-branch=main")
  fs.mkdirSync(path.join(dir, "src"))
  fs.writeFileSync(path.join(dir, "src/math.js"), "export const add = (a, b) => a + b\n")
  fs.writeFileSync(path.join(dir, ".gitignore"), ".speckit/\n")
  git(dir, "add", "-A")
  git(dir, "commit", "--quiet", "-m", "base")
  const remote = path.join(tempDir(), "math.git")
  git(dir, "clone", "--quiet", "--bare", dir, remote)
  git(dir, "remote", "add", "origin", remote)
  git(dir, "fetch", "--quiet", "origin")
  return { dir, remote, base: git(dir, "rev-parse", "HEAD") }
}

const services = NodeServices.layer

const withClones = <A, E>(cache: string, use: (clones: Clones.Clones["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    return yield* use(yield* Clones.Clones)
  }).pipe(Effect.provide(Clones.layer({ cache }).pipe(Layer.provide(services))))

describe("Clones", () => {
  it.live(
    "makes a run's checkout at its base from the remote, finds it again, fetches a new base, runs in parallel",
    () =>
      Effect.gen(function* () {
        const { dir, remote, base } = remoteRepository()
        const cache = tempDir()
        const first = path.join(cache, "run-1")
        const made = yield* withClones(cache, (clones) => clones.checkout({ url: remote, base }, first))
        assert.strictEqual(made, first)
        assert.strictEqual(git(first, "rev-parse", "HEAD"), base)
        assert.strictEqual(
          fs.readFileSync(path.join(first, "src/math.js"), "utf8"),
          "export const add = (a, b) => a + b\n"
        )
        // Found again as it is (a run taken over on the same worker keeps what it wrote).
        fs.writeFileSync(path.join(first, "notes.txt"), "kept\n")
        yield* withClones(cache, (clones) => clones.checkout({ url: remote, base }, first))
        assert.isTrue(fs.existsSync(path.join(first, "notes.txt")))
        assert.lengthOf(fs.readdirSync(path.join(cache, "clones")), 1)

        // A commit pushed later is fetched; several runs check out at once from the one clone.
        fs.writeFileSync(path.join(dir, "src/math.js"), "export const add = (a, b) => a + b\nexport const one = 1\n")
        git(dir, "commit", "--quiet", "-am", "one")
        git(dir, "push", "--quiet", "origin", "main")
        const next = git(dir, "rev-parse", "HEAD")
        const runs = ["run-2", "run-3", "run-4"].map((run) => path.join(cache, run))
        yield* withClones(cache, (clones) =>
          Effect.forEach(runs, (directory) => clones.checkout({ url: remote, base: next }, directory), {
            concurrency: "unbounded"
          })
        )
        for (const directory of runs) assert.strictEqual(git(directory, "rev-parse", "HEAD"), next)
        assert.lengthOf(fs.readdirSync(path.join(cache, "clones")), 1)
      })
  )

  it.live("a remote that cannot be reached, or lacks the base, fails with the reason", () =>
    Effect.gen(function* () {
      const { dir, remote, base } = remoteRepository()
      const cache = tempDir()
      const missing = yield* Effect.flip(
        withClones(cache, (clones) =>
          clones.checkout({ url: path.join(cache, "nowhere.git"), base }, path.join(cache, "run-1"))
        )
      )
      assert.strictEqual(missing._tag, "CloneFailed")
      assert.match(missing.message, /^cannot use repository .*nowhere\.git: .+/)
      // A commit made but not pushed.
      git(dir, "commit", "--quiet", "--allow-empty", "-m", "local")
      const local = git(dir, "rev-parse", "HEAD")
      const unpushed = yield* Effect.flip(
        withClones(cache, (clones) => clones.checkout({ url: remote, base: local }, path.join(cache, "run-2")))
      )
      assert.include(unpushed.message, `do not hold the run's base commit ${local} (push it first)`)
      assert.isFalse(fs.existsSync(path.join(cache, "run-2")))
      // The base is there: the same cache serves it.
      yield* withClones(cache, (clones) => clones.checkout({ url: remote, base }, path.join(cache, "run-3")))
    })
  )

  it.live("a delivery in a checkout pushes its branch to the remote, once", () =>
    Effect.gen(function* () {
      const { dir, remote, base } = remoteRepository()
      const cache = tempDir()
      const checkout = yield* withClones(cache, (clones) =>
        clones.checkout({ url: remote, base }, path.join(cache, "run-1"))
      )
      const deliver = (message: string) =>
        Effect.flatMap(Effect.service(Worktrees.Worktrees), (worktrees) =>
          worktrees.deliver({
            runId: "run-1",
            base,
            patch: "",
            branch: "speckit/S-1/run-1",
            message,
            files: [{ path: "specs/S-1/plan.md", text: "# Plan\n" }],
            at: Date.parse("2026-12-01T00:00:00Z")
          })
        ).pipe(Effect.provide(GitWorktrees.layer({ workspace: checkout, push: remote }).pipe(Layer.provide(services))))
      const delivered = yield* deliver("Plan (S-1)")
      assert.strictEqual(git(remote, "rev-parse", "refs/heads/speckit/S-1/run-1"), delivered.commit)
      assert.strictEqual(git(remote, "show", `${delivered.commit}:specs/S-1/plan.md`), "# Plan")
      // Delivered again (a run taken over): the same commit, the push a no-op.
      assert.deepStrictEqual(yield* deliver("Plan (S-1)"), delivered)
      // The user's repository is untouched; its remote is found for a submission.
      assert.strictEqual(git(dir, "branch", "--list", "speckit/*"), "")
      const found = yield* Git.remote(dir).pipe(Effect.provide(services))
      assert.deepStrictEqual(found._tag === "Some" ? found.value : undefined, {
        url: remote,
        root: fs.realpathSync(dir),
        path: ""
      })
      const inside = yield* Git.remote(path.join(dir, "src")).pipe(Effect.provide(services))
      assert.strictEqual(inside._tag === "Some" ? inside.value.path : undefined, "src")
      assert.isTrue(yield* Git.isOnRemoteBranch(dir, base).pipe(Effect.provide(services)))
      const notPushed = yield* Effect.flip(
        Effect.flatMap(Effect.service(Worktrees.Worktrees), (worktrees) =>
          worktrees.deliver({
            runId: "run-1",
            base,
            patch: "",
            branch: "speckit/S-1/run-1",
            message: "other",
            files: [],
            at: 0
          })
        ).pipe(
          Effect.provide(
            GitWorktrees.layer({ workspace: checkout, push: path.join(cache, "gone.git") }).pipe(
              Layer.provide(services)
            )
          )
        )
      )
      assert.match(notPushed.reason, /^cannot push speckit\/S-1\/run-1-2 to .*gone\.git: /)
    })
  )
})

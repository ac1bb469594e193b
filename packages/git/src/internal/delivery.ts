/**
 * Delivery: a change committed on top of the base commit in a worktree of its own, onto a new branch
 * (the same commit every time: fixed dates), never touching the user's checkout; and `--apply`,
 * fast-forwarding the user's branch to it only when that is safe.
 */
import * as Worktrees from "@speckit/core/Worktrees"
import { Effect } from "effect"
import type { Repository } from "./repository.ts"
import { open } from "./worktrees.ts"

const identity = (repo: Repository, top: string) =>
  Effect.gen(function* () {
    const name = (yield* repo.run(top, ["config", "user.name"])).stdout.trim()
    const email = (yield* repo.run(top, ["config", "user.email"])).stdout.trim()
    return {
      GIT_AUTHOR_NAME: name || "speckit",
      GIT_AUTHOR_EMAIL: email || "speckit@localhost",
      GIT_COMMITTER_NAME: name || "speckit",
      GIT_COMMITTER_EMAIL: email || "speckit@localhost"
    }
  })

/** Points a new branch `wanted` (or `wanted-2`, ...) at `commit`; a branch already at `commit` is reused. */
const branchFor = (repo: Repository, top: string, wanted: string, commit: string) =>
  Effect.gen(function* () {
    for (let n = 1; n <= 100; n++) {
      const name = n === 1 ? wanted : `${wanted}-${n}`
      const existing = yield* repo.run(top, ["rev-parse", "--verify", "--quiet", `refs/heads/${name}`])
      if (existing.exitCode !== 0) {
        yield* repo.git(top, ["branch", name, commit])
        return name
      }
      if (existing.stdout.trim() === commit) return name
    }
    return yield* new Worktrees.WorktreeError({
      kind: "Failed",
      reason: `branches ${wanted} to ${wanted}-100 are all taken`
    })
  })

/** Pushes a delivered branch to `url` (the same commit again is a no-op; another one is refused). */
const push = (repo: Repository, top: string, url: string, branch: string) =>
  Effect.flatMap(
    repo.run(top, ["push", "--quiet", "--no-verify", url, `refs/heads/${branch}:refs/heads/${branch}`]),
    (out) =>
      out.exitCode === 0
        ? Effect.void
        : Effect.fail(
            new Worktrees.WorktreeError({
              kind: "Failed",
              reason: `cannot push ${branch} to ${url}: ${out.stderr.trim().split("\n")[0] || `exit ${out.exitCode}`}`
            })
          )
  )

/** Delivers a change (see `Worktrees.Service.deliver`), pushing its branch to `pushTo` when given. */
export const deliver = (repo: Repository, options: Worktrees.DeliverOptions, pushTo?: string | undefined) =>
  Effect.scoped(
    Effect.gen(function* () {
      const top = yield* repo.root
      const inside = yield* open(repo, {
        runId: options.runId,
        name: "deliver",
        base: options.base,
        patch: options.patch
      })
      const where = yield* repo.worktreeRoot(inside)
      for (const file of options.files) {
        const relative = repo.path.relative(top, repo.path.resolve(repo.workspace, file.path))
        if (relative.startsWith("..") || repo.path.isAbsolute(relative)) continue
        const target = repo.path.join(where, relative)
        yield* repo.fs.makeDirectory(repo.path.dirname(target), { recursive: true })
        yield* repo.fs.writeFileString(target, file.text)
      }
      yield* repo.stageAll(where)
      const date = `@${Math.floor(options.at / 1000)} +0000`
      const env = { ...(yield* identity(repo, top)), GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date }
      yield* repo.git(where, ["commit", "--quiet", "--no-verify", "--allow-empty", "-F", "-"], {
        stdin: options.message,
        env
      })
      const commit = (yield* repo.git(where, ["rev-parse", "HEAD"])).trim()
      const branch = yield* branchFor(repo, top, options.branch, commit)
      if (pushTo !== undefined) yield* push(repo, top, pushTo, branch)
      return { branch, commit }
    })
  ).pipe(
    Effect.mapError((error) =>
      error._tag === "WorktreeError" ? error : new Worktrees.WorktreeError({ kind: "Failed", reason: error.message })
    )
  )

/** Fast-forwards the user's branch to a delivered commit (see `Worktrees.Service.apply`). */
export const apply = (repo: Repository, options: { readonly base: string; readonly commit: string }) =>
  Effect.gen(function* () {
    const top = yield* repo.root
    const refuse = (reason: string) => new Worktrees.WorktreeError({ kind: "Refused", reason })
    const head = (yield* repo.git(top, ["rev-parse", "HEAD"])).trim()
    if (head !== options.base) {
      return yield* refuse(`HEAD moved from the run's base ${options.base.slice(0, 12)} to ${head.slice(0, 12)}`)
    }
    const tracked = (yield* repo.git(top, ["status", "--porcelain", "--untracked-files=no"])).trim()
    if (tracked !== "") return yield* refuse("the working tree has uncommitted changes")
    const incoming = (yield* repo.git(top, ["diff", "--name-only", "-z", options.base, options.commit]))
      .split("\0")
      .filter((file) => file !== "")
    const untracked = new Set(
      (yield* repo.git(top, ["ls-files", "--others", "-z"])).split("\0").filter((file) => file !== "")
    )
    for (const file of incoming.filter((f) => untracked.has(f))) {
      const mine = yield* repo.fs.readFileString(repo.path.join(top, file)).pipe(Effect.orElseSucceed(() => undefined))
      const theirs = (yield* repo.run(top, ["show", `${options.commit}:${file}`])).stdout
      if (mine !== theirs) return yield* refuse(`the untracked file ${file} differs from the delivered one`)
      yield* repo.fs.remove(repo.path.join(top, file))
    }
    yield* repo.git(top, ["merge", "--ff-only", "--quiet", options.commit])
  }).pipe(
    Effect.mapError((error) =>
      error._tag === "WorktreeError" ? error : new Worktrees.WorktreeError({ kind: "Failed", reason: error.message })
    )
  )

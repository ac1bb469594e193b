/**
 * A worker's cache of clones, for runs on a fleet: one bare clone per repository URL under
 * `<cache>/clones/`, fetched only when a run's base commit is not in it yet, and a run's checkout made
 * from it as a git worktree detached at the base commit (taken again as it is when the run is taken
 * over on the same worker). Delivered branches are made in the clone and pushed to the URL
 * (`GitWorktrees.layer({ push })`).
 *
 * Git's hooks never run; git never prompts for credentials (a repository that needs them and has none
 * fails with git's reason).
 *
 * @since 0.4.0
 */
import { createHash } from "node:crypto"
import { Context, Effect, FileSystem, Layer, Path, Schema, Semaphore } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { Repository, withWorktreeAdmin } from "./internal/repository.ts"

/**
 * A repository a worker could not use for a run: not reachable, not a repository, or without the
 * run's base commit. `reason` is git's.
 *
 * @example
 * ```ts
 * import { Clones } from "@speckit/git"
 *
 * const error = new Clones.CloneFailed({ url: "/srv/git/app.git", reason: "repository not found" })
 * error.message // "cannot use repository /srv/git/app.git: repository not found"
 * ```
 *
 * @since 0.4.0
 */
export class CloneFailed extends Schema.TaggedError<CloneFailed>()("CloneFailed", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot use repository ${this.url}: ${this.reason}`
  }
}

/**
 * What a run needs of its repository: the URL the workers fetch from and push to, and the commit the
 * run starts from.
 *
 * @since 0.4.0
 */
export interface Source {
  readonly url: string
  readonly base: string
}

/**
 * The cache of clones (see the module).
 *
 * @since 0.4.0
 */
export class Clones extends Context.Service<
  Clones,
  {
    /** The cache's folder. */
    readonly cache: string
    /**
     * Makes (or finds again) `directory` as a checkout of `source` at its base commit, and returns it.
     */
    readonly checkout: (source: Source, directory: string) => Effect.Effect<string, CloneFailed>
  }
>()("@speckit/git/Clones") {}

const firstLine = (text: string) => text.trim().split("\n")[0] ?? ""

/** The clone of `url` in the cache: `<cache>/clones/<16 hex digits of the URL's SHA-256>.git`. */
const clonePathOf = (path: Path.Path, cache: string, url: string) =>
  path.join(cache, "clones", `${createHash("sha256").update(url).digest("hex").slice(0, 16)}.git`)

const make = (cache: string) =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(cache)
    const repo = new Repository(spawner, fs, path, root, {}, Effect.succeed(root))
    // One run at a time fetches into a clone (two fetches into one repository race on its refs).
    const locks = new Map<string, Semaphore.Semaphore>()
    const lockOf = (clone: string) =>
      Effect.sync(() => {
        const existing = locks.get(clone)
        if (existing !== undefined) return existing
        const made = Semaphore.makeUnsafe(1)
        locks.set(clone, made)
        return made
      })

    const failed = (url: string) => (reason: string) => new CloneFailed({ url, reason })

    /** The bare clone, made empty when missing (in a temporary folder renamed into place). */
    const ensureClone = (clone: string, url: string) =>
      Effect.gen(function* () {
        if (yield* fs.exists(clone)) return
        yield* fs.makeDirectory(path.dirname(clone), { recursive: true })
        const temporary = `${clone}.tmp-${process.pid}-${Date.now()}`
        yield* repo.git(path.dirname(clone), ["init", "--bare", "--quiet", temporary])
        yield* fs.rename(temporary, clone).pipe(
          // Another process made it first: its clone is as good.
          Effect.catch(() => fs.remove(temporary, { recursive: true, force: true }))
        )
      }).pipe(Effect.mapError((error) => failed(url)(error.message)))

    const hasCommit = (clone: string, commit: string) =>
      Effect.map(repo.run(clone, ["cat-file", "-e", `${commit}^{commit}`]), (out) => out.exitCode === 0)

    /** Fetches the URL's branches (and, when the base is on none of them, the base itself). */
    const fetchBase = (clone: string, source: Source) =>
      Effect.gen(function* () {
        if (yield* hasCommit(clone, source.base)) return
        const fetched = yield* repo.run(clone, [
          "fetch",
          "--quiet",
          "--no-tags",
          source.url,
          "+refs/heads/*:refs/remotes/origin/*"
        ])
        if (fetched.exitCode !== 0) {
          return yield* Effect.fail(
            failed(source.url)(firstLine(fetched.stderr) || `git fetch exit ${fetched.exitCode}`)
          )
        }
        if (yield* hasCommit(clone, source.base)) return
        yield* repo.run(clone, ["fetch", "--quiet", "--no-tags", source.url, source.base])
        if (!(yield* hasCommit(clone, source.base))) {
          return yield* Effect.fail(
            failed(source.url)(`its branches do not hold the run's base commit ${source.base} (push it first)`)
          )
        }
      })

    /** The run's checkout: found again when it is a worktree, else made at the base. */
    const worktreeAt = (clone: string, source: Source, directory: string) =>
      Effect.gen(function* () {
        const head = yield* repo.run(directory, ["rev-parse", "--show-toplevel"]).pipe(
          Effect.map((out) => (out.exitCode === 0 ? out.stdout.trim() : undefined)),
          Effect.orElseSucceed(() => undefined)
        )
        if (head !== undefined && path.resolve(head) === path.resolve(directory)) return directory
        yield* fs.remove(directory, { recursive: true, force: true })
        yield* fs.makeDirectory(path.dirname(directory), { recursive: true })
        yield* withWorktreeAdmin(
          fs,
          clone,
          Effect.andThen(
            repo.git(clone, ["worktree", "prune"]),
            repo.git(clone, ["worktree", "add", "--quiet", "--detach", "--force", directory, source.base])
          )
        )
        return directory
      }).pipe(Effect.mapError((error) => failed(source.url)(error.message)))

    const checkout = (source: Source, directory: string) =>
      Effect.gen(function* () {
        const clone = clonePathOf(path, root, source.url)
        const lock = yield* lockOf(clone)
        return yield* lock.withPermits(1)(
          Effect.gen(function* () {
            yield* ensureClone(clone, source.url)
            yield* fetchBase(clone, source).pipe(
              Effect.catchTag("WorktreeError", (error) => Effect.fail(failed(source.url)(error.reason)))
            )
            return yield* worktreeAt(clone, source, path.resolve(directory))
          })
        )
      })

    return Clones.of({ cache: root, checkout })
  })

/**
 * The cache of clones under `cache`.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Clones } from "@speckit/git"
 *
 * const checkout = Effect.gen(function* () {
 *   const clones = yield* Clones.Clones
 *   return yield* clones.checkout({ url: "/srv/git/app.git", base: "4b825dc6…" }, "/var/cache/speckit/run-1")
 * }).pipe(Effect.provide(Clones.layer({ cache: "/var/cache/speckit" }).pipe(Layer.provide(NodeServices.layer))))
 * ```
 *
 * @since 0.4.0
 */
export const layer = (options: { readonly cache: string }) => Layer.effect(Clones, make(options.cache))

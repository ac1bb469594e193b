/**
 * The repository holding a workspace, as the worktree operations use it: git commands (hooks never
 * run, output in the C locale), the repository root and the workspace's folder in it, the registered
 * worktrees, and the helpers every operation shares.
 */
import * as Worktrees from "@speckit/core/Worktrees"
import { Effect, FileSystem, Layer, Path, Semaphore, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

/**
 * What each worktree gets from the checkout: files or folders copied (or linked) into it, and a
 * command run in it.
 */
export interface Setup {
  readonly files?: ReadonlyArray<string> | undefined
  readonly link?: boolean | undefined
  readonly command?: readonly [string, ...Array<string>] | undefined
  readonly timeoutMs?: number | undefined
}

/** A git command's output. */
export interface GitOutput {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

/** A worktree git knows. */
export interface Registered {
  readonly path: string
  readonly head: string | undefined
}

export const collectText = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  stream.pipe(Stream.decodeText(), Stream.mkString)

export const fail = (kind: Worktrees.WorktreeError["kind"], reason: string) =>
  new Worktrees.WorktreeError({ kind, reason })

const firstLine = (text: string) => text.trim().split("\n")[0] ?? ""

/** The repository of a workspace (see the module). */
export class Repository {
  readonly services: Layer.Layer<FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner>

  constructor(
    readonly spawner: ChildProcessSpawner.ChildProcessSpawner["Service"],
    readonly fs: FileSystem.FileSystem,
    readonly path: Path.Path,
    readonly workspace: string,
    readonly setup: Setup,
    /** The repository's root (cached; `NotARepository` when the workspace is in none). */
    readonly root: Effect.Effect<string, Worktrees.WorktreeError>
  ) {
    this.services = Layer.mergeAll(
      Layer.succeed(FileSystem.FileSystem, fs),
      Layer.succeed(Path.Path, path),
      Layer.succeed(ChildProcessSpawner.ChildProcessSpawner, spawner)
    )
  }

  /** Runs git in `cwd`; never fails on a non-zero exit (the caller decides). */
  run = (
    cwd: string,
    args: ReadonlyArray<string>,
    input?: { readonly stdin?: string; readonly env?: Record<string, string> }
  ): Effect.Effect<GitOutput, Worktrees.WorktreeError> => {
    const spawner = this.spawner
    return Effect.gen(function* () {
      const command = ChildProcess.make(
        "git",
        ["-c", "core.hooksPath=/dev/null", "-c", "core.quotepath=off", ...args],
        {
          cwd,
          extendEnv: true,
          env: { GIT_OPTIONAL_LOCKS: "0", GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...input?.env },
          ...(input?.stdin === undefined ? {} : { stdin: Stream.make(new TextEncoder().encode(input.stdin)) })
        }
      )
      const handle = yield* spawner.spawn(command)
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [collectText(handle.stdout), collectText(handle.stderr), handle.exitCode],
        { concurrency: "unbounded" }
      )
      return { stdout, stderr, exitCode: Number(exitCode) }
    }).pipe(
      Effect.scoped,
      Effect.mapError((error) =>
        /ENOENT/.test(error.message)
          ? fail("GitMissing", "git is not installed (or not on PATH); real changes need git 2.5 or newer")
          : fail("Failed", `git ${args[0] ?? ""}: ${error.message}`)
      )
    )
  }

  /** Runs git and fails with its first line of stderr when it exits non-zero. */
  git = (cwd: string, args: ReadonlyArray<string>, input?: Parameters<Repository["run"]>[2]) =>
    Effect.flatMap(this.run(cwd, args, input), (out) =>
      out.exitCode === 0
        ? Effect.succeed(out.stdout)
        : Effect.fail(
            fail("Failed", `git ${args.join(" ")} failed: ${firstLine(out.stderr) || `exit ${out.exitCode}`}`)
          )
    )

  private common: string | undefined

  /** Runs a command that changes the repository's registered worktrees, alone (see {@link withWorktreeAdmin}). */
  worktreeAdmin = <A, E, R>(effect: Effect.Effect<A, E | Worktrees.WorktreeError, R>) =>
    Effect.flatMap(this.commonDir, (dir) => withWorktreeAdmin(this.fs, dir, effect))

  /**
   * The repository's common git dir (`<root>/.git`, or the bare repository a checkout of a fleet's
   * worker is a worktree of): its `worktrees/` holds every worktree's registered dir.
   */
  get commonDir(): Effect.Effect<string, Worktrees.WorktreeError> {
    const known = this.common
    if (known !== undefined) return Effect.succeed(known)
    return Effect.flatMap(this.root, (top) =>
      Effect.map(this.git(top, ["rev-parse", "--git-common-dir"]), (out) => {
        this.common = this.path.resolve(top, out.trim())
        return this.common
      })
    )
  }

  /** The workspace's folder relative to the repository root ("" when it is the root). */
  get prefix(): Effect.Effect<string, Worktrees.WorktreeError> {
    return Effect.map(this.root, (top) => this.path.relative(top, this.workspace))
  }

  worktreePath = (runId: string, name: string) => this.path.join(this.workspace, Worktrees.directoryOf(runId), name)

  /** The worktrees git knows of. */
  get registered(): Effect.Effect<ReadonlyArray<Registered>, Worktrees.WorktreeError> {
    return Effect.flatMap(this.root, (top) =>
      Effect.map(this.git(top, ["worktree", "list", "--porcelain"]), (text) =>
        text
          .split("\n\n")
          .map((block) => ({ path: /^worktree (.+)$/m.exec(block)?.[1] ?? "", head: /^HEAD (\w+)$/m.exec(block)?.[1] }))
          .filter((entry) => entry.path !== "")
      )
    )
  }

  /** The worktree root holding a path `open` returned (the workspace's folder in the worktree). */
  worktreeRoot = (inside: string) =>
    Effect.map(this.prefix, (rel) => (rel === "" ? inside : this.path.resolve(inside, this.path.relative(rel, ""))))

  /**
   * Stages everything in a worktree but the setup files (copied in, never tracked there: a setup file
   * that exists in the worktree is not copied over it).
   */
  stageAll = (where: string, scoped: ReadonlyArray<string> = []) => {
    const repo = this
    return Effect.gen(function* () {
      yield* repo.git(where, [...scoped, "add", "-A", "--", "."])
      const rel = yield* repo.prefix
      const setupPaths = (repo.setup.files ?? []).map((file) =>
        repo.path.join(rel, repo.path.relative(repo.workspace, repo.path.resolve(repo.workspace, file)))
      )
      if (setupPaths.length > 0) {
        yield* repo.git(where, [...scoped, "rm", "-r", "--cached", "--quiet", "--ignore-unmatch", "--", ...setupPaths])
      }
    })
  }

  /** Removes a worktree (pruning git's record of it when needed), whatever state it is in. */
  removeWorktree = (where: string): Effect.Effect<void> => {
    const repo = this
    return Effect.gen(function* () {
      const top = yield* repo.root
      yield* repo.worktreeAdmin(
        Effect.gen(function* () {
          const removed = yield* repo.run(top, ["worktree", "remove", "--force", "--force", where])
          if (removed.exitCode !== 0) {
            // git no longer knows it (or could not remove it): the folder goes, then git's record of it.
            yield* repo.fs.remove(where, { recursive: true, force: true }).pipe(Effect.ignore)
            yield* repo.run(top, ["worktree", "prune"])
          }
        })
      )
      // The run's folder, and the worktrees folder, once empty.
      for (const folder of [repo.path.dirname(where), repo.path.dirname(repo.path.dirname(where))]) {
        const left = yield* repo.fs.readDirectory(folder).pipe(Effect.orElseSucceed(() => ["?"]))
        if (left.length === 0) yield* repo.fs.remove(folder).pipe(Effect.ignore)
      }
    }).pipe(Effect.ignore)
  }
}

/**
 * The lock of each repository's worktree administration in this process, by its common git dir (real
 * path). A process-wide registry on purpose: a fleet's worker has several `Repository` values over one
 * clone (the cache's, and each run's), and they must take turns.
 */
const adminLocks = new Map<string, Semaphore.Semaphore>()

/**
 * Runs `effect`, a `git worktree add`, `remove` or `prune` in the repository whose common git dir is
 * `commonDir`, alone in this process: git reads every registered worktree's files while it adds one,
 * and fails ("failed to read .git/worktrees/<name>/commondir") on one another command is still
 * making; a prune could take a half-made one for stale.
 */
export const withWorktreeAdmin = <A, E, R>(
  fs: FileSystem.FileSystem,
  commonDir: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.orElseSucceed(fs.realPath(commonDir), () => commonDir),
    (key) => {
      const existing = adminLocks.get(key)
      const lock = existing ?? Semaphore.makeUnsafe(1)
      if (existing === undefined) adminLocks.set(key, lock)
      return lock.withPermits(1)(effect)
    }
  )

/** The repository holding `options.workspace`. */
export const make = (options: { readonly workspace: string; readonly setup?: Setup | undefined }) =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const workspace = path.resolve(options.workspace)
    const probe = new Repository(spawner, fs, path, workspace, options.setup ?? {}, Effect.die("no root yet"))
    const root = yield* Effect.cached(
      Effect.flatMap(probe.run(workspace, ["rev-parse", "--show-toplevel"]), (out) =>
        out.exitCode === 0
          ? Effect.succeed(out.stdout.trim())
          : Effect.fail(
              fail(
                "NotARepository",
                `${workspace} is not in a git repository; real changes (implement.mode changes) need one`
              )
            )
      )
    )
    return new Repository(spawner, fs, path, workspace, options.setup ?? {}, root)
  })

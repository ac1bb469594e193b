/**
 * The git layer of core's `Worktrees` port: every worktree is a `git worktree` of the workspace's
 * repository under `.speckit/worktrees/<run-id>/<name>`, made detached at the run's base commit; what
 * an agent changed is staged (honouring `.gitignore`) and taken as `git diff --binary` against the base;
 * delivery commits in a worktree of its own and only adds a branch. The user's checkout, branch, index
 * and files are never touched, except by `apply` (`speckit auto --apply`), which fast-forwards the
 * current branch when that is safe.
 *
 * Git's hooks never run (`core.hooksPath` is emptied for every command speckit runs).
 *
 * @since 0.3.0
 */
import { type Candidate, FileAnswer, Worktrees } from "@speckit/core"
import { Effect, FileSystem, Layer, Option, Path, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

/**
 * What each worktree gets from the checkout: files or folders copied (or linked) into it, and a
 * command run in it.
 *
 * @since 0.3.0
 */
export interface Setup {
  readonly files?: ReadonlyArray<string> | undefined
  readonly link?: boolean | undefined
  readonly command?: readonly [string, ...Array<string>] | undefined
  readonly timeoutMs?: number | undefined
}

/**
 * The oldest git with `git worktree`.
 *
 * @since 0.3.0
 */
export const minimumVersion = [2, 5] as const

interface GitOutput {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

const decoder = new TextDecoder("utf-8", { fatal: true })

const collectText = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

const fail = (kind: Worktrees.WorktreeError["kind"], reason: string) => new Worktrees.WorktreeError({ kind, reason })

const firstLine = (text: string) => text.trim().split("\n")[0] ?? ""

/**
 * Makes the git worktrees of the repository holding `workspace`.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { GitWorktrees } from "@speckit/cli"
 *
 * const layer = GitWorktrees.layer({ workspace: "." }).pipe(Layer.provide(NodeServices.layer))
 * ```
 *
 * @since 0.3.0
 */
export const make = (options: { readonly workspace: string; readonly setup?: Setup | undefined }) =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const workspace = path.resolve(options.workspace)
    const setup = options.setup ?? {}
    const services = Layer.mergeAll(
      Layer.succeed(FileSystem.FileSystem, fs),
      Layer.succeed(Path.Path, path),
      Layer.succeed(ChildProcessSpawner.ChildProcessSpawner, spawner)
    )

    /** Runs git in `cwd`; never fails on a non-zero exit (the caller decides). */
    const run = (
      cwd: string,
      args: ReadonlyArray<string>,
      input?: { readonly stdin?: string; readonly env?: Record<string, string> }
    ) =>
      Effect.gen(function* () {
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
        return { stdout, stderr, exitCode: Number(exitCode) } satisfies GitOutput
      }).pipe(
        Effect.scoped,
        Effect.mapError((error) =>
          /ENOENT/.test(error.message)
            ? fail("GitMissing", "git is not installed (or not on PATH); real changes need git 2.5 or newer")
            : fail("Failed", `git ${args[0] ?? ""}: ${error.message}`)
        )
      )

    /** Runs git and fails with its first line of stderr when it exits non-zero. */
    const git = (cwd: string, args: ReadonlyArray<string>, input?: Parameters<typeof run>[2]) =>
      Effect.flatMap(run(cwd, args, input), (out) =>
        out.exitCode === 0
          ? Effect.succeed(out.stdout)
          : Effect.fail(
              fail("Failed", `git ${args.join(" ")} failed: ${firstLine(out.stderr) || `exit ${out.exitCode}`}`)
            )
      )

    const root = yield* Effect.cached(
      Effect.flatMap(run(workspace, ["rev-parse", "--show-toplevel"]), (out) =>
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
    /** The workspace's folder relative to the repository root ("" when it is the root). */
    const prefix = Effect.map(root, (top) => path.relative(top, workspace))

    const worktreePath = (runId: string, name: string) => path.join(workspace, Worktrees.directoryOf(runId), name)

    interface Registered {
      readonly path: string
      readonly head: string | undefined
    }
    const registered = Effect.flatMap(root, (top) =>
      Effect.map(
        git(top, ["worktree", "list", "--porcelain"]),
        (text): ReadonlyArray<Registered> =>
          text
            .split("\n\n")
            .map((block) => ({
              path: /^worktree (.+)$/m.exec(block)?.[1] ?? "",
              head: /^HEAD (\w+)$/m.exec(block)?.[1]
            }))
            .filter((entry) => entry.path !== "")
      )
    )

    const version = Effect.gen(function* () {
      const out = yield* run(workspace, ["--version"])
      const match = /(\d+)\.(\d+)/.exec(out.stdout)
      const [major, minor] = [Number(match?.[1] ?? 0), Number(match?.[2] ?? 0)]
      if (major < minimumVersion[0] || (major === minimumVersion[0] && minor < minimumVersion[1])) {
        return yield* fail("GitTooOld", `git ${major}.${minor} is too old: worktrees need git 2.5 or newer`)
      }
    })

    const check = (base: string) =>
      Effect.gen(function* () {
        yield* version
        const top = yield* root
        const exists = yield* run(top, ["cat-file", "-e", `${base}^{commit}`])
        if (exists.exitCode !== 0) {
          return yield* fail("BaseMissing", `the run's base commit ${base} is not in the repository at ${top}`)
        }
      })

    /** Removes a worktree (and prunes), whatever state it is in. */
    const removeWorktree = (where: string) =>
      Effect.gen(function* () {
        const top = yield* root
        const removed = yield* run(top, ["worktree", "remove", "--force", "--force", where])
        if (removed.exitCode !== 0) {
          // git no longer knows it (or could not remove it): the folder goes, then git's record of it.
          yield* fs.remove(where, { recursive: true, force: true }).pipe(Effect.ignore)
          yield* run(top, ["worktree", "prune"])
        }
        // The run's folder, and the worktrees folder, once empty.
        for (const folder of [path.dirname(where), path.dirname(path.dirname(where))]) {
          const left = yield* fs.readDirectory(folder).pipe(Effect.orElseSucceed(() => ["?"]))
          if (left.length === 0) yield* fs.remove(folder).pipe(Effect.ignore)
        }
      }).pipe(Effect.ignore)

    const copySetup = (worktreeRoot: string) =>
      Effect.gen(function* () {
        const inside = path.join(worktreeRoot, yield* prefix)
        for (const file of setup.files ?? []) {
          const from = path.resolve(workspace, file)
          if (!(yield* fs.exists(from).pipe(Effect.orElseSucceed(() => false)))) continue
          const to = path.join(inside, path.relative(workspace, from))
          if (yield* fs.exists(to).pipe(Effect.orElseSucceed(() => false))) continue
          yield* fs.makeDirectory(path.dirname(to), { recursive: true })
          yield* setup.link === true ? fs.symlink(from, to) : fs.copy(from, to)
        }
      }).pipe(Effect.mapError((error) => fail("SetupFailed", `implement.setup.files: ${error.message}`)))

    const runSetupCommand = (cwd: string) =>
      Effect.gen(function* () {
        const command = setup.command
        if (command === undefined) return
        const [program, ...args] = command
        const out = yield* Effect.gen(function* () {
          const handle = yield* spawner.spawn(
            ChildProcess.make(program, args, { cwd, extendEnv: true, killSignal: "SIGTERM" })
          )
          const [all, exitCode] = yield* Effect.all([collectText(handle.all), handle.exitCode], { concurrency: 2 })
          return { all, exitCode: Number(exitCode) }
        }).pipe(
          Effect.scoped,
          Effect.timeoutOrElse({
            duration: setup.timeoutMs ?? 600_000,
            orElse: () =>
              Effect.fail(
                fail("SetupFailed", `implement.setup.command timed out after ${setup.timeoutMs ?? 600_000} ms`)
              )
          }),
          Effect.mapError((error) =>
            error._tag === "WorktreeError" ? error : fail("SetupFailed", `implement.setup.command: ${error.message}`)
          )
        )
        if (out.exitCode !== 0) {
          const tail = out.all.trim().split("\n").slice(-5).join(" | ")
          return yield* fail("SetupFailed", `implement.setup.command exited with ${out.exitCode}: ${tail}`)
        }
      })

    const open = (input: Worktrees.OpenOptions) =>
      Effect.gen(function* () {
        const top = yield* root
        const where = worktreePath(input.runId, input.name)
        if (yield* fs.exists(where).pipe(Effect.orElseSucceed(() => false))) {
          const known = (yield* registered).some((entry) => entry.path === where)
          if (!known) {
            return yield* fail(
              "PathTaken",
              `${where} exists and is not a speckit worktree; move it away (or run \`speckit clean\`)`
            )
          }
          // A crash's leftover of this very worktree: made again from scratch.
          yield* removeWorktree(where)
        }
        yield* fs
          .makeDirectory(path.dirname(where), { recursive: true })
          .pipe(Effect.mapError((error) => fail("Failed", error.message)))
        yield* Effect.acquireRelease(git(top, ["worktree", "add", "--detach", "--quiet", where, input.base]), () =>
          removeWorktree(where)
        )
        if (input.patch !== undefined && input.patch !== "") {
          yield* git(where, ["apply", "--binary", "--whitespace=nowarn", "-"], { stdin: input.patch }).pipe(
            Effect.mapError((error) =>
              fail("Failed", `the recorded patch does not apply to ${input.base}: ${error.reason}`)
            )
          )
        }
        yield* copySetup(where)
        const inside = path.join(where, yield* prefix)
        yield* runSetupCommand(inside)
        return inside
      })

    /** The worktree root holding a path `open` returned. */
    const worktreeRoot = (inside: string) =>
      Effect.map(prefix, (rel) => (rel === "" ? inside : path.resolve(inside, path.relative(rel, ""))))

    /**
     * Stages everything in a worktree but the setup files (copied in, never tracked there: a setup
     * file that exists in the worktree is not copied over it).
     */
    const stageAll = (where: string, scoped: ReadonlyArray<string> = []) =>
      Effect.gen(function* () {
        yield* git(where, [...scoped, "add", "-A", "--", "."])
        const rel = yield* prefix
        const setupPaths = (setup.files ?? []).map((file) =>
          path.join(rel, path.relative(workspace, path.resolve(workspace, file)))
        )
        if (setupPaths.length > 0) {
          yield* git(where, [...scoped, "rm", "-r", "--cached", "--quiet", "--ignore-unmatch", "--", ...setupPaths])
        }
      })

    const parseRaw = (raw: string) => {
      const fields = raw.split("\0")
      const entries: Array<{
        readonly mode: string
        readonly sha: string
        readonly status: string
        readonly path: string
      }> = []
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const meta = /^:(\d+) (\d+) \w+ (\w+) (\w)/.exec(fields[i] ?? "")
        if (meta === null) continue
        entries.push({ mode: meta[2] ?? "", sha: meta[3] ?? "", status: meta[4] ?? "", path: fields[i + 1] ?? "" })
      }
      return entries
    }

    const parseNumstat = (text: string) => {
      const counts = new Map<string, { readonly added: number; readonly removed: number; readonly binary: boolean }>()
      for (const record of text.split("\0")) {
        const match = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(record)
        if (match === null) continue
        const binary = match[1] === "-"
        counts.set(match[3] ?? "", {
          added: binary ? 0 : Number(match[1]),
          removed: binary ? 0 : Number(match[2]),
          binary
        })
      }
      return counts
    }

    const statusOf = (code: string): Candidate.ChangedFile["status"] =>
      code === "A" ? "added" : code === "D" ? "deleted" : code === "T" ? "type-changed" : "modified"

    const collect = (inside: string, base: string) =>
      Effect.gen(function* () {
        const where = yield* worktreeRoot(inside)
        const link = path.join(where, ".git")
        const linkText = yield* fs.readFileString(link).pipe(Effect.orElseSucceed(() => ""))
        const gitDir = /^gitdir: (.+)$/m.exec(linkText)?.[1]?.trim()
        const registeredDir = yield* Effect.map(root, (top) => path.join(top, ".git", "worktrees"))
        const gitTampered = gitDir === undefined || !gitDir.startsWith(registeredDir)
        // With a tampered link, git is pointed at the worktree's registered git dir explicitly.
        const known = yield* Effect.map(root, (top) => path.join(top, ".git", "worktrees", path.basename(where)))
        const scoped = ["--git-dir", gitDir !== undefined && !gitTampered ? gitDir : known, "--work-tree", where]
        yield* stageAll(where, scoped)
        const diffArgs = [...scoped, "diff", "--cached", "--no-renames", "--no-color", "--no-ext-diff", base]
        const [patch, raw, numstat] = yield* Effect.all(
          [
            git(where, [...diffArgs, "--binary", "--full-index"]),
            git(where, [...diffArgs, "--raw", "--no-abbrev", "-z"]),
            git(where, [...diffArgs, "--numstat", "-z"])
          ],
          { concurrency: 3 }
        )
        const counts = parseNumstat(numstat)
        const files: Array<Candidate.ChangedFile> = []
        const entries = parseRaw(raw)
        const present = entries.filter((entry) => entry.status !== "D")
        // Every blob's size in one `cat-file --batch-check`.
        const sizes = new Map<string, number>()
        if (present.length > 0) {
          const checked = yield* git(where, [...scoped, "cat-file", "--batch-check=%(objectname) %(objectsize)"], {
            stdin: `${present.map((entry) => entry.sha).join("\n")}\n`
          })
          for (const line of checked.split("\n")) {
            const [sha, size] = line.split(" ")
            if (sha !== undefined && size !== undefined) sizes.set(sha, Number(size))
          }
        }
        for (const entry of entries) {
          const count = counts.get(entry.path) ?? { added: 0, removed: 0, binary: false }
          const deleted = entry.status === "D"
          const bytes = deleted ? 0 : (sizes.get(entry.sha) ?? 0)
          const linkTarget =
            entry.mode === "120000" && !deleted
              ? yield* git(where, [...scoped, "cat-file", "blob", entry.sha])
              : undefined
          files.push({
            path: entry.path,
            status: statusOf(entry.status),
            added: count.added,
            removed: count.removed,
            binary: count.binary,
            bytes,
            mode: entry.mode,
            ...(linkTarget === undefined ? {} : { linkTarget })
          })
        }
        return { patch, files, gitTampered } satisfies Candidate.Collected
      })

    const files = (inside: string, limits: { readonly fileBytes: number; readonly totalBytes: number }) =>
      Effect.gen(function* () {
        const where = yield* worktreeRoot(inside)
        const listed = (yield* git(where, ["ls-files", "-z"])).split("\0").filter((file) => file !== "")
        let total = 0
        const shown: Array<{ readonly path: string; readonly bytes: number; readonly text?: string }> = []
        for (const file of listed) {
          const full = path.join(where, file)
          const info = yield* fs.stat(full).pipe(Effect.option)
          const bytes = Option.isSome(info) ? Number(info.value.size) : 0
          let text: string | undefined
          if (bytes <= limits.fileBytes && total + bytes <= limits.totalBytes && Option.isSome(info)) {
            const content = yield* fs.readFile(full).pipe(Effect.option)
            if (Option.isSome(content) && !content.value.includes(0)) {
              try {
                text = decoder.decode(content.value)
                total += bytes
              } catch {
                text = undefined
              }
            }
          }
          shown.push(text === undefined ? { path: file, bytes } : { path: file, bytes, text })
        }
        return shown
      }).pipe(Effect.mapError((error) => (error._tag === "WorktreeError" ? error : fail("Failed", error.message))))

    const write = (inside: string, answer: Pick<FileAnswer.FileAnswer, "files" | "deleted">) =>
      Effect.flatMap(worktreeRoot(inside), (where) => FileAnswer.write(where, answer)).pipe(
        Effect.mapError((error) => (error._tag === "WorktreeError" ? error : fail("Failed", error.message))),
        Effect.provide(services)
      )

    const leftovers = (runId?: string | undefined) =>
      Effect.gen(function* () {
        const base = path.join(workspace, ".speckit", "worktrees")
        const found = new Map<string, Worktrees.Leftover>()
        for (const entry of yield* registered) {
          const relative = path.relative(base, entry.path)
          if (relative.startsWith("..") || path.isAbsolute(relative)) continue
          const [run, name] = relative.split(path.sep)
          if (run === undefined || name === undefined || (runId !== undefined && run !== runId)) continue
          const status = yield* run_(entry.path)
          found.set(entry.path, { runId: run, name, path: entry.path, dirty: status })
        }
        // Folders a crash left that git no longer knows.
        const runs = yield* fs.readDirectory(base).pipe(Effect.orElseSucceed(() => [] as Array<string>))
        for (const run of runs) {
          if (runId !== undefined && run !== runId) continue
          const names = yield* fs
            .readDirectory(path.join(base, run))
            .pipe(Effect.orElseSucceed(() => [] as Array<string>))
          for (const name of names) {
            const where = path.join(base, run, name)
            if (!found.has(where)) found.set(where, { runId: run, name, path: where, dirty: true })
          }
        }
        return [...found.values()].sort((a, b) => a.path.localeCompare(b.path))
      })

    /** Whether a worktree holds changes. */
    const run_ = (where: string) =>
      Effect.map(run(where, ["status", "--porcelain"]), (out) => out.exitCode !== 0 || out.stdout.trim() !== "")

    const clean = (runId?: string | undefined) =>
      Effect.gen(function* () {
        const removed = yield* leftovers(runId)
        for (const leftover of removed) yield* removeWorktree(leftover.path)
        const base = path.join(workspace, ".speckit", "worktrees")
        for (const run of yield* fs.readDirectory(base).pipe(Effect.orElseSucceed(() => [] as Array<string>))) {
          if (runId !== undefined && run !== runId) continue
          const left = yield* fs.readDirectory(path.join(base, run)).pipe(Effect.orElseSucceed(() => ["?"]))
          if (left.length === 0) yield* fs.remove(path.join(base, run)).pipe(Effect.ignore)
        }
        return removed
      })

    return {
      check,
      open,
      collect,
      files,
      write,
      leftovers,
      clean,
      root,
      prefix,
      git,
      run,
      worktreePath,
      workspace,
      fs,
      path,
      stageAll,
      worktreeRoot,
      services
    }
  })

/**
 * The repository operations {@link make} builds.
 *
 * @since 0.3.0
 */
export type Repository = Effect.Success<ReturnType<typeof make>>

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

/**
 * Delivers a change (see `Worktrees.Service.deliver`).
 *
 * @since 0.3.0
 */
export const deliver = (repo: Repository, options: Worktrees.DeliverOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const top = yield* repo.root
      const inside = yield* repo.open({
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
      return { branch, commit }
    })
  ).pipe(
    Effect.mapError((error) =>
      error._tag === "WorktreeError" ? error : new Worktrees.WorktreeError({ kind: "Failed", reason: error.message })
    )
  )

/**
 * Fast-forwards the user's branch to a delivered commit (see `Worktrees.Service.apply`).
 *
 * @since 0.3.0
 */
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

/**
 * The git layer of the `Worktrees` port for the repository holding `workspace`.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { GitWorktrees } from "@speckit/cli"
 *
 * const layer = GitWorktrees.layer({ workspace: "." }).pipe(Layer.provide(NodeServices.layer))
 * ```
 *
 * @since 0.3.0
 */
export const layer = (options: { readonly workspace: string; readonly setup?: Setup | undefined }) =>
  Layer.effect(
    Worktrees.Worktrees,
    Effect.map(
      make(options),
      (repo): Worktrees.Service => ({
        check: repo.check,
        open: repo.open,
        collect: repo.collect,
        files: repo.files,
        write: repo.write,
        deliver: (delivery) => deliver(repo, delivery),
        apply: (target) => apply(repo, target),
        leftovers: repo.leftovers,
        clean: repo.clean
      })
    )
  )

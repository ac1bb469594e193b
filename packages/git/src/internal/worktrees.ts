/**
 * The worktree operations of the `Worktrees` port, on a {@link Repository}: checking git and the base,
 * opening a worktree (with its setup), collecting a change as a patch, listing and writing files,
 * leftovers and cleaning.
 */
import type * as Candidate from "@speckit/core/Candidate"
import * as FileAnswer from "@speckit/core/FileAnswer"
import type * as Worktrees from "@speckit/core/Worktrees"
import { Effect, Option } from "effect"
import { ChildProcess } from "effect/process"
import { collectText, fail, type Repository } from "./repository.ts"

/** The oldest git with `git worktree`. */
export const minimumVersion = [2, 5] as const

const decoder = new TextDecoder("utf-8", { fatal: true })

const version = (repo: Repository) =>
  Effect.gen(function* () {
    const out = yield* repo.run(repo.workspace, ["--version"])
    const match = /(\d+)\.(\d+)/.exec(out.stdout)
    const [major, minor] = [Number(match?.[1] ?? 0), Number(match?.[2] ?? 0)]
    if (major < minimumVersion[0] || (major === minimumVersion[0] && minor < minimumVersion[1])) {
      return yield* fail("GitTooOld", `git ${major}.${minor} is too old: worktrees need git 2.5 or newer`)
    }
  })

/** Checks git, the repository and the base commit. */
export const check = (repo: Repository, base: string) =>
  Effect.gen(function* () {
    yield* version(repo)
    const top = yield* repo.root
    const exists = yield* repo.run(top, ["cat-file", "-e", `${base}^{commit}`])
    if (exists.exitCode !== 0) {
      return yield* fail("BaseMissing", `the run's base commit ${base} is not in the repository at ${top}`)
    }
  })

/** Copies (or links) the setup files from the checkout into a worktree. */
const copySetup = (repo: Repository, worktreeRoot: string) =>
  Effect.gen(function* () {
    const { fs, path, workspace, setup } = repo
    const inside = path.join(worktreeRoot, yield* repo.prefix)
    for (const file of setup.files ?? []) {
      const from = path.resolve(workspace, file)
      if (!(yield* fs.exists(from).pipe(Effect.orElseSucceed(() => false)))) continue
      const to = path.join(inside, path.relative(workspace, from))
      if (yield* fs.exists(to).pipe(Effect.orElseSucceed(() => false))) continue
      yield* fs.makeDirectory(path.dirname(to), { recursive: true })
      yield* setup.link === true ? fs.symlink(from, to) : fs.copy(from, to)
    }
  }).pipe(
    Effect.mapError((error) =>
      error._tag === "WorktreeError" ? error : fail("SetupFailed", `implement.setup.files: ${error.message}`)
    )
  )

/** Runs the setup command in a worktree (with its timeout); a failure names its last lines. */
const runSetupCommand = (repo: Repository, cwd: string) =>
  Effect.gen(function* () {
    const command = repo.setup.command
    if (command === undefined) return
    const timeoutMs = repo.setup.timeoutMs ?? 600_000
    const [program, ...args] = command
    const out = yield* Effect.gen(function* () {
      const handle = yield* repo.spawner.spawn(
        ChildProcess.make(program, args, { cwd, extendEnv: true, killSignal: "SIGTERM" })
      )
      const [all, exitCode] = yield* Effect.all([collectText(handle.all), handle.exitCode], { concurrency: 2 })
      return { all, exitCode: Number(exitCode) }
    }).pipe(
      Effect.scoped,
      Effect.timeoutOrElse({
        duration: timeoutMs,
        orElse: () => Effect.fail(fail("SetupFailed", `implement.setup.command timed out after ${timeoutMs} ms`))
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

/** Opens a worktree (see `Worktrees.Service.open`). */
export const open = (repo: Repository, input: Worktrees.OpenOptions) =>
  Effect.gen(function* () {
    const { fs, path } = repo
    const top = yield* repo.root
    const where = repo.worktreePath(input.runId, input.name)
    if (yield* fs.exists(where).pipe(Effect.orElseSucceed(() => false))) {
      const known = (yield* repo.registered).some((entry) => entry.path === where)
      if (!known) {
        return yield* fail(
          "PathTaken",
          `${where} exists and is not a speckit worktree; move it away (or run \`speckit clean\`)`
        )
      }
      // A crash's leftover of this very worktree: made again from scratch.
      yield* repo.removeWorktree(where)
    }
    yield* fs
      .makeDirectory(path.dirname(where), { recursive: true })
      .pipe(Effect.mapError((error) => fail("Failed", error.message)))
    yield* Effect.acquireRelease(
      repo.worktreeAdmin(repo.git(top, ["worktree", "add", "--detach", "--quiet", where, input.base])),
      () => repo.removeWorktree(where)
    )
    if (input.patch !== undefined && input.patch !== "") {
      yield* repo
        .git(where, ["apply", "--binary", "--whitespace=nowarn", "-"], { stdin: input.patch })
        .pipe(
          Effect.mapError((error) =>
            fail("Failed", `the recorded patch does not apply to ${input.base}: ${error.reason}`)
          )
        )
    }
    yield* copySetup(repo, where)
    const inside = path.join(where, yield* repo.prefix)
    yield* runSetupCommand(repo, inside)
    return inside
  })

interface RawEntry {
  readonly mode: string
  readonly sha: string
  readonly status: string
  readonly path: string
}

const parseRaw = (raw: string): Array<RawEntry> => {
  const fields = raw.split("\0")
  const entries: Array<RawEntry> = []
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
    counts.set(match[3] ?? "", { added: binary ? 0 : Number(match[1]), removed: binary ? 0 : Number(match[2]), binary })
  }
  return counts
}

const statusOf = (code: string): Candidate.ChangedFile["status"] =>
  code === "A" ? "added" : code === "D" ? "deleted" : code === "T" ? "type-changed" : "modified"

/** Every blob's size, in one `cat-file --batch-check`. */
const sizesOf = (repo: Repository, where: string, scoped: ReadonlyArray<string>, entries: ReadonlyArray<RawEntry>) =>
  Effect.gen(function* () {
    const sizes = new Map<string, number>()
    const present = entries.filter((entry) => entry.status !== "D")
    if (present.length === 0) return sizes
    const checked = yield* repo.git(where, [...scoped, "cat-file", "--batch-check=%(objectname) %(objectsize)"], {
      stdin: `${present.map((entry) => entry.sha).join("\n")}\n`
    })
    for (const line of checked.split("\n")) {
      const [sha, size] = line.split(" ")
      if (sha !== undefined && size !== undefined) sizes.set(sha, Number(size))
    }
    return sizes
  })

/**
 * The git arguments that point at a worktree's registered git dir, and whether its `.git` link was
 * written to (then git is pointed at the registered dir explicitly).
 */
const gitDirOf = (repo: Repository, where: string) =>
  Effect.gen(function* () {
    const { fs, path } = repo
    const linkText = yield* fs.readFileString(path.join(where, ".git")).pipe(Effect.orElseSucceed(() => ""))
    const gitDir = /^gitdir: (.+)$/m.exec(linkText)?.[1]?.trim()
    const registeredDir = path.join(yield* repo.commonDir, "worktrees")
    const gitTampered = gitDir === undefined || !gitDir.startsWith(registeredDir)
    const known = path.join(registeredDir, path.basename(where))
    const scoped = ["--git-dir", gitDir !== undefined && !gitTampered ? gitDir : known, "--work-tree", where]
    return { scoped, gitTampered }
  })

/** Collects a worktree's change (see `Worktrees.Service.collect`). */
export const collect = (repo: Repository, inside: string, base: string) =>
  Effect.gen(function* () {
    const where = yield* repo.worktreeRoot(inside)
    const { scoped, gitTampered } = yield* gitDirOf(repo, where)
    yield* repo.stageAll(where, scoped)
    const diffArgs = [...scoped, "diff", "--cached", "--no-renames", "--no-color", "--no-ext-diff", base]
    const [patch, raw, numstat] = yield* Effect.all(
      [
        repo.git(where, [...diffArgs, "--binary", "--full-index"]),
        repo.git(where, [...diffArgs, "--raw", "--no-abbrev", "-z"]),
        repo.git(where, [...diffArgs, "--numstat", "-z"])
      ],
      { concurrency: 3 }
    )
    const counts = parseNumstat(numstat)
    const entries = parseRaw(raw)
    const sizes = yield* sizesOf(repo, where, scoped, entries)
    const files: Array<Candidate.ChangedFile> = []
    for (const entry of entries) {
      const count = counts.get(entry.path) ?? { added: 0, removed: 0, binary: false }
      const deleted = entry.status === "D"
      const linkTarget =
        entry.mode === "120000" && !deleted
          ? yield* repo.git(where, [...scoped, "cat-file", "blob", entry.sha])
          : undefined
      files.push({
        path: entry.path,
        status: statusOf(entry.status),
        added: count.added,
        removed: count.removed,
        binary: count.binary,
        bytes: deleted ? 0 : (sizes.get(entry.sha) ?? 0),
        mode: entry.mode,
        ...(linkTarget === undefined ? {} : { linkTarget })
      })
    }
    return { patch, files, gitTampered } satisfies Candidate.Collected
  })

/** A tracked file's text when it is UTF-8 and within the limits. */
const textOf = (repo: Repository, full: string, bytes: number, room: number, fileBytes: number) =>
  Effect.gen(function* () {
    if (bytes > fileBytes || bytes > room) return undefined
    const content = yield* repo.fs.readFile(full).pipe(Effect.option)
    if (Option.isNone(content) || content.value.includes(0)) return undefined
    try {
      return decoder.decode(content.value)
    } catch {
      return undefined
    }
  })

/** The tracked files of a worktree (see `Worktrees.Service.files`). */
export const files = (
  repo: Repository,
  inside: string,
  limits: { readonly fileBytes: number; readonly totalBytes: number }
) =>
  Effect.gen(function* () {
    const where = yield* repo.worktreeRoot(inside)
    const listed = (yield* repo.git(where, ["ls-files", "-z"])).split("\0").filter((file) => file !== "")
    let total = 0
    const shown: Array<{ readonly path: string; readonly bytes: number; readonly text?: string }> = []
    for (const file of listed) {
      const full = repo.path.join(where, file)
      const info = yield* repo.fs.stat(full).pipe(Effect.option)
      const bytes = Option.isSome(info) ? Number(info.value.size) : 0
      const text = Option.isSome(info)
        ? yield* textOf(repo, full, bytes, limits.totalBytes - total, limits.fileBytes)
        : undefined
      if (text !== undefined) total += bytes
      shown.push(text === undefined ? { path: file, bytes } : { path: file, bytes, text })
    }
    return shown
  }).pipe(Effect.mapError((error) => (error._tag === "WorktreeError" ? error : fail("Failed", error.message))))

/** Writes an answer with contents into a worktree. */
export const write = (repo: Repository, inside: string, answer: Pick<FileAnswer.FileAnswer, "files" | "deleted">) =>
  Effect.flatMap(repo.worktreeRoot(inside), (where) => FileAnswer.write(where, answer)).pipe(
    Effect.mapError((error) => (error._tag === "WorktreeError" ? error : fail("Failed", error.message))),
    Effect.provide(repo.services)
  )

/** Whether a worktree holds changes. */
const isDirty = (repo: Repository, where: string) =>
  Effect.map(repo.run(where, ["status", "--porcelain"]), (out) => out.exitCode !== 0 || out.stdout.trim() !== "")

/** The speckit worktrees of one run, or all (see `Worktrees.Service.leftovers`). */
export const leftovers = (repo: Repository, runId?: string | undefined) =>
  Effect.gen(function* () {
    const { fs, path } = repo
    const base = path.join(repo.workspace, ".speckit", "worktrees")
    const found = new Map<string, Worktrees.Leftover>()
    for (const entry of yield* repo.registered) {
      const relative = path.relative(base, entry.path)
      if (relative.startsWith("..") || path.isAbsolute(relative)) continue
      const [run, name] = relative.split(path.sep)
      if (run === undefined || name === undefined || (runId !== undefined && run !== runId)) continue
      found.set(entry.path, { runId: run, name, path: entry.path, dirty: yield* isDirty(repo, entry.path) })
    }
    // Folders a crash left that git no longer knows.
    const runs = yield* fs.readDirectory(base).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    for (const run of runs) {
      if (runId !== undefined && run !== runId) continue
      const names = yield* fs.readDirectory(path.join(base, run)).pipe(Effect.orElseSucceed(() => [] as Array<string>))
      for (const name of names) {
        const where = path.join(base, run, name)
        if (!found.has(where)) found.set(where, { runId: run, name, path: where, dirty: true })
      }
    }
    return [...found.values()].sort((a, b) => a.path.localeCompare(b.path))
  })

/** Removes the speckit worktrees of one run, or all (see `Worktrees.Service.clean`). */
export const clean = (repo: Repository, runId?: string | undefined) =>
  Effect.gen(function* () {
    const removed = yield* leftovers(repo, runId)
    for (const leftover of removed) yield* repo.removeWorktree(leftover.path)
    return removed
  })

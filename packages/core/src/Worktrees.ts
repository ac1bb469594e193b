/**
 * The worktrees port: where implementing agents make real changes. Each agent works in a fresh git
 * worktree made from the run's recorded base commit, under `.speckit/worktrees/<run-id>/<name>`; the
 * user's own checkout, branch, index and uncommitted files are never touched. What an agent changed
 * comes back as a binary patch ({@link Candidate.Collected}); a worktree can be re-made from a recorded
 * patch when a later step needs it; a crash's leftovers can be listed and cleaned.
 *
 * The default is {@link none} (no repository: every use fails); `@speckit/git` provides the git layer.
 *
 * @since 0.3.0
 */
import { Context, Effect, Schema, type Scope } from "effect"
import type { Collected } from "./Candidate.ts"
import type { ShownFile } from "./ChangePrompt.ts"
import type { FileAnswer } from "./FileAnswer.ts"

/**
 * Why a worktree could not be used: no repository, `git` missing or too old (worktrees need 2.5), the
 * base commit missing, a path taken by something that is not speckit's, a setup that failed, or a git
 * command that failed. The message is one line a user can act on.
 *
 * @since 0.3.0
 */
export class WorktreeError extends Schema.TaggedError<WorktreeError>()("WorktreeError", {
  kind: Schema.Literals([
    "Refused",
    "NotARepository",
    "GitMissing",
    "GitTooOld",
    "BaseMissing",
    "PathTaken",
    "SetupFailed",
    "Failed"
  ]),
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/**
 * A worktree a crash left behind (or any speckit worktree of the repository).
 *
 * @since 0.3.0
 */
export interface Leftover {
  readonly runId: string
  readonly name: string
  readonly path: string
  /** Whether it holds changes (files modified or added since its commit). */
  readonly dirty: boolean
}

/**
 * What a worktree is opened from: the run and a name for it (an agent id, `base` for checks on the
 * base commit, ...), the base commit, and optionally a recorded patch to apply.
 *
 * @since 0.3.0
 */
export interface OpenOptions {
  readonly runId: string
  readonly name: string
  readonly base: string
  /** A patch (as recorded in a candidate) to apply on top of the base. */
  readonly patch?: string | undefined
}

/**
 * What to deliver (see {@link Service.deliver}).
 *
 * @since 0.3.0
 */
export interface DeliverOptions {
  readonly runId: string
  readonly base: string
  readonly patch: string
  readonly branch: string
  readonly message: string
  /** Files to add to the commit (absolute paths, or relative to the workspace), with their text. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly text: string }>
  /** The commit's author and committer date (epoch ms). */
  readonly at: number
}

/**
 * Where a change was delivered.
 *
 * @since 0.3.0
 */
export interface Delivered {
  readonly branch: string
  readonly commit: string
}

/**
 * The port (see the module).
 *
 * @since 0.3.0
 */
export interface Service {
  /**
   * Checks that worktrees can be made at `base`: a git repository, `git` 2.5 or newer, the commit
   * present. Fails with one clear line otherwise.
   */
  readonly check: (base: string) => Effect.Effect<void, WorktreeError>
  /**
   * Opens a fresh worktree (with the configured setup: files copied or linked from the checkout, a
   * setup command run in it) and returns its path; it is removed when the scope closes (`git worktree
   * remove`, then `prune`). A leftover of the same run and name (a crash) is replaced; a path taken
   * by anything else is a `PathTaken` error.
   */
  readonly open: (options: OpenOptions) => Effect.Effect<string, WorktreeError, Scope.Scope>
  /** Stages everything in a worktree (honouring `.gitignore`) and takes the binary diff against `base`. */
  readonly collect: (path: string, base: string) => Effect.Effect<Collected, WorktreeError>
  /**
   * The files of a worktree that git tracks, repository-relative, for agents that answer with
   * contents: each with its size, and its text when it is a UTF-8 text file of at most
   * `limits.fileBytes` and the texts shown so far stay within `limits.totalBytes`.
   */
  readonly files: (
    path: string,
    limits: { readonly fileBytes: number; readonly totalBytes: number }
  ) => Effect.Effect<ReadonlyArray<ShownFile>, WorktreeError>
  /**
   * Writes an answer with contents into a worktree (see `FileAnswer.write`: never through a symlink
   * that leaves it). Its paths were checked when it was read (`FileAnswer.parse`).
   */
  readonly write: (path: string, answer: Pick<FileAnswer, "files" | "deleted">) => Effect.Effect<void, WorktreeError>
  /**
   * Delivers a change: commits `patch` (and `files`, e.g. the spec's artifacts) on top of `base` in a
   * worktree of its own, with `message` and the dates of `at` (so that delivering again makes the very
   * same commit), onto a new branch named `branch` (or `branch-2`, `-3`... when taken by another
   * commit; a branch already holding that commit is reused). Never touches the user's checkout.
   */
  readonly deliver: (options: DeliverOptions) => Effect.Effect<Delivered, WorktreeError>
  /**
   * Fast-forwards the user's current branch to `commit` (`speckit auto --apply`): only when `HEAD` is
   * still `base` and nothing tracked is modified; untracked files the commit would overwrite are
   * removed only when identical to the commit's. Refuses with the reason otherwise.
   */
  readonly apply: (options: { readonly base: string; readonly commit: string }) => Effect.Effect<void, WorktreeError>
  /** The speckit worktrees of the repository (of one run, or all). */
  readonly leftovers: (runId?: string | undefined) => Effect.Effect<ReadonlyArray<Leftover>, WorktreeError>
  /** Removes the speckit worktrees of one run (or all) and prunes; returns what it removed. */
  readonly clean: (runId?: string | undefined) => Effect.Effect<ReadonlyArray<Leftover>, WorktreeError>
}

const unavailable = new WorktreeError({
  kind: "NotARepository",
  reason: "real changes need a git repository (implement.mode changes); this workspace has none"
})

/**
 * No repository: checks and opening fail with `NotARepository`; nothing is left over.
 *
 * @since 0.3.0
 */
export const none: Service = {
  check: () => Effect.fail(unavailable),
  open: () => Effect.fail(unavailable),
  collect: () => Effect.fail(unavailable),
  files: () => Effect.fail(unavailable),
  write: () => Effect.fail(unavailable),
  deliver: () => Effect.fail(unavailable),
  apply: () => Effect.fail(unavailable),
  leftovers: () => Effect.succeed([]),
  clean: () => Effect.succeed([])
}

/**
 * The worktrees of a run (default: {@link none}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worktrees } from "@speckit/core"
 *
 * const program = Effect.gen(function* () {
 *   const worktrees = yield* Worktrees.Worktrees
 *   return yield* worktrees.leftovers()
 * })
 * ```
 *
 * @since 0.3.0
 */
export const Worktrees = Context.Reference<Service>("@speckit/core/Worktrees", { defaultValue: () => none })

/**
 * Where the worktrees of run `runId` live, relative to the workspace.
 *
 * @example
 * ```ts
 * import { Worktrees } from "@speckit/core"
 *
 * Worktrees.directoryOf("run-1") // ".speckit/worktrees/run-1"
 * ```
 *
 * @since 0.3.0
 */
export const directoryOf = (runId: string): string => `.speckit/worktrees/${runId}`

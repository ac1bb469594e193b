/**
 * The git branch and commit of a workspace, recorded with every run so that runs are branch-aware.
 *
 * @since 0.1.0
 */
import { resolve } from "node:path"
import { Effect, Option } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { GitState } from "@speckit/core/GitState"

const read = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"], cwd: string, args: ReadonlyArray<string>) =>
  spawner.string(ChildProcess.make("git", args, { cwd, extendEnv: true, env: { GIT_OPTIONAL_LOCKS: "0" } })).pipe(
    Effect.map((out) => out.trim()),
    Effect.option
  )

/**
 * Reads the branch and commit of the git repository holding `workspace`, or `None` when the workspace
 * is not in a git repository (or git is not installed, or the repository has no commit yet).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Git } from "@speckit/git"
 *
 * const state = Git.state(".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const state = (
  workspace: string
): Effect.Effect<Option.Option<GitState>, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const [branch, commit] = yield* Effect.all(
      [
        read(spawner, workspace, ["rev-parse", "--abbrev-ref", "HEAD"]),
        read(spawner, workspace, ["rev-parse", "HEAD"])
      ],
      { concurrency: 2 }
    )
    return Option.isSome(branch) && Option.isSome(commit) && /^[0-9a-f]{40,64}$/.test(commit.value)
      ? Option.some({ branch: branch.value, commit: commit.value })
      : Option.none()
  })

/**
 * A repository's remote, as a fleet's workers reach it: its URL (a local path made absolute) and the
 * repository's root folder.
 *
 * @since 0.4.0
 */
export interface Remote {
  readonly url: string
  /** The repository's root folder. */
  readonly root: string
  /** The workspace's folder relative to the root (`""` at the root). */
  readonly path: string
}

/** Whether `text` names a repository git can fetch from (a URL, `host:path`, or an absolute path). */
const isLocation = (text: string) =>
  /^[a-z][a-z0-9+.-]*:\/\//i.test(text) || /^[^/\\]+:/.test(text) || text.startsWith("/")

/**
 * The remote of the repository holding `workspace`: `remote` (a remote's name, default `origin`, or a
 * URL), or `None` when the workspace is in no repository or the name is no remote of it. A relative
 * local path is resolved against the repository's root.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Git } from "@speckit/git"
 *
 * const origin = Git.remote(".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.4.0
 */
export const remote = (
  workspace: string,
  name = "origin"
): Effect.Effect<Option.Option<Remote>, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const root = yield* read(spawner, workspace, ["rev-parse", "--show-toplevel"])
    if (Option.isNone(root) || root.value === "") return Option.none()
    const configured = yield* read(spawner, root.value, ["remote", "get-url", name])
    const url = Option.isSome(configured) && configured.value !== "" ? configured.value : isLocation(name) ? name : ""
    if (url === "") return Option.none()
    const absolute = isLocation(url) ? url : resolve(root.value, url)
    const prefix = yield* read(spawner, workspace, ["rev-parse", "--show-prefix"])
    return Option.some({ url: absolute, root: root.value, path: Option.getOrElse(prefix, () => "").replace(/\/$/, "") })
  })

/**
 * Whether `commit` is on a remote-tracking branch of the repository holding `workspace` (as last
 * fetched): a run on a fleet starts from a commit its workers can fetch.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Git } from "@speckit/git"
 *
 * const pushed = Git.isOnRemoteBranch(".", "HEAD").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.4.0
 */
export const isOnRemoteBranch = (
  workspace: string,
  commit: string
): Effect.Effect<boolean, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const out = yield* read(spawner, workspace, ["branch", "--remotes", "--contains", commit, "--format=%(refname)"])
    return Option.isSome(out) && out.value !== ""
  })

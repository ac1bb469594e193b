/**
 * The git branch and commit of a workspace, recorded with every run so that runs are branch-aware.
 *
 * @since 0.1.0
 */
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

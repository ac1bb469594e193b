/**
 * The git layer of core's `Worktrees` port: every worktree is a `git worktree` of the workspace's
 * repository under `.speckit/worktrees/<run-id>/<name>`, made detached at the run's base commit; what
 * an agent changed is staged (honouring `.gitignore`) and taken as `git diff --binary` against the base;
 * delivery commits in a worktree of its own and only adds a branch (and, with `push`, pushes it to a
 * remote: the worker of a fleet delivers that way). The user's checkout, branch, index and files are
 * never touched, except by `apply` (`speckit auto --apply`), which fast-forwards the current branch
 * when that is safe.
 *
 * Git's hooks never run (`core.hooksPath` is emptied for every command speckit runs).
 *
 * @since 0.3.0
 */
import * as Worktrees from "@speckit/core/Worktrees"
import { Effect, Layer } from "effect"
import * as Delivery from "./internal/delivery.ts"
import * as Repository from "./internal/repository.ts"
import * as Operations from "./internal/worktrees.ts"

/**
 * What each worktree gets from the checkout: files or folders copied (or linked) into it, and a
 * command run in it.
 *
 * @since 0.3.0
 */
export type Setup = Repository.Setup

/**
 * The oldest git with `git worktree`.
 *
 * @since 0.3.0
 */
export const minimumVersion = Operations.minimumVersion

/**
 * The git layer of the `Worktrees` port for the repository holding `workspace`. With `push` (a remote's
 * URL), a delivered branch is also pushed there, within the delivery: a delivery is recorded only once
 * its branch is on the remote.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { GitWorktrees } from "@speckit/git"
 *
 * const layer = GitWorktrees.layer({ workspace: "." }).pipe(Layer.provide(NodeServices.layer))
 * ```
 *
 * @since 0.3.0
 */
export const layer = (options: {
  readonly workspace: string
  readonly setup?: Setup | undefined
  readonly push?: string | undefined
}) =>
  Layer.effect(
    Worktrees.Worktrees,
    Effect.map(
      Repository.make(options),
      (repo): Worktrees.Service => ({
        check: (base) => Operations.check(repo, base),
        open: (input) => Operations.open(repo, input),
        collect: (inside, base) => Operations.collect(repo, inside, base),
        files: (inside, limits) => Operations.files(repo, inside, limits),
        write: (inside, answer) => Operations.write(repo, inside, answer),
        deliver: (delivery) => Delivery.deliver(repo, delivery, options.push),
        apply: (target) => Delivery.apply(repo, target),
        leftovers: (runId) => Operations.leftovers(repo, runId),
        clean: (runId) => Operations.clean(repo, runId)
      })
    )
  )

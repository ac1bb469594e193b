/**
 * Where a run's workspace stood in git when the run started: its branch and commit (the base commit
 * of a run that makes real changes). Read by a git driver (`@speckit/git`'s `Git.state`).
 *
 * @since 0.3.0
 */

/**
 * A git branch and commit.
 *
 * @example
 * ```ts
 * import type { GitState } from "@speckit/core"
 *
 * const state: GitState.GitState = { branch: "main", commit: "0123456789abcdef0123456789abcdef01234567" }
 * ```
 *
 * @since 0.3.0
 */
export interface GitState {
  readonly branch: string
  readonly commit: string
}

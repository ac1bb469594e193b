/**
 * @speckit/git: the git driver: where a run's workspace stands (`Git.state`: branch and commit), and
 * the git layer of core's `Worktrees` port (`GitWorktrees`: a worktree per agent made from the run's
 * base commit, candidates as binary patches, delivery to a branch, cleaning a crash's leftovers).
 *
 * @since 0.3.0
 */

/** @since 0.4.0 */
export * as Clones from "./Clones.ts"
/** @since 0.1.0 */
export * as Git from "./Git.ts"
/** @since 0.3.0 */
export * as GitWorktrees from "./GitWorktrees.ts"

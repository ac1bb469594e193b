/**
 * Errors the CLI turns into exit codes.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Bad input or usage (exit 2): the message says what is wrong, in one line.
 *
 * @since 0.1.0
 */
export class InputError extends Schema.TaggedError<InputError>()("InputError", { message: Schema.String }) {}

/**
 * The run ended without completing (exit 1, or 130 when cancelled). Its report is already printed.
 *
 * @since 0.1.0
 */
export class RunNotCompleted extends Schema.TaggedError<RunNotCompleted>()("RunNotCompleted", {
  status: Schema.String,
  exitCode: Schema.Int
}) {}

/**
 * Exit codes of the `speckit` binary.
 *
 * @since 0.1.0
 */
export const ExitCode = {
  /** The run completed. */
  Completed: 0,
  /** The run failed or halted (quorum not met, conflict, unexpected error). */
  Failed: 1,
  /** Bad input or usage. */
  Usage: 2,
  /** The run paused for a review (`onConflict: "pause"`): nothing failed, a person must decide. */
  AwaitingReview: 3,
  /** Interrupted (Ctrl-C or SIGTERM). */
  Interrupted: 130
} as const

/**
 * `--apply` refused to move the current branch (the run itself completed and delivered its branch).
 *
 * @since 0.3.0
 */
export class ApplyRefused extends Schema.TaggedError<ApplyRefused>()("ApplyRefused", {
  branch: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `the change was delivered to branch ${this.branch}, but --apply refused: ${this.reason}; merge it yourself with \`git merge ${this.branch}\``
  }
}

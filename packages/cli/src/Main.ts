/**
 * Turning a CLI run's outcome into an exit code and one clear error line.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit } from "effect"
import { CliError } from "effect/cli"
import { ExitCode } from "./Errors.ts"

/**
 * The exit code of a finished CLI effect: 0 success, 130 interrupted, 2 bad input or usage,
 * the run's own code when it did not complete, 1 otherwise.
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { Main } from "@speckit/cli"
 *
 * Main.exitCodeOf(Exit.void) // 0
 * ```
 *
 * @since 0.1.0
 */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.Completed
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some") {
    const value = error.value
    if (CliError.isCliError(value)) {
      return value._tag === "ShowHelp" && value.errors.length === 0 ? ExitCode.Completed : ExitCode.Usage
    }
    if (typeof value === "object" && value !== null && "_tag" in value) {
      if (value._tag === "InputError") return ExitCode.Usage
      if (value._tag === "RunNotCompleted" && "exitCode" in value && typeof value.exitCode === "number") {
        return value.exitCode
      }
    }
    return ExitCode.Failed
  }
  return Cause.hasInterrupts(exit.cause) ? ExitCode.Interrupted : ExitCode.Failed
}

/**
 * The runtime teardown: sets the process exit code from {@link exitCodeOf}.
 *
 * @since 0.1.0
 */
export const teardown = <E, A>(exit: Exit.Exit<E, A>, onExit: (code: number) => void): void => onExit(exitCodeOf(exit))

/**
 * Prints errors that need a line of their own on stderr (`speckit: error: ...`); run reports and
 * CLI usage errors are already printed by then.
 *
 * @since 0.1.0
 */
export const reportErrors = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  self.pipe(
    Effect.tapCause((cause) =>
      Effect.sync(() => {
        const error = Cause.findErrorOption(cause)
        if (error._tag === "Some") {
          const value = error.value
          if (CliError.isCliError(value)) return
          if (typeof value === "object" && value !== null && "_tag" in value && value._tag === "RunNotCompleted") return
          const message = value instanceof Error ? value.message : String(value)
          process.stderr.write(`speckit: error: ${message}\n`)
        } else if (!Cause.hasInterrupts(cause)) {
          process.stderr.write(`speckit: unexpected error: ${Cause.pretty(cause)}\n`)
        }
      })
    )
  )

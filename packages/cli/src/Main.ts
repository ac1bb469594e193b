/**
 * Turning a CLI run's outcome into an exit code and one clear error line.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import { Cause, Effect, Exit } from "effect"
import { CliError } from "effect/cli"
import { ExitCode } from "./Errors.ts"

/** What an interruption (Ctrl-C, SIGTERM) of the running command means: its exit code and its line. */
let interruption: Interruption = {
  exitCode: ExitCode.Interrupted,
  stopping: "speckit: interrupting: stopping the agents (press Ctrl-C again to exit at once)",
  message:
    "speckit: interrupted: the run is recorded as cancelled; continue it with `speckit resume <RUN-ID>` (see `speckit runs`)"
}

/**
 * What an interruption of a command means.
 *
 * @since 0.4.0
 */
export interface Interruption {
  readonly exitCode: number
  /** Printed on stderr at the first signal. */
  readonly stopping: string
  /** Printed on stderr once the command stopped. */
  readonly message: string
}

/**
 * Sets what an interruption of the running command means (default: exit 130, "the run is recorded as
 * cancelled"): a command that stops gracefully on a signal (`speckit worker`) exits 0 and says so.
 *
 * @example
 * ```ts
 * import { Main } from "@speckit/cli"
 *
 * Main.onInterruption({ exitCode: 0, stopping: "speckit worker: stopping", message: "speckit worker: stopped" })
 * ```
 *
 * @since 0.4.0
 */
export const onInterruption = (next: Interruption): void => {
  interruption = next
}

/**
 * The exit code of a finished CLI effect: 0 success, 130 interrupted (unless {@link onInterruption} said otherwise), 2 bad input or usage,
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
  return Cause.hasInterrupts(exit.cause) ? interruption.exitCode : ExitCode.Failed
}

/**
 * The runtime teardown: sets the process exit code from {@link exitCodeOf}.
 *
 * @since 0.1.0
 */
export const teardown = <E, A>(exit: Exit.Exit<E, A>, onExit: (code: number) => void): void => onExit(exitCodeOf(exit))

/**
 * Prints errors that need a line of their own on stderr (`speckit: error: ...`); run reports and
 * CLI usage errors are already printed by then. On interruption it says how to resume.
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
    ),
    Effect.onInterrupt(() => Effect.sync(() => void process.stderr.write(`${interruption.message}\n`)))
  )

/**
 * The process ids of every descendant of `root` (children, grandchildren, ...) and of their process
 * groups, read from `ps`; empty where `ps` is unavailable (Windows).
 *
 * @example
 * ```ts
 * import { Main } from "@speckit/cli"
 *
 * const pids = Main.descendantsOf(process.pid)
 * ```
 *
 * @since 0.1.0
 */
export const descendantsOf = (root: number): ReadonlyArray<{ readonly pid: number; readonly pgid: number }> => {
  let table: string
  try {
    table = execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid="], { encoding: "utf8", timeout: 2_000 })
  } catch {
    return []
  }
  const rows = table
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number))
    .flatMap(([pid, ppid, pgid]) =>
      pid !== undefined && ppid !== undefined && pgid !== undefined && Number.isInteger(pid)
        ? [{ pid, ppid, pgid }]
        : []
    )
  const found: Array<{ readonly pid: number; readonly pgid: number }> = []
  const parents = new Set([root])
  let grew = true
  while (grew) {
    grew = false
    for (const row of rows) {
      if (parents.has(row.ppid) && !parents.has(row.pid)) {
        parents.add(row.pid)
        found.push({ pid: row.pid, pgid: row.pgid })
        grew = true
      }
    }
  }
  return found
}

/**
 * Makes a second Ctrl-C (or SIGTERM) exit at once with code 130. The first signal is left to the
 * runtime (`NodeRuntime.runMain` interrupts the main fiber: agents are terminated, the run is
 * recorded as `cancelled`); from the second one on, this kills every remaining descendant process
 * (and its process group) with SIGKILL and exits, without waiting for a slow shutdown.
 *
 * @example
 * ```ts
 * import { Main } from "@speckit/cli"
 *
 * Main.exitOnSecondSignal()
 * ```
 *
 * @since 0.1.0
 */
export const exitOnSecondSignal = (): void => {
  let signals = 0
  const onSignal = () => {
    signals++
    if (signals === 1) {
      process.stderr.write(`${interruption.stopping}\n`)
      return
    }
    const self = process.pid
    for (const { pid, pgid } of descendantsOf(self)) {
      for (const target of pgid !== 0 && pgid !== process.pid && pgid === pid ? [-pgid, pid] : [pid]) {
        try {
          process.kill(target, "SIGKILL")
        } catch {
          // already gone
        }
      }
    }
    process.stderr.write("speckit: interrupted again: exiting now\n")
    process.exit(ExitCode.Interrupted)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
}

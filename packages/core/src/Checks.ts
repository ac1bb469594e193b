/**
 * The checks port: the project's own checks (named commands, argv arrays, never a shell) run in a
 * directory, with the same process handling as agents (a timeout, the whole process tree stopped on
 * interruption, output captured up to a cap). A run never fails: a command that cannot start is an
 * `error` result, one that runs out of time a `timeout`.
 *
 * The default is {@link none} (no checks can run); `@speckit/agents` provides the subprocess layer.
 *
 * @since 0.3.0
 */
import { Context, Effect, Schema } from "effect"
import { CheckStatus } from "./Selection.ts"

/**
 * A check as configured.
 *
 * @since 0.3.0
 */
export const Check = Schema.Struct({
  name: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/)),
  command: Schema.NonEmptyArray(Schema.String),
  /** Default: 10 minutes. */
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0)))
})

/**
 * @since 0.3.0
 */
export type Check = typeof Check.Type

/**
 * The default timeout of a check: 10 minutes.
 *
 * @since 0.3.0
 */
export const defaultTimeoutMs = 600_000

/**
 * The result of a check on a candidate (`base` for the base commit).
 *
 * @since 0.3.0
 */
export const CheckResult = Schema.Struct({
  check: Schema.String,
  candidate: Schema.String,
  status: CheckStatus,
  /** The exit code, when the command exited (absent when it could not start or was killed). */
  exitCode: Schema.optionalKey(Schema.Int),
  durationMs: Schema.Number,
  /** The last lines of its output (stdout and stderr interleaved as they came). */
  tail: Schema.Array(Schema.String),
  /** Why it is an `error` or a `timeout`, in a few words. */
  detail: Schema.optionalKey(Schema.String),
  /** The names of the tests its output reports as failing (TAP `not ok` lines, `✖` lines), when it says. */
  failures: Schema.optionalKey(Schema.Array(Schema.String))
})

/**
 * @since 0.3.0
 */
export type CheckResult = typeof CheckResult.Type

/**
 * A check whose program cannot be found: refused before any agent runs.
 *
 * @since 0.3.0
 */
export class CheckNotFound extends Schema.TaggedError<CheckNotFound>()("CheckNotFound", {
  check: Schema.String,
  program: Schema.String
}) {
  override get message() {
    return `check "${this.check}": program ${this.program} not found (not on PATH and not a file)`
  }
}

/**
 * The port (see the module).
 *
 * @since 0.3.0
 */
export interface Service {
  /** Checks that every check's program can be found, from `cwd` (on `PATH`, or as a path). */
  readonly resolve: (checks: ReadonlyArray<Check>, cwd: string) => Effect.Effect<void, CheckNotFound>
  /** Runs a check in `cwd` for `candidate`. */
  readonly run: (check: Check, cwd: string, candidate: string) => Effect.Effect<CheckResult>
}

/**
 * No checks can run: every run is an `error`.
 *
 * @since 0.3.0
 */
export const none: Service = {
  resolve: () => Effect.void,
  run: (check, _cwd, candidate) =>
    Effect.succeed({
      check: check.name,
      candidate,
      status: "error",
      durationMs: 0,
      tail: [],
      detail: "no check runner is configured"
    })
}

/**
 * The check runner (default: {@link none}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Checks } from "@speckit/core"
 *
 * const program = Effect.gen(function* () {
 *   const checks = yield* Checks.Checks
 *   return yield* checks.run({ name: "test", command: ["npm", "test"] }, ".", "base")
 * })
 * ```
 *
 * @since 0.3.0
 */
export const Checks = Context.Reference<Service>("@speckit/core/Checks", { defaultValue: () => none })

/**
 * The failing tests a check's output names: TAP `not ok N - name` lines and spec-reporter `✖ name`
 * lines, without file-level entries, in order, each once.
 *
 * @example
 * ```ts
 * import { Checks } from "@speckit/core"
 *
 * Checks.failuresOf(["not ok 1 - clamp keeps a value inside the bounds", "  ---"])
 * // ["clamp keeps a value inside the bounds"]
 * ```
 *
 * @since 0.3.0
 */
export const failuresOf = (lines: ReadonlyArray<string>): ReadonlyArray<string> => {
  const names: Array<string> = []
  for (const line of lines) {
    const match = /^\s*not ok \d+ - (.+?)(?:\s+#.*)?$/.exec(line) ?? /^\s*✖ (.+?)(?: \([\d.]+m?s\))?$/.exec(line)
    const name = match?.[1]?.trim()
    if (name === undefined || name === "" || name.startsWith("/") || /^failing tests:?$/.test(name)) continue
    if (!names.includes(name)) names.push(name)
  }
  return names
}

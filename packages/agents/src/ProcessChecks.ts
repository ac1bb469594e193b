/**
 * The subprocess layer of core's `Checks` port: a check is its argv run in a directory (never through
 * a shell), with a timeout, its whole process tree stopped on interruption or timeout (SIGTERM, then
 * SIGKILL after a grace period), and its output (stdout and stderr as they come) kept up to a cap of
 * which the last lines are reported.
 *
 * @since 0.3.0
 */
import { Checks } from "@speckit/core"
import { Duration, Effect, FileSystem, Layer, Path, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

/**
 * How much output a check keeps (the end of it), in characters, and how many of its last lines a
 * result reports.
 *
 * @since 0.3.0
 */
export const limits = { keepChars: 65_536, tailLines: 20, killGraceMs: 2_000 } as const

/**
 * Finds a program as a path (relative to `cwd`) or on `PATH`; `undefined` when it is nowhere.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { ProcessChecks } from "@speckit/cli"
 *
 * const program = ProcessChecks.findProgram("node", ".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.3.0
 */
export const findProgram = (program: string, cwd: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const isFile = (candidate: string) =>
      fs.stat(candidate).pipe(
        Effect.map((info) => info.type === "File"),
        Effect.orElseSucceed(() => false)
      )
    if (program.includes("/")) {
      const candidate = path.resolve(cwd, program)
      return (yield* isFile(candidate)) ? candidate : undefined
    }
    for (const folder of (process.env.PATH ?? "").split(process.platform === "win32" ? ";" : ":")) {
      if (folder === "") continue
      const candidate = path.join(folder, program)
      if (yield* isFile(candidate)) return candidate
    }
    return undefined
  })

/** Keeps the end of a stream of text, up to `keepChars`. */
const keepEnd = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  stream.pipe(
    Stream.decodeText(),
    Stream.runFold(
      () => "",
      (kept, chunk) => {
        const joined = kept + chunk
        return joined.length > limits.keepChars ? joined.slice(joined.length - limits.keepChars) : joined
      }
    )
  )

const tailOf = (text: string) => text.trimEnd().split("\n").slice(-limits.tailLines)

/**
 * Runs one check (see the module).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { ProcessChecks } from "@speckit/cli"
 *
 * const program = ProcessChecks.run({ name: "test", command: ["node", "--test"] }, ".", "base").pipe(
 *   Effect.provide(NodeServices.layer)
 * )
 * ```
 *
 * @since 0.3.0
 */
export const run = (
  check: Checks.Check,
  cwd: string,
  candidate: string
): Effect.Effect<Checks.CheckResult, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const started = Date.now()
    const timeoutMs = check.timeoutMs ?? Checks.defaultTimeoutMs
    const [program, ...args] = check.command
    const base = { check: check.name, candidate }
    const outcome = yield* Effect.gen(function* () {
      const handle = yield* spawner.spawn(
        ChildProcess.make(program, args, {
          cwd,
          extendEnv: true,
          env: { CI: process.env.CI ?? "true", SPECKIT_CHECK: check.name, SPECKIT_CANDIDATE: candidate },
          stdin: "ignore",
          killSignal: "SIGTERM",
          forceKillAfter: Duration.millis(limits.killGraceMs)
        })
      )
      const [output, exitCode] = yield* Effect.all([keepEnd(handle.all), handle.exitCode], { concurrency: 2 })
      return { output, exitCode: Number(exitCode) }
    }).pipe(
      Effect.scoped,
      Effect.map((done): Checks.CheckResult => {
        const failures = done.exitCode === 0 ? [] : Checks.failuresOf(done.output.split("\n"))
        return {
          ...base,
          status: done.exitCode === 0 ? "pass" : "fail",
          exitCode: done.exitCode,
          durationMs: Date.now() - started,
          tail: tailOf(done.output),
          ...(failures.length === 0 ? {} : { failures })
        }
      }),
      Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMs),
        orElse: () =>
          Effect.succeed<Checks.CheckResult>({
            ...base,
            status: "timeout",
            durationMs: Date.now() - started,
            tail: [],
            detail: `no result within ${timeoutMs} ms (stopped)`
          })
      }),
      Effect.catch((error) =>
        Effect.succeed<Checks.CheckResult>({
          ...base,
          status: /signal/.test(error.message) ? "fail" : "error",
          durationMs: Date.now() - started,
          tail: [],
          detail: `cannot run ${JSON.stringify(program)}: ${error.message}`
        })
      )
    )
    return outcome
  })

/**
 * The subprocess layer of the `Checks` port.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { ProcessChecks } from "@speckit/cli"
 *
 * const layer = ProcessChecks.layer.pipe(Layer.provide(NodeServices.layer))
 * ```
 *
 * @since 0.3.0
 */
export const layer: Layer.Layer<
  never,
  never,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> = Layer.effect(
  Checks.Checks,
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const provide = <A, E>(
      effect: Effect.Effect<A, E, ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path>
    ) =>
      effect.pipe(
        Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.provideService(Path.Path, path)
      )
    const service: Checks.Service = {
      resolve: (checks, cwd) =>
        provide(
          Effect.forEach(
            checks,
            (check) =>
              Effect.flatMap(findProgram(check.command[0], cwd), (found) =>
                found === undefined
                  ? Effect.fail(new Checks.CheckNotFound({ check: check.name, program: check.command[0] }))
                  : Effect.void
              ),
            { discard: true }
          )
        ),
      run: (check, cwd, candidate) => provide(run(check, cwd, candidate))
    }
    return service
  })
)

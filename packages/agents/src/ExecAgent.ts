/**
 * Exec agents: run a command as a subprocess (an argv array, never a shell), send the prompt on
 * stdin and read the answer from stdout.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Fiber, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type * as Agent from "@speckit/core/Agent"
import { AgentError } from "@speckit/core/AgentError"
import type { AgentId } from "@speckit/core/AgentId"
import * as EditMode from "./EditMode.ts"
import * as OutputFormat from "./OutputFormat.ts"
import type { Stage } from "@speckit/core/Stage"

/**
 * Options of an exec agent.
 *
 * @since 0.1.0
 */
export interface ExecAgentOptions {
  readonly id: AgentId
  /** The program and its arguments. */
  readonly command: readonly [string, ...Array<string>]
  readonly model?: string | undefined
  /** How stdout is read: `text` (stdout is the answer) or an agent CLI's JSON preset. Default `text`. */
  readonly format?: OutputFormat.Format | undefined
  /** Per-attempt timeout; default 10 minutes. */
  readonly timeoutMs?: number | undefined
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Grace period between SIGTERM and SIGKILL when the call is interrupted; default 2 s. */
  readonly killGraceMs?: number | undefined
  /**
   * Commands for particular stages (e.g. `implement`), replacing the command and the preset's edit
   * switches there (see `EditMode`).
   *
   * @since 0.3.0
   */
  readonly stageCommands?: Partial<Record<Stage, readonly [string, ...Array<string>]>> | undefined
}

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

const signalNumbers: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }

/**
 * The exit status; a process killed by a signal (which the spawner reports as a failure naming the
 * signal) exits with 128 + the signal number and names the signal.
 */
const awaitExit = (handle: ChildProcessSpawner.ChildProcessHandle) =>
  handle.exitCode.pipe(
    Effect.map((code): { readonly exitCode: number; readonly signal?: string } => ({ exitCode: Number(code) })),
    Effect.catch((error) => {
      const signal =
        error.reason.method === "exitCode" ? /signal: '(\w+)'/.exec(String(error.reason.cause))?.[1] : undefined
      return signal === undefined
        ? Effect.fail(error)
        : Effect.succeed({ exitCode: 128 + (signalNumbers[signal] ?? 0), signal })
    })
  )

/**
 * Runs a command for one agent request and returns its raw output. Interrupting the effect while
 * the process runs terminates it and its children (SIGTERM, then SIGKILL after the grace period);
 * once it has exited, its output is read to the end (it is an answer the provider billed).
 *
 * @since 0.1.0
 */
export const run = (
  options: ExecAgentOptions,
  request: Agent.AgentRequest
): Effect.Effect<OutputFormat.ProcessOutput, AgentError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    // Editing a worktree: run there, with the preset's unattended-edit switches.
    const edit =
      request.workdir === undefined
        ? undefined
        : EditMode.invocation({
            format: options.format ?? "text",
            command: options.command,
            stageCommand: options.stageCommands?.[request.stage],
            workdir: request.workdir,
            prompt: request.prompt
          })
    const [program, ...args] = edit?.command ?? options.command
    const cwd = request.workdir ?? options.cwd
    const command = ChildProcess.make(program, args, {
      ...(cwd === undefined ? {} : { cwd }),
      extendEnv: true,
      env: {
        ...options.env,
        ...edit?.env,
        ...(request.workdir === undefined ? {} : { SPECKIT_WORKDIR: request.workdir }),
        SPECKIT_RUN_ID: request.runId,
        SPECKIT_STAGE: request.stage,
        SPECKIT_AGENT: request.agent,
        SPECKIT_ATTEMPT: String(request.attempt),
        SPECKIT_IDEMPOTENCY_KEY: request.idempotencyKey
      },
      stdin: edit?.promptOnStdin === false ? "ignore" : Stream.make(new TextEncoder().encode(request.prompt)),
      killSignal: "SIGTERM",
      forceKillAfter: Duration.millis(options.killGraceMs ?? 2_000)
    })
    return yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const handle = yield* spawner.spawn(command)
        const output = yield* Effect.forkScoped(
          Effect.all([collect(handle.stdout), collect(handle.stderr)], { concurrency: "unbounded" })
        )
        // Only the wait for the process can be interrupted: once it has exited its answer is billed,
        // and its output is read to the end whatever happens meanwhile.
        const exit = yield* restore(awaitExit(handle))
        const [stdout, stderr] = yield* Fiber.join(output)
        return { stdout, stderr, ...exit }
      })
    )
  }).pipe(
    Effect.scoped,
    Effect.catchTag("PlatformError", (error) =>
      Effect.fail(
        new AgentError({
          agent: request.agent,
          kind: "InvalidRequest",
          detail: `cannot run ${JSON.stringify(options.command[0])}: ${error.message}`
        })
      )
    ),
    Effect.timeoutOrElse({
      duration: Duration.millis(options.timeoutMs ?? 600_000),
      orElse: () =>
        Effect.fail(
          new AgentError({
            agent: request.agent,
            kind: "Timeout",
            detail: `no answer within ${options.timeoutMs ?? 600_000} ms`
          })
        )
    })
  )

/**
 * Makes an exec agent; its output is read with the configured {@link OutputFormat}.
 *
 * @example
 * ```ts
 * import { AgentId } from "@speckit/core"
 * import { ExecAgent } from "@speckit/agents"
 *
 * const local = ExecAgent.make({ id: AgentId.make("local"), command: ["./my-agent.sh"], model: "local-1" })
 * ```
 *
 * @since 0.1.0
 */
export const make = (
  options: ExecAgentOptions
): Effect.Effect<Agent.Agent, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const model = options.model ?? options.command[0]
    return {
      id: options.id,
      provider: "exec",
      model,
      edits: true,
      call: (request) =>
        run(options, request).pipe(
          Effect.flatMap((output) =>
            OutputFormat.parse(options.format ?? "text", { agent: options.id, model, prompt: request.prompt, output })
          ),
          Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
        )
    }
  })

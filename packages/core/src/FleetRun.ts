/**
 * A run submitted to a fleet of runners: one workflow, `SpeckitRun`, for every run, whose payload
 * carries what a runner needs to run it anywhere: the run's id, the spec's text and the configuration.
 * Whichever runner holds the run's shard starts it, and another takes it over when that one dies,
 * resuming from the journal (a recorded step is never run again).
 *
 * A runner {@link serve}s the workflow with a function that makes the run's workspace and layers
 * from the payload and runs the pipeline (in the workflow, with the durable `Execution` provided); a
 * client {@link submit}s a payload, {@link poll}s for the result and may {@link cancel} the run. Both
 * only need a `WorkflowEngine`: the embedded one, or a fleet's (`@speckit/postgres`' `Runner`).
 *
 * @since 0.4.0
 */
import { Effect, FileSystem, Option, Path, Schema } from "effect"
import { EntityId, Sharding } from "effect/cluster"
import { Workflow, WorkflowEngine } from "effect/workflow"
import * as DurableRun from "./DurableRun.ts"
import * as Execution from "./Execution.ts"
import { RunId } from "./RunId.ts"
import { RunStatus, type RunSummary } from "./RunSummary.ts"
import { SpecId } from "./Spec.ts"

/**
 * The repository a run changes, as the workers reach it: the URL they fetch from and push the
 * delivered branch to, the commit the run starts from (and the branch it was on), and the
 * workspace's folder in the repository (`""` at its root).
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * const repository: FleetRun.Repository = {
 *   url: "git@example.com:team/app.git",
 *   base: "0123456789abcdef0123456789abcdef01234567",
 *   branch: "main",
 *   path: ""
 * }
 * ```
 *
 * @since 0.4.0
 */
export const Repository = Schema.Struct({
  url: Schema.String,
  base: Schema.String,
  branch: Schema.String,
  path: Schema.String
})

/**
 * @since 0.4.0
 */
export type Repository = typeof Repository.Type

/**
 * What a runner needs to run a spec: the run's id, the spec's id and text (its `spec.md`), the
 * configuration and, for a run that changes code, its repository.
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * const payload: FleetRun.Payload = {
 *   runId: "run-20261204-101500-a1b2",
 *   specId: "SPEC-1",
 *   specText: "# Greeting\n\nPrint a greeting.\n",
 *   config: "{}"
 * }
 * ```
 *
 * @since 0.4.0
 */
export const Payload = Schema.Struct({
  runId: Schema.String,
  specId: Schema.String,
  /** The spec's `spec.md`. */
  specText: Schema.String,
  /** The run's configuration as JSON (what `speckit.config.json` holds). */
  config: Schema.String,
  /** The repository a run that changes code works on (none: the run describes its change). */
  repository: Schema.optionalKey(Repository)
})

/**
 * @since 0.4.0
 */
export type Payload = typeof Payload.Type

/**
 * The run could not run on the runner that took it: its payload was refused (a bad spec or
 * configuration) or the run failed before it could record a summary. `reason` says why.
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * const error = new FleetRun.FleetRunFailed({ runId: "run-1", reason: "spec SPEC-1 is empty" })
 * error.message // "run run-1 failed on its runner: spec SPEC-1 is empty"
 * ```
 *
 * @since 0.4.0
 */
export class FleetRunFailed extends Schema.TaggedError<FleetRunFailed>()("FleetRunFailed", {
  runId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `run ${this.runId} failed on its runner: ${this.reason}`
  }
}

/**
 * Writes a payload's spec and configuration into `workspace` (`specs/<SPEC-ID>/spec.md` and
 * `speckit.config.json`; by default `<root>/<run-id>`, for a run with a repository the workspace's
 * folder in the run's checkout), and returns the workspace's path. Writing it again (a run taken
 * over) writes the same files.
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * declare const payload: FleetRun.Payload
 * const workspace = FleetRun.materialize(payload, "/var/cache/speckit/runs")
 * ```
 *
 * @since 0.4.0
 */
export const materialize = Effect.fn("FleetRun.materialize")(function* (
  payload: Payload,
  root: string,
  options?: { readonly workspace?: string | undefined }
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const runId = yield* Schema.decodeUnknownEffect(RunId)(payload.runId)
  const specId = yield* Schema.decodeUnknownEffect(SpecId)(payload.specId)
  const workspace = path.resolve(root, options?.workspace ?? runId)
  const directory = path.join(workspace, "specs", specId)
  yield* fs.makeDirectory(directory, { recursive: true })
  yield* fs.writeFileString(path.join(directory, "spec.md"), payload.specText)
  yield* fs.writeFileString(path.join(workspace, "speckit.config.json"), payload.config)
  return workspace
})

/**
 * The workflow of every run a fleet runs: one execution per run id, succeeding with the run's final
 * status (`completed`, `failed`, `halted`, ...).
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * FleetRun.workflow.name // "SpeckitRun"
 * ```
 *
 * @since 0.4.0
 */
export const workflow = Workflow.make("SpeckitRun", {
  payload: Payload.fields,
  success: RunStatus,
  error: FleetRunFailed,
  idempotencyKey: (payload) => payload.runId
})

/** An error's message, with the messages of its causes (a driver's "query failed" names what failed). */
const reasonOf = (error: unknown): string => {
  const messages: Array<string> = []
  const seen = new Set<unknown>()
  let current: unknown = error
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current)
    const message = "message" in current && typeof current.message === "string" ? current.message : ""
    if (message !== "" && !messages.includes(message)) messages.push(message.split("\n")[0] ?? message)
    current = "cause" in current ? current.cause : undefined
  }
  return messages.length === 0 ? String(error) : messages.join(": ")
}

/**
 * Registers the runner's handler of {@link workflow} with the engine, for as long as the scope is open:
 * `run` makes the run's workspace and layers from the payload and runs the pipeline; it is given the
 * durable `Execution` of the workflow. A failure of `run` fails the execution with
 * {@link FleetRunFailed}, its message the reason.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FleetRun, type RunSummary } from "@speckit/core"
 *
 * declare const runInWorkspace: (payload: FleetRun.Payload) => Effect.Effect<RunSummary.RunSummary>
 * const serving = FleetRun.serve(runInWorkspace)
 * ```
 *
 * @since 0.4.0
 */
export const serve = <E, R>(
  run: (payload: Payload) => Effect.Effect<RunSummary, E, R>,
  options: {
    /** Whether the runner is draining: its runs suspend before their next step, to be resumed elsewhere. */
    readonly draining?: (() => boolean) | undefined
    /** Told of each run that left this runner because its shard was assigned to another. */
    readonly onHandedOver?: ((runId: string) => Effect.Effect<void>) | undefined
  } = {}
) =>
  Effect.gen(function* () {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const sharding = yield* Effect.serviceOption(Sharding.Sharding)
    // A run whose shard goes to another runner (one joined the fleet) suspends before its next step,
    // once its steps in flight are done, rather than wait here for the cluster's entity termination
    // timeout (15 s); once its suspension is recorded it is woken, and goes on where its shard is now.
    const handedOver = new Map<string, string>()
    const shardMoved = (executionId: string) =>
      Option.isSome(sharding) &&
      !sharding.value.hasShardId(sharding.value.getShardId(EntityId.make(executionId), shardGroup))
    yield* engine.register(workflow, (payload) =>
      Effect.gen(function* () {
        const instance = yield* WorkflowEngine.WorkflowInstance
        // A draining runner's runs leave too; it wakes them itself once its shards are released.
        const moved = () => {
          if (options.draining?.() === true) return true
          if (!shardMoved(instance.executionId)) return false
          handedOver.set(instance.executionId, payload.runId)
          return true
        }
        const execution = DurableRun.execution(engine, instance, { handOver: { moved, fiber: yield* Effect.fiber } })
        const summary = yield* run(payload).pipe(Effect.provideService(Execution.Execution, execution))
        return summary.status
      }).pipe(Effect.mapError((error) => new FleetRunFailed({ runId: payload.runId, reason: reasonOf(error) })))
    )
    if (Option.isSome(sharding)) {
      yield* Effect.forkScoped(
        wakeHandedOver(handedOver, options.onHandedOver).pipe(
          Effect.provideService(WorkflowEngine.WorkflowEngine, engine)
        )
      )
    }
  })

/** The shard group of the workflow's entities (effect's default: `FleetRun.workflow` sets none). */
const shardGroup = "default"

/** Wakes each handed-over run once its suspension is recorded (the runner holding its shard goes on). */
const wakeHandedOver = (
  handedOver: Map<string, string>,
  onHandedOver: ((runId: string) => Effect.Effect<void>) | undefined
) =>
  Effect.forever(
    Effect.andThen(
      Effect.sleep("200 millis"),
      Effect.suspend(() =>
        Effect.forEach(
          [...handedOver],
          ([executionId, runId]) =>
            Effect.gen(function* () {
              const polled = yield* workflow.poll(executionId)
              if (Option.isNone(polled)) return
              handedOver.delete(executionId)
              if (polled.value._tag !== "Suspended") return
              yield* workflow.resume(executionId)
              if (onHandedOver !== undefined) yield* onHandedOver(runId)
            }),
          { discard: true }
        )
      )
    )
  )

/**
 * Submits a run: returns its execution id at once (the run goes on in the fleet). Submitting the same
 * run id again does not start a second run.
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * declare const payload: FleetRun.Payload
 * const submitted = FleetRun.submit(payload)
 * ```
 *
 * @since 0.4.0
 */
export const submit = (payload: Payload): Effect.Effect<string, never, WorkflowEngine.WorkflowEngine> =>
  workflow.execute(payload, { discard: true })

/** A run's execution id (it depends on the run id alone, the workflow's idempotency key). */
const executionIdOf = (runId: string) => workflow.executionId({ runId, specId: "", specText: "", config: "" })

/**
 * Where a submitted run is: `Running` (queued, running or paused), `Finished` with its status
 * (`cancelled` when it was cancelled), or `Failed` with the reason its runner gave.
 *
 * @since 0.4.0
 */
export type State =
  | { readonly _tag: "Running" }
  | { readonly _tag: "Finished"; readonly status: RunStatus }
  | { readonly _tag: "Failed"; readonly reason: string }

/**
 * The state of a submitted run, by run id.
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * const state = FleetRun.poll("run-20261204-101500-a1b2")
 * ```
 *
 * @since 0.4.0
 */
export const poll = (runId: string): Effect.Effect<State, never, WorkflowEngine.WorkflowEngine> =>
  Effect.gen(function* () {
    const result = yield* workflow.poll(yield* executionIdOf(runId))
    if (Option.isNone(result) || result.value._tag === "Suspended") return { _tag: "Running" } satisfies State
    const exit = result.value.exit
    if (exit._tag === "Success") return { _tag: "Finished", status: exit.value } satisfies State
    const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    if (failure?._tag === "Fail") return { _tag: "Failed", reason: failure.error.reason } satisfies State
    // Interrupted: cancelled (a runner that dies does not end its runs: another takes them over).
    if (exit.cause.reasons.every((reason) => reason._tag === "Interrupt")) {
      return { _tag: "Finished", status: "cancelled" } satisfies State
    }
    return { _tag: "Failed", reason: "the run died on its runner (a defect): see the runner's log" } satisfies State
  })

/**
 * Cancels a submitted run: its execution is interrupted wherever it runs, at once, the steps in flight
 * included (its agents' processes are stopped). The run uses no compensations or child workflows, so
 * the engine's immediate interruption (`interruptUnsafe`) loses nothing; the plain one would wait for
 * the run's next suspension, which a run making agent calls may not reach for minutes.
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * const cancelled = FleetRun.cancel("run-20261204-101500-a1b2")
 * ```
 *
 * @since 0.4.0
 */
export const cancel = (runId: string): Effect.Effect<void, never, WorkflowEngine.WorkflowEngine> =>
  Effect.gen(function* () {
    const engine = yield* WorkflowEngine.WorkflowEngine
    yield* engine.interruptUnsafe(workflow, yield* executionIdOf(runId))
  })

/**
 * Answers the pause a submitted run waits on (a review, or a budget raise; the run's summary names
 * the pause), and wakes the run up: whichever runner holds it goes on from there.
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * const approved = FleetRun.answer("run-20261204-101500-a1b2", {
 *   _tag: "Review",
 *   name: "review/validate",
 *   answer: { approved: true }
 * })
 * ```
 *
 * @since 0.4.0
 */
export const answer = (
  runId: string,
  given: DurableRun.PauseAnswer
): Effect.Effect<void, never, WorkflowEngine.WorkflowEngine> =>
  Effect.gen(function* () {
    const executionId = yield* executionIdOf(runId)
    yield* DurableRun.answerPause(workflow, executionId, given)
    yield* workflow.resume(executionId)
  })

/**
 * Wakes a submitted run that is suspended (its pause answered, or suspended by its runner): the runner
 * holding it goes on. A run that is running or finished is left as it is.
 *
 * @example
 * ```ts
 * import { FleetRun } from "@speckit/core"
 *
 * const woken = FleetRun.wake("run-20261204-101500-a1b2")
 * ```
 *
 * @since 0.4.0
 */
export const wake = (runId: string): Effect.Effect<void, never, WorkflowEngine.WorkflowEngine> =>
  Effect.flatMap(executionIdOf(runId), (executionId) => DurableRun.wakeIfSuspended(workflow, executionId))

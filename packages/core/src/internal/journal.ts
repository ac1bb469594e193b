/**
 * The journal behind `SqlWorkflowEngine`: what the engine keeps in memory for this process's
 * executions, and the engine operations over it (executions: register, execute, resume, interrupt;
 * steps: activities, deferreds, clocks), each writing its row before the workflow goes on.
 *
 * @internal
 */
import { Cause, Context, Deferred, Duration, Effect, Exit, Fiber, FiberMap, Option, Schema, Scope } from "effect"
import type { SqlClient, SqlError } from "effect/sql"
import { type Activity, DurableDeferred, Workflow, WorkflowEngine } from "effect/workflow"

/** A journaled exit: values are the activities' (and deferreds') JSON-encoded values. */
export const EncodedExit = Schema.toCodecJson(Schema.Exit(Schema.Unknown, Schema.Unknown, Schema.Defect()))
export const encodeExit = (exit: Exit.Exit<unknown, unknown>): string =>
  JSON.stringify(Schema.encodeSync(EncodedExit)(exit))
export const decodeExit = (text: string): Exit.Exit<unknown, unknown> =>
  Schema.decodeUnknownSync(EncodedExit)(JSON.parse(text))

/** An execution's payload, encoded with its workflow's schema (see {@link workflowExit}). */
export const workflowPayload = (workflow: Workflow.Any) =>
  Schema.toCodecJson(workflow.payloadSchema) as unknown as Schema.Codec<object, unknown>

/**
 * A finished execution's exit, encoded with its workflow's schemas. (`Workflow.Any` types them as any
 * schema; a workflow run by this engine must not need services to encode or decode its result.)
 */
export const workflowExit = (workflow: Workflow.Any) =>
  Schema.toCodecJson(
    Schema.Exit(workflow.successSchema, workflow.errorSchema, Schema.Defect())
  ) as unknown as Schema.Codec<Exit.Exit<unknown, unknown>, unknown>

export interface Execution {
  payload: object
  execute: (
    payload: object,
    executionId: string
  ) => Effect.Effect<unknown, unknown, WorkflowEngine.WorkflowInstance | WorkflowEngine.WorkflowEngine>
  instance: WorkflowEngine.WorkflowInstance["Service"]
  interrupted: boolean
  interruptedUnsafe: boolean
  resumeRequested: "explicit" | "automatic" | undefined
  fiber: Fiber.Fiber<Workflow.Result<unknown, unknown>> | undefined
  readonly done: Deferred.Deferred<void>
  readonly scope: Scope.Closeable
  readonly parent: string | undefined
}

/** What `execute` returns: nothing with `discard`, else the execution's result (the engine interface's type). */
// biome-ignore lint/suspicious/noConfusingVoidType: the type of WorkflowEngine's `execute`
export type Executed<Discard extends boolean> = Discard extends true ? void : Workflow.Result<unknown, unknown>

export const isUnwakeable = (result: Workflow.Result<unknown, unknown>, mode: "explicit" | "automatic") =>
  result._tag === "Complete" || (mode === "automatic" && result.failed === true)

/** What the journal engine keeps in memory for the executions of this process. */
export interface Journal {
  readonly sql: SqlClient.SqlClient
  readonly scope: Scope.Scope
  readonly workflows: Map<
    string,
    { readonly workflow: Workflow.Any; readonly execute: Execution["execute"]; readonly scope: Scope.Scope }
  >
  readonly executions: Map<string, Execution>
  readonly activities: Map<string, { exit: Workflow.Result<unknown, unknown> | undefined }>
  readonly deferredResults: Map<string, Exit.Exit<unknown, unknown>>
  /** Executions whose journal is loaded into the maps above. */
  readonly loaded: Set<string>
  readonly deferredState: WorkflowEngine.DeferredState
  readonly clocks: FiberMap.FiberMap<string>
  /** The engine itself (set once it is made). */
  engine: WorkflowEngine.WorkflowEngine["Service"]
}

export type EngineOperations = Parameters<typeof WorkflowEngine.makeUnsafe>[0]

export const now = () => new Date().toISOString()

/** Journal writes are defects: a run must not go on past a step it could not record. */
export const write = <A>(effect: Effect.Effect<A, SqlError.SqlError>) => Effect.orDie(effect)

/** Loads an execution's journal (once per process); returns its recorded result, if it finished. */
export const load = (j: Journal, workflow: Workflow.Any, executionId: string, payload: object) =>
  Effect.gen(function* () {
    const rows = yield* j.sql<{ readonly result: string | null }>`
      SELECT result FROM speckit_workflow_executions WHERE execution_id = ${executionId}`
    const row = rows[0]
    if (row === undefined) {
      const encoded = JSON.stringify(Schema.encodeSync(workflowPayload(workflow))(payload))
      yield* write(
        j.sql`INSERT INTO speckit_workflow_executions (execution_id, workflow, payload, created_at)
            VALUES (${executionId}, ${workflow._tag}, ${encoded}, ${now()}) ON CONFLICT (execution_id) DO NOTHING`
      )
    }
    if (!j.loaded.has(executionId)) {
      j.loaded.add(executionId)
      const steps = yield* j.sql<{ readonly name: string; readonly attempt: number; readonly exit: string }>`
        SELECT name, attempt, exit FROM speckit_workflow_activities WHERE execution_id = ${executionId}`
      for (const step of steps) {
        j.activities.set(`${executionId}/${step.name}/${Number(step.attempt)}`, {
          exit: new Workflow.Complete({ exit: decodeExit(step.exit) })
        })
      }
      const deferreds = yield* j.sql<{ readonly name: string; readonly exit: string }>`
        SELECT name, exit FROM speckit_workflow_deferreds WHERE execution_id = ${executionId}`
      for (const deferred of deferreds)
        j.deferredResults.set(`${executionId}/${deferred.name}`, decodeExit(deferred.exit))
      const timers = yield* j.sql<{ readonly name: string; readonly deferred: string; readonly fire_at: number }>`
        SELECT name, deferred, fire_at FROM speckit_workflow_clocks WHERE execution_id = ${executionId}`
      for (const timer of timers) {
        if (j.deferredResults.has(`${executionId}/${timer.deferred}`)) continue
        yield* arm(j, workflow, executionId, timer.name, timer.deferred, Number(timer.fire_at) - Date.now())
      }
    }
    return row?.result === null || row === undefined
      ? undefined
      : Schema.decodeUnknownSync(workflowExit(workflow))(JSON.parse(row.result))
  }).pipe(Effect.orDie)

/** Starts (or replays) an execution in this process. */
export const start = (
  j: Journal,
  workflow: Workflow.Any,
  executionId: string,
  payload: object,
  execute: Execution["execute"],
  parent: string | undefined
) => {
  j.executions.set(executionId, {
    payload,
    execute,
    instance: WorkflowEngine.WorkflowInstance.initial(workflow, executionId),
    interrupted: false,
    interruptedUnsafe: false,
    resumeRequested: undefined,
    fiber: undefined,
    done: Deferred.makeUnsafe<void>(),
    scope: Scope.makeUnsafe(),
    parent
  })
  return resume(j, executionId, "explicit")
}

/**
 * An unfinished execution of a registered workflow that this process has not run yet (a deferred
 * completed for it, a resume asked): started from its journal.
 */
export const revive = (j: Journal, executionId: string) =>
  Effect.gen(function* () {
    const rows = yield* j.sql<{
      readonly workflow: string
      readonly payload: string
      readonly result: string | null
    }>`
      SELECT workflow, payload, result FROM speckit_workflow_executions WHERE execution_id = ${executionId}`.pipe(
      Effect.orDie
    )
    const row = rows[0]
    const entry = row === undefined ? undefined : j.workflows.get(row.workflow)
    if (row === undefined || row.result !== null || entry === undefined) return
    const payload = Schema.decodeUnknownSync(workflowPayload(entry.workflow))(JSON.parse(row.payload))
    yield* load(j, entry.workflow, executionId, payload)
    if (!j.executions.has(executionId)) yield* start(j, entry.workflow, executionId, payload, entry.execute, undefined)
  })

export const resume = (j: Journal, executionId: string, mode: "explicit" | "automatic"): Effect.Effect<void> =>
  Effect.gen(function* () {
    const state = j.executions.get(executionId)
    if (!state) return yield* revive(j, executionId)
    const exit = state.fiber?.pollUnsafe()
    if (exit && exit._tag === "Success" && isUnwakeable(exit.value, mode)) return
    if (state.fiber && !exit) {
      const requested = state.resumeRequested
      state.resumeRequested = mode === "explicit" ? mode : (requested ?? mode)
      if (requested === undefined) {
        yield* Fiber.await(state.fiber).pipe(
          Effect.flatMap(() => {
            const next = state.resumeRequested ?? "automatic"
            state.resumeRequested = undefined
            return resume(j, executionId, next)
          }),
          Effect.forkIn(j.scope)
        )
      }
      return
    }
    const entry = j.workflows.get(state.instance.workflow._tag)
    if (entry === undefined) return
    const instance = WorkflowEngine.WorkflowInstance.initial(state.instance.workflow, executionId, {
      scope: Scope.forkUnsafe(state.scope)
    })
    state.instance = instance
    const workflow = instance.workflow
    state.fiber = yield* state.execute(state.payload, executionId).pipe(
      Effect.onExit((exit) => {
        if (
          !state.interrupted ||
          (!state.interruptedUnsafe &&
            !instance.suspended &&
            !instance.abandoned &&
            !(Context.get(workflow.annotations, Workflow.SuspendOnFailure) && Exit.isFailure(exit)))
        ) {
          return Effect.void
        }
        instance.interrupted = true
        instance.suspended = false
        return Effect.withFiber((fiber) => Effect.interruptible(Fiber.interrupt(fiber)))
      }),
      Workflow.intoResult,
      Effect.provideService(WorkflowEngine.WorkflowEngine, j.engine),
      (effect) => j.deferredState.trackRun(instance, effect),
      Effect.tap((result) => {
        if (result._tag !== "Complete") return Effect.void
        const encoded = JSON.stringify(Schema.encodeSync(workflowExit(workflow))(result.exit))
        return write(
          j.sql`UPDATE speckit_workflow_executions SET result = ${encoded}, finished_at = ${now()}
              WHERE execution_id = ${executionId}`
        )
      }),
      Effect.tap((result) =>
        !state.parent || result._tag !== "Complete"
          ? Effect.void
          : Effect.forkIn(resume(j, state.parent, "automatic"), j.scope)
      ),
      Effect.onExit((exit) => {
        if (Exit.isSuccess(exit) && exit.value._tag === "Suspended") return Effect.void
        return Effect.andThen(
          Scope.close(state.scope, Exit.void),
          Exit.isSuccess(exit) && exit.value._tag === "Complete" ? Deferred.succeed(state.done, undefined) : Effect.void
        )
      }),
      Effect.forkIn(entry.scope)
    )
  })

/** Arms a durable clock: completes its deferred after `delayMs` (at once when overdue). */
export const arm = (
  j: Journal,
  workflow: Workflow.Any,
  executionId: string,
  name: string,
  deferredName: string,
  delayMs: number
) =>
  j.engine
    .deferredDone(DurableDeferred.make(deferredName), {
      workflowName: workflow._tag,
      executionId,
      deferredName,
      exit: Exit.void
    })
    .pipe(
      Effect.delay(Math.max(0, delayMs)),
      FiberMap.run(j.clocks, `${executionId}/${name}`, { onlyIfMissing: true }),
      Effect.asVoid
    )

/** The journal engine's operations on executions: Starting, resuming, interrupting and polling executions. */
export const executionsOf = (
  j: Journal
): Pick<
  EngineOperations,
  "register" | "execute" | "awaitComplete" | "interrupt" | "interruptUnsafe" | "resume" | "poll"
> => ({
  register: (workflow, execute) =>
    Effect.gen(function* () {
      j.workflows.set(workflow._tag, { workflow, execute, scope: yield* Effect.scope })
      // The durable j.clocks of this workflow's unfinished j.executions tick again (from their fire time).
      const timers = yield* j.sql<{
        readonly execution_id: string
        readonly name: string
        readonly deferred: string
        readonly fire_at: number
      }>`SELECT c.execution_id, c.name, c.deferred, c.fire_at
           FROM speckit_workflow_clocks c
           JOIN speckit_workflow_executions e ON e.execution_id = c.execution_id
           WHERE e.workflow = ${workflow._tag} AND e.result IS NULL AND NOT EXISTS (
             SELECT 1 FROM speckit_workflow_deferreds d WHERE d.execution_id = c.execution_id AND d.name = c.deferred
           )`.pipe(Effect.orDie)
      for (const timer of timers) {
        yield* arm(j, workflow, timer.execution_id, timer.name, timer.deferred, Number(timer.fire_at) - Date.now())
      }
    }),
  execute: <const Discard extends boolean>(
    workflow: Workflow.Any,
    options: {
      readonly executionId: string
      readonly payload: object
      readonly discard: Discard
      readonly parent?: WorkflowEngine.WorkflowInstance["Service"] | undefined
      readonly detached?: boolean | undefined
    }
  ) =>
    Effect.gen(function* () {
      const entry = j.workflows.get(workflow._tag)
      if (!entry) return yield* Effect.die(`Workflow ${workflow._tag} is not registered`)
      let state = j.executions.get(options.executionId)
      if (!state) {
        const recorded = yield* load(j, workflow, options.executionId, options.payload)
        if (recorded !== undefined) {
          // Finished in an earlier process: its result, without running anything.
          const complete = new Workflow.Complete({ exit: recorded })
          return (options.discard ? undefined : complete) as Executed<Discard>
        }
        yield* start(
          j,
          workflow,
          options.executionId,
          options.payload,
          entry.execute,
          options.detached ? undefined : options.parent?.executionId
        )
        state = j.executions.get(options.executionId)
        if (state === undefined) return yield* Effect.die(`Workflow ${workflow._tag} did not start`)
      }
      if (options.discard) return undefined as Executed<Discard>
      const instance = state.instance
      const fiber = state.fiber
      if (fiber === undefined) return yield* Effect.die(`Workflow ${workflow._tag} did not start`)
      const exit = yield* Fiber.await(fiber)
      if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) && instance.suspended) {
        return new Workflow.Suspended({}) as Executed<Discard>
      }
      return (yield* exit) as Executed<Discard>
    }),
  awaitComplete: (_workflow, executionId) =>
    Effect.suspend(() => {
      const state = j.executions.get(executionId)
      return state ? Deferred.await(state.done) : Effect.never
    }),
  interrupt: (_workflow, executionId) =>
    Effect.suspend(() => {
      const state = j.executions.get(executionId)
      if (!state) return Effect.void
      state.interrupted = true
      return resume(j, executionId, "explicit")
    }),
  interruptUnsafe: (_workflow, executionId) =>
    Effect.gen(function* () {
      const state = j.executions.get(executionId)
      if (!state) return
      state.interrupted = true
      state.interruptedUnsafe = true
      if (state.fiber) yield* Fiber.interrupt(state.fiber)
      yield* resume(j, executionId, "explicit")
    }),
  resume: (_workflow, executionId) => resume(j, executionId, "explicit"),
  poll: (workflow, executionId) =>
    Effect.gen(function* () {
      const state = j.executions.get(executionId)
      if (!state) {
        const rows = yield* j.sql<{ readonly result: string | null }>`
            SELECT result FROM speckit_workflow_executions WHERE execution_id = ${executionId}`.pipe(Effect.orDie)
        const result = rows[0]?.result
        if (result === undefined || result === null) return Option.none()
        const exit = Schema.decodeUnknownSync(workflowExit(workflow))(JSON.parse(result))
        return Option.some<Workflow.Result<unknown, unknown>>(new Workflow.Complete({ exit }))
      }
      const exit = state.fiber?.pollUnsafe()
      if (!exit) return Option.none()
      return exit._tag === "Success" ? Option.some(exit.value) : yield* Effect.die(exit.cause)
    })
})

/** The journal engine's operations on executions: Activities, durable deferreds and durable clocks, each journaled. */
export const stepsOf = (
  j: Journal
): Pick<EngineOperations, "activityExecute" | "deferredResult" | "deferredDone" | "scheduleClock"> => ({
  activityExecute: (activity: Activity.Any, attempt: number) =>
    Effect.gen(function* () {
      const instance = yield* WorkflowEngine.WorkflowInstance
      const activityId = `${instance.executionId}/${activity.name}/${attempt}`
      let state = j.activities.get(activityId)
      if (state) {
        const exit = state.exit
        if (exit && exit._tag === "Suspended") state.exit = undefined
        else if (exit) return exit
      } else {
        state = { exit: undefined }
        j.activities.set(activityId, state)
      }
      const entry = state
      if (j.executions.get(instance.executionId)?.interrupted && !instance.interrupted) {
        return new Workflow.Suspended({})
      }
      const activityInstance = WorkflowEngine.WorkflowInstance.initial(instance.workflow, instance.executionId)
      activityInstance.interrupted = instance.interrupted
      return yield* activity.executeEncoded.pipe(
        Workflow.intoResult,
        Effect.provideService(WorkflowEngine.WorkflowInstance, activityInstance),
        // Journaled before the workflow sees the result: a replay never runs it again.
        Effect.tap((result) =>
          result._tag === "Complete"
            ? write(
                j.sql`INSERT INTO speckit_workflow_activities (execution_id, name, attempt, exit)
                      VALUES (${instance.executionId}, ${activity.name}, ${attempt}, ${encodeExit(result.exit)})
                      ON CONFLICT (execution_id, name, attempt) DO NOTHING`
              )
            : Effect.void
        ),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            // A preempted activity must run again on the next replay.
            entry.exit =
              Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
                ? undefined
                : Exit.isSuccess(exit)
                  ? exit.value
                  : undefined
          })
        )
      )
    }),
  deferredResult: (deferred: DurableDeferred.Any) =>
    Effect.gen(function* () {
      const instance = yield* WorkflowEngine.WorkflowInstance
      return Option.fromNullishOr(j.deferredResults.get(`${instance.executionId}/${deferred.name}`))
    }),
  deferredDone: (options) =>
    Effect.gen(function* () {
      const id = `${options.executionId}/${options.deferredName}`
      if (j.deferredResults.has(id)) return
      yield* write(
        j.sql`INSERT INTO speckit_workflow_deferreds (execution_id, name, exit)
              VALUES (${options.executionId}, ${options.deferredName}, ${encodeExit(options.exit)})
              ON CONFLICT (execution_id, name) DO NOTHING`
      )
      j.deferredResults.set(id, options.exit)
      const wake = Effect.andThen(
        j.deferredState.deferredDone(options.executionId, options.deferredName),
        resume(j, options.executionId, "automatic")
      )
      const current = yield* Effect.serviceOption(WorkflowEngine.WorkflowInstance)
      yield* Option.isSome(current) && current.value.executionId === options.executionId
        ? wake.pipe(Effect.forkIn(j.scope), Effect.asVoid)
        : wake
    }),
  scheduleClock: (workflow, options) =>
    Effect.gen(function* () {
      const fireAt = Date.now() + Math.max(0, Duration.toMillis(options.clock.duration))
      yield* write(
        j.sql`INSERT INTO speckit_workflow_clocks (execution_id, name, deferred, fire_at)
              VALUES (${options.executionId}, ${options.clock.name}, ${options.clock.deferred.name}, ${fireAt})
              ON CONFLICT (execution_id, name) DO NOTHING`
      )
      yield* arm(j, workflow, options.executionId, options.clock.name, options.clock.deferred.name, fireAt - Date.now())
    })
})

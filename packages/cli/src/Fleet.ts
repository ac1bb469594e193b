/**
 * speckit on a fleet, the client side: `auto --store` submits a run (its spec's text, its
 * configuration and, for a run that changes code, its repository's remote and base commit) and
 * follows it with the live view from the events the workers log in the store; `resume --store`
 * follows it again; `status`, `runs` and `report --store` read where it is and what it recorded;
 * `approve`, `reject` and `budget --store` answer its pause; `cancel` interrupts it wherever it runs.
 * Every command works from any machine that reaches the store. The worker is `FleetWorker`.
 *
 * @since 0.4.0
 */
import { FleetRun, RunId, type RunSummary, type SpeckitConfig } from "@speckit/core"
import { Git } from "@speckit/git"
import { FleetRuns, PgRunStore, PgStore, Runner } from "@speckit/postgres"
import { Effect, type FileSystem, Option, Path } from "effect"
import type { SqlError } from "effect/sql"
import type { ChildProcessSpawner } from "effect/process"
import { ExitCode, InputError, RunNotCompleted } from "./Errors.ts"
import { asInput } from "./internal/storeInput.ts"
import * as Progress from "./Progress.ts"
import type { Output } from "./Progress.ts"
import * as Report from "./Report.ts"
import * as RunRecords from "./RunRecords.ts"
import * as Run from "./Run.ts"

const stdout: Output = process.stdout
const stderr: Output = process.stderr

/** A query of the store that failed, as bad input (the store cannot be used). */
const storeFailed = (store: string) => (error: SqlError.SqlError) =>
  new InputError({ message: `cannot use PostgreSQL store ${PgStore.displayUrl(store)}: ${error.message}` })

/** The submitted run `runId`, or bad input naming it. */
const submitted = (runId: string, store: string) =>
  FleetRuns.find(runId).pipe(
    Effect.mapError(storeFailed(store)),
    Effect.flatMap(
      Option.match({
        onNone: () =>
          Effect.fail(
            new InputError({ message: `no run ${runId} was submitted to the fleet at ${PgStore.displayUrl(store)}` })
          ),
        onSome: Effect.succeed
      })
    )
  )

/** Runs `effect` as a client of the fleet's store: it submits and reads, it runs nothing. */
const asClient = <A, E, R>(store: string, effect: Effect.Effect<A, E, R>) =>
  asInput(Effect.provide(effect, Runner.client({ url: store })))

/**
 * Options of `speckit auto --store`.
 *
 * @since 0.4.0
 */
export interface SubmitOptions {
  readonly specId: string
  readonly workspace: string
  readonly store: string
  /** Return once submitted (default: follow the run until it ends). */
  readonly detach: boolean
  readonly json: boolean
  /** How often a followed run is polled (default 1 s). */
  readonly pollMs?: number | undefined
  /** The remote the workers fetch from and push to: a remote's name or a URL (default `origin`). */
  readonly remote?: string | undefined
  /** Where the run's progress is shown while following (default stdout, stderr with `json`). */
  readonly progress?: Output | undefined
  readonly out?: Output | undefined
  readonly err?: Output | undefined
}

const hintFor = (runId: string, store: string) =>
  `follow it with \`speckit resume ${runId} --store ${PgStore.displayUrl(store)}\`, cancel it with \`speckit cancel ${runId} --store ${PgStore.displayUrl(store)}\``

/**
 * Hands each of a run's events logged in the store after the one numbered `after` to `use`, in order,
 * page by page; returns the number of the last one.
 */
const eachEventAfter = (
  runId: string,
  after: number,
  store: string,
  use: (event: RunRecords.LoggedEvent) => Effect.Effect<void>
) =>
  Effect.gen(function* () {
    let last = after
    while (true) {
      const page = yield* PgRunStore.eventsAfter(runId, last).pipe(Effect.mapError(storeFailed(store)))
      for (const logged of page) yield* use(logged.event as RunRecords.LoggedEvent)
      last = page.at(-1)?.id ?? last
      if (page.length < 1_000) return last
    }
  })

/**
 * Waits until a submitted run is no longer running, or pauses (then returns the pause), showing its
 * events as the workers log them.
 */
const ended = (runId: string, pollMs: number, display: Progress.Display, store: string) =>
  Effect.gen(function* () {
    let shown = 0
    while (true) {
      const { state, pause } = yield* lookUp(runId, store)
      shown = yield* eachEventAfter(runId, shown, store, display.emit)
      if (state._tag !== "Running" || pause !== undefined) return { state, pause }
      yield* Effect.sleep(pollMs)
    }
  }).pipe(Effect.ensuring(Effect.sync(() => display.close())))

/** The exit code of a run that is no longer running: as `speckit auto`'s, 1 when its runner failed it. */
const exitCodeOf = (state: FleetRun.State) =>
  state._tag === "Finished" ? Run.exitCodeOf(state.status) : ExitCode.Failed

const describeState = (runId: string, state: FleetRun.State) =>
  state._tag === "Running"
    ? `run ${runId} is running on the fleet`
    : state._tag === "Finished"
      ? `run ${runId} ${state.status}`
      : `run ${runId} failed: ${state.reason}`

/** The pause a running run of the fleet waits on, from its summary in the store. */
const pauseOf = (state: FleetRun.State, summary: Option.Option<RunSummary.RunSummary>) => {
  const latest = Option.getOrUndefined(summary)
  return state._tag === "Running" && latest?.status === "awaiting-review" ? latest.pause : undefined
}

/** Where a submitted run is, and the pause it waits on, if any (its summary alone is read). */
const lookUp = (runId: string, store: string) =>
  Effect.gen(function* () {
    const state = yield* FleetRun.poll(runId)
    const summary = yield* PgRunStore.summary(runId).pipe(Effect.mapError(storeFailed(store)))
    return { state, pause: pauseOf(state, summary) }
  })

const pauseText = (runId: string, store: string, pause: RunSummary.Pause) =>
  `run ${runId} is paused on the fleet, waiting for ${waitedFor(pause.kind)} (${pause.name}): answer with \`speckit ${pause.kind === "review" ? "approve|reject" : "budget --usd N"} ${runId} --store ${PgStore.displayUrl(store)}\``

/** Where each stage of a run stands, from its records in the store (its summary once it has one). */
const stagesOf = (stored: Option.Option<PgRunStore.StoredRun>) =>
  Option.match(stored, {
    onNone: () => [],
    onSome: (run) =>
      Option.match(run.summary, {
        onSome: (summary) =>
          summary.stages.map((stage) => ({ stage: stage.stage as string, status: stage.status as string })),
        onNone: () =>
          run.stages.map((stage) => ({
            stage: stage.stage,
            status: String((stage.consensus as { readonly status?: unknown }).status ?? "decided")
          }))
      })
  })

/** A state as JSON fields: `state` (`running`, `finished` or `failed`), and `status` or `reason`. */
const stateFields = (
  state: FleetRun.State
):
  | { readonly state: "running"; readonly status?: undefined; readonly reason?: undefined }
  | { readonly state: "finished"; readonly status: string; readonly reason?: undefined }
  | { readonly state: "failed"; readonly status?: undefined; readonly reason: string } =>
  state._tag === "Running"
    ? { state: "running" }
    : state._tag === "Finished"
      ? { state: "finished", status: state.status }
      : { state: "failed", reason: state.reason }

const stateJson = (runId: string, state: FleetRun.State) => `${JSON.stringify({ runId, ...stateFields(state) })}\n`

/**
 * The repository a submitted run changes: the workspace's repository as its workers reach it (the
 * remote `remote`, default `origin`), its commit and branch; `undefined` when the run describes its
 * change (`implement.mode: describe`, or no mode and no remote). A run that must change code without
 * a remote is bad input.
 */
const repositoryOf = (
  prepared: { readonly root: string; readonly config: SpeckitConfig.SpeckitConfig },
  remote: string | undefined,
  err: Output
) =>
  Effect.gen(function* () {
    const mode = prepared.config.implement?.mode
    if (mode === "describe") return undefined
    const git = Option.getOrUndefined(yield* Git.state(prepared.root))
    const path = yield* Path.Path
    // A remote given as a local path is taken from where the command runs.
    const wanted = remote !== undefined && /^\.\.?(\/|$)/.test(remote) ? path.resolve(remote) : remote
    const found = git === undefined ? undefined : Option.getOrUndefined(yield* Git.remote(prepared.root, wanted))
    if (git === undefined || found === undefined) {
      const why =
        git === undefined
          ? "the workspace is in no git repository with a commit"
          : remote === undefined
            ? "its repository has no origin remote"
            : `--remote ${remote} is neither a remote of its repository nor a URL`
      if (mode === "changes" || remote !== undefined) {
        return yield* new InputError({
          message: `a run that changes code on a fleet needs a remote its workers can reach: ${why} (add one or pass --remote URL, or set implement.mode to describe)`
        })
      }
      if (git !== undefined) {
        err.write(
          `speckit: note: the run describes its change (implement.mode: describe): ${why}; pass --remote URL to change code\n`
        )
      }
      return undefined
    }
    const pushed = yield* Git.isOnRemoteBranch(prepared.root, git.commit)
    if (!pushed) {
      err.write(
        `speckit: warning: the base commit ${git.commit.slice(0, 12)} is on no remote-tracking branch here: the workers fetch it from ${found.url} (push it first)\n`
      )
    }
    return {
      url: found.url,
      base: git.commit,
      branch: git.branch,
      path: found.path
    } satisfies FleetRun.Repository
  })

/**
 * `speckit auto SPEC --store URL`: submits a run of the spec to the fleet (its text and the
 * workspace's configuration), then follows it until it ends (exit codes as `speckit auto`), or with
 * `detach` returns its run id at once. Ctrl-C while following leaves the run going.
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * const submitted = Fleet.submit({
 *   specId: "SPEC-1",
 *   workspace: ".",
 *   store: "postgres://speckit@db:5432/speckit",
 *   detach: true,
 *   json: true
 * })
 * ```
 *
 * @since 0.4.0
 */
export const submit = (
  options: SubmitOptions
): Effect.Effect<
  string,
  InputError | RunNotCompleted,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> =>
  Effect.gen(function* () {
    const prepared = yield* Run.prepare(options.specId, options.workspace)
    const target = yield* repositoryOf(prepared, options.remote, options.err ?? stderr)
    const config = {
      ...prepared.config,
      implement: {
        ...prepared.config.implement,
        mode: target === undefined ? ("describe" as const) : ("changes" as const)
      }
    }
    const runId = yield* RunId.make
    const payload: FleetRun.Payload = {
      runId,
      specId: prepared.spec.id,
      specText: prepared.spec.text,
      config: JSON.stringify(config),
      ...(target === undefined ? {} : { repository: target })
    }
    // The workspace is checked before the store is used: bad input changes nothing.
    return yield* asClient(options.store, submitAndFollow(payload, options))
  })

/** Submits a checked payload and records it, then follows the run (or, detached, returns at once). */
const submitAndFollow = (payload: FleetRun.Payload, options: SubmitOptions) =>
  Effect.gen(function* () {
    const out = options.out ?? stdout
    const err = options.err ?? stderr
    const { runId, specId } = payload
    yield* FleetRun.submit(payload)
    yield* FleetRuns.record({ runId, specId }).pipe(Effect.mapError(storeFailed(options.store)))
    if (options.detach) {
      out.write(options.json ? `${JSON.stringify({ runId, state: "submitted" })}\n` : `${runId}\n`)
      err.write(`speckit: submitted run ${runId} (${specId}); ${hintFor(runId, options.store)}\n`)
      return runId
    }
    err.write(`speckit: submitted run ${runId} (${specId}) to ${PgStore.displayUrl(options.store)}\n`)
    return yield* followRun(runId, options)
  })

/** Follows a run of the fleet with the live view until it ends or pauses; exit codes as `speckit auto`'s. */
const followRun = (runId: string, options: Omit<FollowOptions, "runId">) =>
  Effect.gen(function* () {
    const out = options.out ?? stdout
    const err = options.err ?? stderr
    const progressOut = options.progress ?? (options.json ? err : out)
    const display = progressOut.isTTY ? Progress.live(progressOut) : Progress.plain(progressOut)
    const { state, pause } = yield* ended(runId, options.pollMs ?? 1_000, display, options.store).pipe(
      Effect.onInterrupt(() =>
        Effect.sync(() =>
          err.write(`speckit: stopped following; run ${runId} goes on: ${hintFor(runId, options.store)}\n`)
        )
      )
    )
    if (pause !== undefined) {
      const text = pauseText(runId, options.store, pause)
      out.write(options.json ? `${JSON.stringify({ runId, state: "paused", pause })}\n` : `${text}\n`)
      return yield* new RunNotCompleted({ status: text, exitCode: Run.exitCodeOf("awaiting-review") })
    }
    out.write(options.json ? stateJson(runId, state) : `${describeState(runId, state)}\n`)
    const exitCode = exitCodeOf(state)
    if (exitCode !== ExitCode.Completed) {
      return yield* new RunNotCompleted({ status: describeState(runId, state), exitCode })
    }
    return runId
  })

/**
 * Options of `speckit resume --store`.
 *
 * @since 0.4.0
 */
export interface FollowOptions {
  readonly runId: string
  readonly store: string
  readonly json: boolean
  /** How often the run is polled (default 1 s). */
  readonly pollMs?: number | undefined
  /** Where the run's progress is shown (default stdout, stderr with `json`). */
  readonly progress?: Output | undefined
  readonly out?: Output | undefined
  readonly err?: Output | undefined
}

/**
 * `speckit resume RUN-ID --store URL`: follows a run of the fleet again (from its first event), with
 * the live view and the exit codes of `speckit auto`, waking it up first if it waits for nothing (a
 * fleet's runs otherwise go on by themselves: a worker takes over a dead worker's runs, and a paused
 * run goes on once answered).
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * const followed = Fleet.follow({ runId: "run-20261204-101500-a1b2", store: "postgres://db/speckit", json: false })
 * ```
 *
 * @since 0.4.0
 */
export const follow = (options: FollowOptions) =>
  asClient(
    options.store,
    Effect.gen(function* () {
      yield* submitted(options.runId, options.store)
      yield* FleetRun.wake(options.runId)
      return yield* followRun(options.runId, options)
    })
  )

/**
 * `speckit status RUN-ID --store URL`: where a submitted run is (running, finished with its status,
 * or failed with the reason). Returns its state.
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * const state = Fleet.status({ runId: "run-20261204-101500-a1b2", store: "postgres://db/speckit", json: false })
 * ```
 *
 * @since 0.4.0
 */
export const status = (options: {
  readonly runId: string
  readonly store: string
  readonly json: boolean
  readonly out?: Output | undefined
}) =>
  asClient(
    options.store,
    Effect.gen(function* () {
      yield* submitted(options.runId, options.store)
      const state = yield* FleetRun.poll(options.runId)
      const stored = yield* PgRunStore.load(options.runId).pipe(Effect.mapError(storeFailed(options.store)))
      const pause = pauseOf(
        state,
        Option.flatMap(stored, (run) => run.summary)
      )
      const stages = stagesOf(stored)
      const worker = Option.getOrUndefined(Option.flatMap(stored, (run) => run.worker))
      const headline =
        pause !== undefined
          ? pauseText(options.runId, options.store, pause)
          : state._tag === "Running" && worker !== undefined
            ? `${describeState(options.runId, state)}, on worker ${worker.address} (its last record at ${worker.at})`
            : describeState(options.runId, state)
      ;(options.out ?? stdout).write(
        options.json
          ? `${JSON.stringify({ runId: options.runId, ...stateFields(state), ...(pause === undefined ? {} : { pause }), ...(worker === undefined ? {} : { worker }), stages })}\n`
          : `${headline}\n${stages.map((stage) => `  ${stage.stage}: ${stage.status}\n`).join("")}`
      )
      return state
    })
  )

/**
 * `speckit runs --store URL`: the runs submitted to the fleet, newest first, each with where it is.
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * const listed = Fleet.runs({ store: "postgres://db/speckit", json: true })
 * ```
 *
 * @since 0.4.0
 */
export const runs = (options: {
  readonly store: string
  readonly json: boolean
  readonly limit?: number | undefined
  readonly out?: Output | undefined
}) =>
  asClient(
    options.store,
    Effect.gen(function* () {
      const submittedRuns = yield* FleetRuns.list({ limit: options.limit }).pipe(
        Effect.mapError(storeFailed(options.store))
      )
      const listed = yield* Effect.forEach(
        submittedRuns,
        (run) =>
          Effect.map(lookUp(run.runId, options.store), ({ state, pause }) => ({
            ...run,
            ...stateFields(state),
            ...(pause === undefined ? {} : { pause })
          })),
        { concurrency: 8 }
      )
      const where = (run: (typeof listed)[number]) =>
        run.state === "failed"
          ? `failed: ${run.reason}`
          : run.pause !== undefined
            ? `paused (${run.pause.name})`
            : (run.status ?? "running")
      const lines = listed.map((run) => `${run.runId}  ${run.specId}  ${where(run)}  submitted ${run.submittedAt}\n`)
      ;(options.out ?? stdout).write(
        options.json
          ? `${JSON.stringify(listed, null, 2)}\n`
          : lines.length === 0
            ? `no runs submitted to the fleet at ${PgStore.displayUrl(options.store)}\n`
            : lines.join("")
      )
      return listed
    })
  )

/**
 * `speckit cancel RUN-ID --store URL`: interrupts a submitted run wherever it runs.
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * const cancelled = Fleet.cancel({ runId: "run-20261204-101500-a1b2", store: "postgres://db/speckit" })
 * ```
 *
 * @since 0.4.0
 */
export const cancel = (options: {
  readonly runId: string
  readonly store: string
  readonly out?: Output | undefined
}) =>
  asClient(
    options.store,
    Effect.tap(Effect.andThen(submitted(options.runId, options.store), FleetRun.cancel(options.runId)), () =>
      Effect.sync(() => (options.out ?? stdout).write(`cancelled run ${options.runId}\n`))
    )
  )

/** Every event of a run logged in the store, in order. */
const allEvents = (runId: string, store: string) =>
  Effect.gen(function* () {
    const events: Array<RunRecords.LoggedEvent> = []
    yield* eachEventAfter(runId, 0, store, (event) => Effect.sync(() => void events.push(event)))
    return events
  })

/** A run's records as the report reads them, from the store. */
const recordsOf = (
  stored: PgRunStore.StoredRun,
  events: ReadonlyArray<RunRecords.LoggedEvent>
): RunRecords.RunRecords => {
  const summary = Option.getOrUndefined(stored.summary)
  const chosen = RunRecords.chosenOf(summary)
  const patch = stored.candidates.find((candidate) => candidate.agent === chosen)
  return {
    runId: stored.runId,
    run: stored.record,
    events,
    summary,
    consensus: Object.fromEntries(
      stored.stages.map((stage) => [stage.stage, stage.consensus as RunRecords.ConsensusRecord])
    ),
    artifacts: Object.fromEntries(stored.stages.map((stage) => [stage.stage, stage.markdown])),
    ...Option.match(stored.cost, {
      onNone: () => ({}),
      onSome: (cost) => ({ cost: cost as RunRecords.CostReport })
    }),
    ...(patch === undefined ? {} : { patch: { agent: patch.agent, text: patch.patch } })
  }
}

/**
 * `speckit report RUN-ID --store URL`: writes the report of a run of the fleet from its records in the
 * store, to `<workspace>/.speckit/fleet/<run-id>/report.html`, and returns the file's path.
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * const file = Fleet.report({ runId: "run-20261204-101500-a1b2", store: "postgres://db/speckit", workspace: "." })
 * ```
 *
 * @since 0.4.0
 */
export const report = (options: { readonly runId: string; readonly store: string; readonly workspace: string }) =>
  asClient(
    options.store,
    Effect.gen(function* () {
      const path = yield* Path.Path
      yield* submitted(options.runId, options.store)
      const stored = yield* PgRunStore.load(options.runId).pipe(Effect.mapError(storeFailed(options.store)))
      if (Option.isNone(stored)) {
        return yield* new InputError({
          message: `run ${options.runId} has no records yet: no worker has begun it (see \`speckit status ${options.runId} --store ${PgStore.displayUrl(options.store)}\`)`
        })
      }
      const events = yield* allEvents(options.runId, options.store)
      const file = path.resolve(options.workspace, ".speckit", "fleet", options.runId, "report.html")
      return yield* Report.writeTo(file, recordsOf(stored.value, events)).pipe(
        Effect.mapError((error) => new InputError({ message: `cannot write ${file}: ${error.message}` }))
      )
    })
  )

/**
 * An answer to a paused run of a fleet: a review (approved or not) or a raised budget (USD), with an
 * optional note.
 *
 * @since 0.4.0
 */
export type Answer =
  | { readonly kind: "review"; readonly approved: boolean; readonly note?: string | undefined }
  | { readonly kind: "budget"; readonly usd: number; readonly note?: string | undefined }

const waitedFor = (kind: "review" | "budget") => (kind === "review" ? "a review" : "a budget raise")

/**
 * `speckit approve|reject|budget RUN-ID --store URL`: answers the pause a run of the fleet waits on
 * (its summary in the store names it); the run goes on on whichever worker holds it. A run that is
 * not waiting for that answer is bad input.
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * const approved = Fleet.answer({
 *   runId: "run-20261204-101500-a1b2",
 *   store: "postgres://db/speckit",
 *   given: { kind: "review", approved: true, note: "the dissent is about wording" },
 *   json: false
 * })
 * ```
 *
 * @since 0.4.0
 */
export const answer = (options: {
  readonly runId: string
  readonly store: string
  readonly given: Answer
  readonly json: boolean
  readonly out?: Output | undefined
}) =>
  asClient(
    options.store,
    Effect.gen(function* () {
      const { runId, given } = options
      yield* submitted(runId, options.store)
      const { pause } = yield* lookUp(runId, options.store)
      if (pause === undefined || pause.kind !== given.kind) {
        return yield* new InputError({
          message: `run ${runId} is not waiting for ${waitedFor(given.kind)}${pause === undefined ? "" : ` (it waits for ${waitedFor(pause.kind)}: ${pause.name})`}`
        })
      }
      const note = given.note === undefined ? {} : { note: given.note }
      yield* PgRunStore.goesOn(runId).pipe(Effect.mapError(storeFailed(options.store)))
      yield* FleetRun.answer(
        runId,
        given.kind === "review"
          ? { _tag: "Review", name: pause.name, answer: { approved: given.approved, ...note } }
          : { _tag: "Budget", name: pause.name, usd: given.usd }
      )
      ;(options.out ?? stdout).write(
        options.json
          ? `${JSON.stringify({ runId, name: pause.name, ...given })}\n`
          : `answered run ${runId} (${pause.name}); it goes on on the fleet: ${hintFor(runId, options.store)}\n`
      )
    })
  )

/**
 * speckit on a fleet: `speckit worker` (a runner of `effect/cluster` over a PostgreSQL store, serving
 * `FleetRun.workflow`), and the client side of `auto`, `status` and `cancel` with `--store`: submit a
 * run (its spec's text and configuration), follow it, show where it is, cancel it, from any machine
 * that reaches the store.
 *
 * A worker writes each run it takes under its cache directory (`<cache>/<run-id>/`, the spec and the
 * configuration from the payload) and runs the pipeline there, the same pipeline and layers as
 * `speckit auto`, its steps journaled in the store: when a worker dies, another takes its runs over
 * and recorded steps are not run again. A run that changes code carries its repository's remote and
 * base commit: the worker keeps a bare clone of each remote under `<cache>/clones/`, makes the run's
 * directory a checkout of the base (the agents' worktrees are made from it, the checks run there) and
 * delivers by pushing `speckit/<SPEC-ID>/<run-id>` to the remote. A run without a remote describes
 * its change (`implement.mode: describe`).
 *
 * @since 0.4.0
 */
import { SqlSequencerStore } from "@speckit/consensus"
import { FleetRun, type GitState, Pipeline, RunId, type RunSummary, type SpeckitConfig } from "@speckit/core"
import { Clones, Git } from "@speckit/git"
import { FleetRuns, PgStore, Runner } from "@speckit/postgres"
import { Metrics, Pricing } from "@speckit/telemetry"
import { Config, Effect, type FileSystem, Layer, Option, Path, Schema } from "effect"
import type { SqlError } from "effect/sql"
import type { ChildProcessSpawner } from "effect/process"
import { ExitCode, InputError, RunNotCompleted } from "./Errors.ts"
import type { Output } from "./Progress.ts"
import * as Run from "./Run.ts"

const stdout: Output = process.stdout
const stderr: Output = process.stderr

/**
 * The store's and the runner's failures: the server unreachable, refused or newer, the address in
 * use, the cluster's settings refused.
 */
type StoreError = PgStore.StoreUnavailable | PgStore.StoreSchemaNewer | Runner.ListenFailed | Config.ConfigError

const isStoreError = (error: unknown): error is StoreError =>
  error instanceof PgStore.StoreUnavailable ||
  error instanceof PgStore.StoreSchemaNewer ||
  error instanceof Runner.ListenFailed ||
  error instanceof Config.ConfigError

/** A store's failure as bad input: one line, exit 2, nothing changed. */
const asInput = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, StoreError> | InputError, R> =>
  Effect.mapError(effect, (error) =>
    isStoreError(error) ? new InputError({ message: error.message }) : (error as Exclude<E, StoreError>)
  )

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
 * Options of `speckit worker`.
 *
 * @since 0.4.0
 */
export interface WorkerOptions {
  /** `postgres://user:password@host:port/database`. */
  readonly store: string
  /** Where the worker listens for the other runners and the clients. */
  readonly listen: Runner.Address
  /** Where the runs it takes are written (`<cache>/<run-id>/`). */
  readonly cache: string
  /** Where the worker logs (one line when it starts and for each run it takes); default stderr. */
  readonly log?: Output | undefined
}

/**
 * Parses `HOST:PORT` (a bare `PORT` listens on 127.0.0.1).
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * Fleet.parseAddress("0.0.0.0:34431") // { host: "0.0.0.0", port: 34431 }
 * ```
 *
 * @since 0.4.0
 */
export const parseAddress = (text: string): Runner.Address | undefined => {
  const match = /^(?:(.+):)?(\d{1,5})$/.exec(text.trim())
  const port = Number(match?.[2])
  if (match === null || !Number.isInteger(port) || port < 1 || port > 65_535) return undefined
  return { host: match[1] ?? "127.0.0.1", port }
}

/**
 * The workspace of a run a worker took: `<cache>/<run-id>`, made a checkout of the run's base commit
 * when it has a repository (the workspace then its folder in the checkout), with the spec and the
 * configuration written in.
 */
const workspaceOf = (payload: FleetRun.Payload, cache: string) =>
  Effect.gen(function* () {
    const repository = payload.repository
    if (repository === undefined) return yield* FleetRun.materialize(payload, cache)
    const path = yield* Path.Path
    const runId = yield* Schema.decodeUnknownEffect(RunId.RunId)(payload.runId)
    const clones = yield* Clones.Clones
    const checkout = yield* clones.checkout(repository, path.join(cache, runId))
    const workspace = path.resolve(checkout, repository.path)
    if (path.relative(checkout, workspace).startsWith("..")) {
      return yield* new InputError({ message: `the workspace ${repository.path} is outside its repository` })
    }
    return yield* FleetRun.materialize(payload, cache, { workspace })
  })

/** Runs one run a worker took, in its workspace under the cache. */
const runTaken = (payload: FleetRun.Payload, cache: string, log: Output) =>
  Effect.gen(function* () {
    log.write(`speckit worker: run ${payload.runId} (${payload.specId})\n`)
    const workspace = yield* workspaceOf(payload, cache)
    const repository = payload.repository
    const git: GitState.GitState | undefined =
      repository === undefined ? undefined : { branch: repository.branch, commit: repository.base }
    const prepared = yield* Run.prepare(payload.specId, workspace)
    const config = yield* Run.effectiveConfig(prepared.config, git)
    const repositoryLayer = Run.repositoryLayer(config, workspace, { push: repository?.url })
    yield* Run.preflight(config, workspace, git).pipe(Effect.provide(repositoryLayer))
    const summary: RunSummary.RunSummary = yield* Pipeline.run({
      spec: prepared.spec,
      config,
      runId: RunId.RunId.make(payload.runId),
      git
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Run.layer(config, workspace, undefined, { metrics: false }, SqlSequencerStore.layerSequencer()).pipe(
          Layer.merge(repositoryLayer),
          Layer.provideMerge(Metrics.layer({ pricer: Pricing.fromConfig(config) }))
        )
      )
    )
    log.write(`speckit worker: run ${payload.runId} ${summary.status}\n`)
    return summary
  })

/**
 * `speckit worker`: serves the fleet's runs until interrupted (SIGTERM or Ctrl-C: it stops taking
 * work, lets the steps in flight finish and releases its shards, so that another worker goes on).
 *
 * @example
 * ```ts
 * import { Fleet } from "@speckit/cli"
 *
 * const worker = Fleet.worker({
 *   store: "postgres://speckit@db:5432/speckit",
 *   listen: { host: "0.0.0.0", port: 34431 },
 *   cache: "/var/cache/speckit"
 * })
 * ```
 *
 * @since 0.4.0
 */
export const worker = (options: WorkerOptions) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const cache = path.resolve(options.cache)
    const log = options.log ?? stderr
    yield* FleetRun.serve((payload) => runTaken(payload, cache, log)).pipe(Effect.provide(Clones.layer({ cache })))
    log.write(
      `speckit worker: listening on ${options.listen.host}:${options.listen.port}, store ${PgStore.displayUrl(options.store)}, cache ${cache}\n`
    )
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(Runner.layer({ url: options.store, listen: options.listen })), asInput)

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
  readonly out?: Output | undefined
  readonly err?: Output | undefined
}

const hintFor = (runId: string, store: string) =>
  `follow it with \`speckit status ${runId} --store ${PgStore.displayUrl(store)}\`, cancel it with \`speckit cancel ${runId} --store ${PgStore.displayUrl(store)}\``

/** Waits until a submitted run is no longer running. */
const ended = (runId: string, pollMs: number) =>
  Effect.gen(function* () {
    while (true) {
      const state = yield* FleetRun.poll(runId)
      if (state._tag !== "Running") return state
      yield* Effect.sleep(pollMs)
    }
  })

/** The exit code of a run that is no longer running: as `speckit auto`'s, 1 when its runner failed it. */
const exitCodeOf = (state: FleetRun.State) =>
  state._tag === "Finished" ? Run.exitCodeOf(state.status) : ExitCode.Failed

const describeState = (runId: string, state: FleetRun.State) =>
  state._tag === "Running"
    ? `run ${runId} is running on the fleet`
    : state._tag === "Finished"
      ? `run ${runId} ${state.status}`
      : `run ${runId} failed: ${state.reason}`

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
      path: path.relative(found.root, path.resolve(prepared.root))
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
    const state = yield* ended(runId, options.pollMs ?? 1_000).pipe(
      Effect.onInterrupt(() =>
        Effect.sync(() =>
          err.write(`speckit: stopped following; run ${runId} goes on: ${hintFor(runId, options.store)}\n`)
        )
      )
    )
    out.write(options.json ? stateJson(runId, state) : `${describeState(runId, state)}\n`)
    const exitCode = exitCodeOf(state)
    if (exitCode !== ExitCode.Completed) {
      return yield* new RunNotCompleted({ status: describeState(runId, state), exitCode })
    }
    return runId
  })

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
    Effect.map(Effect.andThen(submitted(options.runId, options.store), FleetRun.poll(options.runId)), (state) => {
      ;(options.out ?? stdout).write(
        options.json ? stateJson(options.runId, state) : `${describeState(options.runId, state)}\n`
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
        (run) => Effect.map(FleetRun.poll(run.runId), (state) => ({ ...run, ...stateFields(state) })),
        { concurrency: 8 }
      )
      const lines = listed.map(
        (run) =>
          `${run.runId}  ${run.specId}  ${run.state === "failed" ? `failed: ${run.reason}` : (run.status ?? "running")}  submitted ${run.submittedAt}\n`
      )
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

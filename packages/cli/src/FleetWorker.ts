/**
 * `speckit worker`: a runner of a fleet (`effect/cluster` over the PostgreSQL store) serving
 * `FleetRun.workflow`. Each run it takes is written under its cache directory (`<cache>/<run-id>/`,
 * the spec and the configuration from the payload) and run there by the same pipeline and layers as
 * `speckit auto`, its steps journaled in the store and its records written there too (`PgRunStore`):
 * when a worker dies, another takes its runs over and recorded steps are not run again. A run that
 * changes code carries its repository's remote and base commit: the worker keeps a bare clone of each
 * remote under `<cache>/clones/`, makes the run's directory a checkout of the base (the agents'
 * worktrees are made from it, the checks run there) and delivers by pushing
 * `speckit/<SPEC-ID>/<run-id>` to the remote.
 *
 * @since 0.4.0
 */
import { SqlSequencerStore } from "@speckit/consensus"
import { FleetRun, type GitState, Pipeline, RunId, RunStore, type RunSummary } from "@speckit/core"
import { Clones } from "@speckit/git"
import { PgRunStore, PgStore, Runner } from "@speckit/postgres"
import { Pricing, RunTelemetry } from "@speckit/telemetry"
import { Effect, FileSystem, Layer, Option, Path, Schema } from "effect"
import { InputError } from "./Errors.ts"
import { asInput } from "./internal/storeInput.ts"
import type { Output } from "./Progress.ts"
import * as Report from "./Report.ts"
import * as Run from "./Run.ts"

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
 * import { FleetWorker } from "@speckit/cli"
 *
 * FleetWorker.parseAddress("0.0.0.0:34431") // { host: "0.0.0.0", port: 34431 }
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
const runTaken = (payload: FleetRun.Payload, cache: string, worker: string, log: Output) =>
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
    const runId = RunId.RunId.make(payload.runId)
    const path = yield* Path.Path
    const runDir = path.join(workspace, ".speckit", "runs", runId)
    const priceCheck = yield* Pricing.checkModels(config).pipe(
      Effect.mapError((error) => new InputError({ message: error.message }))
    )
    // The run's telemetry as `speckit auto` has it (metrics.json, cost.json), without a display.
    const telemetry = RunTelemetry.layer({
      workspace,
      config,
      spec: prepared.spec,
      runDir,
      display: { emit: () => Effect.void },
      warnings: log,
      unpriced: priceCheck.unpriced.map((entry) => entry.model)
    })
    const summary: RunSummary.RunSummary = yield* Pipeline.run({ spec: prepared.spec, config, runId, git }).pipe(
      Effect.scoped,
      Effect.provide(
        Run.layer(config, workspace, undefined, { metrics: false }, SqlSequencerStore.layerSequencer()).pipe(
          // The run's records go to the store as well as to the files in the cache (this RunStore wins).
          Layer.merge(PgRunStore.layer({ worker }).pipe(Layer.provide(RunStore.RunStore.layerFileSystem(workspace)))),
          Layer.merge(repositoryLayer)
        )
      ),
      Effect.provide(telemetry)
    )
    // Neither is the run's outcome: a failure is logged.
    yield* keepCostReport(runId, runDir).pipe(
      Effect.catchCause((cause) =>
        Effect.sync(() => log.write(`speckit worker: run ${runId}: its cost report was not stored: ${cause}\n`))
      )
    )
    yield* Report.write(workspace, runId).pipe(Effect.ignore)
    log.write(`speckit worker: run ${payload.runId} ${summary.status}\n`)
    return summary
  })

/** Puts the run's cost report (`cost.json`, written as its telemetry closed) in the store. */
const keepCostReport = (runId: string, runDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const text = yield* fs.readFileString(path.join(runDir, "cost.json")).pipe(Effect.option)
    if (Option.isNone(text)) return
    const cost = yield* Effect.try(() => JSON.parse(text.value) as unknown)
    yield* PgRunStore.saveCost(runId, cost)
  })

/**
 * `speckit worker`: serves the fleet's runs until interrupted (SIGTERM or Ctrl-C: it stops taking
 * work, lets the steps in flight finish and releases its shards, so that another worker goes on).
 *
 * @example
 * ```ts
 * import { FleetWorker } from "@speckit/cli"
 *
 * const worker = FleetWorker.worker({
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
    const log = options.log ?? process.stderr
    const address = `${options.listen.host}:${options.listen.port}`
    const drain = makeDrain()
    const serving = Effect.gen(function* () {
      yield* FleetRun.serve((payload) => drain.track(payload.runId, runTaken(payload, cache, address, log)), {
        draining: drain.draining,
        onHandedOver: (runId) =>
          Effect.sync(() => log.write(`speckit worker: run ${runId} handed over (its shard moved to another worker)\n`))
      }).pipe(Effect.provide(Clones.layer({ cache })))
      log.write(`speckit worker: listening on ${address}, store ${PgStore.displayUrl(options.store)}, cache ${cache}\n`)
      // Stopped: its runs suspend before their next step once their steps in flight are done, before the
      // shards are released (a run still going when they are would wait for the cluster's
      // termination timeout, and a longer step would be cut off).
      return yield* Effect.never.pipe(Effect.onInterrupt(() => drain.untilIdle))
    }).pipe(Effect.scoped, Effect.provide(Runner.layer({ url: options.store, listen: options.listen })), asInput)
    // The runs it suspended go on wherever their shards are now.
    return yield* serving.pipe(
      Effect.onInterrupt(() =>
        drain.resumeSuspended(log).pipe(Effect.provide(Runner.client({ url: options.store })), Effect.ignore)
      )
    )
  })

/**
 * A worker's runs while it stops: which are going, which it suspended, and the flag that makes them
 * suspend before their next step.
 */
const makeDrain = () => {
  let draining = false
  const going = new Set<string>()
  const suspended = new Set<string>()
  return {
    draining: () => draining,
    /** Runs a run, remembering it as going, and as suspended when the drain interrupted it. */
    track: <A, E, R>(runId: string, run: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => {
        going.add(runId)
        return run.pipe(
          Effect.onInterrupt(() => Effect.sync(() => (draining ? suspended.add(runId) : undefined))),
          Effect.ensuring(Effect.sync(() => going.delete(runId)))
        )
      }),
    /** Starts draining and waits until no run is going. */
    untilIdle: Effect.gen(function* () {
      draining = true
      while (going.size > 0) yield* Effect.sleep("100 millis")
    }),
    /** Wakes the suspended runs, from a client once the worker's shards are released. */
    resumeSuspended: (log: Output) =>
      Effect.forEach(
        suspended,
        (runId) =>
          Effect.andThen(
            FleetRun.wake(runId),
            Effect.sync(() => log.write(`speckit worker: run ${runId} handed over\n`))
          ),
        { discard: true }
      )
  }
}

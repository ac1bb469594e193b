/**
 * `speckit auto`: loads a workspace's spec and configuration, composes the plugins' layers and runs
 * the pipeline with a progress display.
 *
 * @since 0.1.0
 */
import { MemorySequencer, QuorumConsensus, SqlSequencerStore } from "@speckit/consensus"
import {
  DurableRun,
  type Execution,
  FaultInjector,
  type GitState,
  Pipeline,
  Providers,
  Resilience,
  RunId,
  RunStore,
  type RunSummary,
  type Sequencer,
  type SessionMetrics,
  Spec,
  SqlWorkflowEngine,
  SpeckitConfig,
  Checks,
  Worktrees
} from "@speckit/core"
import { Faults } from "@speckit/faults"
import { Metrics, Pricing, RunTelemetry, Tracing } from "@speckit/telemetry"
import { AgentProviders, ProcessChecks } from "@speckit/agents"
import { Git, GitWorktrees } from "@speckit/git"
import { StateDatabase } from "@speckit/sqlite"
import { Effect, FileSystem, Layer, Option, Path } from "effect"
import * as Os from "node:os"
import type { ChildProcessSpawner } from "effect/process"
import { ApplyRefused, ExitCode, InputError, RunNotCompleted } from "./Errors.ts"
import * as Progress from "./Progress.ts"
import * as Report from "./Report.ts"
import * as Runs from "./Runs.ts"
import * as SummaryText from "./SummaryText.ts"

/**
 * Options of `speckit auto`.
 *
 * @since 0.1.0
 */
export interface AutoOptions {
  readonly specId: string
  readonly workspace: string
  readonly json: boolean
  /** Where progress goes; defaults to stdout, or stderr with `--json`. */
  readonly progress?: Progress.Output | undefined
  /** Where the report goes; defaults to stdout. */
  readonly report?: Progress.Output | undefined
  /** Write the run's metrics as Prometheus text to this file at the end (and on interruption). */
  readonly metricsFile?: string | undefined
  /** Where warnings and alerts go; defaults to stderr. */
  readonly warnings?: Progress.Output | undefined
  /** Start a new run even when the spec has an unfinished one on this branch (`--new`). */
  readonly fresh?: boolean | undefined
  /**
   * Once the run delivered its change to a branch, fast-forward the current branch to it (`--apply`),
   * when `HEAD` is still the base commit and nothing tracked is modified.
   *
   * @since 0.3.0
   */
  readonly apply?: boolean | undefined
}

const pricesOf = (config: SpeckitConfig.SpeckitConfig): Record<string, Pricing.Price> => {
  const prices: Record<string, Pricing.Price> = {}
  for (const agent of Object.values(config.agents ?? {})) {
    if (agent.price && agent.model) prices[agent.model] = agent.price
  }
  return prices
}

/**
 * The layers of one run: the plugins' implementations of core's ports.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { Run } from "@speckit/cli"
 *
 * const layer = Run.layer(SpeckitConfig.defaultConfig, ".")
 * ```
 *
 * @since 0.1.0
 */
export const layer = <
  E = never,
  R = never,
  M extends Layer.Layer<SessionMetrics.SessionMetrics> | false | undefined = undefined
>(
  config: SpeckitConfig.SpeckitConfig,
  workspace: string,
  faults: Layer.Layer<FaultInjector.FaultInjector> = FaultInjector.FaultInjector.layerNone,
  telemetry: {
    /**
     * The session-metrics layer (default: `Metrics.layer` priced from the configuration); `false` when
     * they are provided outside (e.g. by `RunTelemetry.layer`): the layer then does not provide them.
     */
    readonly metrics?: M
    /** Trace every agent call (`Tracing.traceRegistry`). */
    readonly traced?: boolean | undefined
  } = {},
  /** The sequencer (default: in memory; `speckit auto` keeps it in the state database). */
  sequencer: Layer.Layer<Sequencer.Sequencer, E, R> = MemorySequencer.layer as Layer.Layer<Sequencer.Sequencer, E, R>
) => {
  const ports = Layer.mergeAll(
    telemetry.traced
      ? Tracing.traceRegistry(AgentProviders.layer(config, workspace))
      : AgentProviders.layer(config, workspace),
    faults,
    Resilience.layer(config),
    sequencer,
    QuorumConsensus.layer,
    RunStore.RunStore.layerFileSystem(workspace)
  )
  const metrics: Layer.Layer<SessionMetrics.SessionMetrics> | false =
    telemetry.metrics ?? Metrics.layer({ pricer: Pricing.fromConfig(config), prices: pricesOf(config) })
  // A union of layers keeps only what all of them provide, so the type says what this one does.
  return (metrics === false ? ports : Layer.merge(ports, metrics)) as Layer.Layer<
    Layer.Success<typeof ports> | (M extends false ? never : SessionMetrics.SessionMetrics),
    Layer.Error<typeof ports>,
    Layer.Services<typeof ports>
  >
}

/**
 * The exit code of a run that ended with `status`: 0 completed, 130 cancelled, 3 awaiting a review,
 * 1 otherwise.
 *
 * @example
 * ```ts
 * import { Run } from "@speckit/cli"
 *
 * Run.exitCodeOf("awaiting-review") // 3
 * ```
 *
 * @since 0.4.0
 */
export const exitCodeOf = (status: RunSummary.RunStatus): number =>
  status === "completed"
    ? ExitCode.Completed
    : status === "cancelled"
      ? ExitCode.Interrupted
      : status === "awaiting-review"
        ? ExitCode.AwaitingReview
        : ExitCode.Failed

/**
 * Loads the spec and configuration, failing with an {@link InputError} on bad input before
 * anything is written.
 *
 * @since 0.1.0
 */
export const prepare = (specId: string, workspace: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    const isDir = yield* fs.stat(root).pipe(
      Effect.map((info) => info.type === "Directory"),
      Effect.orElseSucceed(() => false)
    )
    if (!isDir) return yield* new InputError({ message: `workspace ${root} is not a directory` })
    const config = yield* SpeckitConfig.load(root)
    // Every agent's keys, checked against its provider's (the built-ins', the plugins').
    yield* Providers.validate(config, root, { providers: AgentProviders.builtins })
    const spec = yield* Spec.load(root, specId)
    // Every agent the run will call, checked where it can be before anything is spent (exec: its program).
    const called = Pipeline.stagesFor(config).flatMap((stage) => stage.agents(config))
    yield* Providers.preflight(config, root, called, { providers: AgentProviders.builtins })
    const faults = yield* Effect.flatMap(Faults.readEnv, ({ spec, options }) => Faults.make(spec, options))
    return { root, config, spec, faults }
  }).pipe(
    Effect.catchTags({
      FaultSpecError: (error) => Effect.fail(new InputError({ message: error.message })),
      ConfigError: (error) => Effect.fail(new InputError({ message: error.message })),
      SpecNotFound: (error) => Effect.fail(new InputError({ message: error.message })),
      SpecEmpty: (error) => Effect.fail(new InputError({ message: error.message })),
      SpecNotText: (error) => Effect.fail(new InputError({ message: error.message })),
      AgentUnavailable: (error) => Effect.fail(new InputError({ message: error.message })),
      InvalidSpecId: (error) => Effect.fail(new InputError({ message: error.message }))
    })
  )

/**
 * The configuration a new run records: `implement.mode` resolved (`changes` in a git repository with
 * a commit, else `describe`) and the checks' concurrency (default: the number of cores). Refuses
 * `changes` outside a git repository.
 *
 * @since 0.3.0
 */
export const effectiveConfig = (
  config: SpeckitConfig.SpeckitConfig,
  git: GitState.GitState | undefined
): Effect.Effect<SpeckitConfig.SpeckitConfig, InputError> => {
  const mode = SpeckitConfig.implementMode(config, git !== undefined)
  if (mode === "changes" && git === undefined) {
    return Effect.fail(
      new InputError({
        message:
          "implement.mode changes needs a git repository with at least one commit; this workspace has none (set implement.mode to describe, or run git init and commit)"
      })
    )
  }
  const checks = SpeckitConfig.checksOf(config, Os.availableParallelism())
  return Effect.succeed({
    ...config,
    implement: { ...config.implement, mode },
    ...(config.checks === undefined ? {} : { checks })
  })
}

/**
 * Checks, before anything is spent, what a run that makes real changes needs: git and the run's base
 * commit, and every check's program. Each problem is one line (exit 2).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SpeckitConfig } from "@speckit/core"
 * import { Run } from "@speckit/cli"
 *
 * const checked = Run.preflight(SpeckitConfig.defaultConfig, ".", undefined).pipe(
 *   Effect.provide(Run.repositoryLayer(SpeckitConfig.defaultConfig, "."))
 * )
 * ```
 *
 * @since 0.4.0
 */
export const preflight = (config: SpeckitConfig.SpeckitConfig, root: string, git: GitState.GitState | undefined) =>
  Effect.gen(function* () {
    if (config.implement?.mode !== "changes") return
    const worktrees = yield* Worktrees.Worktrees
    const checks = yield* Checks.Checks
    if (git === undefined) {
      return yield* new InputError({
        message: "implement.mode changes needs a git repository with at least one commit"
      })
    }
    yield* worktrees.check(git.commit).pipe(Effect.mapError((error) => new InputError({ message: error.message })))
    yield* checks
      .resolve(SpeckitConfig.checksOf(config, 1).commands, root)
      .pipe(Effect.mapError((error) => new InputError({ message: error.message })))
  })

/**
 * The layers a run's repository work needs: git worktrees of the workspace and the project's checks.
 * With `push` (a remote's URL) the delivered branch is pushed there (a fleet's worker delivers so).
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { Run } from "@speckit/cli"
 *
 * const layer = Run.repositoryLayer(SpeckitConfig.defaultConfig, ".")
 * ```
 *
 * @since 0.4.0
 */
export const repositoryLayer = (
  config: SpeckitConfig.SpeckitConfig,
  root: string,
  options?: { readonly push?: string | undefined }
) =>
  Layer.mergeAll(
    GitWorktrees.layer({ workspace: root, setup: config.implement?.setup, push: options?.push }),
    ProcessChecks.layer
  )

/** A loaded workspace, ready to run (see {@link prepare}). */
type Prepared = Effect.Success<ReturnType<typeof prepare>>

/**
 * Runs (or resumes) a run of a loaded workspace as a durable workflow over the workspace's state
 * database, with the progress display; reports the summary, and fails with {@link RunNotCompleted}
 * when the run does not complete.
 */
const execute = Effect.fnUntraced(function* (
  prepared: Prepared,
  options: AutoOptions & {
    readonly runId: RunId.RunId
    readonly git: GitState.GitState | undefined
    readonly answer?: DurableRun.Options["answer"]
  }
) {
  const { root, config, spec, faults } = prepared
  const warn = options.warnings ?? process.stderr
  if (faults.active) warn.write(`speckit: faults active: ${faults.description}\n`)
  const priceCheck = yield* Pricing.checkModels(config).pipe(
    Effect.mapError((error) => new InputError({ message: error.message }))
  )
  for (const warning of priceCheck.warnings) warn.write(`speckit: warning: ${warning}\n`)
  const repository = repositoryLayer(config, root)
  yield* preflight(config, root, options.git).pipe(Effect.provide(repository))
  const progressOut = options.progress ?? (options.json ? process.stderr : process.stdout)
  const display = progressOut.isTTY ? Progress.live(progressOut) : Progress.plain(progressOut)
  const path = yield* Path.Path
  const telemetry = RunTelemetry.layer({
    workspace: root,
    config,
    spec,
    runDir: path.join(root, ".speckit", "runs", options.runId),
    display,
    refreshTo: progressOut.isTTY ? undefined : progressOut,
    warnings: warn,
    unpriced: priceCheck.unpriced.map((entry) => entry.model),
    prometheusFile: options.metricsFile === undefined ? undefined : path.resolve(root, options.metricsFile)
  })
  const engine = yield* engineOf(process.env.SPECKIT_ENGINE)
  const state = StateDatabase.layer({ filename: path.join(root, StateDatabase.path), engine })
  const outcome = yield* DurableRun.run({
    spec,
    config,
    git: options.git,
    runId: options.runId,
    answer: options.answer
  }).pipe(
    Effect.tap(() => (engine === "journal" ? purgeFinished(root, options.runId) : Effect.void)),
    Effect.scoped,
    Effect.provide(
      layer(
        config,
        root,
        Layer.succeed(FaultInjector.FaultInjector, faults),
        { traced: RunTelemetry.tracing(), metrics: false },
        SqlSequencerStore.layerSequencer()
      ).pipe(Layer.provideMerge(state), Layer.merge(repository))
    ),
    Effect.provide(telemetry),
    Effect.catchTags({
      // The state database: in use by another process, corrupt, foreign or newer (nothing is touched).
      StateLocked: (error) => Effect.fail(new InputError({ message: error.message })),
      StateCorrupt: (error) => Effect.fail(new InputError({ message: error.message })),
      SqlError: (error) =>
        Effect.fail(new InputError({ message: `the state database cannot be used: ${error.message}` })),
      UnknownAgent: (error) => Effect.fail(new InputError({ message: error.message })),
      ConfigError: (error) => Effect.fail(new InputError({ message: error.message })),
      RunStoreError: (error) =>
        Effect.fail(new RunNotCompleted({ status: `failed: ${error.message}`, exitCode: ExitCode.Failed }))
    }),
    Effect.ensuring(Effect.sync(display.close)),
    // Interrupted (Ctrl-C): the run recorded itself as cancelled; scripts still get its summary.
    Effect.onInterrupt(() =>
      Effect.andThen(
        writeReport(root, options.runId, warn),
        options.json
          ? Runs.summaryOf(root, options.runId).pipe(
              Effect.flatMap((summary) => reportSummary(summary, options)),
              Effect.ignore
            )
          : Effect.void
      )
    )
  )
  const summary = outcome._tag === "AlreadyFinished" ? yield* Runs.summaryOf(root, options.runId) : outcome.summary
  yield* writeReport(root, options.runId, warn)
  const reported = yield* reportSummary(summary, options)
  if (options.apply === true) yield* applyDelivery(summary, options).pipe(Effect.provide(repository))
  return reported
})

/**
 * `--apply`: fast-forwards the current branch to the delivered commit, or fails with why not.
 */
const applyDelivery = (summary: RunSummary.RunSummary, options: { readonly json: boolean }) =>
  Effect.gen(function* () {
    const delivery = summary.delivery
    const say = (line: string) => void (options.json ? process.stderr : process.stdout).write(`${line}\n`)
    if (delivery === undefined) {
      say("speckit: --apply: the run delivered nothing to apply")
      return
    }
    const worktrees = yield* Worktrees.Worktrees
    yield* worktrees
      .apply({ base: delivery.base, commit: delivery.commit })
      .pipe(Effect.mapError((error) => new ApplyRefused({ branch: delivery.branch, reason: error.reason })))
    say(`applied: the current branch now holds ${delivery.branch} (commit ${delivery.commit.slice(0, 12)})`)
  })

/** Writes the run's HTML report (`speckit report`); a failure is a warning, never the run's outcome. */
const writeReport = (root: string, runId: RunId.RunId, warn: Progress.Output) =>
  Report.write(root, runId).pipe(
    Effect.asVoid,
    Effect.catch((error) =>
      Effect.sync(() => void warn.write(`speckit: warning: the report was not written: ${error.message}\n`))
    )
  )

/** Prints a run's summary (JSON or for people); fails with {@link RunNotCompleted} unless it completed. */
const reportSummary = (
  summary: RunSummary.RunSummary,
  options: { readonly json: boolean; readonly report?: Progress.Output | undefined }
) =>
  Effect.suspend(() => {
    const report = options.report ?? process.stdout
    report.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : SummaryText.format(summary))
    return summary.status === "completed"
      ? Effect.succeed(summary)
      : Effect.fail(new RunNotCompleted({ status: summary.status, exitCode: exitCodeOf(summary.status) }))
  })

/** The engine chosen with `SPECKIT_ENGINE` (`journal`, the default, or `cluster`). */
const engineOf = (value: string | undefined) =>
  value === undefined || value === "" || value === "journal"
    ? Effect.succeed("journal" as const)
    : value === "cluster"
      ? Effect.succeed("cluster" as const)
      : Effect.fail(
          new InputError({ message: `SPECKIT_ENGINE must be journal or cluster, got ${JSON.stringify(value)}` })
        )

/** Whether a listed run has ended for good: completed, halted or failed. */
const isFinished = (run: Runs.RunListing) =>
  run.status === "completed" || run.status === "halted" || run.status === "failed"

/** How long the state database keeps the journal of a run that has ended for good. */
export const retentionDays = 7

/**
 * Retention: deletes from the state database the journals (workflow steps, sequencer state) of the
 * runs that ended for good more than {@link retentionDays} days ago. Their records under
 * `.speckit/runs/` stay; only `speckit resume`, which does not need a finished run's journal, could
 * have used them.
 */
const purgeFinished = (root: string, current: string) =>
  Effect.gen(function* () {
    const cutoff = Date.now() - retentionDays * 86_400_000
    for (const run of yield* Runs.list(root)) {
      if (run.runId === current || run.finishedAt === undefined || !isFinished(run)) continue
      if (Date.parse(run.finishedAt) > cutoff) continue
      const runId = RunId.RunId.make(run.runId)
      const executionId = yield* DurableRun.workflow(runId).executionId({ runId })
      yield* SqlWorkflowEngine.forget(executionId)
      yield* SqlSequencerStore.forget(runId)
    }
  }).pipe(Effect.ignore)

/** Whether a listed run can still go on (`speckit resume`): crashed, cancelled or paused. */
const isUnfinished = (run: Runs.RunListing) =>
  run.status === "unfinished" || run.status === "cancelled" || run.status === "awaiting-review"

/**
 * Runs `speckit auto`: starts a new run of the spec (refusing, unless `fresh`, when the spec has an
 * unfinished run on the current branch), prints progress and the report, and fails with
 * {@link RunNotCompleted} when the run does not complete.
 *
 * @since 0.1.0
 */
export const auto = Effect.fn("Run.auto")(function* (
  options: AutoOptions
): Effect.fn.Return<
  RunSummary.RunSummary,
  InputError | RunNotCompleted | ApplyRefused,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const prepared = yield* prepare(options.specId, options.workspace)
  const git = Option.getOrUndefined(yield* Git.state(prepared.root))
  if (options.fresh !== true) {
    const runs = yield* Runs.list(prepared.root)
    const unfinished = runs.find(
      (run) => run.specId === prepared.spec.id && run.branch === git?.branch && isUnfinished(run)
    )
    if (unfinished !== undefined) {
      return yield* new InputError({
        message: `spec ${prepared.spec.id} has an unfinished run ${unfinished.runId}${git ? ` on branch ${git.branch}` : ""} (${unfinished.status}); continue it with \`speckit resume ${unfinished.runId}\`, or start another with \`speckit auto ${prepared.spec.id} --new\``
      })
    }
  }
  const config = yield* effectiveConfig(prepared.config, git)
  const runId = yield* RunId.make
  return yield* execute({ ...prepared, config }, { ...options, runId, git })
})

/**
 * Options of `speckit resume`.
 *
 * @since 0.2.0
 */
export interface ResumeOptions extends Omit<AutoOptions, "specId" | "fresh"> {
  readonly runId: string
  /** Resume even on another git branch than the run's. */
  readonly force: boolean
}

/**
 * Runs `speckit resume`: continues a crashed, cancelled or paused run where it stopped (agent calls
 * whose answers were recorded are not made again). A run paused for a review or a budget goes on
 * only once `speckit approve`/`reject`/`budget` answered it; a finished run is only reported.
 *
 * @since 0.2.0
 */
export const resume = Effect.fn("Run.resume")(function* (
  options: ResumeOptions
): Effect.fn.Return<
  RunSummary.RunSummary,
  InputError | RunNotCompleted | ApplyRefused,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const path = yield* Path.Path
  const root = path.resolve(options.workspace)
  const run = yield* Runs.find(root, options.runId)
  // Nothing to go on with: the run's report, and its exit code.
  if (run.summary !== undefined && isFinished(run)) return yield* reportSummary(run.summary, options)
  const record = yield* Runs.record(root, run.runId)
  const git = Option.getOrUndefined(yield* Git.state(root))
  if (!options.force && record.git?.branch !== git?.branch) {
    return yield* new InputError({
      message: `run ${run.runId} belongs to branch ${record.git?.branch ?? "(none)"}, but the workspace is on ${git?.branch ?? "no branch"}; check out ${record.git?.branch ?? "its branch"} or resume anyway with --force`
    })
  }
  const pause = run.summary?.pause
  let answer: DurableRun.Options["answer"]
  if (run.summary !== undefined && pause !== undefined && run.status !== "cancelled") {
    const given = yield* Runs.answerOf(root, run.runId)
    // Not answered yet: the pause is reported again (exit 3).
    if (given === undefined || given.name !== pause.name) return yield* reportSummary(run.summary, options)
    answer =
      given.kind === "review"
        ? { _tag: "Review", name: given.name, answer: reviewAnswer(given) }
        : { _tag: "Budget", name: given.name, usd: given.usd ?? 0 }
  }
  const config = yield* SpeckitConfig.decode(record.config, `${run.runDir}/run.json`).pipe(
    Effect.mapError((error) => new InputError({ message: error.message }))
  )
  const prepared = yield* prepare(record.specId, root)
  return yield* execute(
    { ...prepared, config },
    // The run goes on from its recorded base commit, whatever the checkout holds now.
    { ...options, specId: record.specId, runId: record.runId, git: record.git, answer }
  )
})

const reviewAnswer = (given: Runs.Answer): Execution.ReviewAnswer =>
  given.note === undefined
    ? { approved: given.approved === true }
    : { approved: given.approved === true, note: given.note }

/**
 * `speckit auto`: loads a workspace's spec and configuration, composes the plugins' layers and runs
 * the pipeline with a progress display.
 *
 * @since 0.1.0
 */
import { MemorySequencer, QuorumConsensus } from "@speckit/consensus"
import {
  Budget,
  FaultInjector,
  Git,
  Pipeline,
  PipelineEvent,
  Providers,
  Resilience,
  RunStore,
  type RunSummary,
  SessionMetrics,
  Spec,
  SpeckitConfig
} from "@speckit/core"
import { Faults } from "@speckit/faults"
import { Alert, BudgetGuard, Estimate, Export, History, Metrics, Pricing, Tracing } from "@speckit/telemetry"
import { Effect, FileSystem, Layer, Metric, Option, Path } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { ExitCode, InputError, RunNotCompleted } from "./Errors.ts"
import * as Progress from "./Progress.ts"

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
export const layer = (
  config: SpeckitConfig.SpeckitConfig,
  workspace: string,
  faults: Layer.Layer<FaultInjector.FaultInjector> = FaultInjector.FaultInjector.layerNone,
  telemetry: {
    /** The session-metrics layer (default: `Metrics.layer` priced from the configuration). */
    readonly metrics?: Layer.Layer<SessionMetrics.SessionMetrics> | undefined
    /** Trace every agent call (`Tracing.traceRegistry`). */
    readonly traced?: boolean | undefined
  } = {}
) =>
  Layer.mergeAll(
    telemetry.traced ? Tracing.traceRegistry(Providers.layer(config, workspace)) : Providers.layer(config, workspace),
    faults,
    Resilience.layer(config),
    MemorySequencer.layer,
    QuorumConsensus.layer,
    telemetry.metrics ?? Metrics.layer({ pricer: Pricing.fromConfig(config), prices: pricesOf(config) }),
    RunStore.RunStore.layerFileSystem(workspace)
  )

const exitCodeOf = (status: RunSummary.RunStatus) =>
  status === "completed"
    ? ExitCode.Completed
    : status === "cancelled"
      ? ExitCode.Interrupted
      : status === "awaiting-review"
        ? ExitCode.AwaitingReview
        : ExitCode.Failed

const stoppedText = (stage: RunSummary.StageSummary) => {
  const stopped = stage.agents.filter((a) => a.status === "stopped").length
  return stopped > 0 ? ` (${stopped} stopped early)` : ""
}

/**
 * Renders a summary for people.
 *
 * @since 0.1.0
 */
export const formatSummary = (summary: RunSummary.RunSummary): string => {
  const lines = [
    "",
    `${summary.status === "completed" ? "✔" : "✖"} run ${summary.runId} ${summary.status} in ${(summary.durationMs / 1000).toFixed(1)}s`,
    ...summary.stages.map(
      (stage) =>
        `  ${stage.stage.padEnd(10)} ${stage.status.padEnd(9)} ${stage.agents.filter((a) => a.status === "succeeded").length}/${stage.agents.length} agents${stoppedText(stage)}${stage.verdict ? `  verdict ${stage.verdict}` : ""}${stage.dissent.length > 0 ? `  dissent ${stage.dissent.join(", ")}` : ""}${stage.reason && stage.status !== "ok" ? `  (${stage.reason})` : ""}`
    ),
    `  tokens   ${summary.usage.input} in (${summary.usage.cachedInput} cached) · ${summary.usage.output} out (${summary.usage.reasoning} reasoning)`,
    `  cost     $${summary.costUsd.toFixed(4)}${summary.unpriced.length > 0 ? `  (unpriced: ${summary.unpriced.join(", ")})` : ""}`,
    `  records  ${summary.runDir}/`
  ]
  const last = summary.stages.at(-1)
  if (last?.artifact) lines.push(`  output   ${last.artifact}`)
  if (summary.hint) lines.push(`  next     ${summary.hint}`)
  return `${lines.join("\n")}\n`
}

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
    const spec = yield* Spec.load(root, specId)
    const faults = yield* Effect.flatMap(Faults.readEnv, ({ spec, options }) => Faults.make(spec, options))
    return { root, config, spec, faults }
  }).pipe(
    Effect.catchTags({
      FaultSpecError: (error) => Effect.fail(new InputError({ message: error.message })),
      ConfigError: (error) => Effect.fail(new InputError({ message: error.message })),
      SpecNotFound: (error) => Effect.fail(new InputError({ message: error.message })),
      SpecEmpty: (error) => Effect.fail(new InputError({ message: error.message })),
      InvalidSpecId: (error) => Effect.fail(new InputError({ message: error.message }))
    })
  )

/**
 * The telemetry of one run: prices, history-based estimate, budget guard, alerts, the progress display
 * wrapped to refresh the estimate after each stage, and the OTLP exporter when configured.
 */
const telemetryOf = (input: {
  readonly root: string
  readonly config: SpeckitConfig.SpeckitConfig
  readonly spec: Spec.Spec
  readonly display: Progress.Display
  readonly plain: boolean
  readonly progressOut: Progress.Output
  readonly warn: Progress.Output
}) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const { config } = input
    const pricer = Pricing.fromConfig(config)
    const history = yield* History.load(input.root)
    const estimate = Estimate.make({ config, spec: input.spec, history, pricer })
    const alert: Alert.Handler = (value) => void input.warn.write(`speckit: warning: ${Alert.format(value)}\n`)
    const guard = config.budget
      ? BudgetGuard.make({
          budgetUsd: config.budget.usd,
          onExceed: config.budget.onExceed,
          pricer,
          history,
          onAlert: alert
        })
      : undefined
    const otlp = Export.otlpFromEnv(process.env)
    let runId: string | undefined
    let spent = 0
    const done: Array<string> = []
    const usd = (value: number) => `$${value.toFixed(4)}`
    const base: { readonly emit: (event: PipelineEvent.PipelineEvent) => Effect.Effect<void> } = {
      emit: (event) =>
        Effect.andThen(
          input.display.emit(event),
          Effect.sync(() => {
            if (event._tag === "RunStarted") runId = event.runId
            if (event._tag === "StageFinished") {
              spent += event.costUsd
              done.push(event.stage)
              if (input.plain && done.length < estimate.stages.length) {
                const rest = Estimate.remaining(estimate, done)
                input.progressOut.write(
                  `[estimate] after ${event.stage}: spent ${usd(spent)}, rest ~${usd(rest.expected)} (${usd(rest.low)}–${usd(rest.high)}), projected ${usd(spent + rest.expected)}\n`
                )
              }
            }
          })
        )
    }
    const events = otlp ? Tracing.traceStages(base) : base
    return { pricer, estimate, guard, alert, otlp, events, path, runId: () => runId }
  })

/**
 * Runs `speckit auto`: prints progress and the report, and fails with {@link RunNotCompleted}
 * when the run does not complete.
 *
 * @since 0.1.0
 */
export const auto = Effect.fn("Run.auto")(function* (
  options: AutoOptions
): Effect.fn.Return<
  RunSummary.RunSummary,
  InputError | RunNotCompleted,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const { root, config, spec, faults } = yield* prepare(options.specId, options.workspace)
  const warn = options.warnings ?? process.stderr
  if (faults.active) warn.write(`speckit: faults active: ${faults.description}\n`)
  const priceCheck = yield* Pricing.checkModels(config).pipe(
    Effect.mapError((error) => new InputError({ message: error.message }))
  )
  for (const warning of priceCheck.warnings) warn.write(`speckit: warning: ${warning}\n`)
  const report = options.report ?? process.stdout
  const progressOut = options.progress ?? (options.json ? process.stderr : process.stdout)
  const display = progressOut.isTTY ? Progress.live(progressOut) : Progress.plain(progressOut)
  const telemetry = yield* telemetryOf({ root, config, spec, display, plain: !progressOut.isTTY, progressOut, warn })
  const unpriced = priceCheck.unpriced.map((entry) => entry.model)
  const summary = yield* Effect.gen(function* () {
    const metrics = yield* Metrics.make({
      pricer: telemetry.pricer,
      unpriced,
      onRecord: telemetry.guard?.observe,
      onAlert: telemetry.alert
    })
    const git = Option.getOrUndefined(yield* Git.state(root))
    const run = Pipeline.run({ spec, config, git }).pipe(
      Effect.provideService(PipelineEvent.PipelineEvents, telemetry.events),
      Effect.provideService(Budget.Budget, telemetry.guard?.budget ?? { admit: () => Effect.void }),
      Effect.provide(
        layer(config, root, Layer.succeed(FaultInjector.FaultInjector, faults), {
          metrics: Layer.succeed(SessionMetrics.SessionMetrics, metrics),
          traced: telemetry.otlp !== undefined
        })
      ),
      Effect.catchTags({
        UnknownAgent: (error) => Effect.fail(new InputError({ message: error.message })),
        ConfigError: (error) => Effect.fail(new InputError({ message: error.message })),
        RunStoreError: (error) =>
          Effect.fail(new RunNotCompleted({ status: `failed: ${error.message}`, exitCode: ExitCode.Failed }))
      }),
      Effect.ensuring(Effect.sync(display.close)),
      Effect.ensuring(
        Effect.gen(function* () {
          const snapshot = yield* metrics.snapshot
          const runId = telemetry.runId()
          if (runId !== undefined) {
            yield* Export.writeRunFiles(telemetry.path.join(root, ".speckit", "runs", runId), snapshot, {
              budgetUsd: config.budget?.usd,
              estimateUsd: telemetry.estimate.costUsd.expected
            }).pipe(Effect.ignore)
          }
          if (options.metricsFile !== undefined) {
            yield* Export.writePrometheus(telemetry.path.resolve(root, options.metricsFile)).pipe(
              Effect.tapError((error) =>
                Effect.sync(() => warn.write(`speckit: warning: cannot write the metrics file: ${error.message}\n`))
              ),
              Effect.ignore
            )
          }
        })
      )
    )
    return yield* telemetry.otlp ? run.pipe(Effect.provide(telemetry.otlp)) : run
  }).pipe(Effect.provideService(Metric.MetricRegistry, Export.freshRegistry()))
  report.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary))
  if (summary.status !== "completed") {
    return yield* new RunNotCompleted({ status: summary.status, exitCode: exitCodeOf(summary.status) })
  }
  return summary
})

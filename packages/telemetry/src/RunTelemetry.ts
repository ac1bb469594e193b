/**
 * The telemetry of one run, as one layer: the session metrics (priced from the configuration and
 * maintained catalogues, budgeted by a `BudgetGuard` when `budget.usd` is set), the pre-run estimate
 * from the workspace's history, the progress display wrapped to print the refreshed estimate after each
 * stage (plain displays) and to trace stages (when OTLP is configured), the OTLP exporter
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`), a fresh metric registry (holding the Effect metrics when they are
 * exported: see `Options.exportMetrics`); and, when the layer is released (the run ended, halted, paused
 * or was interrupted), `metrics.json` and `cost.json` in the run's folder and the Prometheus text file
 * when asked.
 *
 * @since 0.3.0
 */
import {
  Budget,
  type PipelineEvent,
  PipelineEvent as Events,
  ModelLimits,
  SessionMetrics,
  type Spec,
  TokenCounter,
  type SpeckitConfig
} from "@speckit/core"
import { Context, Effect, Layer, Metric, Path } from "effect"
import * as Alert from "./Alert.ts"
import * as BudgetGuard from "./BudgetGuard.ts"
import * as Estimate from "./Estimate.ts"
import * as Export from "./Export.ts"
import * as History from "./History.ts"
import * as Limits from "./Limits.ts"
import * as Metrics from "./Metrics.ts"
import * as Pricing from "./Pricing.ts"
import * as Tokens from "./Tokens.ts"
import * as Tracing from "./Tracing.ts"

/**
 * Where text goes (a stream such as `process.stderr`).
 *
 * @since 0.3.0
 */
export interface Output {
  readonly write: (text: string) => unknown
}

/**
 * What a run's telemetry is made from.
 *
 * @since 0.3.0
 */
export interface Options {
  readonly workspace: string
  readonly config: SpeckitConfig.SpeckitConfig
  readonly spec: Spec.Spec
  /** The run's folder, absolute: `metrics.json` and `cost.json` go there when the layer is released. */
  readonly runDir: string
  /** The progress display, wrapped. */
  readonly display: { readonly emit: (event: PipelineEvent.PipelineEvent) => Effect.Effect<void> }
  /** Where the estimate refresh lines go after each stage (none for a live display). */
  readonly refreshTo?: Output | undefined
  /** Where budget alerts go (`speckit: warning: ...`). */
  readonly warnings: Output
  /** Models known to have no price (reported as such). */
  readonly unpriced?: ReadonlyArray<string> | undefined
  /** Also write the metrics as Prometheus text to this file, absolute. */
  readonly prometheusFile?: string | undefined
  /** The environment (for `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`); default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /**
   * Whether the session metrics update the Effect metrics (`Metrics.names`) in the run's registry.
   * Default: when they are exported, that is when `prometheusFile` is given or OTLP is configured. The
   * registry is the run's own, so without an exporter nothing reads them, and a run of 1,000 agents
   * would make some 40,000 series for nobody. `metrics.json` and `cost.json` do not depend on them.
   *
   * @since 0.4.0
   */
  readonly exportMetrics?: boolean | undefined
}

/**
 * What the run's telemetry tells the host.
 *
 * @since 0.3.0
 */
export class RunTelemetry extends Context.Service<
  RunTelemetry,
  {
    readonly estimate: Estimate.Estimate
    readonly pricer: Pricing.Pricer
    /** Whether spans are exported (OTLP configured): the host traces agent calls too (`Tracing.traceRegistry`). */
    readonly traced: boolean
  }
>()("@speckit/telemetry/RunTelemetry") {}

const usd = (value: number) => `$${value.toFixed(4)}`

/** The display, printing the estimate for the rest of the run after each stage. */
const refreshing = (
  display: Options["display"],
  estimate: Estimate.Estimate,
  refreshTo: Output | undefined
): Options["display"] => {
  let spent = 0
  const done: Array<string> = []
  // Only a stage's end refreshes the estimate: every other event (four an agent call) goes straight through.
  return {
    emit: (event) =>
      event._tag !== "StageFinished"
        ? display.emit(event)
        : Effect.andThen(
            display.emit(event),
            Effect.sync(() => {
              spent += event.costUsd
              done.push(event.stage)
              if (refreshTo === undefined || done.length >= estimate.stages.length) return
              const rest = Estimate.remaining(estimate, done)
              refreshTo.write(
                `[estimate] after ${event.stage}: spent ${usd(spent)}, rest ~${usd(rest.expected)} (${usd(rest.low)}–${usd(rest.high)}), projected ${usd(spent + rest.expected)}\n`
              )
            })
          )
  }
}

/** Writes the run's metric files; a failure is a warning, never the run's failure. */
const writeFiles = (options: Options, snapshot: SessionMetrics.MetricsSnapshot, estimate: Estimate.Estimate) =>
  Effect.gen(function* () {
    yield* Export.writeRunFiles(options.runDir, snapshot, {
      budgetUsd: options.config.budget?.usd,
      estimateUsd: estimate.costUsd.expected
    }).pipe(Effect.ignore)
    if (options.prometheusFile !== undefined) {
      yield* Export.writePrometheus(options.prometheusFile).pipe(
        Effect.tapError((error) =>
          Effect.sync(() =>
            options.warnings.write(`speckit: warning: cannot write the metrics file: ${error.message}\n`)
          )
        ),
        Effect.ignore
      )
    }
  })

/**
 * The run's telemetry (see the module). It provides `SessionMetrics`, `RunTelemetry`, the wrapped
 * `PipelineEvents`, the `Budget`, the `TokenCounter` (`Tokens.counterFor`: the real tokenizer, or the
 * kernel's estimate when every agent is simulated), `ModelLimits` (`tokenlens`), a fresh
 * `MetricRegistry` and, when configured, the OTLP exporter.
 *
 * @example
 * ```ts
 * import { RunTelemetry } from "@speckit/telemetry"
 *
 * declare const options: RunTelemetry.Options
 * const layer = RunTelemetry.layer(options)
 * ```
 *
 * @since 0.3.0
 */
export const layer = (options: Options) => {
  const otlp = Export.otlpFromEnv(options.env ?? process.env)
  const registry = Export.freshRegistry()
  const telemetry = Layer.effectContext(
    Effect.gen(function* () {
      const path = yield* Path.Path
      const { config } = options
      const pricer = Pricing.fromConfig(config)
      const counter = Tokens.counterFor(config)
      const history = yield* History.load(path.resolve(options.workspace))
      const estimate = Estimate.make({ config, spec: options.spec, history, pricer, count: counter.count })
      const alert: Alert.Handler = (value) => void options.warnings.write(`speckit: warning: ${Alert.format(value)}\n`)
      const guard = config.budget
        ? BudgetGuard.make({
            budgetUsd: config.budget.usd,
            onExceed: config.budget.onExceed,
            pricer,
            history,
            onAlert: alert,
            count: counter.count
          })
        : undefined
      const metrics = yield* Metrics.make({
        pricer,
        unpriced: options.unpriced,
        onRecord: guard?.observe,
        onAlert: alert,
        exportMetrics: options.exportMetrics ?? (otlp !== undefined || options.prometheusFile !== undefined)
      }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(metrics.snapshot, (snapshot) => writeFiles(options, snapshot, estimate)).pipe(
          Effect.provideService(Metric.MetricRegistry, registry)
        )
      )
      const display = refreshing(options.display, estimate, options.refreshTo)
      return Context.make(SessionMetrics.SessionMetrics, metrics).pipe(
        Context.add(RunTelemetry, { estimate, pricer, traced: otlp !== undefined }),
        Context.add(Events.PipelineEvents, otlp ? Tracing.traceStages(display) : display),
        Context.add(Budget.Budget, guard?.budget ?? { admit: () => Effect.void }),
        Context.add(Metric.MetricRegistry, registry),
        Context.add(TokenCounter.TokenCounter, counter),
        Context.add(ModelLimits.ModelLimits, Limits.catalogue)
      )
    })
  )
  return otlp === undefined
    ? telemetry
    : Layer.merge(telemetry, otlp.pipe(Layer.provide(Layer.succeed(Metric.MetricRegistry, registry))))
}

/**
 * Whether spans will be exported for a run in this environment (`OTEL_EXPORTER_OTLP_ENDPOINT` set):
 * the host then traces agent calls (`Tracing.traceRegistry`).
 *
 * @example
 * ```ts
 * import { RunTelemetry } from "@speckit/telemetry"
 *
 * RunTelemetry.tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }) // true
 * ```
 *
 * @since 0.3.0
 */
export const tracing = (env: Readonly<Record<string, string | undefined>> = process.env): boolean =>
  Export.otlpFromEnv(env) !== undefined

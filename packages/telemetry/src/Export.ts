/**
 * Getting a run's metrics out: Prometheus text (`--metrics-file`), a JSON metrics file for the run
 * directory, and OTLP/HTTP (JSON) export of metrics and traces when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
 *
 * @since 0.1.0
 */
import type { SessionMetrics } from "@speckit/core"
import { Effect, FileSystem, Layer, type Metric, Path } from "effect"
import { FetchHttpClient } from "effect/http"
import { type OtlpExporter, OtlpMetrics, OtlpSerialization, OtlpTracer, PrometheusMetrics } from "effect/observability"

/**
 * The Prometheus text exposition of the metrics registered in the current `Metric.MetricRegistry`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Export } from "@speckit/telemetry"
 *
 * const text = Effect.runSync(Export.prometheus)
 * ```
 *
 * @since 0.1.0
 */
export const prometheus: Effect.Effect<string> = PrometheusMetrics.format()

/**
 * Writes the Prometheus text to a file (atomically: a temporary name, then a rename).
 *
 * @example
 * ```ts
 * import { Export } from "@speckit/telemetry"
 *
 * const write = Export.writePrometheus("metrics.prom")
 * ```
 *
 * @since 0.1.0
 */
export const writePrometheus = (file: string) =>
  Effect.gen(function* () {
    const text = yield* prometheus
    yield* writeAtomic(file, text)
  })

const writeAtomic = (file: string, text: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const target = path.resolve(file)
    yield* fs.makeDirectory(path.dirname(target), { recursive: true })
    const temp = `${target}.${process.pid}.tmp`
    yield* fs.writeFileString(temp, text)
    yield* fs.rename(temp, target)
  })

/**
 * The JSON form of a metrics snapshot, as written to `metrics.json` in a run directory; `cost.json`
 * holds the cost summary (total, per agent, per stage, wasted, unpriced models, budget).
 *
 * @example
 * ```ts
 * import { Export } from "@speckit/telemetry"
 *
 * declare const snapshot: import("@speckit/core").SessionMetrics.MetricsSnapshot
 * const write = Export.writeRunFiles("/ws/.speckit/runs/run-1", snapshot, { budgetUsd: 2 })
 * ```
 *
 * @since 0.1.0
 */
export const writeRunFiles = (
  runDir: string,
  snapshot: SessionMetrics.MetricsSnapshot,
  extra: { readonly budgetUsd?: number | undefined; readonly estimateUsd?: number | undefined } = {}
) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    yield* writeAtomic(path.join(runDir, "metrics.json"), `${JSON.stringify(snapshot, null, 2)}\n`)
    const cost = {
      costUsd: snapshot.costUsd,
      byAgent: Object.fromEntries(Object.entries(snapshot.byAgent).map(([agent, b]) => [agent, b.costUsd])),
      byStage: Object.fromEntries(Object.entries(snapshot.byStage).map(([stage, b]) => [stage, b.costUsd])),
      wastedUsd: snapshot.wasted?.costUsd ?? 0,
      wastedTokens: snapshot.wasted ? snapshot.wasted.usage.input + snapshot.wasted.usage.output : 0,
      unpriced: snapshot.unpriced,
      ...(extra.budgetUsd === undefined ? {} : { budgetUsd: extra.budgetUsd }),
      ...(extra.estimateUsd === undefined ? {} : { estimateUsd: extra.estimateUsd })
    }
    yield* writeAtomic(path.join(runDir, "cost.json"), `${JSON.stringify(cost, null, 2)}\n`)
  })

/**
 * OTLP/HTTP (JSON) export of traces and metrics to `baseUrl` (`/v1/traces`, `/v1/metrics`), over
 * `fetch`. Both are flushed when the layer is released (the end of the run, interruption included).
 *
 * @example
 * ```ts
 * import { Export } from "@speckit/telemetry"
 *
 * const layer = Export.otlp({ baseUrl: "http://127.0.0.1:4318" })
 * ```
 *
 * @since 0.1.0
 */
export const otlp = (options: {
  readonly baseUrl: string
  readonly serviceName?: string | undefined
  readonly exportInterval?: number | undefined
}): Layer.Layer<OtlpExporter.Flusher> => {
  const base = options.baseUrl.replace(/\/+$/, "")
  const resource = { serviceName: options.serviceName ?? "speckit", serviceVersion: "0.1.0" }
  const interval = options.exportInterval ?? 5_000
  return Layer.mergeAll(
    OtlpTracer.layer({ url: `${base}/v1/traces`, resource, exportInterval: interval }),
    OtlpMetrics.layer({ url: `${base}/v1/metrics`, resource, exportInterval: interval })
  ).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))
}

/**
 * The OTLP layer when `OTEL_EXPORTER_OTLP_ENDPOINT` is set in `env`, else `undefined`.
 *
 * @example
 * ```ts
 * import { Export } from "@speckit/telemetry"
 *
 * const layer = Export.otlpFromEnv(process.env)
 * ```
 *
 * @since 0.1.0
 */
export const otlpFromEnv = (
  env: Readonly<Record<string, string | undefined>>
): Layer.Layer<OtlpExporter.Flusher> | undefined => {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT
  return endpoint ? otlp({ baseUrl: endpoint, serviceName: env.OTEL_SERVICE_NAME }) : undefined
}

/**
 * A fresh metric registry, to keep one run's metrics apart from others in the same process.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Export } from "@speckit/telemetry"
 *
 * const isolated = <A, E, R>(self: Effect.Effect<A, E, R>) =>
 *   Effect.provideService(self, Metric.MetricRegistry, Export.freshRegistry())
 * ```
 *
 * @since 0.1.0
 */
export const freshRegistry = (): Metric.MetricRegistry => new Map()

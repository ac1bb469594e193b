/**
 * The run's telemetry layer on a real temp workspace: the Effect metrics are made in the run's registry
 * only when something exports them (a Prometheus file, OTLP to a real HTTP server on 127.0.0.1), and the
 * run's own files are written either way.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { AgentId, SessionMetrics, Spec, SpeckitConfig, TokenUsage } from "@speckit/core"
import { Metrics, RunTelemetry } from "@speckit/telemetry"
import { Effect, Metric, Schema } from "effect"
import { collector } from "./collector.ts"

const otlp = collector()

const config = Schema.decodeUnknownSync(SpeckitConfig.SpeckitConfig)({
  agents: { alpha: { provider: "sim", model: "sim-large" } }
})
const spec: Spec.Spec = {
  id: Schema.decodeUnknownSync(Spec.SpecId)("SPEC-1"),
  title: "T",
  text: "# T\n\nDo it.\n",
  directory: "/tmp/specs/SPEC-1"
}

/** The `speckit_*` series in the run's registry and the run's metrics, after one recorded call. */
const recordOneCall = (options: Partial<RunTelemetry.Options>) =>
  Effect.gen(function* () {
    const metrics = yield* SessionMetrics.SessionMetrics
    yield* metrics.record({
      stage: "plan",
      agent: AgentId.make("alpha"),
      attempt: 1,
      model: "sim-large",
      usage: TokenUsage.make({ input: 1000, output: 500 }),
      ok: true
    })
    const series = (yield* Metric.snapshot).filter((metric) => metric.id.startsWith("speckit_"))
    return { series: series.map((metric) => metric.id), snapshot: yield* metrics.snapshot }
  }).pipe(
    Effect.provide(
      RunTelemetry.layer({
        workspace: options.workspace ?? os.tmpdir(),
        config,
        spec,
        runDir: options.runDir ?? os.tmpdir(),
        display: { emit: () => Effect.void },
        warnings: { write: () => true },
        env: {},
        ...options
      })
    ),
    Effect.provide(NodeServices.layer)
  )

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "speckit-telemetry-"))

describe("RunTelemetry", () => {
  it.effect("makes no Effect metric series when nothing exports them, and still writes the run's metrics", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const { series, snapshot } = yield* recordOneCall({ workspace: dir, runDir: dir })
      assert.deepStrictEqual(series, [])
      assert.strictEqual(snapshot.calls, 1)
      assert.strictEqual(snapshot.usage.input, 1000)
      const written = JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8")) as { calls: number }
      assert.strictEqual(written.calls, 1)
    })
  )

  it.effect("makes them for the Prometheus file, which holds the call", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const prometheusFile = path.join(dir, "metrics.prom")
      const { series } = yield* recordOneCall({ workspace: dir, runDir: dir, prometheusFile })
      assert.include(series, Metrics.names.tokens)
      assert.include(series, Metrics.names.calls)
      const text = fs.readFileSync(prometheusFile, "utf8")
      assert.match(text, /speckit_tokens_total\{[^}]*type="input"[^}]*\} 1000/)
    })
  )

  it.effect("makes them for OTLP, which receives them", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      otlp.received.length = 0
      const { series } = yield* recordOneCall({
        workspace: dir,
        runDir: dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url(), OTEL_SERVICE_NAME: "speckit-test" }
      })
      assert.include(series, Metrics.names.tokens)
      // The exporter flushes when the layer is released: the call's tokens reached the server.
      assert.isTrue(otlp.received.some((request) => request.body.includes(Metrics.names.tokens)))
    })
  )

  it.effect("makes them when asked, without an exporter", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const { series } = yield* recordOneCall({ workspace: dir, runDir: dir, exportMetrics: true })
      assert.include(series, Metrics.names.tokens)
    })
  )
})

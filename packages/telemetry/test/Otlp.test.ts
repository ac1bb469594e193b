/**
 * OTLP export end to end: a real HTTP server on 127.0.0.1 receives the spans and metrics.
 */
import { assert, describe, it } from "@effect/vitest"
import { Agent, AgentId, Prompt, RunId, SimAgent, Spec, TokenUsage } from "@speckit/core"
import type { Consensus } from "@speckit/core"
import { Export, Metrics, Tracing } from "@speckit/telemetry"
import { Effect, Metric, Schema } from "effect"
import { collector } from "./collector.ts"

const otlp = collector()

interface OtlpAttribute {
  readonly key: string
  readonly value: { readonly stringValue?: string; readonly intValue?: string | number; readonly doubleValue?: number }
}
interface OtlpSpan {
  readonly name: string
  readonly attributes: ReadonlyArray<OtlpAttribute>
}

const spansOf = (body: unknown): Array<OtlpSpan> =>
  (body as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<OtlpSpan> }> }> }).resourceSpans.flatMap((r) =>
    r.scopeSpans.flatMap((s) => s.spans)
  )

const metricNamesOf = (body: unknown): Array<string> =>
  (
    body as { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string }> }> }> }
  ).resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.name)))

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value
  return value?.stringValue ?? (value?.intValue === undefined ? value?.doubleValue : Number(value.intValue))
}

describe("OTLP export", () => {
  it.live("sends a span per stage and agent call with gen_ai attributes, and the metrics", () =>
    Effect.gen(function* () {
      const spec: Spec.Spec = {
        id: Schema.decodeUnknownSync(Spec.SpecId)("SPEC-1"),
        title: "Greeting",
        text: "# Greeting\n\nPrint a friendly greeting.\n\n## Acceptance criteria\n\n- It greets\n",
        directory: "/tmp/SPEC-1"
      }
      const runId = yield* RunId.make
      const agentId = AgentId.make("alpha")
      const agent = Tracing.traceAgent(SimAgent.make({ id: agentId, model: "sim-large", latencyMs: 1, seed: 1 }))
      const metrics = yield* Metrics.make()
      const events = Tracing.traceStages({ emit: () => Effect.void })
      yield* Effect.gen(function* () {
        yield* events.emit({ _tag: "StageStarted", stage: "plan", agents: [agentId] })
        const response = yield* agent.call({
          runId,
          stage: "plan",
          agent: agentId,
          attempt: 1,
          prompt: Prompt.make({ stage: "plan", agent: agentId, spec, previous: "" }),
          spec,
          previous: "",
          idempotencyKey: Agent.idempotencyKey({ runId, stage: "plan", agent: agentId, attempt: 1 })
        })
        const cost = yield* metrics.record({
          stage: "plan",
          agent: agentId,
          attempt: 1,
          model: response.model,
          usage: response.usage,
          ok: true
        })
        const consensus = { status: "ok" } as unknown as Consensus.StageConsensus
        yield* events.emit({ _tag: "StageFinished", stage: "plan", consensus, costUsd: cost.costUsd, artifact: "x" })
        assert.isAbove(TokenUsage.total(response.usage), 0)
      }).pipe(
        Effect.withSpan("Pipeline.run"),
        Effect.provide(Export.otlp({ baseUrl: otlp.url(), exportInterval: 60_000 }))
      )

      // the layer flushed on release
      const traces = otlp.received
        .filter((r) => r.path === "/v1/traces")
        .flatMap((r) => spansOf(JSON.parse(r.body) as unknown))
      const names = traces.map((span) => span.name).sort()
      assert.deepStrictEqual(names, ["Pipeline.run", "chat sim-large", "speckit.stage plan"])
      const chat = traces.find((span) => span.name === "chat sim-large")
      assert.isDefined(chat)
      if (chat) {
        assert.strictEqual(attribute(chat, "gen_ai.system"), "speckit.sim")
        assert.strictEqual(attribute(chat, "gen_ai.request.model"), "sim-large")
        assert.strictEqual(attribute(chat, "gen_ai.operation.name"), "chat")
        assert.isAbove(Number(attribute(chat, "gen_ai.usage.input_tokens")), 0)
        assert.isAbove(Number(attribute(chat, "gen_ai.usage.output_tokens")), 0)
        assert.strictEqual(attribute(chat, "speckit.stage"), "plan")
      }
      const stage = traces.find((span) => span.name === "speckit.stage plan")
      assert.strictEqual(stage && attribute(stage, "speckit.stage.status"), "ok")
      const metricNames = otlp.received
        .filter((r) => r.path === "/v1/metrics")
        .flatMap((r) => metricNamesOf(JSON.parse(r.body) as unknown))
      for (const name of [Metrics.names.tokens, Metrics.names.cost, Metrics.names.calls]) {
        assert.include(metricNames, name)
      }
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )
})

/**
 * Spans for runs, following the OpenTelemetry GenAI conventions: a span per agent call named
 * `chat <model>` with `gen_ai.*` attributes (system, request and response model, input and output
 * tokens), and a span per stage (`speckit.stage <stage>`). They go wherever the current `Tracer` sends
 * them (OTLP, see `Export.otlp`).
 *
 * @since 0.1.0
 */
import { type Agent, AgentRegistry, type PipelineEvent } from "@speckit/core"
import { Effect, Exit, Layer, type Tracer } from "effect"

/**
 * The `gen_ai.system` of a provider or model: `anthropic`, `openai`, `gcp.gemini`, `speckit.sim`, or the
 * provider name.
 *
 * @example
 * ```ts
 * import { Tracing } from "@speckit/telemetry"
 *
 * Tracing.systemOf("exec", "claude-sonnet-4-5") // "anthropic"
 * ```
 *
 * @since 0.1.0
 */
export const systemOf = (provider: string, model: string): string => {
  if (/^claude/i.test(model)) return "anthropic"
  if (/^(gpt|o\d|codex)/i.test(model)) return "openai"
  if (/^gemini/i.test(model)) return "gcp.gemini"
  if (/^qwen/i.test(model)) return "qwen"
  return provider === "sim" ? "speckit.sim" : provider
}

/**
 * Wraps an agent so every call runs in a `chat <model>` span with `gen_ai.*` attributes; usage
 * attributes are set from the response.
 *
 * @example
 * ```ts
 * import { AgentId, SimAgent } from "@speckit/core"
 * import { Tracing } from "@speckit/telemetry"
 *
 * const traced = Tracing.traceAgent(SimAgent.make({ id: AgentId.make("alpha") }))
 * ```
 *
 * @since 0.1.0
 */
export const traceAgent = (agent: Agent.Agent): Agent.Agent => ({
  // Field by field, not a spread: every agent keeps the one shape `Providers` gives agents.
  id: agent.id,
  provider: agent.provider,
  model: agent.model,
  edits: agent.edits,
  call: (request) =>
    agent.call(request).pipe(
      Effect.tap((response) =>
        Effect.annotateCurrentSpan({
          "gen_ai.response.model": response.model,
          "gen_ai.usage.input_tokens": response.usage.input,
          "gen_ai.usage.output_tokens": response.usage.output,
          "gen_ai.usage.cached_input_tokens": response.usage.cachedInput,
          "gen_ai.usage.reasoning_tokens": response.usage.reasoning
        })
      ),
      Effect.tapError((error) => Effect.annotateCurrentSpan({ "error.type": error.kind })),
      Effect.withSpan(`chat ${agent.model}`, {
        kind: "client",
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.system": systemOf(agent.provider, agent.model),
          "gen_ai.request.model": agent.model,
          "speckit.run_id": request.runId,
          "speckit.stage": request.stage,
          "speckit.agent": request.agent,
          "speckit.attempt": request.attempt
        }
      })
    )
})

/**
 * Wraps an agent registry so every agent it returns is traced ({@link traceAgent}).
 *
 * @example
 * ```ts
 * import { Providers, SpeckitConfig } from "@speckit/core"
 * import { Tracing } from "@speckit/telemetry"
 *
 * const registry = Tracing.traceRegistry(Providers.layer(SpeckitConfig.defaultConfig, "."))
 * ```
 *
 * @since 0.1.0
 */
export const traceRegistry = <E, R>(
  registry: Layer.Layer<AgentRegistry.AgentRegistry, E, R>
): Layer.Layer<AgentRegistry.AgentRegistry, E, R> =>
  Layer.effect(
    AgentRegistry.AgentRegistry,
    Effect.map(Effect.service(AgentRegistry.AgentRegistry), (inner) => {
      const cache = new Map<string, Agent.Agent>()
      return {
        ids: inner.ids,
        get: (id) =>
          Effect.map(inner.get(id), (agent) => {
            let traced = cache.get(id)
            if (traced === undefined || traced.call === agent.call) {
              traced = traceAgent(agent)
              cache.set(id, traced)
            }
            return traced
          })
      }
    })
  ).pipe(Layer.provide(registry))

/**
 * Wraps a pipeline-event sink so each stage gets a `speckit.stage <stage>` span, opened on
 * `StageStarted` and ended on `StageFinished` (or when the run finishes), with the stage's status and
 * cost as attributes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Tracing } from "@speckit/telemetry"
 *
 * const events = Tracing.traceStages({ emit: () => Effect.void })
 * ```
 *
 * @since 0.1.0
 */
export const traceStages = (inner: {
  readonly emit: (event: PipelineEvent.PipelineEvent) => Effect.Effect<void>
}): { readonly emit: (event: PipelineEvent.PipelineEvent) => Effect.Effect<void> } => {
  const open = new Map<string, Tracer.Span>()
  const end = (stage: string, attributes: Record<string, unknown>) =>
    Effect.flatMap(
      Effect.clockWith((clock) => clock.currentTimeNanos),
      (now) =>
        Effect.sync(() => {
          const span = open.get(stage)
          if (span === undefined) return
          open.delete(stage)
          for (const [key, value] of Object.entries(attributes)) span.attribute(key, value)
          span.end(now, Exit.void)
        })
    )
  return {
    emit: (event) => {
      const own =
        event._tag === "StageStarted"
          ? Effect.map(
              Effect.makeSpan(`speckit.stage ${event.stage}`, {
                attributes: { "speckit.stage": event.stage, "speckit.agents": event.agents.join(",") }
              }),
              (span) => void open.set(event.stage, span)
            )
          : event._tag === "StageFinished"
            ? end(event.stage, {
                "speckit.stage.status": event.consensus.status,
                "speckit.cost_usd": event.costUsd
              })
            : event._tag === "RunFinished"
              ? Effect.forEach([...open.keys()], (stage) => end(stage, { "speckit.stage.status": "unfinished" }), {
                  discard: true
                })
              : Effect.void
      return Effect.andThen(own, inner.emit(event))
    }
  }
}

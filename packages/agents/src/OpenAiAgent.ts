/**
 * OpenAI-compatible agents: one Chat Completions request per call (`POST {baseUrl}/chat/completions`),
 * streamed (Server-Sent Events with `stream_options.include_usage`) or not. The same client serves
 * OpenAI, OpenRouter, vLLM, Ollama and the llama.cpp server: fields some servers leave out are optional.
 *
 * Every request carries `Idempotency-Key` (the call's idempotency key) and `X-Speckit-Run-Id`,
 * `X-Speckit-Stage`, `X-Speckit-Agent` and `X-Speckit-Attempt`. The API key, read from the environment
 * variable the configuration names, is held as a `Redacted` value and only ever sent as
 * `Authorization: Bearer`.
 *
 * Failures become typed {@link AgentError}s: 429 is `RateLimited` (with `resetAt` from the rate-limit
 * headers or the error body) unless its code is `insufficient_quota` (`QuotaExhausted`, as is 402);
 * 5xx is `ServerError` except 529 and `overloaded` errors (`Overloaded`); 401/403 `AuthFailed`;
 * 400/413/422 `InvalidRequest`; 404 or `model_not_found` `ModelNotFound`; a refused or reset connection
 * or a stream that ends before `[DONE]` `Disconnected`; an empty answer `Empty`; a body that is not the
 * expected JSON `Malformed`; no answer within `timeoutMs` `Timeout`. Interrupting a call aborts its
 * request. A failure after the server reported usage (an empty answer with usage, a stream that fails
 * after its usage chunk) carries that usage and model on the error, so that the failed attempt is
 * charged for it.
 *
 * @since 0.1.0
 */
import { Clock, Config, Duration, Effect, Redacted } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import type * as Agent from "@speckit/core/Agent"
import type { AgentError } from "@speckit/core/AgentError"
import type { AgentId } from "@speckit/core/AgentId"
import * as SpeckitConfig from "@speckit/core/SpeckitConfig"
import type * as AgentConfigs from "./AgentConfigs.ts"
import {
  agentError,
  classifyResponse,
  finish,
  fromHttpError,
  readJson,
  readStream,
  type Seen,
  withSpent
} from "./internal/chatCompletions.ts"

/**
 * Options of an OpenAI-compatible agent.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { AgentId } from "@speckit/core"
 * import { type OpenAiAgent } from "@speckit/agents"
 *
 * const options: OpenAiAgent.OpenAiAgentOptions = {
 *   id: AgentId.make("gpt"),
 *   baseUrl: "https://api.openai.com/v1",
 *   model: "gpt-5-mini",
 *   apiKey: Redacted.make("sk-...")
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface OpenAiAgentOptions {
  readonly id: AgentId
  /** The API base URL; `/chat/completions` is appended. */
  readonly baseUrl: string
  readonly model: string
  /** Sent as `Authorization: Bearer`; none for local servers that need no key. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Stream the answer (default true). */
  readonly stream?: boolean | undefined
  /** Sent as `max_completion_tokens`. */
  readonly maxOutputTokens?: number | undefined
  /** Extra request headers (e.g. OpenRouter's `HTTP-Referer` and `X-Title`). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Per-attempt timeout, the whole answer included; default 10 minutes. */
  readonly timeoutMs?: number | undefined
}

const DEFAULT_TIMEOUT_MS = 600_000

export { usageFrom } from "./internal/chatCompletions.ts"

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

/**
 * The URL requests go to: the base URL (trailing slashes removed) with `/chat/completions`.
 *
 * @example
 * ```ts
 * import { OpenAiAgent } from "@speckit/agents"
 *
 * OpenAiAgent.endpoint("http://127.0.0.1:11434/v1/") // "http://127.0.0.1:11434/v1/chat/completions"
 * ```
 *
 * @since 0.1.0
 */
export const endpoint = (baseUrl: string): string => `${baseUrl.replace(/\/+$/, "")}/chat/completions`

/**
 * The JSON body of a Chat Completions request for a prompt.
 *
 * @example
 * ```ts
 * import { OpenAiAgent } from "@speckit/agents"
 *
 * OpenAiAgent.requestBody({ model: "gpt-5-mini", stream: true }, "hello")
 * // { model: "gpt-5-mini", messages: [{ role: "user", content: "hello" }], stream: true, stream_options: { include_usage: true } }
 * ```
 *
 * @since 0.1.0
 */
export const requestBody = (
  options: Pick<OpenAiAgentOptions, "model" | "stream" | "maxOutputTokens">,
  prompt: string
): Record<string, unknown> => {
  const stream = options.stream ?? true
  return {
    model: options.model,
    messages: [{ role: "user", content: prompt }],
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    ...(options.maxOutputTokens === undefined ? {} : { max_completion_tokens: options.maxOutputTokens })
  }
}

const callOnce = (
  client: HttpClient.HttpClient,
  options: OpenAiAgentOptions,
  request: Agent.AgentRequest
): Effect.Effect<Agent.AgentResponse, AgentError> => {
  const agent = options.id
  const stream = options.stream ?? true
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const httpRequest = HttpClientRequest.post(endpoint(options.baseUrl)).pipe(
    HttpClientRequest.setHeaders({
      ...options.headers,
      accept: stream ? "text/event-stream" : "application/json",
      "idempotency-key": request.idempotencyKey,
      "x-speckit-run-id": request.runId,
      "x-speckit-stage": request.stage,
      "x-speckit-agent": request.agent,
      "x-speckit-attempt": String(request.attempt)
    }),
    (built) => (options.apiKey === undefined ? built : HttpClientRequest.bearerToken(built, options.apiKey)),
    HttpClientRequest.bodyJsonUnsafe(requestBody(options, request.prompt))
  )
  // Filled in as the answer is read, so that any failure after a usage chunk still carries its usage.
  const seen: Seen = { model: undefined, usage: undefined }
  return Effect.gen(function* () {
    seen.model = undefined
    seen.usage = undefined
    const response = yield* HttpClient.withScope(client).execute(httpRequest)
    const nowMs = yield* Clock.currentTimeMillis
    if (response.status < 200 || response.status >= 300) {
      const body = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
      return yield* Effect.fail(classifyResponse(agent, response, body, nowMs))
    }
    const isEventStream = (response.headers["content-type"] ?? "").includes("text/event-stream")
    const reading = yield* stream && isEventStream
      ? readStream(agent, response, nowMs, seen)
      : readJson(agent, response, nowMs)
    return yield* finish(agent, options.model, request.prompt, reading)
  }).pipe(
    Effect.scoped,
    Effect.catchTag("HttpClientError", (error) => Effect.fail(fromHttpError(agent, error))),
    Effect.timeoutOrElse({
      duration: Duration.millis(timeoutMs),
      orElse: () => Effect.fail(agentError(agent, "Timeout", `no answer within ${timeoutMs} ms`))
    }),
    Effect.mapError((error) => withSpent(error, seen))
  )
}

/**
 * Makes an OpenAI-compatible agent on the `HttpClient` in context (provide `FetchHttpClient.layer` or
 * a platform client). Interrupting a call aborts its HTTP request.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { AgentId } from "@speckit/core"
 * import { OpenAiAgent } from "@speckit/agents"
 *
 * const agent = OpenAiAgent.make({
 *   id: AgentId.make("local"),
 *   baseUrl: "http://127.0.0.1:11434/v1",
 *   model: "qwen3:8b"
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: OpenAiAgentOptions): Effect.Effect<Agent.Agent, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    return {
      id: options.id,
      provider: "openai",
      model: options.model,
      call: (request: Agent.AgentRequest) => callOnce(client, options, request)
    }
  })

/**
 * The configuration of an OpenAI-compatible agent.
 *
 * @example
 * ```ts
 * import type { OpenAiAgent } from "@speckit/agents"
 *
 * const config: OpenAiAgent.OpenAiAgentConfig = { provider: "openai", baseUrl: "https://api.openai.com/v1", model: "gpt-5-mini", apiKeyEnv: "OPENAI_API_KEY" }
 * ```
 *
 * @since 0.1.0
 */
export type OpenAiAgentConfig = typeof AgentConfigs.OpenAiConfig.Type & {
  readonly model?: string | undefined
  readonly timeoutMs?: number | undefined
}

/**
 * Makes an agent from its configuration: the model is required, and the API key is read from the
 * environment variable `apiKeyEnv` names (through effect's `Config`, so the current `ConfigProvider`
 * decides where it comes from); a missing variable is a configuration error naming it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { AgentId } from "@speckit/core"
 * import { OpenAiAgent } from "@speckit/agents"
 *
 * const agent = OpenAiAgent.fromConfig(AgentId.make("gpt"), {
 *   provider: "openai",
 *   baseUrl: "https://api.openai.com/v1",
 *   model: "gpt-5-mini",
 *   apiKeyEnv: "OPENAI_API_KEY"
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
export const fromConfig = (
  id: AgentId,
  config: OpenAiAgentConfig
): Effect.Effect<Agent.Agent, SpeckitConfig.ConfigError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const model = config.model
    if (model === undefined || model.trim().length === 0) {
      return yield* new SpeckitConfig.ConfigError({
        path: SpeckitConfig.fileName,
        reason: `agents.${id}.model: the openai provider needs a model name`
      })
    }
    if (!/^https?:\/\//i.test(config.baseUrl)) {
      return yield* new SpeckitConfig.ConfigError({
        path: SpeckitConfig.fileName,
        reason: `agents.${id}.baseUrl: not an http(s) URL: ${JSON.stringify(config.baseUrl)}`
      })
    }
    const envName = config.apiKeyEnv
    const apiKey =
      envName === undefined
        ? undefined
        : yield* Config.Redacted(envName).pipe(
            Effect.flatMap((key) =>
              Redacted.value(key).trim().length === 0 ? Effect.fail("empty") : Effect.succeed(key)
            ),
            Effect.mapError(
              () =>
                new SpeckitConfig.ConfigError({
                  path: SpeckitConfig.fileName,
                  reason: `agents.${id}.apiKeyEnv: the environment variable ${envName} is not set (it holds the API key)`
                })
            )
          )
    return yield* make({
      id,
      baseUrl: config.baseUrl,
      model,
      apiKey,
      stream: config.stream,
      maxOutputTokens: config.maxOutputTokens,
      headers: config.headers,
      timeoutMs: config.timeoutMs
    })
  })

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
import { Clock, Config, Duration, Effect, Option, Predicate, Redacted, Schema, Stream } from "effect"
import { Sse } from "effect/encoding"
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "effect/http"
import type * as Agent from "@speckit/core/Agent"
import { AgentError, type AgentErrorKind, make as makeAgentError } from "@speckit/core/AgentError"
import type { AgentId } from "@speckit/core/AgentId"
import * as RateLimit from "./RateLimit.ts"
import { estimateTokens } from "@speckit/core/SimAgent"
import * as SpeckitConfig from "@speckit/core/SpeckitConfig"
import type * as AgentConfigs from "./AgentConfigs.ts"
import * as TokenUsage from "@speckit/core/TokenUsage"

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

// ---------------------------------------------------------------------------------------------
// Response schemas (unknown fields are ignored)
// ---------------------------------------------------------------------------------------------

const optionalNumber = Schema.optionalKey(Schema.NullOr(Schema.Number))
const optionalString = Schema.optionalKey(Schema.NullOr(Schema.String))

const Usage = Schema.Struct({
  prompt_tokens: optionalNumber,
  completion_tokens: optionalNumber,
  prompt_tokens_details: Schema.optionalKey(Schema.NullOr(Schema.Struct({ cached_tokens: optionalNumber }))),
  completion_tokens_details: Schema.optionalKey(Schema.NullOr(Schema.Struct({ reasoning_tokens: optionalNumber })))
})
type Usage = typeof Usage.Type

const ErrorBody = Schema.Struct({
  message: optionalString,
  type: optionalString,
  code: Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.String, Schema.Number])))
})
type ErrorBody = typeof ErrorBody.Type

/** `{error: {message, type, code}}` (OpenAI, OpenRouter, vLLM, Anthropic) or `{error: "text"}`. */
const ErrorEnvelope = Schema.Struct({ error: Schema.Union([ErrorBody, Schema.String]) })

const Completion = Schema.Struct({
  model: optionalString,
  choices: Schema.Array(
    Schema.Struct({
      message: Schema.optionalKey(Schema.NullOr(Schema.Struct({ content: optionalString, refusal: optionalString }))),
      finish_reason: optionalString
    })
  ),
  usage: Schema.optionalKey(Schema.NullOr(Usage))
})

const Chunk = Schema.Struct({
  model: optionalString,
  choices: Schema.optionalKey(
    Schema.NullOr(
      Schema.Array(
        Schema.Struct({
          delta: Schema.optionalKey(Schema.NullOr(Schema.Struct({ content: optionalString, refusal: optionalString }))),
          finish_reason: optionalString
        })
      )
    )
  ),
  usage: Schema.optionalKey(Schema.NullOr(Usage)),
  error: Schema.optionalKey(Schema.Union([ErrorBody, Schema.String]))
})

const decodeJson = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Unknown))
const decodeCompletion = Schema.decodeUnknownOption(Completion)
const decodeChunk = Schema.decodeUnknownOption(Chunk)
const decodeErrorEnvelope = Schema.decodeUnknownOption(ErrorEnvelope)

const num = (value: number | null | undefined): number =>
  Predicate.isNumber(value) && Number.isFinite(value) && value > 0 ? Math.round(value) : 0

/**
 * Maps Chat Completions usage to token usage: `prompt_tokens` (cached included) is the input,
 * `completion_tokens` (reasoning included) the output.
 *
 * @example
 * ```ts
 * import { OpenAiAgent } from "@speckit/agents"
 *
 * OpenAiAgent.usageFrom({
 *   prompt_tokens: 100,
 *   completion_tokens: 40,
 *   prompt_tokens_details: { cached_tokens: 60 },
 *   completion_tokens_details: { reasoning_tokens: 25 }
 * }) // { input: 100, cachedInput: 60, output: 40, reasoning: 25 }
 * ```
 *
 * @since 0.1.0
 */
export const usageFrom = (usage: Usage): TokenUsage.TokenUsage =>
  TokenUsage.make({
    input: num(usage.prompt_tokens),
    cachedInput: num(usage.prompt_tokens_details?.cached_tokens),
    output: num(usage.completion_tokens),
    reasoning: num(usage.completion_tokens_details?.reasoning_tokens)
  })

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

const head = (text: string, max = 300) => {
  const trimmed = text.trim()
  return trimmed.length > max ? `${trimmed.slice(0, max)}…` : trimmed
}

const agentError = (
  agent: AgentId,
  kind: AgentErrorKind,
  detail: string,
  extra: { readonly status?: number | undefined; readonly resetAt?: number | undefined } = {}
) => makeAgentError(agent, kind, detail, extra)

interface ErrorSignal {
  readonly message: string
  readonly type: string
  readonly code: string
  readonly status: number | undefined
}

const signalOf = (error: ErrorBody | string | undefined, status: number | undefined, fallback: string): ErrorSignal => {
  if (error === undefined) return { message: fallback, type: "", code: "", status }
  if (Predicate.isString(error)) return { message: error, type: "", code: "", status }
  const code = error.code ?? ""
  const numeric = Predicate.isNumber(code) ? code : /^\d{3}$/.test(code) ? Number(code) : undefined
  return {
    message: error.message ?? (error.type || fallback),
    type: error.type ?? "",
    code: String(code),
    status: status ?? (numeric !== undefined && numeric >= 400 && numeric <= 599 ? numeric : undefined)
  }
}

const kindOf = (signal: ErrorSignal): AgentErrorKind => {
  const words = `${signal.type} ${signal.code}`.toLowerCase()
  const text = `${words} ${signal.message}`.toLowerCase()
  if (/insufficient_quota|billing_error|spend_limit/.test(words) || signal.status === 402) return "QuotaExhausted"
  if (/model_not_found/.test(words) || signal.status === 404) return "ModelNotFound"
  if (signal.status === 429 || /rate_limit/.test(words)) return "RateLimited"
  if (signal.status === 529 || /overloaded/.test(text)) return "Overloaded"
  if (signal.status === 401 || signal.status === 403 || /invalid_api_key|authentication_error/.test(words)) {
    return "AuthFailed"
  }
  if (signal.status === 408) return "Timeout"
  if (signal.status !== undefined && signal.status >= 500) return "ServerError"
  if (signal.status !== undefined && signal.status >= 400) return "InvalidRequest"
  if (/invalid_request/.test(words)) return "InvalidRequest"
  return "ServerError"
}

/** Classifies an error response (status, headers and body text). */
const classifyResponse = (
  agent: AgentId,
  response: { readonly status: number; readonly headers: Readonly<Record<string, string>> },
  bodyText: string,
  nowMs: number
): AgentError => {
  const json = decodeJson(bodyText)
  const envelope = Option.flatMap(json, decodeErrorEnvelope)
  const signal = signalOf(
    Option.isSome(envelope) ? envelope.value.error : undefined,
    response.status,
    head(bodyText) || `HTTP ${response.status}`
  )
  const kind = kindOf(signal)
  const resetAt =
    kind === "RateLimited"
      ? (RateLimit.resetFromHeaders(response.headers, nowMs) ??
        (Option.isSome(json) ? RateLimit.resetFromBody(json.value, nowMs) : undefined) ??
        RateLimit.resetFromText(signal.message, nowMs))
      : undefined
  const label = [signal.type, signal.code].filter((part) => part.length > 0 && part !== String(response.status))
  return agentError(
    agent,
    kind,
    `HTTP ${response.status}${label.length > 0 ? ` (${label.join(", ")})` : ""}: ${head(signal.message)}`,
    { status: response.status, resetAt }
  )
}

/** Classifies an error the server reported in a 200 body or in the middle of a stream. */
const classifyInline = (agent: AgentId, error: ErrorBody | string, nowMs: number): AgentError => {
  const signal = signalOf(error, undefined, "error")
  const kind = kindOf(signal)
  const resetAt = kind === "RateLimited" ? RateLimit.resetFromText(signal.message, nowMs) : undefined
  return agentError(agent, kind, `the server reported an error: ${head(signal.message)}`, {
    status: signal.status,
    resetAt
  })
}

const describeCause = (cause: unknown): string => {
  if (!(cause instanceof Error)) return cause === undefined ? "" : String(cause)
  const inner = cause.cause instanceof Error ? describeCause(cause.cause) : ""
  return inner.length > 0 && !cause.message.includes(inner) ? `${cause.message}: ${inner}` : cause.message
}

const fromHttpError = (agent: AgentId, error: HttpClientError.HttpClientError): AgentError => {
  const reason = error.reason
  switch (reason._tag) {
    case "TransportError":
      return agentError(agent, "Disconnected", `request failed: ${describeCause(reason.cause) || reason.message}`)
    case "DecodeError":
      return agentError(agent, "Disconnected", `reading the response failed: ${describeCause(reason.cause)}`)
    case "EmptyBodyError":
      return agentError(agent, "Empty", "the response has no body")
    case "InvalidUrlError":
    case "EncodeError":
      return agentError(agent, "InvalidRequest", reason.message)
    case "StatusCodeError":
      return agentError(agent, "ServerError", reason.message)
  }
}

// ---------------------------------------------------------------------------------------------
// Reading answers
// ---------------------------------------------------------------------------------------------

interface Reading {
  readonly text: string
  readonly model: string | undefined
  readonly usage: Usage | undefined
  readonly refusal: string | undefined
}

/** What the server reported so far in a call: its usage and model, to charge a failure for. */
interface Seen {
  model: string | undefined
  usage: Usage | undefined
}

/**
 * The error with the usage (and model) the server reported before it, unless it carries usage
 * already or the reported usage counts no tokens.
 */
const withSpent = (
  error: AgentError,
  seen: { readonly model: string | undefined; readonly usage: Usage | undefined }
): AgentError => {
  if (error.usage !== undefined || seen.usage === undefined) return error
  const usage = usageFrom(seen.usage)
  if (TokenUsage.total(usage) === 0) return error
  return new AgentError({
    ...error,
    usage,
    ...(error.model === undefined && seen.model ? { model: seen.model } : {})
  })
}

const finish = (
  agent: AgentId,
  configuredModel: string,
  prompt: string,
  reading: Reading
): Effect.Effect<Agent.AgentResponse, AgentError> => {
  if (reading.text.trim().length === 0) {
    return Effect.fail(
      withSpent(
        agentError(
          agent,
          "Empty",
          reading.refusal === undefined ? "the answer is empty" : `the model refused: ${head(reading.refusal)}`
        ),
        reading
      )
    )
  }
  return Effect.succeed({
    text: reading.text,
    model: reading.model || configuredModel,
    usage:
      reading.usage === undefined
        ? TokenUsage.make({ input: estimateTokens(prompt), output: estimateTokens(reading.text) })
        : usageFrom(reading.usage)
  })
}

const readJson = (
  agent: AgentId,
  response: HttpClientResponse.HttpClientResponse,
  nowMs: number
): Effect.Effect<Reading, AgentError | HttpClientError.HttpClientError> =>
  Effect.flatMap(response.text, (body) => {
    const json = decodeJson(body)
    if (Option.isNone(json)) {
      return Effect.fail(agentError(agent, "Malformed", `the response is not JSON: ${head(body) || "(empty)"}`))
    }
    const completion = decodeCompletion(json.value)
    if (Option.isNone(completion)) {
      const envelope = decodeErrorEnvelope(json.value)
      return Effect.fail(
        Option.isSome(envelope)
          ? classifyInline(agent, envelope.value.error, nowMs)
          : agentError(agent, "Malformed", `the response is not a chat completion: ${head(body)}`)
      )
    }
    const choice = completion.value.choices[0]
    return Effect.succeed({
      text: choice?.message?.content ?? "",
      model: completion.value.model ?? undefined,
      usage: completion.value.usage ?? undefined,
      refusal: choice?.message?.refusal ?? undefined
    })
  })

const readStream = (
  agent: AgentId,
  response: HttpClientResponse.HttpClientResponse,
  nowMs: number,
  seen: Seen
): Effect.Effect<Reading, AgentError | HttpClientError.HttpClientError> =>
  Effect.suspend(() => {
    let text = ""
    let refusal: string | undefined
    let done = false
    let finished = false
    let failure: AgentError | undefined
    const onData = (data: string) => {
      if (data.trim() === "[DONE]") {
        done = true
        return
      }
      const chunk = Option.flatMap(decodeJson(data), decodeChunk)
      if (Option.isNone(chunk)) {
        failure = agentError(agent, "Malformed", `a stream chunk is not a chat completion chunk: ${head(data)}`)
        return
      }
      const value = chunk.value
      seen.model = value.model ?? seen.model
      if (value.usage) seen.usage = value.usage
      if (value.error !== undefined) {
        failure = classifyInline(agent, value.error, nowMs)
        return
      }
      const choice = value.choices?.[0]
      if (choice?.delta?.content) text += choice.delta.content
      if (choice?.delta?.refusal) refusal = (refusal ?? "") + choice.delta.refusal
      if (choice?.finish_reason) finished = true
    }
    const parser = Sse.makeParser((event) => {
      if (event._tag === "Event" && failure === undefined && !done) onData(event.data)
    })
    return response.stream.pipe(
      Stream.decodeText(),
      Stream.runForEachWhile((piece) =>
        Effect.suspend(() => {
          const tooLarge = parser.feed(piece)
          if (tooLarge !== undefined) return Effect.fail(agentError(agent, "Malformed", tooLarge.message))
          if (failure !== undefined) return Effect.fail(failure)
          return Effect.succeed(!done)
        })
      ),
      Effect.flatMap(() => {
        // A final event without its blank line still counts.
        parser.feed("\n\n")
        if (failure !== undefined) return Effect.fail(failure)
        if (!done && !finished) {
          return Effect.fail(agentError(agent, "Disconnected", "the stream ended before the answer was complete"))
        }
        return Effect.succeed({ text, model: seen.model, usage: seen.usage, refusal })
      })
    )
  })

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

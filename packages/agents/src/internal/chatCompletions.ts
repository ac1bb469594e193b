/**
 * Reading a Chat Completions answer: the response schemas (unknown fields ignored), the JSON and the
 * server-sent-events readers, and the classification of HTTP and inline errors into `AgentError`s.
 *
 * @internal
 */
import { Effect, Option, Predicate, Schema, Stream } from "effect"
import { Sse } from "effect/encoding"
import type { HttpClientError, HttpClientResponse } from "effect/http"
import type * as Agent from "@speckit/core/Agent"
import { AgentError, type AgentErrorKind, make as makeAgentError } from "@speckit/core/AgentError"
import type { AgentId } from "@speckit/core/AgentId"
import { estimateTokens } from "@speckit/core/SimAgent"
import * as TokenUsage from "@speckit/core/TokenUsage"
import * as RateLimit from "../RateLimit.ts"

// ---------------------------------------------------------------------------------------------
// Response schemas (unknown fields are ignored)
// ---------------------------------------------------------------------------------------------

export const optionalNumber = Schema.optionalKey(Schema.NullOr(Schema.Number))
export const optionalString = Schema.optionalKey(Schema.NullOr(Schema.String))

export const Usage = Schema.Struct({
  prompt_tokens: optionalNumber,
  completion_tokens: optionalNumber,
  prompt_tokens_details: Schema.optionalKey(Schema.NullOr(Schema.Struct({ cached_tokens: optionalNumber }))),
  completion_tokens_details: Schema.optionalKey(Schema.NullOr(Schema.Struct({ reasoning_tokens: optionalNumber })))
})
export type Usage = typeof Usage.Type

export const ErrorBody = Schema.Struct({
  message: optionalString,
  type: optionalString,
  code: Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.String, Schema.Number])))
})
export type ErrorBody = typeof ErrorBody.Type

/** `{error: {message, type, code}}` (OpenAI, OpenRouter, vLLM, Anthropic) or `{error: "text"}`. */
export const ErrorEnvelope = Schema.Struct({ error: Schema.Union([ErrorBody, Schema.String]) })

export const Completion = Schema.Struct({
  model: optionalString,
  choices: Schema.Array(
    Schema.Struct({
      message: Schema.optionalKey(Schema.NullOr(Schema.Struct({ content: optionalString, refusal: optionalString }))),
      finish_reason: optionalString
    })
  ),
  usage: Schema.optionalKey(Schema.NullOr(Usage))
})

export const Chunk = Schema.Struct({
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

export const decodeJson = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Unknown))
export const decodeCompletion = Schema.decodeUnknownOption(Completion)
export const decodeChunk = Schema.decodeUnknownOption(Chunk)
export const decodeErrorEnvelope = Schema.decodeUnknownOption(ErrorEnvelope)

export const num = (value: number | null | undefined): number =>
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

export const head = (text: string, max = 300) => {
  const trimmed = text.trim()
  return trimmed.length > max ? `${trimmed.slice(0, max)}…` : trimmed
}

export const agentError = (
  agent: AgentId,
  kind: AgentErrorKind,
  detail: string,
  extra: { readonly status?: number | undefined; readonly resetAt?: number | undefined } = {}
) => makeAgentError(agent, kind, detail, extra)

export interface ErrorSignal {
  readonly message: string
  readonly type: string
  readonly code: string
  readonly status: number | undefined
}

export const signalOf = (
  error: ErrorBody | string | undefined,
  status: number | undefined,
  fallback: string
): ErrorSignal => {
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

export const kindOf = (signal: ErrorSignal): AgentErrorKind => {
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
export const classifyResponse = (
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
export const classifyInline = (agent: AgentId, error: ErrorBody | string, nowMs: number): AgentError => {
  const signal = signalOf(error, undefined, "error")
  const kind = kindOf(signal)
  const resetAt = kind === "RateLimited" ? RateLimit.resetFromText(signal.message, nowMs) : undefined
  return agentError(agent, kind, `the server reported an error: ${head(signal.message)}`, {
    status: signal.status,
    resetAt
  })
}

export const describeCause = (cause: unknown): string => {
  if (!(cause instanceof Error)) return cause === undefined ? "" : String(cause)
  const inner = cause.cause instanceof Error ? describeCause(cause.cause) : ""
  return inner.length > 0 && !cause.message.includes(inner) ? `${cause.message}: ${inner}` : cause.message
}

export const fromHttpError = (agent: AgentId, error: HttpClientError.HttpClientError): AgentError => {
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

export interface Reading {
  readonly text: string
  readonly model: string | undefined
  readonly usage: Usage | undefined
  readonly refusal: string | undefined
}

/** What the server reported so far in a call: its usage and model, to charge a failure for. */
export interface Seen {
  model: string | undefined
  usage: Usage | undefined
}

/**
 * The error with the usage (and model) the server reported before it, unless it carries usage
 * already or the reported usage counts no tokens.
 */
export const withSpent = (
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

export const finish = (
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

export const readJson = (
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

export const readStream = (
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

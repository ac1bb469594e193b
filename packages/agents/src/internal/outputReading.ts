/**
 * The vocabulary the output formats share: what a preset read from a CLI's output (`Reading`), the
 * error signal it found, and loose JSON decoding.
 *
 * @internal
 */
import { Option, Predicate, Schema } from "effect"
import type { AgentErrorKind } from "@speckit/core/AgentError"
import type * as TokenUsage from "@speckit/core/TokenUsage"

/** An error signal read from a CLI's output. */
export interface ErrorSignal {
  readonly message: string
  /** The HTTP status behind the error, when the output names one. */
  readonly status?: number | undefined
  /** A kind the preset already knows (from a subtype or an exit code). */
  readonly kind?: AgentErrorKind | undefined
}

// ---------------------------------------------------------------------------------------------
// Shared decoding
// ---------------------------------------------------------------------------------------------

export const Json = Schema.fromJsonString(Schema.Unknown)
export const decodeJson = Schema.decodeUnknownOption(Json)

/** The whole text as JSON, else its last line that is JSON, else its outermost `{…}` span. */
export const parseJsonLoose = (text: string): Option.Option<unknown> => {
  const trimmed = text.trim()
  if (trimmed.length === 0) return Option.none()
  const whole = decodeJson(trimmed)
  if (Option.isSome(whole)) return whole
  const lines = trimmed.split("\n")
  for (let index = lines.length - 1; index >= 0; index--) {
    const line = lines[index]?.trim() ?? ""
    if (line.startsWith("{") || line.startsWith("[")) {
      const parsed = decodeJson(line)
      if (Option.isSome(parsed)) return parsed
    }
  }
  const start = trimmed.indexOf("{")
  const end = trimmed.lastIndexOf("}")
  return start >= 0 && end > start ? decodeJson(trimmed.slice(start, end + 1)) : Option.none()
}

export const optionalNumber = Schema.optionalKey(Schema.NullOr(Schema.Number))
export const optionalString = Schema.optionalKey(Schema.NullOr(Schema.String))

export const num = (value: number | null | undefined): number => (Predicate.isNumber(value) ? value : 0)

/** `{error: {type, message, code}}`, as Gemini and Qwen print on stderr. */
export const ErrorEnvelope = Schema.Struct({
  error: Schema.Struct({
    type: optionalString,
    message: optionalString,
    code: Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.Number, Schema.String])))
  })
})
export type ErrorEnvelope = typeof ErrorEnvelope.Type

export const decodeErrorEnvelope = Schema.decodeUnknownOption(ErrorEnvelope)

export const httpStatus = (code: number | string | null | undefined): number | undefined => {
  const value = Predicate.isString(code) && /^\d{3}$/.test(code) ? Number(code) : code
  return Predicate.isNumber(value) && value >= 100 && value <= 599 ? value : undefined
}

export const envelopeSignal = (envelope: ErrorEnvelope["error"]): ErrorSignal => ({
  message: [envelope.type, envelope.message].filter(Predicate.isString).join(": ") || "unknown error",
  status: httpStatus(envelope.code)
})

export const stderrError = (stderr: string): ErrorSignal | undefined =>
  parseJsonLoose(stderr).pipe(
    Option.flatMap(decodeErrorEnvelope),
    Option.map((envelope) => envelopeSignal(envelope.error)),
    Option.getOrUndefined
  )

/** What a preset read from the output. */
export interface Reading {
  /** Whether stdout held output of the expected shape. */
  readonly recognized: boolean
  readonly text?: string | undefined
  readonly usage?: TokenUsage.TokenUsage | undefined
  readonly model?: string | undefined
  readonly cost?: number | undefined
  readonly error?: ErrorSignal | undefined
  /** What the user should know although the answer is good (e.g. tools the CLI denied). */
  readonly warnings?: ReadonlyArray<string> | undefined
}

export const unrecognized: Reading = { recognized: false }

export const statusKind = (status: number): AgentErrorKind | undefined => {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return "InvalidRequest"
    case 401:
    case 403:
      return "AuthFailed"
    case 402:
      return "QuotaExhausted"
    case 404:
      return "ModelNotFound"
    case 408:
      return "Timeout"
    case 429:
      return "RateLimited"
    case 529:
      return "Overloaded"
    default:
      return status >= 500 && status <= 599 ? "ServerError" : undefined
  }
}

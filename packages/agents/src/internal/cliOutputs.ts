/**
 * The presets' readers: Claude Code, Gemini CLI, Codex CLI and Qwen Code JSON output, each read into a
 * `Reading` (answer, usage, model, cost, error signal, warnings). Shapes are documented in `OutputFormat`.
 *
 * @internal
 */
import { Option, Predicate, Schema } from "effect"
import type { AgentErrorKind } from "@speckit/core/AgentError"
import * as TokenUsage from "@speckit/core/TokenUsage"
import {
  ErrorEnvelope,
  envelopeSignal,
  num,
  optionalNumber,
  optionalString,
  parseJsonLoose,
  type Reading,
  statusKind,
  stderrError,
  unrecognized
} from "./outputReading.ts"
import type { ProcessOutput } from "../OutputFormat.ts"

/** The key whose value scores highest. */
export const argMax = <A>(record: Readonly<Record<string, A>>, score: (value: A) => number): string | undefined => {
  let best: string | undefined
  let bestScore = Number.NEGATIVE_INFINITY
  for (const [key, value] of Object.entries(record)) {
    const current = score(value)
    if (current > bestScore) {
      best = key
      bestScore = current
    }
  }
  return best
}

export const findResult = (json: unknown): unknown => {
  if (Predicate.isObject(json)) return json
  if (!Array.isArray(json)) return undefined
  for (let index = json.length - 1; index >= 0; index--) {
    const message: unknown = json[index]
    if (Predicate.isObject(message) && message.type === "result") return message
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Claude Code
// ---------------------------------------------------------------------------------------------

export const ClaudeModelUsage = Schema.Struct({
  inputTokens: optionalNumber,
  outputTokens: optionalNumber,
  cacheReadInputTokens: optionalNumber,
  cacheCreationInputTokens: optionalNumber,
  costUSD: optionalNumber
})

export const ClaudeResult = Schema.Struct({
  type: Schema.Literal("result"),
  subtype: optionalString,
  is_error: Schema.optionalKey(Schema.NullOr(Schema.Boolean)),
  api_error_status: optionalNumber,
  result: optionalString,
  errors: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Unknown))),
  permission_denials: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Unknown))),
  total_cost_usd: optionalNumber,
  usage: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        input_tokens: optionalNumber,
        output_tokens: optionalNumber,
        cache_creation_input_tokens: optionalNumber,
        cache_read_input_tokens: optionalNumber
      })
    )
  ),
  modelUsage: Schema.optionalKey(Schema.NullOr(Schema.Record(Schema.String, ClaudeModelUsage)))
})

export const decodeClaude = Schema.decodeUnknownOption(ClaudeResult)

export const claudeSubtypeKinds: Readonly<Record<string, AgentErrorKind>> = {
  error_max_budget_usd: "QuotaExhausted",
  error_max_turns: "InvalidRequest",
  error_max_structured_output_retries: "Malformed"
}

export const readClaude = (output: ProcessOutput): Reading => {
  const decoded = parseJsonLoose(output.stdout).pipe(
    Option.map(findResult),
    Option.flatMap(decodeClaude),
    Option.getOrUndefined
  )
  if (decoded === undefined) return unrecognized
  const spent = claudeSpent(decoded)
  const subtype = decoded.subtype ?? "success"
  if (decoded.is_error === true || subtype !== "success") {
    const errors = (decoded.errors ?? []).map((error) => (Predicate.isString(error) ? error : JSON.stringify(error)))
    const message = decoded.result?.trim() || errors.join("; ") || subtype
    return {
      recognized: true,
      ...spent,
      error: {
        message,
        status: decoded.api_error_status ?? undefined,
        kind: claudeSubtypeKinds[subtype]
      }
    }
  }
  return { recognized: true, text: decoded.result ?? "", ...spent, warnings: claudeDenials(decoded) }
}

/**
 * The tool uses Claude Code denied (`permission_denials`): in `-p` mode an unapproved tool is denied
 * silently while `subtype` still says success.
 */
export const claudeDenials = (decoded: typeof ClaudeResult.Type): ReadonlyArray<string> => {
  const denials = decoded.permission_denials ?? []
  if (denials.length === 0) return []
  const names = denials.map((denial) =>
    Predicate.isObject(denial) && Predicate.isString(denial.tool_name) ? denial.tool_name : "a tool"
  )
  return [
    `Claude Code denied ${denials.length} tool use(s) (${[...new Set(names)].join(", ")}): allow them with --allowedTools in the agent's command`
  ]
}

/** Usage summed over `modelUsage` (else from `usage`), cost over `costUSD` (else `total_cost_usd`). */
export const claudeSpent = (decoded: typeof ClaudeResult.Type): Pick<Reading, "usage" | "model" | "cost"> => {
  const models = decoded.modelUsage ?? {}
  const entries = Object.values(models)
  const usage =
    entries.length > 0
      ? entries.reduce(
          (sum, m) =>
            TokenUsage.add(
              sum,
              TokenUsage.make({
                input: num(m.inputTokens) + num(m.cacheReadInputTokens) + num(m.cacheCreationInputTokens),
                cachedInput: num(m.cacheReadInputTokens),
                output: num(m.outputTokens)
              })
            ),
          TokenUsage.empty
        )
      : decoded.usage
        ? TokenUsage.make({
            input:
              num(decoded.usage.input_tokens) +
              num(decoded.usage.cache_read_input_tokens) +
              num(decoded.usage.cache_creation_input_tokens),
            cachedInput: num(decoded.usage.cache_read_input_tokens),
            output: num(decoded.usage.output_tokens)
          })
        : undefined
  const costs = entries.map((m) => m.costUSD).filter(Predicate.isNumber)
  const cost = costs.length > 0 ? costs.reduce((a, b) => a + b, 0) : (decoded.total_cost_usd ?? undefined)
  return { usage, model: argMax(models, (m) => num(m.outputTokens)), cost }
}

// ---------------------------------------------------------------------------------------------
// Gemini CLI
// ---------------------------------------------------------------------------------------------

export const ModelTokens = Schema.Struct({
  tokens: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        input: optionalNumber,
        prompt: optionalNumber,
        candidates: optionalNumber,
        cached: optionalNumber,
        thoughts: optionalNumber
      })
    )
  )
})
export type ModelTokens = typeof ModelTokens.Type

export const Stats = Schema.Struct({
  models: Schema.optionalKey(Schema.NullOr(Schema.Record(Schema.String, ModelTokens)))
})

export const GeminiOutput = Schema.Struct({
  response: optionalString,
  stats: Schema.optionalKey(Schema.NullOr(Stats)),
  error: Schema.optionalKey(Schema.NullOr(ErrorEnvelope.fields.error))
})

export const decodeGemini = Schema.decodeUnknownOption(GeminiOutput)

/** Gemini CLI exit codes: 41 auth, 42 input, 52 config, 53 turn limit; API errors exit with status & 0xFF. */
export const geminiExitKind = (code: number): AgentErrorKind | undefined => {
  switch (code) {
    case 41:
      return "AuthFailed"
    case 42:
    case 52:
    case 53:
      return "InvalidRequest"
  }
  const status = [400, 401, 402, 403, 404, 408, 413, 429, 500, 502, 503, 504, 529].find((s) => (s & 0xff) === code)
  return status === undefined ? undefined : statusKind(status)
}

export const thoughts = (models: Readonly<Record<string, ModelTokens>>): number =>
  Object.values(models).reduce((sum, m) => sum + num(m.tokens?.thoughts), 0)

/** Usage summed over `stats.models` (output = candidates + thoughts), model with most candidates. */
export const statsSpent = (stats: typeof Stats.Type | null | undefined): Pick<Reading, "usage" | "model"> => {
  const models = stats?.models ?? {}
  const usage = Object.values(models).reduce((sum, m) => {
    const tokens = m.tokens
    if (!tokens) return sum
    const cached = num(tokens.cached)
    const reasoning = num(tokens.thoughts)
    return TokenUsage.add(
      sum,
      TokenUsage.make({
        input: Predicate.isNumber(tokens.prompt) ? tokens.prompt : num(tokens.input) + cached,
        cachedInput: cached,
        output: num(tokens.candidates) + reasoning,
        reasoning
      })
    )
  }, TokenUsage.empty)
  return {
    usage: Object.keys(models).length > 0 ? usage : undefined,
    model: argMax(models, (m) => num(m.tokens?.candidates))
  }
}

export const readGemini = (output: ProcessOutput): Reading => {
  const decoded = parseJsonLoose(output.stdout).pipe(Option.flatMap(decodeGemini), Option.getOrUndefined)
  const error = decoded?.error ? envelopeSignal(decoded.error) : stderrError(output.stderr)
  if (decoded === undefined) return error === undefined ? unrecognized : { recognized: false, error }
  const spent = statsSpent(decoded.stats)
  if (error !== undefined) return { recognized: true, ...spent, error }
  return { recognized: true, text: decoded.response ?? "", ...spent }
}

// ---------------------------------------------------------------------------------------------
// Codex CLI
// ---------------------------------------------------------------------------------------------

export const CodexEvent = Schema.Struct({
  type: Schema.String,
  item: Schema.optionalKey(Schema.NullOr(Schema.Struct({ type: optionalString, text: optionalString }))),
  usage: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        input_tokens: optionalNumber,
        cached_input_tokens: optionalNumber,
        output_tokens: optionalNumber,
        reasoning_output_tokens: optionalNumber
      })
    )
  ),
  error: Schema.optionalKey(Schema.NullOr(Schema.Struct({ message: optionalString }))),
  message: optionalString
})

export const decodeCodexEvent = Schema.decodeUnknownOption(Schema.fromJsonString(CodexEvent))

export const readCodex = (output: ProcessOutput): Reading => {
  let recognized = false
  let text: string | undefined
  let usage: TokenUsage.TokenUsage | undefined
  let completed = false
  let failed: string | undefined
  let transient: string | undefined
  for (const line of output.stdout.split("\n")) {
    const trimmed = line.trim()
    if (!trimmed.startsWith("{")) continue
    const event = Option.getOrUndefined(decodeCodexEvent(trimmed))
    if (event === undefined) continue
    recognized = true
    switch (event.type) {
      case "item.completed":
        if (event.item?.type === "agent_message") text = event.item.text ?? ""
        break
      case "turn.completed": {
        completed = true
        const u = event.usage
        if (u) {
          const generated = num(u.output_tokens)
          usage = TokenUsage.make({
            input: num(u.input_tokens),
            cachedInput: num(u.cached_input_tokens),
            output: generated,
            reasoning: Math.min(generated, num(u.reasoning_output_tokens))
          })
        }
        break
      }
      case "turn.failed":
        failed = event.error?.message ?? "turn failed"
        break
      case "error":
        transient = event.message ?? event.error?.message ?? "error"
        break
    }
  }
  const message = failed ?? (completed ? undefined : transient)
  if (message !== undefined) return { recognized, usage, error: { message } }
  return { recognized, text, usage }
}

// ---------------------------------------------------------------------------------------------
// Qwen Code
// ---------------------------------------------------------------------------------------------

export const QwenResult = Schema.Struct({
  type: Schema.Literal("result"),
  subtype: optionalString,
  is_error: Schema.optionalKey(Schema.NullOr(Schema.Boolean)),
  result: optionalString,
  usage: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        input_tokens: optionalNumber,
        output_tokens: optionalNumber,
        cache_read_input_tokens: optionalNumber
      })
    )
  ),
  stats: Schema.optionalKey(Schema.NullOr(Stats)),
  error: Schema.optionalKey(Schema.NullOr(ErrorEnvelope.fields.error))
})

export const QwenMessage = Schema.Struct({
  type: optionalString,
  subtype: optionalString,
  model: optionalString,
  message: Schema.optionalKey(Schema.NullOr(Schema.Struct({ model: optionalString })))
})

export const decodeQwen = Schema.decodeUnknownOption(QwenResult)
export const decodeQwenMessage = Schema.decodeUnknownOption(QwenMessage)

export const qwenModel = (messages: ReadonlyArray<unknown>): string | undefined => {
  let init: string | undefined
  let assistant: string | undefined
  for (const raw of messages) {
    const message = Option.getOrUndefined(decodeQwenMessage(raw))
    if (message?.type === "system" && message.model) init = message.model
    if (message?.type === "assistant" && message.message?.model) assistant = message.message.model
  }
  return assistant ?? init
}

export const readQwen = (output: ProcessOutput): Reading => {
  const json = Option.getOrUndefined(parseJsonLoose(output.stdout))
  const decoded = Option.getOrUndefined(decodeQwen(findResult(json)))
  if (decoded === undefined) {
    const error = stderrError(output.stderr)
    return error === undefined ? unrecognized : { recognized: false, error }
  }
  const models = decoded.stats?.models ?? {}
  const u = decoded.usage
  const outputTokens = num(u?.output_tokens)
  const spent: Pick<Reading, "usage" | "model"> = {
    usage: u
      ? TokenUsage.make({
          input: num(u.input_tokens),
          cachedInput: num(u.cache_read_input_tokens),
          output: outputTokens,
          reasoning: Math.min(outputTokens, thoughts(models))
        })
      : undefined,
    model: (Array.isArray(json) ? qwenModel(json) : undefined) ?? argMax(models, (m) => num(m.tokens?.candidates))
  }
  const subtype = decoded.subtype ?? "success"
  if (decoded.is_error === true || subtype !== "success") {
    const signal = decoded.error ? envelopeSignal(decoded.error) : stderrError(output.stderr)
    return {
      recognized: true,
      ...spent,
      error: signal ?? { message: decoded.result?.trim() || subtype }
    }
  }
  return { recognized: true, text: decoded.result ?? "", ...spent }
}

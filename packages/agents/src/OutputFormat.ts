/**
 * Output formats of exec agents: how a finished subprocess's stdout, stderr and exit status become
 * an {@link Agent.AgentResponse} or a typed {@link AgentError}.
 *
 * Presets read the JSON output of agent CLIs (the prompt goes on stdin; versions the shapes were read at):
 *
 * - `claude`: Claude Code 2.1.112 / 2.1.331, `["claude", "-p", "--output-format", "json"]`.
 * - `gemini`: Gemini CLI 0.61.0, `["gemini", "-o", "json", "-p", "Answer the request above."]` (piped stdin
 *   is prepended to the `-p` text).
 * - `codex`: Codex CLI 0.169.0, `["codex", "exec", "--json", "--skip-git-repo-check", "-"]`.
 * - `qwen`: Qwen Code 0.24.4, `["qwen", "-o", "json", "-p", "Answer the request above."]` (a Gemini CLI fork).
 *
 * Every format treats a process killed by a signal (or exiting with 130, 137 or 143) as
 * `Interrupted`, and an empty answer as `Empty`. Unknown fields are ignored. A failure whose output
 * still reports what the attempt spent (tokens or a cost, e.g. Claude's `is_error` results or a Codex
 * turn that completed before a failure) carries it on the {@link AgentError} (`usage`,
 * `reportedCostUsd`, `model`), so that it is counted for the failed attempt.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Predicate, Schema } from "effect"
import type * as Agent from "@speckit/core/Agent"
import { AgentError, type AgentErrorKind, make as makeAgentError } from "@speckit/core/AgentError"
import type { AgentId } from "@speckit/core/AgentId"
import * as RateLimit from "./RateLimit.ts"
import { estimateTokens } from "@speckit/core/SimAgent"
import * as TokenUsage from "@speckit/core/TokenUsage"

/**
 * The supported formats: `text` (stdout is the answer) and presets for agent CLIs' JSON output.
 *
 * @example
 * ```ts
 * import type { OutputFormat } from "@speckit/agents"
 *
 * const format: OutputFormat.Format = "codex"
 * ```
 *
 * @since 0.1.0
 */
export type Format = "text" | "claude" | "gemini" | "codex" | "qwen"

/**
 * What a finished subprocess produced.
 *
 * @example
 * ```ts
 * import type { OutputFormat } from "@speckit/agents"
 *
 * const killed: OutputFormat.ProcessOutput = { stdout: "", stderr: "", exitCode: 143, signal: "SIGTERM" }
 * ```
 *
 * @since 0.1.0
 */
export interface ProcessOutput {
  readonly stdout: string
  readonly stderr: string
  /** The exit code; when the process was killed by a signal, 128 + the signal number. */
  readonly exitCode: number
  /** The signal that killed the process (`SIGTERM`, ...), if one did. */
  readonly signal?: string | undefined
}

/**
 * The input of a parser.
 *
 * @example
 * ```ts
 * import { AgentId } from "@speckit/core"
 * import { type OutputFormat } from "@speckit/agents"
 *
 * const input: OutputFormat.ParseInput = {
 *   agent: AgentId.make("codex"), model: "gpt-5", prompt: "hi",
 *   output: { stdout: "", stderr: "", exitCode: 0 }
 * }
 * ```
 *
 * @since 0.1.0
 */
export interface ParseInput {
  readonly agent: AgentId
  /** The configured model, used when the output names none. */
  readonly model: string
  /** The prompt sent, to estimate input tokens when the output reports no usage. */
  readonly prompt: string
  readonly output: ProcessOutput
}

const tail = (text: string, max = 300) => {
  const trimmed = text.trim()
  return trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed
}

const head = (text: string, max = 200) => {
  const trimmed = text.trim()
  return trimmed.length > max ? `${trimmed.slice(0, max)}…` : trimmed
}

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

/** Exit codes of a shell-reported death by SIGINT, SIGKILL and SIGTERM. */
const signalExitCodes: ReadonlySet<number> = new Set([130, 137, 143])

const interruption = (output: ProcessOutput): string | undefined =>
  output.signal !== undefined
    ? `killed by ${output.signal}`
    : signalExitCodes.has(output.exitCode)
      ? `exited with code ${output.exitCode} (killed by a signal)`
      : undefined

const statusKind = (status: number): AgentErrorKind | undefined => {
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

const quotaText =
  /credit balance is too low|insufficient_quota|exceeded your current quota|billing|payment required|spend limit|max_budget|budget exceeded/i

const textRules: ReadonlyArray<readonly [RegExp, AgentErrorKind]> = [
  [
    /hit your .{0,40}limit|usage limit|rate.?limit|too many requests|resource.?exhausted|quota exceeded|\b429\b/i,
    "RateLimited"
  ],
  [
    /invalid api key|invalid_api_key|api key not valid|unauthori[sz]ed|authentication|\b401\b|\b403\b|forbidden|permission.?denied|oauth token|\/login|not logged in/i,
    "AuthFailed"
  ],
  [/model.{0,80}(?:not found|does not exist|not supported|unknown)|model_not_found|not_found_error/i, "ModelNotFound"],
  [/overloaded|\b529\b|\b503\b|service unavailable/i, "Overloaded"],
  [/timed? ?out|timeout|deadline exceeded/i, "Timeout"],
  [
    /disconnect|connection|econnreset|econnrefused|socket hang up|network|fetch failed|error sending request/i,
    "Disconnected"
  ],
  [/\b5\d\d\b|internal server error|server error|bad gateway|api_error/i, "ServerError"],
  [/\b400\b|bad request|invalid_request|invalid request|prompt is too long|context length/i, "InvalidRequest"],
  [/\b404\b|not found/i, "ModelNotFound"]
]

/** An error signal read from a CLI's output. */
interface ErrorSignal {
  readonly message: string
  /** The HTTP status behind the error, when the output names one. */
  readonly status?: number | undefined
  /** A kind the preset already knows (from a subtype or an exit code). */
  readonly kind?: AgentErrorKind | undefined
}

/**
 * Classifies an error: a kind the preset knows, else quota/billing texts (unless they name a reset,
 * as Gemini's per-minute "exceeded your current quota … retry in 35s" does), else the HTTP status,
 * else a text naming a reset (a rate limit), else the text's wording, else `ServerError`.
 */
const classify = (
  signal: ErrorSignal,
  nowMs: number
): { readonly kind: AgentErrorKind; readonly resetAt: number | undefined } => {
  const reset = RateLimit.resetFromText(signal.message, nowMs)
  const kind =
    signal.kind ??
    (reset === undefined && quotaText.test(signal.message) ? "QuotaExhausted" : undefined) ??
    (signal.status === undefined ? undefined : statusKind(signal.status)) ??
    (reset === undefined ? undefined : "RateLimited") ??
    textRules.find(([pattern]) => pattern.test(signal.message))?.[1] ??
    "ServerError"
  return { kind, resetAt: kind === "RateLimited" ? reset : undefined }
}

/** What a failed attempt's output reported it spent; empty when it reported nothing. */
interface Spent {
  readonly usage?: TokenUsage.TokenUsage
  readonly reportedCostUsd?: number
  readonly model?: string
}

const agentError = (
  agent: AgentId,
  kind: AgentErrorKind,
  detail: string,
  extra: { readonly status?: number | undefined; readonly resetAt?: number | undefined } = {},
  spent: Spent = {}
) => makeAgentError(agent, kind, detail, { ...extra, ...spent })

// ---------------------------------------------------------------------------------------------
// Shared decoding
// ---------------------------------------------------------------------------------------------

const Json = Schema.fromJsonString(Schema.Unknown)
const decodeJson = Schema.decodeUnknownOption(Json)

/** The whole text as JSON, else its last line that is JSON, else its outermost `{…}` span. */
const parseJsonLoose = (text: string): Option.Option<unknown> => {
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

const optionalNumber = Schema.optionalKey(Schema.NullOr(Schema.Number))
const optionalString = Schema.optionalKey(Schema.NullOr(Schema.String))

const num = (value: number | null | undefined): number => (Predicate.isNumber(value) ? value : 0)

/** `{error: {type, message, code}}`, as Gemini and Qwen print on stderr. */
const ErrorEnvelope = Schema.Struct({
  error: Schema.Struct({
    type: optionalString,
    message: optionalString,
    code: Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.Number, Schema.String])))
  })
})
type ErrorEnvelope = typeof ErrorEnvelope.Type

const decodeErrorEnvelope = Schema.decodeUnknownOption(ErrorEnvelope)

const httpStatus = (code: number | string | null | undefined): number | undefined => {
  const value = Predicate.isString(code) && /^\d{3}$/.test(code) ? Number(code) : code
  return Predicate.isNumber(value) && value >= 100 && value <= 599 ? value : undefined
}

const envelopeSignal = (envelope: ErrorEnvelope["error"]): ErrorSignal => ({
  message: [envelope.type, envelope.message].filter(Predicate.isString).join(": ") || "unknown error",
  status: httpStatus(envelope.code)
})

const stderrError = (stderr: string): ErrorSignal | undefined =>
  parseJsonLoose(stderr).pipe(
    Option.flatMap(decodeErrorEnvelope),
    Option.map((envelope) => envelopeSignal(envelope.error)),
    Option.getOrUndefined
  )

/** What a preset read from the output. */
interface Reading {
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

const unrecognized: Reading = { recognized: false }

/**
 * What a reading says the attempt spent, for a failure: its usage when some tokens were counted, its
 * cost when positive (or when usage is reported too), and then the model it names.
 */
const spentOf = (reading: Reading): Spent => {
  const usage = reading.usage !== undefined && TokenUsage.total(reading.usage) > 0 ? reading.usage : undefined
  const cost =
    reading.cost !== undefined && Number.isFinite(reading.cost) && (reading.cost > 0 || usage !== undefined)
      ? reading.cost
      : undefined
  if (usage === undefined && cost === undefined) return {}
  return {
    ...(usage === undefined ? {} : { usage }),
    ...(cost === undefined ? {} : { reportedCostUsd: cost }),
    ...(reading.model === undefined ? {} : { model: reading.model })
  }
}

const finish = (
  format: Format,
  { agent, model, prompt, output }: ParseInput,
  reading: Reading,
  nowMs: number,
  exitKind: (code: number) => AgentErrorKind | undefined = () => undefined
): Effect.Effect<Agent.AgentResponse, AgentError> => {
  const spent = spentOf(reading)
  const interrupted = interruption(output)
  if (interrupted !== undefined) {
    return Effect.fail(agentError(agent, "Interrupted", interrupted, { status: output.exitCode }, spent))
  }
  const status = (http: number | undefined) => http ?? (output.exitCode === 0 ? undefined : output.exitCode)
  if (reading.error !== undefined) {
    const { kind, resetAt } = classify(
      { ...reading.error, kind: reading.error.kind ?? exitKind(output.exitCode) },
      nowMs
    )
    return Effect.fail(
      agentError(agent, kind, tail(reading.error.message), { status: status(reading.error.status), resetAt }, spent)
    )
  }
  if (output.exitCode !== 0) {
    const text = `${output.stderr}\n${output.stdout}`
    const { kind, resetAt } = classify({ message: text, kind: exitKind(output.exitCode) }, nowMs)
    const detail = `exited with code ${output.exitCode}${output.stderr.trim() ? `: ${tail(output.stderr)}` : ""}`
    return Effect.fail(agentError(agent, kind, detail, { status: output.exitCode, resetAt }, spent))
  }
  if (!reading.recognized) {
    return output.stdout.trim().length === 0
      ? Effect.fail(agentError(agent, "Empty", "the command printed nothing"))
      : Effect.fail(agentError(agent, "Malformed", `not ${format} JSON output: ${head(output.stdout)}`))
  }
  const text = reading.text?.trim() ?? ""
  if (text.length === 0) {
    return Effect.fail(agentError(agent, "Empty", "the answer is empty", {}, spent))
  }
  return Effect.succeed({
    text,
    model: reading.model ?? model,
    usage: reading.usage ?? TokenUsage.make({ input: estimateTokens(prompt), output: estimateTokens(text) }),
    ...(reading.cost === undefined ? {} : { reportedCostUsd: reading.cost }),
    ...(reading.warnings === undefined || reading.warnings.length === 0 ? {} : { warnings: reading.warnings })
  })
}

/** The key whose value scores highest. */
const argMax = <A>(record: Readonly<Record<string, A>>, score: (value: A) => number): string | undefined => {
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

const findResult = (json: unknown): unknown => {
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

const ClaudeModelUsage = Schema.Struct({
  inputTokens: optionalNumber,
  outputTokens: optionalNumber,
  cacheReadInputTokens: optionalNumber,
  cacheCreationInputTokens: optionalNumber,
  costUSD: optionalNumber
})

const ClaudeResult = Schema.Struct({
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

const decodeClaude = Schema.decodeUnknownOption(ClaudeResult)

const claudeSubtypeKinds: Readonly<Record<string, AgentErrorKind>> = {
  error_max_budget_usd: "QuotaExhausted",
  error_max_turns: "InvalidRequest",
  error_max_structured_output_retries: "Malformed"
}

const readClaude = (output: ProcessOutput): Reading => {
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
const claudeDenials = (decoded: typeof ClaudeResult.Type): ReadonlyArray<string> => {
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
const claudeSpent = (decoded: typeof ClaudeResult.Type): Pick<Reading, "usage" | "model" | "cost"> => {
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

const ModelTokens = Schema.Struct({
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
type ModelTokens = typeof ModelTokens.Type

const Stats = Schema.Struct({
  models: Schema.optionalKey(Schema.NullOr(Schema.Record(Schema.String, ModelTokens)))
})

const GeminiOutput = Schema.Struct({
  response: optionalString,
  stats: Schema.optionalKey(Schema.NullOr(Stats)),
  error: Schema.optionalKey(Schema.NullOr(ErrorEnvelope.fields.error))
})

const decodeGemini = Schema.decodeUnknownOption(GeminiOutput)

/** Gemini CLI exit codes: 41 auth, 42 input, 52 config, 53 turn limit; API errors exit with status & 0xFF. */
const geminiExitKind = (code: number): AgentErrorKind | undefined => {
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

const thoughts = (models: Readonly<Record<string, ModelTokens>>): number =>
  Object.values(models).reduce((sum, m) => sum + num(m.tokens?.thoughts), 0)

/** Usage summed over `stats.models` (output = candidates + thoughts), model with most candidates. */
const statsSpent = (stats: typeof Stats.Type | null | undefined): Pick<Reading, "usage" | "model"> => {
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

const readGemini = (output: ProcessOutput): Reading => {
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

const CodexEvent = Schema.Struct({
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

const decodeCodexEvent = Schema.decodeUnknownOption(Schema.fromJsonString(CodexEvent))

const readCodex = (output: ProcessOutput): Reading => {
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

const QwenResult = Schema.Struct({
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

const QwenMessage = Schema.Struct({
  type: optionalString,
  subtype: optionalString,
  model: optionalString,
  message: Schema.optionalKey(Schema.NullOr(Schema.Struct({ model: optionalString })))
})

const decodeQwen = Schema.decodeUnknownOption(QwenResult)
const decodeQwenMessage = Schema.decodeUnknownOption(QwenMessage)

const qwenModel = (messages: ReadonlyArray<unknown>): string | undefined => {
  let init: string | undefined
  let assistant: string | undefined
  for (const raw of messages) {
    const message = Option.getOrUndefined(decodeQwenMessage(raw))
    if (message?.type === "system" && message.model) init = message.model
    if (message?.type === "assistant" && message.message?.model) assistant = message.message.model
  }
  return assistant ?? init
}

const readQwen = (output: ProcessOutput): Reading => {
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

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/**
 * Reads a plain-text answer: stdout is the answer; an empty one, a non-zero exit or a death by signal
 * is a failure.
 *
 * @example
 * ```ts
 * import { AgentId } from "@speckit/core"
 * import { OutputFormat } from "@speckit/agents"
 *
 * const response = OutputFormat.parseText({
 *   agent: AgentId.make("local"), model: "local", prompt: "hi",
 *   output: { stdout: "{}", stderr: "", exitCode: 0 }
 * })
 * ```
 *
 * @since 0.1.0
 */
export const parseText = ({
  agent,
  model,
  prompt,
  output
}: ParseInput): Effect.Effect<Agent.AgentResponse, AgentError> => {
  const interrupted = interruption(output)
  if (interrupted !== undefined) {
    return Effect.fail(agentError(agent, "Interrupted", interrupted, { status: output.exitCode }))
  }
  if (output.exitCode !== 0) {
    return Effect.fail(
      new AgentError({
        agent,
        kind: "ServerError",
        status: output.exitCode,
        detail: `exited with code ${output.exitCode}${output.stderr.trim() ? `: ${tail(output.stderr)}` : ""}`
      })
    )
  }
  const text = output.stdout.trim()
  if (text.length === 0) {
    return Effect.fail(new AgentError({ agent, kind: "Empty", detail: "the command printed nothing" }))
  }
  return Effect.succeed({
    text,
    model,
    usage: TokenUsage.make({ input: estimateTokens(prompt), output: estimateTokens(text) })
  })
}

/**
 * Parses a subprocess's output in the given format. Presets read the answer, token usage, reported
 * cost and model, and classify error outputs into {@link AgentError} kinds (rate-limit resets are
 * computed relative to the `Clock`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentId } from "@speckit/core"
 * import { OutputFormat } from "@speckit/agents"
 *
 * const response = OutputFormat.parse("claude", {
 *   agent: AgentId.make("claude"), model: "sonnet", prompt: "hi",
 *   output: { stdout: '{"type":"result","subtype":"success","is_error":false,"result":"hello"}', stderr: "", exitCode: 0 }
 * })
 * Effect.runPromise(response).then((r) => r.text) // "hello"
 * ```
 *
 * @since 0.1.0
 */
export const parse = (format: Format, input: ParseInput): Effect.Effect<Agent.AgentResponse, AgentError> => {
  switch (format) {
    case "text":
      return parseText(input)
    case "claude":
      return Effect.flatMap(Clock.currentTimeMillis, (now) => finish(format, input, readClaude(input.output), now))
    case "gemini":
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        finish(format, input, readGemini(input.output), now, geminiExitKind)
      )
    case "codex":
      return Effect.flatMap(Clock.currentTimeMillis, (now) => finish(format, input, readCodex(input.output), now))
    case "qwen":
      return Effect.flatMap(Clock.currentTimeMillis, (now) => finish(format, input, readQwen(input.output), now))
  }
}

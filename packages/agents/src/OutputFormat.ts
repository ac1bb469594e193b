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
import { Clock, Effect } from "effect"
import type * as Agent from "@speckit/core/Agent"
import { AgentError, type AgentErrorKind, make as makeAgentError } from "@speckit/core/AgentError"
import type { AgentId } from "@speckit/core/AgentId"
import * as RateLimit from "./RateLimit.ts"
import { estimateTokens } from "@speckit/core/SimAgent"
import * as TokenUsage from "@speckit/core/TokenUsage"
import { geminiExitKind, readClaude, readCodex, readGemini, readQwen } from "./internal/cliOutputs.ts"
import { type ErrorSignal, type Reading, statusKind } from "./internal/outputReading.ts"

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

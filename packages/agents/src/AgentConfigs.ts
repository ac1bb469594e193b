/**
 * The configuration keys of this package's providers, as they appear in `agents.<id>` of
 * `speckit.config.json` besides the keys every agent has (`provider`, `model`, `price`, `timeoutMs`,
 * `retry`, `breaker`). Core checks an agent's keys against its provider's schema when it loads the
 * configuration (`Providers.validate`): unknown keys are errors naming `agents.<id>.<key>`.
 *
 * @since 0.3.0
 */
import { Schema } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegative = Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * An `exec` agent's keys: the command (argv, never a shell; the prompt on stdin), how its output is
 * read, where and with what environment it runs, and per-stage commands.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { AgentConfigs } from "@speckit/agents"
 *
 * Schema.decodeUnknownSync(AgentConfigs.ExecConfig)({ command: ["claude", "-p", "--output-format", "json"], format: "claude" })
 * ```
 *
 * @since 0.3.0
 */
export const ExecConfig = Schema.Struct({
  command: Schema.NonEmptyArray(Schema.String),
  format: Schema.optionalKey(Schema.Literals(["text", "claude", "gemini", "codex", "qwen"])),
  cwd: Schema.optionalKey(Schema.String),
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** Grace period between SIGTERM and SIGKILL when a call is cancelled (default 2000 ms). */
  killGraceMs: Schema.optionalKey(NonNegative),
  /** Per-stage commands, e.g. `{ "implement": { "command": [...] } }` (see `EditMode`). */
  stages: Schema.optionalKey(
    Schema.Struct({ implement: Schema.optionalKey(Schema.Struct({ command: Schema.NonEmptyArray(Schema.String) })) })
  )
})

/**
 * @since 0.3.0
 */
export type ExecConfig = typeof ExecConfig.Type

/**
 * An `openai` agent's keys: an OpenAI-compatible Chat Completions endpoint (OpenAI, OpenRouter, vLLM,
 * Ollama, llama.cpp).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { AgentConfigs } from "@speckit/agents"
 *
 * Schema.decodeUnknownSync(AgentConfigs.OpenAiConfig)({ baseUrl: "http://127.0.0.1:11434/v1", stream: false })
 * ```
 *
 * @since 0.3.0
 */
export const OpenAiConfig = Schema.Struct({
  /** The API base URL, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  baseUrl: Schema.String,
  /** The environment variable holding the API key (none for local servers). */
  apiKeyEnv: Schema.optionalKey(Schema.String),
  /** Stream the answer (with `stream_options.include_usage`); default true. */
  stream: Schema.optionalKey(Schema.Boolean),
  maxOutputTokens: Schema.optionalKey(PositiveInt),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})

/**
 * @since 0.3.0
 */
export type OpenAiConfig = typeof OpenAiConfig.Type

import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { TestClock } from "effect/testing"
import { AgentId, type AgentError, TokenUsage } from "@speckit/core"
import { OutputFormat } from "../src/index.ts"

/** A fixed "now": Tuesday Sep 23, 2025, 10:00 local time. */
const NOW = new Date(2025, 8, 23, 10, 0).getTime()

type Expected =
  | {
      readonly text: string
      readonly usage?: TokenUsage.TokenUsage
      readonly model?: string
      readonly cost?: number
    }
  | {
      readonly kind: AgentError.AgentErrorKind
      readonly resetAt?: number
      readonly status?: number
      /** What the failed attempt reported it spent; none when absent. */
      readonly usage?: TokenUsage.TokenUsage
      readonly cost?: number
      readonly model?: string
    }

interface Case {
  readonly name: string
  readonly format: OutputFormat.Format
  readonly output: OutputFormat.ProcessOutput
  readonly expected: Expected
}

const out = (stdout: string, exitCode = 0, stderr = "", signal?: string): OutputFormat.ProcessOutput => ({
  stdout,
  stderr,
  exitCode,
  ...(signal === undefined ? {} : { signal })
})

const json = (value: unknown) => `${JSON.stringify(value)}\n`

// --- Claude Code 2.1.x `-p --output-format json` -----------------------------------------------

const claudeBase = {
  type: "result",
  duration_ms: 2841,
  duration_api_ms: 3012,
  num_turns: 1,
  stop_reason: "end_turn",
  session_id: "5f0c8a8e-2b7a-4d55-9a3c-1f4f1d6f7a10",
  permission_denials: [],
  terminal_reason: "completed",
  a_field_from_the_future: { nested: true }
}

const claudeSuccess = {
  ...claudeBase,
  subtype: "success",
  is_error: false,
  api_error_status: null,
  result: '{"summary":"plan ready"}',
  total_cost_usd: 0.0123,
  usage: {
    input_tokens: 4,
    cache_creation_input_tokens: 1200,
    cache_read_input_tokens: 15000,
    output_tokens: 250,
    server_tool_use: { web_search_requests: 0 }
  },
  modelUsage: {
    "claude-haiku-4-5-20251001": {
      inputTokens: 300,
      outputTokens: 40,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      costUSD: 0.0005,
      contextWindow: 200000
    },
    "claude-sonnet-4-5-20250929": {
      inputTokens: 4,
      outputTokens: 250,
      cacheReadInputTokens: 15000,
      cacheCreationInputTokens: 1200,
      costUSD: 0.0112,
      contextWindow: 200000
    }
  }
}

const claudeError = (result: string, apiErrorStatus: number | null) =>
  out(
    json({
      ...claudeBase,
      subtype: "success",
      is_error: true,
      api_error_status: apiErrorStatus,
      result,
      total_cost_usd: 0,
      modelUsage: {}
    }),
    1
  )

const claudeCases: ReadonlyArray<Case> = [
  {
    name: "claude success: answer, usage summed over modelUsage, cost summed over costUSD, model with most output",
    format: "claude",
    output: out(json(claudeSuccess)),
    expected: {
      text: '{"summary":"plan ready"}',
      usage: TokenUsage.make({ input: 300 + 4 + 15000 + 1200, cachedInput: 15000, output: 290 }),
      model: "claude-sonnet-4-5-20250929",
      cost: 0.0117
    }
  },
  {
    name: "claude success without modelUsage: usage from usage, cost from total_cost_usd",
    format: "claude",
    output: out(json({ ...claudeSuccess, modelUsage: undefined })),
    expected: {
      text: '{"summary":"plan ready"}',
      usage: TokenUsage.make({ input: 4 + 15000 + 1200, cachedInput: 15000, output: 250 }),
      model: "configured-model",
      cost: 0.0123
    }
  },
  {
    name: "claude --verbose array: the last result message",
    format: "claude",
    output: out(json([{ type: "system", subtype: "init", model: "claude-sonnet-4-5" }, claudeSuccess])),
    expected: { text: '{"summary":"plan ready"}', model: "claude-sonnet-4-5-20250929", cost: 0.0117 }
  },
  {
    name: "claude invalid API key (no status) → AuthFailed",
    format: "claude",
    output: claudeError("Invalid API key · Fix external API key", null),
    expected: { kind: "AuthFailed", status: 1 }
  },
  {
    name: "claude 429 → RateLimited without reset",
    format: "claude",
    output: claudeError("API Error: Request rejected (429) · Rate limited", 429),
    expected: { kind: "RateLimited", status: 429 }
  },
  {
    name: "claude weekly limit → RateLimited with the reset in its zone",
    format: "claude",
    output: claudeError("You've hit your weekly limit · resets Oct 1, 2am (Asia/Seoul)", 429),
    expected: { kind: "RateLimited", status: 429, resetAt: Date.UTC(2025, 8, 30, 17) }
  },
  {
    name: "claude usage limit without status → RateLimited with reset",
    format: "claude",
    output: claudeError("You've hit your limit · resets Sep 30, 3pm (UTC)", null),
    expected: { kind: "RateLimited", resetAt: Date.UTC(2025, 8, 30, 15) }
  },
  {
    name: "claude 529 → Overloaded",
    format: "claude",
    output: claudeError("API Error: Repeated 529 Overloaded errors", 529),
    expected: { kind: "Overloaded", status: 529 }
  },
  {
    name: "claude 500 → ServerError",
    format: "claude",
    output: claudeError('API Error: 500 {"type":"error","error":{"type":"api_error"}}', 500),
    expected: { kind: "ServerError", status: 500 }
  },
  {
    name: "claude 401 → AuthFailed",
    format: "claude",
    output: claudeError("API Error: 401 OAuth token has expired", 401),
    expected: { kind: "AuthFailed", status: 401 }
  },
  {
    name: "claude 403 → AuthFailed",
    format: "claude",
    output: claudeError("API Error: 403 permission_error", 403),
    expected: { kind: "AuthFailed", status: 403 }
  },
  {
    name: "claude 400 → InvalidRequest",
    format: "claude",
    output: claudeError("API Error: 400 prompt is too long", 400),
    expected: { kind: "InvalidRequest", status: 400 }
  },
  {
    name: "claude 404 → ModelNotFound",
    format: "claude",
    output: claudeError("API Error: 404 model: claude-nope", 404),
    expected: { kind: "ModelNotFound", status: 404 }
  },
  {
    name: "claude 402 → QuotaExhausted",
    format: "claude",
    output: claudeError("API Error: 402 billing_error", 402),
    expected: { kind: "QuotaExhausted", status: 402 }
  },
  {
    name: "claude credit balance (status 400) → QuotaExhausted",
    format: "claude",
    output: claudeError("Credit balance is too low", 400),
    expected: { kind: "QuotaExhausted", status: 400 }
  },
  {
    name: "claude is_error with exit 0 is still a failure",
    format: "claude",
    output: { ...claudeError("API Error: Repeated 529 Overloaded errors", 529), exitCode: 0 },
    expected: { kind: "Overloaded", status: 529 }
  },
  {
    name: "claude error_max_turns → InvalidRequest, its reported cost kept",
    format: "claude",
    output: out(json({ ...claudeBase, subtype: "error_max_turns", is_error: true, total_cost_usd: 0.02 }), 1),
    expected: { kind: "InvalidRequest", cost: 0.02 }
  },
  {
    name: "claude error_max_turns after work: usage, cost and model of the failed attempt",
    format: "claude",
    output: out(
      json({
        ...claudeSuccess,
        subtype: "error_max_turns",
        is_error: true,
        result: undefined,
        errors: ["Reached maximum number of turns (3)"]
      }),
      1
    ),
    expected: {
      kind: "InvalidRequest",
      usage: TokenUsage.make({ input: 300 + 4 + 15000 + 1200, cachedInput: 15000, output: 290 }),
      cost: 0.0117,
      model: "claude-sonnet-4-5-20250929"
    }
  },
  {
    name: "claude is_error 529 after a partial turn: usage and total_cost_usd from the error result",
    format: "claude",
    output: out(
      json({
        ...claudeBase,
        subtype: "success",
        is_error: true,
        api_error_status: 529,
        result: "API Error: Repeated 529 Overloaded errors",
        total_cost_usd: 0.004,
        usage: { input_tokens: 900, cache_read_input_tokens: 100, output_tokens: 30 },
        modelUsage: {}
      }),
      1
    ),
    expected: {
      kind: "Overloaded",
      status: 529,
      usage: TokenUsage.make({ input: 1000, cachedInput: 100, output: 30 }),
      cost: 0.004
    }
  },
  {
    name: "claude is_error with zero usage and $0: nothing spent is reported",
    format: "claude",
    output: out(
      json({
        ...claudeBase,
        subtype: "success",
        is_error: true,
        api_error_status: 401,
        result: "API Error: 401 OAuth token has expired",
        total_cost_usd: 0,
        usage: { input_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 0 },
        modelUsage: {}
      }),
      1
    ),
    expected: { kind: "AuthFailed", status: 401 }
  },
  {
    name: "claude error_max_budget_usd → QuotaExhausted",
    format: "claude",
    output: out(json({ ...claudeBase, subtype: "error_max_budget_usd", is_error: true }), 1),
    expected: { kind: "QuotaExhausted" }
  },
  {
    name: "claude empty result → Empty, with the usage and cost it reported",
    format: "claude",
    output: out(json({ ...claudeSuccess, result: "" })),
    expected: {
      kind: "Empty",
      usage: TokenUsage.make({ input: 300 + 4 + 15000 + 1200, cachedInput: 15000, output: 290 }),
      cost: 0.0117,
      model: "claude-sonnet-4-5-20250929"
    }
  },
  {
    name: "claude non-JSON stdout → Malformed",
    format: "claude",
    output: out("Welcome to Claude Code!\n"),
    expected: { kind: "Malformed" }
  },
  {
    name: "claude JSON of another shape → Malformed",
    format: "claude",
    output: out(json({ hello: "world" })),
    expected: { kind: "Malformed" }
  },
  {
    name: "claude exit 0 with nothing (SIGINT in -p mode) → Empty",
    format: "claude",
    output: out(""),
    expected: { kind: "Empty" }
  },
  {
    name: "claude misuse (exit 1, stderr) → failure with the exit code",
    format: "claude",
    output: out("", 1, "Error: When using --print, --output-format=stream-json requires --verbose\n"),
    expected: { kind: "ServerError", status: 1 }
  }
]

// --- Gemini CLI 0.61.0 `-o json` ---------------------------------------------------------------

const geminiSuccess = {
  session_id: "a3b1c2d4",
  response: '{"summary":"plan ready"}',
  stats: {
    models: {
      "gemini-2.5-flash-lite": {
        api: { totalRequests: 1 },
        tokens: { input: 900, prompt: 900, candidates: 12, total: 930, cached: 0, thoughts: 18, tool: 0 }
      },
      "gemini-2.5-pro": {
        api: { totalRequests: 1 },
        tokens: { input: 2000, prompt: 10000, candidates: 300, total: 10900, cached: 8000, thoughts: 600, tool: 0 }
      }
    },
    tools: { totalCalls: 0 },
    files: { totalLinesAdded: 0 }
  }
}

const geminiError = (type: string, message: string, code: number | string, exitCode: number) =>
  out("", exitCode, `${JSON.stringify({ session_id: "a3b1c2d4", error: { type, message, code } }, null, 2)}\n`)

const geminiCases: ReadonlyArray<Case> = [
  {
    name: "gemini success: usage summed over models (output = candidates + thoughts), model with most candidates",
    format: "gemini",
    output: out(`${JSON.stringify(geminiSuccess, null, 2)}\n`),
    expected: {
      text: '{"summary":"plan ready"}',
      usage: TokenUsage.make({ input: 10900, cachedInput: 8000, output: 930, reasoning: 618 }),
      model: "gemini-2.5-pro"
    }
  },
  {
    name: "gemini auth (exit 41) → AuthFailed",
    format: "gemini",
    output: geminiError("FatalAuthenticationError", "Failed to login.", 41, 41),
    expected: { kind: "AuthFailed", status: 41 }
  },
  {
    name: "gemini 429 (exit 173) → RateLimited",
    format: "gemini",
    output: geminiError("Error", "[API Error: Resource has been exhausted (e.g. check quota).]", 429, 173),
    expected: { kind: "RateLimited", status: 429 }
  },
  {
    name: "gemini 429 with a reset → RateLimited with resetAt",
    format: "gemini",
    output: geminiError("Error", "You have exhausted your capacity. Your quota will reset after 30s.", 429, 173),
    expected: { kind: "RateLimited", status: 429, resetAt: NOW + 30_000 }
  },
  {
    name: "gemini per-minute quota (429, 'exceeded your current quota … retry in') → RateLimited, not QuotaExhausted",
    format: "gemini",
    output: geminiError(
      "Error",
      "[API Error: You exceeded your current quota, please check your plan and billing details. Please retry in 35.3s.]",
      429,
      173
    ),
    expected: { kind: "RateLimited", status: 429, resetAt: NOW + 35_300 }
  },
  {
    name: "gemini exit 173 with no JSON → RateLimited from the exit code",
    format: "gemini",
    output: out("", 173, "boom\n"),
    expected: { kind: "RateLimited", status: 173 }
  },
  {
    name: "gemini input error (exit 42) → InvalidRequest",
    format: "gemini",
    output: geminiError("FatalInputError", "No input provided via stdin.", 42, 42),
    expected: { kind: "InvalidRequest", status: 42 }
  },
  {
    name: "gemini turn limit (exit 53) → InvalidRequest",
    format: "gemini",
    output: geminiError("FatalTurnLimitedError", "Reached max session turns.", 53, 53),
    expected: { kind: "InvalidRequest", status: 53 }
  },
  {
    name: "gemini cancel (exit 130) → Interrupted",
    format: "gemini",
    output: geminiError("FatalCancellationError", "Operation cancelled.", 130, 130),
    expected: { kind: "Interrupted", status: 130 }
  },
  {
    name: "gemini error in stdout JSON with exit 1 → classified by status code",
    format: "gemini",
    output: out(json({ session_id: "x", error: { type: "Error", message: "Service Unavailable", code: 503 } }), 1),
    expected: { kind: "ServerError", status: 503 }
  },
  {
    name: "gemini error in stdout JSON with stats → usage of the failed attempt",
    format: "gemini",
    output: out(
      json({
        session_id: "x",
        error: { type: "Error", message: "Service Unavailable", code: 503 },
        stats: geminiSuccess.stats
      }),
      1
    ),
    expected: {
      kind: "ServerError",
      status: 503,
      usage: TokenUsage.make({ input: 10900, cachedInput: 8000, output: 930, reasoning: 618 }),
      model: "gemini-2.5-pro"
    }
  },
  {
    name: "gemini empty response → Empty, with its usage",
    format: "gemini",
    output: out(json({ ...geminiSuccess, response: "" })),
    expected: {
      kind: "Empty",
      usage: TokenUsage.make({ input: 10900, cachedInput: 8000, output: 930, reasoning: 618 }),
      model: "gemini-2.5-pro"
    }
  },
  {
    name: "gemini SIGTERM exit 0 without JSON → Empty",
    format: "gemini",
    output: out(""),
    expected: { kind: "Empty" }
  },
  {
    name: "gemini non-JSON stdout → Malformed",
    format: "gemini",
    output: out("Loaded cached credentials.\nhello\n"),
    expected: { kind: "Malformed" }
  }
]

// --- Codex CLI 0.169.0 `exec --json` -----------------------------------------------------------

const jsonl = (...events: ReadonlyArray<unknown>) => `${events.map((event) => JSON.stringify(event)).join("\n")}\n`
const codexStart = [{ type: "thread.started", thread_id: "0199a213" }, { type: "turn.started" }]
const codexFailed = (message: string) =>
  out(jsonl(...codexStart, { type: "error", message }, { type: "turn.failed", error: { message } }), 1)

const codexCases: ReadonlyArray<Case> = [
  {
    name: "codex success: the last agent_message, cumulative usage, configured model, no cost",
    format: "codex",
    output: out(
      jsonl(
        ...codexStart,
        { type: "item.completed", item: { id: "item_0", type: "reasoning", text: "thinking" } },
        { type: "item.completed", item: { id: "item_1", type: "agent_message", text: "draft" } },
        {
          type: "item.started",
          item: { id: "item_2", type: "command_execution", command: "ls", status: "in_progress" }
        },
        { type: "item.completed", item: { id: "item_3", type: "agent_message", text: "final" } },
        {
          type: "turn.completed",
          usage: { input_tokens: 24763, cached_input_tokens: 24448, output_tokens: 122, reasoning_output_tokens: 64 }
        }
      )
    ),
    expected: {
      text: "final",
      usage: TokenUsage.make({ input: 24763, cachedInput: 24448, output: 122, reasoning: 64 }),
      model: "configured-model"
    }
  },
  {
    name: "codex older usage without reasoning tokens; a transient error before success",
    format: "codex",
    output: out(
      jsonl(
        ...codexStart,
        { type: "error", message: "Reconnecting... 1/5 (stream disconnected before completion)" },
        { type: "item.completed", item: { id: "item_0", type: "agent_message", text: "ok" } },
        { type: "turn.completed", usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 5 } }
      )
    ),
    expected: { text: "ok", usage: TokenUsage.make({ input: 10, output: 5 }) }
  },
  {
    name: "codex usage limit → RateLimited at the next 3:28 PM local",
    format: "codex",
    output: codexFailed(
      "You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/codex/settings/usage to purchase more credits or try again at 3:28 PM."
    ),
    expected: { kind: "RateLimited", status: 1, resetAt: new Date(2025, 8, 23, 15, 28).getTime() }
  },
  {
    name: "codex usage limit with a date and a curly apostrophe",
    format: "codex",
    output: codexFailed("You’ve hit your usage limit. Try again at Sep 25th, 2025 9:05 AM."),
    expected: { kind: "RateLimited", resetAt: new Date(2025, 8, 25, 9, 5).getTime() }
  },
  {
    name: "codex insufficient quota → QuotaExhausted",
    format: "codex",
    output: codexFailed("Quota exceeded. Check your plan and billing details."),
    expected: { kind: "QuotaExhausted" }
  },
  {
    name: "codex 401 → AuthFailed",
    format: "codex",
    output: codexFailed("unexpected status 401 Unauthorized: Missing bearer or basic authentication in header"),
    expected: { kind: "AuthFailed" }
  },
  {
    name: "codex stream disconnected → Disconnected",
    format: "codex",
    output: codexFailed("stream disconnected before completion: error sending request for url (https://x/responses)"),
    expected: { kind: "Disconnected" }
  },
  {
    name: "codex 500 → ServerError",
    format: "codex",
    output: codexFailed("unexpected status 500 Internal Server Error: {}"),
    expected: { kind: "ServerError" }
  },
  {
    name: "codex overloaded → Overloaded",
    format: "codex",
    output: codexFailed("unexpected status 503 Service Unavailable: server is overloaded"),
    expected: { kind: "Overloaded" }
  },
  {
    name: "codex turn.failed after a turn.completed → failure with the completed turn's usage",
    format: "codex",
    output: out(
      jsonl(
        ...codexStart,
        { type: "item.completed", item: { id: "item_0", type: "agent_message", text: "partial" } },
        {
          type: "turn.completed",
          usage: { input_tokens: 5000, cached_input_tokens: 1000, output_tokens: 200, reasoning_output_tokens: 50 }
        },
        { type: "turn.started" },
        { type: "error", message: "unexpected status 500 Internal Server Error: {}" },
        { type: "turn.failed", error: { message: "unexpected status 500 Internal Server Error: {}" } }
      ),
      1
    ),
    expected: {
      kind: "ServerError",
      status: 1,
      // Codex names no model: AgentCall charges the configured one
      usage: TokenUsage.make({ input: 5000, cachedInput: 1000, output: 200, reasoning: 50 })
    }
  },
  {
    name: "codex error events without a completed turn → failure from the last error",
    format: "codex",
    output: out(jsonl(...codexStart, { type: "error", message: "Rate limit reached. Please try again in 20s." }), 1),
    expected: { kind: "RateLimited", resetAt: NOW + 20_000 }
  },
  {
    name: "codex Ctrl-C (exit 1, no turn event) → failure",
    format: "codex",
    output: out(jsonl(...codexStart), 1),
    expected: { kind: "ServerError", status: 1 }
  },
  {
    name: "codex turn without an agent message → Empty, with the turn's usage",
    format: "codex",
    output: out(jsonl(...codexStart, { type: "turn.completed", usage: { input_tokens: 1, output_tokens: 0 } })),
    expected: { kind: "Empty", usage: TokenUsage.make({ input: 1 }) }
  },
  {
    name: "codex non-JSON stdout → Malformed",
    format: "codex",
    output: out("codex 0.169.0\n"),
    expected: { kind: "Malformed" }
  }
]

// --- Qwen Code 0.24.4 `-o json` ----------------------------------------------------------------

const qwenInit = { type: "system", subtype: "init", session_id: "s", model: "qwen3-coder-plus", tools: [] }
const qwenUsage = { input_tokens: 12000, output_tokens: 85, cache_read_input_tokens: 9000, total_tokens: 12085 }
const qwenResult = {
  type: "result",
  subtype: "success",
  session_id: "s",
  is_error: false,
  duration_ms: 4000,
  num_turns: 1,
  result: '{"summary":"plan ready"}',
  usage: qwenUsage,
  stats: { models: { "qwen3-coder-plus": { tokens: { prompt: 12000, candidates: 85, cached: 9000, thoughts: 20 } } } }
}
const qwenAssistant = {
  type: "assistant",
  session_id: "s",
  message: { role: "assistant", model: "qwen3-coder-plus-2025-09-23", content: [], usage: qwenUsage }
}

const qwenCases: ReadonlyArray<Case> = [
  {
    name: "qwen success: usage (input includes cached), reasoning from stats, model from the assistant message",
    format: "qwen",
    output: out(json([qwenInit, qwenAssistant, qwenResult])),
    expected: {
      text: '{"summary":"plan ready"}',
      usage: TokenUsage.make({ input: 12000, cachedInput: 9000, output: 85, reasoning: 20 }),
      model: "qwen3-coder-plus-2025-09-23"
    }
  },
  {
    name: "qwen success: model from system/init when no assistant message names one",
    format: "qwen",
    output: out(json([qwenInit, { ...qwenResult, stats: undefined }])),
    expected: {
      text: '{"summary":"plan ready"}',
      usage: TokenUsage.make({ input: 12000, cachedInput: 9000, output: 85 }),
      model: "qwen3-coder-plus"
    }
  },
  {
    name: "qwen error_during_execution with a 401 → AuthFailed",
    format: "qwen",
    output: out(
      json([
        qwenInit,
        {
          type: "result",
          subtype: "error_during_execution",
          is_error: true,
          num_turns: 0,
          error: { message: "[API Error: 401 Incorrect API key provided.]" }
        }
      ]),
      1,
      json({ error: { type: "Error", message: "[API Error: 401 Incorrect API key provided.]", code: 1 } })
    ),
    expected: { kind: "AuthFailed", status: 1 }
  },
  {
    name: "qwen error_during_execution with a 429 → RateLimited",
    format: "qwen",
    output: out(
      json([
        qwenInit,
        {
          type: "result",
          subtype: "error_during_execution",
          is_error: true,
          error: { message: "[API Error: 429 Throttling: Requests rate limit exceeded, please try again later.]" }
        }
      ]),
      1
    ),
    expected: { kind: "RateLimited" }
  },
  {
    name: "qwen error result with usage → failure with the usage and model it reported",
    format: "qwen",
    output: out(
      json([
        qwenInit,
        qwenAssistant,
        {
          type: "result",
          subtype: "error_during_execution",
          is_error: true,
          usage: qwenUsage,
          error: { message: "[API Error: 500 Internal Server Error]" }
        }
      ]),
      1
    ),
    expected: {
      kind: "ServerError",
      status: 1,
      usage: TokenUsage.make({ input: 12000, cachedInput: 9000, output: 85 }),
      model: "qwen3-coder-plus-2025-09-23"
    }
  },
  {
    name: "qwen stderr-only error → classified from stderr",
    format: "qwen",
    output: out("", 1, json({ error: { type: "Error", message: "Model 'qwen-nope' not found", code: 404 } })),
    expected: { kind: "ModelNotFound", status: 404 }
  },
  {
    name: "qwen empty result → Empty, with its usage",
    format: "qwen",
    output: out(json([qwenInit, { ...qwenResult, result: "" }])),
    expected: {
      kind: "Empty",
      usage: TokenUsage.make({ input: 12000, cachedInput: 9000, output: 85, reasoning: 20 }),
      model: "qwen3-coder-plus"
    }
  },
  {
    name: "qwen non-JSON stdout → Malformed",
    format: "qwen",
    output: out("Hello from qwen\n"),
    expected: { kind: "Malformed" }
  }
]

// --- Any format --------------------------------------------------------------------------------

const signalCases: ReadonlyArray<Case> = (["text", "claude", "gemini", "codex", "qwen"] as const).flatMap(
  (format): ReadonlyArray<Case> => [
    {
      name: `${format}: killed by a signal → Interrupted even with a complete answer`,
      format,
      output: out(
        format === "claude" ? json(claudeSuccess) : format === "gemini" ? json(geminiSuccess) : "answer",
        143,
        "",
        "SIGTERM"
      ),
      expected: {
        kind: "Interrupted",
        status: 143,
        // an answer printed before the kill still reports what the attempt spent
        ...(format === "claude"
          ? {
              usage: TokenUsage.make({ input: 300 + 4 + 15000 + 1200, cachedInput: 15000, output: 290 }),
              cost: 0.0117,
              model: "claude-sonnet-4-5-20250929"
            }
          : format === "gemini"
            ? {
                usage: TokenUsage.make({ input: 10900, cachedInput: 8000, output: 930, reasoning: 618 }),
                model: "gemini-2.5-pro"
              }
            : {})
      }
    },
    {
      name: `${format}: exit 130 (SIGINT reported by a shell) → Interrupted`,
      format,
      output: out("", 130),
      expected: { kind: "Interrupted", status: 130 }
    }
  ]
)

const textCases: ReadonlyArray<Case> = [
  {
    name: "text: stdout is the answer, usage estimated",
    format: "text",
    output: out("  hello world  \n"),
    expected: { text: "hello world", usage: TokenUsage.make({ input: 2, output: 3 }), model: "configured-model" }
  },
  { name: "text: empty → Empty", format: "text", output: out(""), expected: { kind: "Empty" } },
  {
    name: "text: exit 2 → ServerError",
    format: "text",
    output: out("", 2),
    expected: { kind: "ServerError", status: 2 }
  }
]

const run = (testCase: Case) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(NOW)
    const result = yield* Effect.result(
      OutputFormat.parse(testCase.format, {
        agent: AgentId.make("agent"),
        model: "configured-model",
        prompt: "a prompt",
        output: testCase.output
      })
    )
    const expected = testCase.expected
    if ("kind" in expected) {
      assert.isTrue(Result.isFailure(result), "expected a failure")
      if (Result.isFailure(result)) {
        const error = result.failure
        assert.strictEqual(error._tag, "AgentError")
        assert.strictEqual(error.kind, expected.kind, error.message)
        assert.strictEqual(error.resetAt, expected.resetAt)
        if (expected.status !== undefined) assert.strictEqual(error.status, expected.status)
        assert.isTrue(error.detail.length > 0)
        assert.deepStrictEqual(error.usage, expected.usage)
        if (expected.cost === undefined) assert.isUndefined(error.reportedCostUsd)
        else assert.closeTo(error.reportedCostUsd ?? Number.NaN, expected.cost, 1e-9)
        assert.strictEqual(error.model, expected.model)
      }
    } else {
      assert.isTrue(Result.isSuccess(result), Result.isFailure(result) ? result.failure.message : "")
      if (Result.isSuccess(result)) {
        const response = result.success
        assert.strictEqual(response.text, expected.text)
        if (expected.usage !== undefined) assert.deepStrictEqual(response.usage, expected.usage)
        if (expected.model !== undefined) assert.strictEqual(response.model, expected.model)
        if (expected.cost === undefined) assert.isUndefined(response.reportedCostUsd)
        else assert.closeTo(response.reportedCostUsd ?? Number.NaN, expected.cost, 1e-9)
      }
    }
  })

describe("OutputFormat.parse", () => {
  for (const [group, cases] of [
    ["claude", claudeCases],
    ["gemini", geminiCases],
    ["codex", codexCases],
    ["qwen", qwenCases],
    ["text", textCases],
    ["signals", signalCases]
  ] as const) {
    describe(group, () => {
      for (const testCase of cases) {
        it.effect(testCase.name, () => run(testCase))
      }
    })
  }

  it.effect("a Malformed error quotes a short excerpt of stdout", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        OutputFormat.parse("claude", {
          agent: AgentId.make("agent"),
          model: "m",
          prompt: "p",
          output: out(`not json ${"x".repeat(1000)}`)
        })
      )
      assert.strictEqual(error.kind, "Malformed")
      assert.include(error.detail, "not json")
      assert.isBelow(error.detail.length, 300)
    })
  )
})

/**
 * Output formats of exec agents: how a finished subprocess's stdout, stderr and exit status become
 * an {@link Agent.AgentResponse} or a typed {@link AgentError}.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type * as Agent from "./Agent.ts"
import { AgentError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import { estimateTokens } from "./SimAgent.ts"
import * as TokenUsage from "./TokenUsage.ts"

/**
 * The supported formats: `text` (stdout is the answer) and presets for agent CLIs' JSON output.
 *
 * @since 0.1.0
 */
export type Format = "text" | "claude" | "gemini" | "codex" | "qwen"

/**
 * What a finished subprocess produced.
 *
 * @since 0.1.0
 */
export interface ProcessOutput {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

/**
 * The input of a parser.
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

/**
 * Reads a plain-text answer: stdout is the answer; an empty one or a non-zero exit is a failure.
 *
 * @example
 * ```ts
 * import { AgentId, OutputFormat } from "@speckit/core"
 *
 * const response = OutputFormat.parseText({
 *   agent: AgentId.make("local"), model: "local", prompt: "hi",
 *   output: { stdout: "{}", stderr: "", exitCode: 0 }
 * })
 * ```
 *
 * @since 0.1.0
 */
export const parseText = ({ agent, model, prompt, output }: ParseInput): Effect.Effect<Agent.AgentResponse, AgentError> => {
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
 * Parses a subprocess's output in the given format.
 *
 * @since 0.1.0
 */
export const parse = (format: Format, input: ParseInput): Effect.Effect<Agent.AgentResponse, AgentError> => {
  switch (format) {
    default:
      return parseText(input)
  }
}

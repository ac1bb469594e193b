/**
 * @speckit/agents: the agents that do a stage's work outside the process, as providers for core's
 * agent registry: `exec` (agent CLIs such as Claude Code, Codex, Gemini CLI and Qwen Code, or any
 * program, as subprocesses, with their output formats, rate-limit reading and unattended-edit switches)
 * and `openai` (OpenAI-compatible HTTP APIs); and the subprocess layer of core's `Checks` port (the
 * project's checks, run with the same process handling).
 *
 * @since 0.3.0
 */

/** @since 0.3.0 */
export * as AgentConfigs from "./AgentConfigs.ts"
/** @since 0.3.0 */
export * as AgentProviders from "./AgentProviders.ts"
/** @since 0.3.0 */
export * as EditMode from "./EditMode.ts"
/** @since 0.1.0 */
export * as ExecAgent from "./ExecAgent.ts"
/** @since 0.1.0 */
export * as OpenAiAgent from "./OpenAiAgent.ts"
/** @since 0.1.0 */
export * as OutputFormat from "./OutputFormat.ts"
/** @since 0.3.0 */
export * as ProcessChecks from "./ProcessChecks.ts"
/** @since 0.1.0 */
export * as RateLimit from "./RateLimit.ts"

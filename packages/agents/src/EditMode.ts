/**
 * How an exec agent is run when it must edit files unattended (the implement stage making real
 * changes): in its worktree as the working directory, with each agent-CLI preset's switches for
 * unattended edits (facts read from the tools' sources and help, versions as in `OutputFormat`):
 *
 * | `format` | added | why |
 * | --- | --- | --- |
 * | `claude` | `--permission-mode acceptEdits` | edits approved (not shell commands: allow those with `--allowedTools`); tools it denied are reported as warnings (`permission_denials`). Bypass mode is refused as root unless `IS_SANDBOX=1`. |
 * | `codex` | `--sandbox workspace-write -C <worktree>`, the prompt as the last argument, stdin `/dev/null` | plain `exec` is read-only; with a piped stdin that never closes it hangs. It cannot `git commit` in a linked worktree, which speckit never needs. |
 * | `gemini` | `--approval-mode auto_edit`, `GEMINI_CLI_TRUST_WORKSPACE=true` | a fresh worktree is an untrusted folder, where it exits 55 even in yolo mode. |
 * | `qwen` | `--approval-mode auto-edit` | |
 * | `text` | nothing | the command runs in the worktree as it is. |
 *
 * A stage-specific command (`agents.<id>.stages.implement.command`) replaces the preset's switches;
 * in it `{workdir}` and `{prompt}` are replaced by the worktree and the prompt (then not sent on stdin).
 *
 * @since 0.3.0
 */
import type * as OutputFormat from "./OutputFormat.ts"

/**
 * How to start the agent for one call.
 *
 * @since 0.3.0
 */
export interface Invocation {
  readonly command: readonly [string, ...Array<string>]
  readonly env: Readonly<Record<string, string>>
  /** Whether the prompt goes on stdin (else stdin is empty: `/dev/null`). */
  readonly promptOnStdin: boolean
}

const substitute = (args: ReadonlyArray<string>, workdir: string, prompt: string) =>
  args.map((arg) => arg.replaceAll("{workdir}", workdir).replaceAll("{prompt}", prompt))

/**
 * The invocation of an exec agent editing files in `workdir` (see the module).
 *
 * @example
 * ```ts
 * import { EditMode } from "@speckit/agents"
 *
 * EditMode.invocation({
 *   format: "codex",
 *   command: ["codex", "exec", "--json", "--skip-git-repo-check", "-"],
 *   workdir: "/repo/.speckit/worktrees/run-1/codex",
 *   prompt: "Implement the spec."
 * }).command
 * // ["codex", "exec", "--json", "--skip-git-repo-check", "--sandbox", "workspace-write", "-C", "/repo/...", "Implement the spec."]
 * ```
 *
 * @since 0.3.0
 */
export const invocation = (input: {
  readonly format: OutputFormat.Format
  readonly command: readonly [string, ...Array<string>]
  readonly stageCommand?: readonly [string, ...Array<string>] | undefined
  readonly workdir: string
  readonly prompt: string
}): Invocation => {
  const { workdir, prompt } = input
  if (input.stageCommand !== undefined) {
    const [program, ...args] = input.stageCommand
    const usesPrompt = input.stageCommand.some((arg) => arg.includes("{prompt}"))
    return {
      command: [program, ...substitute(args, workdir, prompt)],
      env: {},
      promptOnStdin: !usesPrompt
    }
  }
  const [program, ...args] = input.command
  switch (input.format) {
    case "claude":
      return { command: [program, ...args, "--permission-mode", "acceptEdits"], env: {}, promptOnStdin: true }
    case "codex": {
      // The prompt becomes the last argument (in place of a trailing `-`, codex's "read stdin").
      const rest = args.at(-1) === "-" ? args.slice(0, -1) : args
      return {
        command: [program, ...rest, "--sandbox", "workspace-write", "-C", workdir, prompt],
        env: {},
        promptOnStdin: false
      }
    }
    case "gemini":
      return {
        command: [program, ...args, "--approval-mode", "auto_edit"],
        env: { GEMINI_CLI_TRUST_WORKSPACE: "true" },
        promptOnStdin: true
      }
    case "qwen":
      return { command: [program, ...args, "--approval-mode", "auto-edit"], env: {}, promptOnStdin: true }
    case "text":
      return { command: input.command, env: {}, promptOnStdin: true }
  }
}

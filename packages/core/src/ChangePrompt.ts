/**
 * The implement stage's prompts when it makes real changes. An agent that edits files (`Agent.edits`)
 * is told to carry out the tasks in its working directory (a git worktree at the base commit) and to
 * report what it did; an agent that cannot (an HTTP API) is shown the repository and told to answer
 * with the full new content of every file it creates or modifies and the paths it deletes (see
 * `FileAnswer`).
 *
 * @since 0.3.0
 */
import type { AgentId } from "./AgentId.ts"
import * as Prompt from "./Prompt.ts"
import type { Spec } from "./Spec.ts"
import * as Stage from "./Stage.ts"

/**
 * A file of the repository shown to an agent that answers with contents: its path and size, and its
 * text when it is shown whole.
 *
 * @since 0.3.0
 */
export interface ShownFile {
  readonly path: string
  readonly bytes: number
  readonly text?: string | undefined
}

/**
 * What a changes prompt is made of.
 *
 * @since 0.3.0
 */
export interface Input {
  readonly agent: AgentId
  readonly spec: Spec
  /** The previous stage's consensus (the tasks), as Markdown. */
  readonly previous: string
  /** The base commit the worktree is at. */
  readonly base: string
  readonly repairNote?: string | undefined
}

const contentsShape = (agent: AgentId) =>
  `{"stage":"implement","agent":"${agent}","summary":"...","changes":[{"path":"src/...","action":"create|modify|delete","description":"..."}],"files":[{"path":"src/...","content":"the whole new file"}],"deleted":["path/of/a/deleted/file"]}`

const header = (agent: AgentId) => {
  const index = Stage.all.indexOf("implement")
  return [
    `You are agent "${agent}" in a spec-driven, multi-agent pipeline.`,
    `Stage ${index + 1} of ${Stage.all.length}: implement.`
  ]
}

const context = (input: Input) => {
  const parts = [`# Spec ${input.spec.id}\n\n${input.spec.text.trim()}`]
  if (input.previous) parts.push(`# Consensus of the tasks stage\n\n${input.previous.trim()}`)
  return parts
}

const repair = (input: Input) =>
  input.repairNote
    ? [`# Your previous answer was rejected\n\n${input.repairNote}\nAnswer again with valid JSON of the shape above.`]
    : []

/**
 * The prompt of an agent that edits files in its working directory.
 *
 * @example
 * ```ts
 * import { AgentId, ChangePrompt } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * const prompt = ChangePrompt.edit({ agent: AgentId.make("claude"), spec, previous: "", base: "0123abcd" })
 * ```
 *
 * @since 0.3.0
 */
export const edit = (input: Input): string =>
  `${[
    ...header(input.agent),
    `Carry out the tasks for real. Your working directory is a git worktree of the repository at commit ${input.base}: create, modify and delete files there. Write tests for what you add and keep the project's existing tests passing. Do not commit, do not touch \`.git\`, and write nothing outside this directory.`,
    `When you are done, answer with exactly one JSON object and nothing else, reporting what you changed, of this shape:\n${Prompt.shapeOf("implement")}`,
    ...context(input),
    ...repair(input)
  ].join("\n\n")}\n`

/**
 * The prompt of an agent that cannot edit files: the repository's files (some shown whole) and the
 * request to answer with the files' contents.
 *
 * @example
 * ```ts
 * import { AgentId, ChangePrompt } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * const prompt = ChangePrompt.contents(
 *   { agent: AgentId.make("gpt"), spec, previous: "", base: "0123abcd" },
 *   [{ path: "src/index.js", bytes: 12, text: "export {}\n" }]
 * )
 * ```
 *
 * @since 0.3.0
 */
export const contents = (input: Input, files: ReadonlyArray<ShownFile>): string => {
  const listing = files.map((file) => `- ${file.path} (${file.bytes} bytes)`).join("\n")
  const shown = files
    .filter((file) => file.text !== undefined)
    .map((file) => `## ${file.path}\n\n\`\`\`\n${file.text ?? ""}\n\`\`\``)
  return `${[
    ...header(input.agent),
    `Carry out the tasks for real, in the repository shown below (at commit ${input.base}). You cannot edit files directly: answer with the full new content of every file you create or modify, and the paths of the files you delete. Write tests for what you add and keep the project's existing tests passing.`,
    `Answer with exactly one JSON object and nothing else, of this shape:\n${contentsShape(input.agent)}\nPaths are relative to the repository root, use "/", and stay inside it: no "..", no absolute paths, nothing under ".git".`,
    ...context(input),
    `# Repository files\n\n${listing || "(none)"}`,
    ...(shown.length > 0 ? [`# File contents\n\n${shown.join("\n\n")}`] : []),
    ...repair(input)
  ].join("\n\n")}\n`
}

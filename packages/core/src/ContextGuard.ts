/**
 * Keeping prompts inside a model's context window. Before every call the prompt is counted (with the
 * run's `TokenCounter`); when it would not fit the window with the output reserve, it is reduced by
 * this rule, and a prompt that cannot be brought under the window fails before anything is sent.
 *
 * **The reduction rule.** A prompt is its preamble (who the agent is, the stage's instructions, the
 * answer's shape) and its sections ({@link sections}). The preamble, the spec (`# Spec …`) and a repair
 * note (`# Your previous answer was rejected`) are kept whole. The other sections (the previous stage's
 * consensus, an aggregator's answers, checks, candidates, the change to audit, repository files) are
 * reduced one step at a time, the largest first, until the prompt fits:
 *
 * 1. a section's diffs to every file's header and first hunk (`Diff.firstHunks`), its other text to its
 *    first paragraph, each cut marked `[… cut to fit the context window: …]`;
 * 2. the section to its title and a marker.
 *
 * Every step is recorded (`reductions`), shown in progress and saved with the call.
 *
 * @since 0.3.0
 */
import { Schema } from "effect"
import * as Diff from "./Diff.ts"

/**
 * What a prompt must fit: the model's context window and the tokens kept for the answer.
 *
 * @example
 * ```ts
 * import type { ContextGuard } from "@speckit/core"
 *
 * const limits: ContextGuard.Limits = { contextWindow: 128_000, outputReserve: 8_192 }
 * ```
 *
 * @since 0.3.0
 */
export interface Limits {
  readonly contextWindow: number
  readonly outputReserve: number
}

/**
 * The output reserve when the agent sets no `maxOutputTokens`: 8,192 tokens, or the model's output
 * limit when that is smaller.
 *
 * @example
 * ```ts
 * import { ContextGuard } from "@speckit/core"
 *
 * ContextGuard.defaultOutputReserve // 8192
 * ```
 *
 * @since 0.3.0
 */
export const defaultOutputReserve = 8_192

/**
 * A prompt that fits, and how it was made to.
 *
 * @since 0.3.0
 */
export interface Fitted {
  readonly prompt: string
  readonly tokens: number
  /** The prompt's size before any reduction. */
  readonly originalTokens: number
  /** What was cut, in order (empty when the prompt fitted as it was). */
  readonly reductions: ReadonlyArray<string>
}

/**
 * A prompt that cannot be brought under the model's window: even with every reducible section cut,
 * the parts kept whole (the instructions, the spec, a repair note) are too large.
 *
 * @since 0.3.0
 */
export class PromptTooLarge extends Schema.TaggedError<PromptTooLarge>()("PromptTooLarge", {
  model: Schema.String,
  contextWindow: Schema.Number,
  outputReserve: Schema.Number,
  /** The prompt's size, as sent it would have been. */
  tokens: Schema.Number,
  /** The smallest the reduction rule could make it. */
  reducedTokens: Schema.Number
}) {
  override get message() {
    return `the prompt (${this.tokens} tokens; ${this.reducedTokens} at the least after reduction) does not fit ${this.model}'s context window of ${this.contextWindow} tokens with ${this.outputReserve} kept for the answer; shorten the spec, or set a larger contextWindow or a smaller maxOutputTokens for the agent if the model allows it`
  }
}

interface Section {
  readonly title: string
  text: string
  /** 0: whole; 1: diffs to first hunks, text to its first paragraph; 2: title only. */
  level: number
  readonly keep: boolean
}

/**
 * The sections speckit's prompts are made of, by the start of their `# ` title: those kept whole, and
 * those the guard may reduce. Any other heading (a spec's own, an embedded artifact's) belongs to the
 * section it is in.
 *
 * @example
 * ```ts
 * import { ContextGuard } from "@speckit/core"
 *
 * ContextGuard.sections.keptWhole.includes("Spec ") // true
 * ```
 *
 * @since 0.3.0
 */
export const sections = {
  keptWhole: ["Spec ", "Your previous answer was rejected"],
  reducible: [
    "Consensus of the ",
    "Answers to synthesize",
    "Checks on the base commit",
    "Candidates",
    "The change to audit",
    "Repository files",
    "File contents"
  ]
} as const

const startsWithAny = (title: string, starts: ReadonlyArray<string>) => starts.some((start) => title.startsWith(start))

/** A prompt's preamble and its sections (see {@link sections}). */
const sectionsOf = (prompt: string): Array<Section> => {
  const parts: Array<Section> = [{ title: "", text: "", level: 0, keep: true }]
  for (const line of prompt.split(/(?<=\n)/)) {
    const title = line.startsWith("# ") ? line.slice(2).trimEnd() : undefined
    if (title !== undefined && startsWithAny(title, [...sections.keptWhole, ...sections.reducible])) {
      parts.push({ title: `# ${title}`, text: "", level: 0, keep: startsWithAny(title, sections.keptWhole) })
    }
    const current = parts[parts.length - 1]
    if (current !== undefined) current.text += line
  }
  return parts
}

const lineCount = (text: string) => text.split("\n").filter((line) => line.trim().length > 0).length

/** Step 1: every ```diff block to its files' first hunks; the text outside them to its first paragraph. */
const glance = (section: Section): string => {
  const parts = section.text.split(/(```diff\n[\s\S]*?\n```)/)
  const body = parts.map((part, index) => {
    if (part.startsWith("```diff\n")) return `\`\`\`diff\n${Diff.firstHunks(part.slice(8, -4))}\`\`\``
    if (index === 0) {
      const [heading = "", ...rest] = part.split("\n")
      const paragraphs = rest
        .join("\n")
        .trim()
        .split(/\n\s*\n/)
      // Its first paragraph, with the headings before it (an embedded artifact's title).
      const kept = paragraphs.findIndex((paragraph) => !paragraph.startsWith("#")) + 1
      const cut = paragraphs.slice(kept === 0 ? paragraphs.length : kept).join("\n\n")
      return cut.trim().length === 0
        ? part
        : `${heading}\n\n${paragraphs.slice(0, kept).join("\n\n")}\n\n[… cut to fit the context window: ${lineCount(cut)} lines]\n\n`
    }
    return part
  })
  return body.join("")
}

/** Step 2: the title and a marker. */
const titleOnly = (section: Section, tokens: number): string =>
  `${section.title}\n\n[… cut to fit the context window: this section (${tokens} tokens)]\n\n`

/**
 * Fits a prompt to a model's window by the reduction rule (see the module), or fails with
 * {@link PromptTooLarge}.
 *
 * @example
 * ```ts
 * import { ContextGuard, TokenCounter } from "@speckit/core"
 *
 * const fitted = ContextGuard.fit("# Spec S\n\nDo it.\n", "gpt-5-mini", { contextWindow: 128_000, outputReserve: 8_192 }, TokenCounter.estimate.count)
 * ```
 *
 * @since 0.3.0
 */
export const fit = (
  prompt: string,
  model: string,
  limits: Limits,
  count: (text: string) => number
): Fitted | PromptTooLarge => {
  const budget = limits.contextWindow - limits.outputReserve
  const originalTokens = count(prompt)
  if (originalTokens <= budget) return { prompt, tokens: originalTokens, originalTokens, reductions: [] }
  const parts = sectionsOf(prompt)
  const sizes = new Map(parts.map((section) => [section, count(section.text)]))
  const reductions: Array<string> = []
  let total = originalTokens
  while (total > budget) {
    const next = parts
      .filter((section) => !section.keep && section.level < 2)
      .sort((a, b) => (sizes.get(b) ?? 0) - (sizes.get(a) ?? 0))[0]
    if (next === undefined) break
    const before = sizes.get(next) ?? 0
    const reduced = next.level === 0 ? glance(next) : titleOnly(next, before)
    next.level++
    if (reduced === next.text) continue
    next.text = reduced
    const after = count(reduced)
    sizes.set(next, after)
    total += after - before
    reductions.push(
      `${next.title.replace(/^# /, "")}: ${next.level === 1 ? "diffs to first hunks, text to its first paragraph" : "cut"} (${before} → ${after} tokens)`
    )
  }
  const reducedPrompt = parts.map((section) => section.text).join("")
  const tokens = count(reducedPrompt)
  return tokens <= budget
    ? { prompt: reducedPrompt, tokens, originalTokens, reductions }
    : new PromptTooLarge({
        model,
        contextWindow: limits.contextWindow,
        outputReserve: limits.outputReserve,
        tokens: originalTokens,
        reducedTokens: tokens
      })
}

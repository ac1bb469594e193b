/**
 * The context guard's reduction rule: the kept sections stay whole, the largest reducible section is
 * reduced first (diffs to first hunks, text to its first paragraph, then to its title), every cut is
 * marked and recorded, and a prompt whose kept parts are too large is refused with the figures.
 */
import { assert, describe, it } from "@effect/vitest"
import { ContextGuard, Diff, TokenCounter } from "@speckit/core"
import * as fc from "fast-check"

const count = TokenCounter.estimate.count

const hunk = (file: string, n: number) =>
  `@@ -${n},3 +${n},4 @@\n context ${file} ${n}\n-old ${n}\n+new ${n}\n+more ${n}\n`
const patchOf = (files: ReadonlyArray<string>, hunks: number) =>
  files
    .map(
      (file) =>
        `diff --git a/${file} b/${file}\nindex 1111111..2222222 100644\n--- a/${file}\n+++ b/${file}\n${Array.from({ length: hunks }, (_, i) => hunk(file, i * 10 + 1)).join("")}`
    )
    .join("")

const promptOf = (parts: { spec: string; previous?: string; diff?: string; note?: string }) =>
  [
    'You are agent "alpha".\nAnswer with one JSON object.',
    `# Spec S-1\n\n${parts.spec}`,
    ...(parts.previous === undefined ? [] : [`# Consensus of the plan stage\n\n${parts.previous}`]),
    ...(parts.diff === undefined
      ? []
      : [`# The change to audit\n\nThe chosen candidate.\n\n\`\`\`diff\n${parts.diff}\`\`\``]),
    ...(parts.note === undefined ? [] : [`# Your previous answer was rejected\n\n${parts.note}`])
  ].join("\n\n")

const spec = "# Greeting\n\nPrint a greeting.\n\n# Candidates\n\nA heading of the spec's own stays in the spec."
const previous = `# Plan: Greeting\n\nThe plan in short.\n\n${"- a long work item with its details\n".repeat(400)}`

describe("ContextGuard.fit", () => {
  it("a prompt that fits is returned as it is", () => {
    const prompt = promptOf({ spec })
    const fitted = ContextGuard.fit(prompt, "m", { contextWindow: 10_000, outputReserve: 1_000 }, count)
    assert.isFalse(fitted instanceof ContextGuard.PromptTooLarge)
    if (!(fitted instanceof ContextGuard.PromptTooLarge)) {
      assert.strictEqual(fitted.prompt, prompt)
      assert.deepStrictEqual(fitted.reductions, [])
    }
  })

  it("reduces the largest reducible section first, keeps the spec and the note whole, marks the cut", () => {
    const diff = patchOf(["src/a.ts", "src/b.ts"], 3)
    const prompt = promptOf({ spec, previous, diff, note: "the verdict was missing" })
    const limits = { contextWindow: 1_400, outputReserve: 500 }
    const fitted = ContextGuard.fit(prompt, "m", limits, count)
    assert.isFalse(fitted instanceof ContextGuard.PromptTooLarge, String(fitted))
    if (fitted instanceof ContextGuard.PromptTooLarge) return
    assert.isAtMost(fitted.tokens, limits.contextWindow - limits.outputReserve)
    assert.strictEqual(fitted.originalTokens, count(prompt))
    assert.include(fitted.prompt, `# Spec S-1\n\n${spec}`, "the spec, its own headings included, is whole")
    assert.include(fitted.prompt, "# Your previous answer was rejected\n\nthe verdict was missing")
    assert.include(fitted.prompt, "The plan in short.", "the previous stage keeps its first paragraph")
    assert.include(fitted.prompt, "[… cut to fit the context window")
    assert.match(
      fitted.reductions[0] ?? "",
      /^Consensus of the plan stage: diffs to first hunks, text to its first paragraph/
    )
  })

  it("diffs go to every file's header and first hunk, with the marker of Diff.trim", () => {
    const diff = patchOf(["src/a.ts", "src/b.ts", "src/c.ts"], 40)
    const prompt = promptOf({ spec: "Short spec.", diff })
    const fitted = ContextGuard.fit(prompt, "m", { contextWindow: 1_000, outputReserve: 200 }, count)
    assert.isFalse(fitted instanceof ContextGuard.PromptTooLarge)
    if (fitted instanceof ContextGuard.PromptTooLarge) return
    for (const file of ["src/a.ts", "src/b.ts", "src/c.ts"])
      assert.include(fitted.prompt, `diff --git a/${file} b/${file}`)
    assert.include(fitted.prompt, "[… 39 of 40 hunks")
    assert.include(Diff.firstHunks(diff), "[… 39 of 40 hunks")
  })

  it("a section that is still too large goes to its title", () => {
    const prompt = promptOf({ spec: "Short spec.", previous: `${"x".repeat(8_000)}\n` })
    const fitted = ContextGuard.fit(prompt, "m", { contextWindow: 600, outputReserve: 200 }, count)
    assert.isFalse(fitted instanceof ContextGuard.PromptTooLarge)
    if (fitted instanceof ContextGuard.PromptTooLarge) return
    assert.include(fitted.prompt, "# Consensus of the plan stage\n\n[… cut to fit the context window: this section")
    assert.match(fitted.reductions.at(-1) ?? "", /Consensus of the plan stage: cut/)
  })

  it("kept parts over the window: PromptTooLarge with the model, the window and the sizes", () => {
    const prompt = promptOf({ spec: "word ".repeat(2_000), previous })
    const fitted = ContextGuard.fit(prompt, "gpt-test", { contextWindow: 1_000, outputReserve: 200 }, count)
    assert.isTrue(fitted instanceof ContextGuard.PromptTooLarge)
    if (!(fitted instanceof ContextGuard.PromptTooLarge)) return
    assert.strictEqual(fitted.model, "gpt-test")
    assert.strictEqual(fitted.contextWindow, 1_000)
    assert.strictEqual(fitted.tokens, count(prompt))
    assert.isAbove(fitted.reducedTokens, 800)
    assert.include(fitted.message, "does not fit gpt-test's context window of 1000 tokens")
  })

  it("property: a fitted prompt is under the budget and holds the spec whole", () =>
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 400 }),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 300, max: 5_000 }),
        (specText, previousLines, hunks, contextWindow) => {
          const prompt = promptOf({
            spec: specText,
            previous: "- item\n".repeat(previousLines),
            diff: patchOf(["src/x.ts"], hunks)
          })
          const limits = { contextWindow, outputReserve: 100 }
          const fitted = ContextGuard.fit(prompt, "m", limits, count)
          if (fitted instanceof ContextGuard.PromptTooLarge) return fitted.reducedTokens > contextWindow - 100
          return fitted.tokens <= contextWindow - 100 && fitted.prompt.includes(`# Spec S-1\n\n${specText}`)
        }
      )
    ))
})

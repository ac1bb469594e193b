/**
 * The context guard end to end, against an OpenAI-compatible server on 127.0.0.1: a prompt built to
 * exceed a small configured window is reduced by the documented rule and sent (the server sees it,
 * under the window, the spec whole); one that cannot be brought under the window fails before any
 * request is made.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { RunStore } from "@speckit/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Tokens } from "@speckit/telemetry"
import { ensureBuilt, freePrice, makeWorkspace, removeTempDirs, runCli, startChatServer } from "./helpers.ts"

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => removeTempDirs())

/** A plan of many long work items: what makes the next stages' "previous stage" section large. */
const bigPlan = {
  work_breakdown: Array.from({ length: 120 }, (_, i) => ({
    id: `W${i + 1}`,
    title: `Work item ${i + 1} of the greeting feature`,
    detail: `Implement part ${i + 1} of the greeting with care, covering its edge cases, its errors and its tests in full detail.`
  })),
  acceptance_mapping: [{ criterion: "It greets", covered_by: ["W1"], check: "run the tests" }]
}

const answerOf = (stage: string) =>
  stage === "plan"
    ? bigPlan
    : stage === "tasks"
      ? { tasks: [{ id: "T1", title: "Greet", depends_on: [], done_when: "it greets" }] }
      : stage === "implement"
        ? { changes: [{ path: "src/greet.ts", action: "create", description: "the greeting" }] }
        : stage === "validate"
          ? { test_strategy: ["unit tests"], verdict: "pass" }
          : stage === "audit"
            ? { findings: [], verdict: "pass" }
            : { decision: "unlock" }

/** The answer of the server's model to a prompt: the stage's result. */
const replyTo = (prompt: string) => {
  const stage = /Stage \d of 6: (\w+)/.exec(prompt)?.[1] ?? "plan"
  return { stage, summary: `gpt on ${stage}`, ...answerOf(stage) }
}

const gpt = (baseUrl: string, contextWindow: number) => ({
  provider: "openai",
  baseUrl,
  model: "gpt-test",
  stream: false,
  price: freePrice,
  contextWindow,
  maxOutputTokens: 500
})

describe("context guard", () => {
  it("a prompt over the window is reduced by the rule and sent under it, the spec whole", async () => {
    const { baseUrl, prompts, close } = await startChatServer(replyTo)
    try {
      const spec = "# Greeting\n\nPrint a friendly greeting.\n\n## Acceptance criteria\n\n- It greets by name\n"
      const dir = makeWorkspace({
        spec,
        config: { agents: { gpt: gpt(baseUrl, 3_000) }, defaults: { agents: ["gpt"], quorum: "all" } }
      })
      const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"], { timeoutMs: 60_000 })
      assert.strictEqual(result.code, 0, result.stderr)
      const tasksPrompt = prompts.find((prompt) => prompt.includes("Stage 2 of 6: tasks"))
      assert.isDefined(tasksPrompt)
      const sent = tasksPrompt ?? ""
      assert.isAtMost(Tokens.count(sent), 3_000 - 500, "under the window, with the output reserve")
      assert.include(sent, spec.trim(), "the spec is whole")
      assert.include(sent, "[… cut to fit the context window")
      assert.match(result.stderr, /gpt: prompt reduced \d+ -> \d+ tokens to fit the 3000-token window/)
      const summary = JSON.parse(result.stdout) as { readonly runDir: string }
      const answer = (
        RunStore.parseJsonLines(
          fs.readFileSync(path.join(dir, summary.runDir, "answers", "tasks.jsonl"), "utf8")
        ) as Array<{
          readonly agent: string
          readonly attempt: number
          readonly reduced?: {
            readonly fromTokens: number
            readonly toTokens: number
            readonly reductions: ReadonlyArray<string>
          }
        }>
      ).find((saved) => saved.agent === "gpt" && saved.attempt === 1)
      assert.isAbove(answer?.reduced?.fromTokens ?? 0, 2_500)
      assert.isAtMost(answer?.reduced?.toTokens ?? Number.POSITIVE_INFINITY, 2_500)
      assert.include(answer?.reduced?.reductions[0] ?? "", "Consensus of the plan stage")
    } finally {
      close()
    }
  }, 90_000)

  it("a prompt that cannot be brought under the window fails before any request", async () => {
    const { baseUrl, prompts, close } = await startChatServer(replyTo)
    try {
      const spec = `# Greeting\n\n${"Print a friendly greeting, in every language the user may speak. ".repeat(200)}\n`
      const dir = makeWorkspace({
        spec,
        config: { agents: { gpt: gpt(baseUrl, 1_500) }, defaults: { agents: ["gpt"], quorum: "all" } }
      })
      const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"], { timeoutMs: 60_000 })
      assert.strictEqual(result.code, 1, result.stderr)
      assert.lengthOf(prompts, 0, "nothing was sent")
      const summary = JSON.parse(result.stdout) as {
        readonly stages: ReadonlyArray<{
          readonly agents: ReadonlyArray<{
            readonly attempts: number
            readonly error?: { readonly kind: string; readonly detail: string }
          }>
        }>
      }
      const error = summary.stages[0]?.agents[0]?.error
      assert.strictEqual(error?.kind, "ContextTooLarge")
      assert.match(
        error?.detail ?? "",
        /does not fit gpt-test's context window of 1500 tokens with 500 kept for the answer/
      )
      assert.strictEqual(summary.stages[0]?.agents[0]?.attempts, 1, "not retried")
    } finally {
      close()
    }
  }, 90_000)
})

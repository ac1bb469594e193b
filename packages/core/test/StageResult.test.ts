import { assert, describe, it } from "@effect/vitest"
import { AgentId, StageResult } from "@speckit/core"
import { Effect, Exit } from "effect"

const alpha = AgentId.make("alpha")

const valid = {
  plan: {
    stage: "plan",
    summary: "Two steps.",
    work_breakdown: [{ id: "W1", title: "Token store", detail: "hash tokens" }],
    acceptance_mapping: [{ criterion: "Links expire", covered_by: ["W1"], check: "clock test" }]
  },
  tasks: { stage: "tasks", summary: "s", tasks: [{ id: "T1", title: "t", depends_on: [], done_when: "tests pass" }] },
  implement: { stage: "implement", summary: "s", changes: [{ path: "src/a.ts", action: "create", description: "d" }] },
  validate: { stage: "validate", summary: "s", test_strategy: ["unit"], verdict: "pass" },
  audit: { stage: "audit", summary: "s", findings: [], verdict: "fail" },
  unlock: { stage: "unlock", summary: "s", decision: "hold" }
} as const

const parse = (stage: keyof typeof valid, value: unknown) =>
  StageResult.parse(stage, alpha, typeof value === "string" ? value : JSON.stringify(value))

describe("StageResult", () => {
  it.effect("accepts a valid result for every stage, filling in the agent", () =>
    Effect.gen(function* () {
      for (const [stage, value] of Object.entries(valid)) {
        const result = yield* parse(stage as keyof typeof valid, value)
        assert.strictEqual(result.stage, stage)
        assert.strictEqual(result.agent, "alpha")
      }
    })
  )

  it.effect("reads JSON inside a fenced block or surrounding prose", () =>
    Effect.gen(function* () {
      const text = `Sure, here it is:\n\`\`\`json\n${JSON.stringify(valid.unlock)}\n\`\`\`\nDone.`
      const result = yield* parse("unlock", text)
      assert.strictEqual(StageResult.voteOf(result), "hold")
    })
  )

  const rejected: ReadonlyArray<[string, keyof typeof valid, unknown, string]> = [
    ["not JSON", "plan", "I think we should start with the database.", "no JSON"],
    ["a JSON array", "plan", "[1,2]", "not a JSON object"],
    ["the wrong stage", "tasks", valid.plan, `"stage": "tasks"`],
    ["another agent's name", "unlock", { ...valid.unlock, agent: "beta" }, `"agent": "alpha"`],
    ["a missing field", "validate", { stage: "validate", summary: "s", verdict: "pass" }, "test_strategy"],
    ["an empty work breakdown", "plan", { ...valid.plan, work_breakdown: [] }, "work_breakdown"],
    ["an unknown verdict", "audit", { ...valid.audit, verdict: "maybe" }, "verdict"],
    ["an empty summary", "unlock", { ...valid.unlock, summary: "" }, "summary"]
  ]
  for (const [name, stage, value, mention] of rejected) {
    it.effect(`rejects ${name} as MalformedResult`, () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(parse(stage, value))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(parse(stage, value))
        assert.strictEqual(error._tag, "MalformedResult")
        assert.include(error.message, mention)
      })
    )
  }

  it("renders every stage as Markdown with its fields", () => {
    const md = StageResult.toMarkdown({
      ...valid.plan,
      agent: alpha,
      work_breakdown: [...valid.plan.work_breakdown],
      acceptance_mapping: []
    })
    assert.include(md, "## Work breakdown")
    assert.include(md, "**W1** Token store")
    assert.include(StageResult.toMarkdown({ ...valid.audit, agent: alpha, findings: [] }), "**fail**")
  })
})

/**
 * Syntheses: the `ResultMerge.Synthesis` schema and its parser, the aggregator's prompt, the
 * deterministic synthesis and the simulated agent acting as an aggregator.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Agent, AgentId, Prompt, RunId, ResultMerge, SimAgent, Spec, StageResult } from "@speckit/core"
import { Effect, Result, Schema } from "effect"

const alpha = AgentId.make("alpha")

const spec: Spec.Spec = {
  id: Schema.decodeUnknownSync(Spec.SpecId)("SPEC-1"),
  title: "Login",
  text: "# Login\n\n## Requirements\n\n- Users sign in with email\n- Lock after 5 failures\n",
  directory: "specs/SPEC-1"
}

const implement = (agent: string, action: "create" | "delete", extra = false): StageResult.StageResult => ({
  stage: "implement",
  agent: AgentId.make(agent),
  summary: `${agent}'s change`,
  changes: [
    { path: "src/a.ts", action, description: "the module" },
    ...(extra ? [{ path: "src/extra.ts", action: "create" as const, description: "more" }] : [])
  ]
})

const synthesisText = (fields: Record<string, unknown>) =>
  JSON.stringify({
    stage: "implement",
    summary: "merged",
    changes: [{ path: "src/a.ts", action: "create", description: "the module" }],
    agreements: ["both create src/a.ts"],
    conflicts: [],
    ...fields
  })

describe("ResultMerge.parseSynthesis", () => {
  it.effect("accepts a stage result with agreements and conflicts, filling in the agent", () =>
    Effect.gen(function* () {
      const synthesis = yield* ResultMerge.parseSynthesis("implement", alpha, synthesisText({}))
      assert.strictEqual(synthesis.agent, "alpha")
      assert.deepStrictEqual(synthesis.agreements, ["both create src/a.ts"])
      assert.deepStrictEqual(ResultMerge.resultOf(synthesis), {
        stage: "implement",
        agent: alpha,
        summary: "merged",
        changes: [{ path: "src/a.ts", action: "create", description: "the module" }]
      })
    })
  )

  it.effect("rejects a plain stage result, another stage, another agent and verdict stages", () =>
    Effect.gen(function* () {
      const reasons = yield* Effect.forEach(
        [
          ResultMerge.parseSynthesis(
            "implement",
            alpha,
            synthesisText({ agreements: undefined, conflicts: undefined })
          ),
          ResultMerge.parseSynthesis("plan", alpha, synthesisText({})),
          ResultMerge.parseSynthesis("implement", alpha, synthesisText({ agent: "beta" })),
          ResultMerge.parseSynthesis("validate", alpha, synthesisText({ stage: "validate" })),
          ResultMerge.parseSynthesis("implement", alpha, "no JSON here")
        ],
        (parsed) => Effect.map(Effect.flip(parsed), (error) => error.reason)
      )
      assert.include(reasons[0] ?? "", "agreements")
      assert.include(reasons[1] ?? "", 'expected "stage": "plan"')
      assert.include(reasons[2] ?? "", 'expected "agent": "alpha"')
      assert.include(reasons[3] ?? "", "takes no synthesis")
      assert.include(reasons[4] ?? "", "no JSON object")
    })
  )
})

describe("ResultMerge.synthesize", () => {
  it("merges the answers, lists shared items as agreements and disagreements as conflicts", () => {
    const agreeing = ResultMerge.synthesize([implement("b", "create", true), implement("a", "create")], alpha)
    assert.strictEqual(agreeing?.agent, "alpha")
    assert.deepStrictEqual(agreeing?.stage === "implement" ? agreeing.changes.map((c) => c.path) : [], [
      "src/a.ts",
      "src/extra.ts"
    ])
    assert.deepStrictEqual(agreeing?.agreements, ["all 2 answer(s) include a change to src/a.ts"])
    assert.deepStrictEqual(agreeing?.conflicts, [])
    const disagreeing = ResultMerge.synthesize([implement("a", "create"), implement("b", "delete")], alpha)
    assert.deepStrictEqual(disagreeing?.conflicts, ["src/a.ts: a: create vs b: delete"])
    assert.isUndefined(ResultMerge.synthesize([], alpha))
  })

  it("is a valid Synthesis", () => {
    const synthesis = ResultMerge.synthesize([implement("a", "create")], alpha)
    assert.isTrue(Result.isSuccess(Schema.decodeUnknownResult(ResultMerge.Synthesis)(synthesis)))
  })
})

describe("Prompt.synthesis", () => {
  it("holds the stage's instructions, every answer as JSON and the synthesis shape", () => {
    const answers = [implement("a", "create"), implement("b", "delete")]
    const prompt = Prompt.synthesis({ stage: "implement", agent: alpha, spec, previous: "", answers })
    assert.include(prompt, 'You are agent "alpha", the aggregator')
    assert.include(prompt, "Describe the code changes")
    assert.include(prompt, "# Answers to synthesize")
    assert.include(prompt, JSON.stringify(answers, null, 2))
    assert.include(prompt, Prompt.synthesisShapeOf("implement"))
    assert.include(Prompt.synthesisShapeOf("implement"), '"agreements":[')
    assert.notInclude(prompt, "previous answer was rejected")
    assert.include(
      Prompt.synthesis({
        stage: "implement",
        agent: alpha,
        spec,
        previous: "",
        answers,
        repairNote: "missing conflicts"
      }),
      "# Your previous answer was rejected\n\nmissing conflicts"
    )
  })
})

describe("SimAgent as an aggregator", () => {
  it.effect("answers a synthesis request with the deterministic synthesis of the given answers", () =>
    Effect.gen(function* () {
      const answers = [implement("a", "create"), implement("b", "delete")]
      const request: Agent.AgentRequest = {
        runId: Schema.decodeUnknownSync(RunId.RunId)("run-1"),
        stage: "implement",
        agent: alpha,
        attempt: 1,
        prompt: Prompt.synthesis({ stage: "implement", agent: alpha, spec, previous: "", answers }),
        spec,
        previous: "",
        idempotencyKey: "run-1/implement/alpha/1",
        synthesisOf: answers
      }
      const response = yield* SimAgent.make({ id: alpha, latencyMs: 0 }).call(request)
      const synthesis = yield* ResultMerge.parseSynthesis("implement", alpha, response.text)
      assert.deepStrictEqual(synthesis, ResultMerge.synthesize(answers, alpha))
      assert.deepStrictEqual(synthesis.conflicts, ["src/a.ts: a: create vs b: delete"])
      // Without synthesisOf, the same agent answers the stage itself.
      const plain = yield* SimAgent.make({ id: alpha, latencyMs: 0 }).call({ ...request, synthesisOf: undefined })
      const parsed = yield* StageResult.parse("implement", alpha, plain.text)
      assert.strictEqual(parsed.summary.startsWith("Implement Login"), true)
    })
  )
})

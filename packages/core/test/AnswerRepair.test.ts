/**
 * Tolerant reading: a table of near-miss answers (each stage, each preset's wrapping) with what the
 * reading makes of them (repaired, and how; or `Malformed`, and with which note), and two properties:
 * a valid answer is never changed, and no repair turns a failing verdict into a passing one.
 */
import { assert, describe, it } from "@effect/vitest"
import { AgentId, AnswerRepair, type Stage, StageResult } from "@speckit/core"
import { Effect, Result } from "effect"
import * as fc from "fast-check"

const alpha = AgentId.make("alpha")

interface Row {
  readonly name: string
  readonly stage: Stage.Stage
  readonly text: string
  /** Repaired: the repairs applied (substrings, in order) and a check of the result. */
  readonly repairs?: ReadonlyArray<string>
  readonly expect?: (result: StageResult.StageResult) => boolean
  /** Still Malformed: a substring of its note. */
  readonly malformed?: string
}

const plan = (extra: string) =>
  `{"stage":"plan","agent":"alpha","summary":"s","work_breakdown":[{"id":"W1","title":"t","detail":""}],"acceptance_mapping":[]${extra}}`
const validate = (verdict: string, extra = "") =>
  `{"stage":"validate","agent":"alpha","summary":"s","test_strategy":["unit"],"verdict":${verdict}${extra}}`
const audit = (verdict: string, findings = "[]") =>
  `{"stage":"audit","agent":"alpha","summary":"s","findings":${findings},"verdict":${verdict}}`
const unlock = (decision: string) => `{"stage":"unlock","agent":"alpha","summary":"s","decision":${decision}}`
const is =
  <S extends Stage.Stage>(stage: S, check: (r: StageResult.StageResultOf<S>) => boolean) =>
  (r: StageResult.StageResult) =>
    r.stage === stage && check(r as StageResult.StageResultOf<S>)

const rows: ReadonlyArray<Row> = [
  // wrapping: prose, fences, presets' text around the object
  {
    name: "prose before and after",
    stage: "unlock",
    text: `Here it is:\n${unlock('"unlock"')}\nThanks!`,
    repairs: ["prose"]
  },
  { name: "a json fence", stage: "unlock", text: `\`\`\`json\n${unlock('"hold"')}\n\`\`\``, repairs: ["fenced"] },
  { name: "a bare fence", stage: "unlock", text: `\`\`\`\n${unlock('"hold"')}\n\`\`\``, repairs: ["fenced"] },
  {
    name: "claude: prose and a fence",
    stage: "unlock",
    text: `I reviewed it.\n\n\`\`\`json\n${unlock('"unlock"')}\n\`\`\`\n`,
    repairs: ["fenced"]
  },
  { name: "codex: a trailing newline only", stage: "unlock", text: `${unlock('"unlock"')}\n`, repairs: [] },
  { name: "gemini: leading whitespace", stage: "unlock", text: `\n\n  ${unlock('"unlock"')}`, repairs: [] },
  // syntax
  { name: "a trailing comma", stage: "unlock", text: unlock('"hold",'), repairs: ["syntax"] },
  {
    name: "a comment",
    stage: "unlock",
    text: `{"stage":"unlock", // the stage\n"agent":"alpha","summary":"s","decision":"hold"}`,
    repairs: ["syntax"]
  },
  {
    name: "unquoted keys",
    stage: "unlock",
    text: `{stage:"unlock",agent:"alpha",summary:"s",decision:"hold"}`,
    repairs: ["syntax"]
  },
  {
    name: "single quotes",
    stage: "unlock",
    text: `{'stage':'unlock','agent':'alpha','summary':'s','decision':'hold'}`,
    repairs: ["syntax"]
  },
  {
    name: "a cut-off end",
    stage: "validate",
    text: `{"stage":"validate","agent":"alpha","summary":"s","verdict":"fail","test_strategy":["unit", "e2e`,
    repairs: ["syntax"],
    expect: is("validate", (r) => r.verdict === "fail")
  },
  {
    name: "prose, then a cut-off object",
    stage: "unlock",
    text: `Answer: {"stage":"unlock","agent":"alpha","summary":"s","decision":"hold"`,
    repairs: ["prose", "syntax"]
  },
  {
    name: "a trailing comma in a fence",
    stage: "unlock",
    text: `\`\`\`json\n{"stage":"unlock","agent":"alpha","summary":"s","decision":"hold",}\n\`\`\``,
    repairs: ["fenced", "syntax"]
  },
  // fills
  {
    name: "no stage",
    stage: "unlock",
    text: `{"agent":"alpha","summary":"s","decision":"hold"}`,
    repairs: ['filled "stage"']
  },
  {
    name: "no agent",
    stage: "unlock",
    text: `{"stage":"unlock","summary":"s","decision":"hold"}`,
    repairs: ['filled "agent"']
  },
  {
    name: "neither",
    stage: "unlock",
    text: `{"summary":"s","decision":"hold"}`,
    repairs: ['filled "agent"', 'filled "stage"']
  },
  // decisions and verdicts
  {
    name: "approve",
    stage: "unlock",
    text: unlock('"approve"'),
    repairs: ['"approve" read as "unlock"'],
    expect: is("unlock", (r) => r.decision === "unlock")
  },
  { name: "yes", stage: "unlock", text: unlock('"yes"'), repairs: ['"yes" read as "unlock"'] },
  { name: "Unlock (case)", stage: "unlock", text: unlock('"Unlock"'), repairs: ['read as "unlock"'] },
  {
    name: "no",
    stage: "unlock",
    text: unlock('"no"'),
    repairs: ['read as "hold"'],
    expect: is("unlock", (r) => r.decision === "hold")
  },
  { name: "blocked", stage: "unlock", text: unlock('"blocked"'), repairs: ['read as "hold"'] },
  {
    name: "passed",
    stage: "validate",
    text: validate('"passed"'),
    repairs: ['"passed" read as "pass"'],
    expect: is("validate", (r) => r.verdict === "pass")
  },
  { name: "PASS", stage: "validate", text: validate('"PASS"'), repairs: ['read as "pass"'] },
  {
    name: "failed",
    stage: "validate",
    text: validate('"failed"'),
    repairs: ['read as "fail"'],
    expect: is("validate", (r) => r.verdict === "fail")
  },
  { name: "audit: Fail", stage: "audit", text: audit('"Fail"'), repairs: ['read as "fail"'] },
  {
    name: "a candidate's verdict",
    stage: "validate",
    text: validate('"pass"', ',"candidates":[{"id":"C1","verdict":"OK"}]'),
    repairs: ['candidates[0].verdict "OK" read as "pass"']
  },
  // shapes
  {
    name: "test_strategy as a string",
    stage: "validate",
    text: `{"stage":"validate","agent":"alpha","summary":"s","test_strategy":"unit tests","verdict":"pass"}`,
    repairs: ['"test_strategy" given as a string'],
    expect: is("validate", (r) => r.test_strategy[0] === "unit tests")
  },
  {
    name: "ranking as a string",
    stage: "validate",
    text: validate('"pass"', ',"ranking":"C1"'),
    repairs: ['"ranking" given as a string']
  },
  {
    name: "summary as a list",
    stage: "unlock",
    text: `{"stage":"unlock","agent":"alpha","summary":["a","b"],"decision":"hold"}`,
    repairs: ['"summary" given as a list'],
    expect: is("unlock", (r) => r.summary === "a\nb")
  },
  {
    name: "work items as strings",
    stage: "plan",
    text: `{"stage":"plan","agent":"alpha","summary":"s","work_breakdown":["Parse","Render"],"acceptance_mapping":[]}`,
    repairs: ["work_breakdown[0] given as a string", "work_breakdown[1]"],
    expect: is("plan", (r) => r.work_breakdown[1]?.title === "Render" && r.work_breakdown[1]?.id === "W2")
  },
  {
    name: "one work item as a string",
    stage: "plan",
    text: `{"stage":"plan","agent":"alpha","summary":"s","work_breakdown":"Everything","acceptance_mapping":[]}`,
    repairs: ['"work_breakdown" given as a string', "work_breakdown[0]"]
  },
  {
    name: "covered_by as a string",
    stage: "plan",
    text: plan("").replace(
      '"acceptance_mapping":[]',
      '"acceptance_mapping":[{"criterion":"c","covered_by":"W1","check":"k"}]'
    ),
    repairs: ["acceptance_mapping[0].covered_by"]
  },
  {
    name: "tasks as strings",
    stage: "tasks",
    text: `{"stage":"tasks","agent":"alpha","summary":"s","tasks":["Write it","Test it"]}`,
    repairs: ["tasks[0] given as a string", "tasks[1] given as a string"],
    expect: is("tasks", (r) => r.tasks[0].title === "Write it" && r.tasks[0].depends_on.length === 0)
  },
  {
    name: "depends_on as a string",
    stage: "tasks",
    text: `{"stage":"tasks","agent":"alpha","summary":"s","tasks":[{"id":"T1","title":"t","depends_on":"T0","done_when":"d"}]}`,
    repairs: ["tasks[0].depends_on"]
  },
  {
    name: "findings as strings",
    stage: "audit",
    text: audit('"pass"', '["Logs the token"]'),
    repairs: ["findings[0] given as a string"],
    expect: is("audit", (r) => r.findings[0]?.severity === "medium")
  },
  {
    name: "a severity in capitals",
    stage: "audit",
    text: audit('"fail"', '[{"severity":"High","title":"t","detail":""}]'),
    repairs: ['findings[0].severity "High" read as "high"']
  },
  {
    name: "an action in capitals",
    stage: "implement",
    text: `{"stage":"implement","agent":"alpha","summary":"s","changes":[{"path":"a.ts","action":"Modify","description":"d"}]}`,
    repairs: ['"Modify" read as "modify"']
  },
  // valid answers: untouched
  { name: "a valid plan", stage: "plan", text: plan(""), repairs: [] },
  { name: "a valid validate", stage: "validate", text: validate('"fail"'), repairs: [] },
  // still malformed, with the field named
  { name: "maybe", stage: "validate", text: validate('"maybe"'), malformed: "verdict" },
  { name: "a decision of 42", stage: "unlock", text: unlock("42"), malformed: "decision" },
  {
    name: "changes as a string (no path)",
    stage: "implement",
    text: `{"stage":"implement","agent":"alpha","summary":"s","changes":"rewrite it"}`,
    malformed: "changes"
  },
  { name: "another stage", stage: "plan", text: unlock('"hold"'), malformed: 'expected "stage": "plan"' },
  {
    name: "another agent",
    stage: "unlock",
    text: unlock('"hold"').replace('"alpha"', '"beta"'),
    malformed: 'expected "agent": "alpha"'
  },
  { name: "no JSON at all", stage: "unlock", text: "I could not do it.", malformed: "no JSON object" },
  { name: "a JSON list", stage: "unlock", text: "[1, 2]", malformed: "JSON object" },
  {
    name: "an empty work breakdown",
    stage: "plan",
    text: `{"stage":"plan","agent":"alpha","summary":"s","work_breakdown":[],"acceptance_mapping":[]}`,
    malformed: "work_breakdown"
  }
]

const read = (stage: Stage.Stage, text: string, strict = false) => {
  const applied: Array<string> = []
  return StageResult.parse(stage, alpha, text).pipe(
    Effect.provideService(AnswerRepair.Applied, applied),
    Effect.provideService(AnswerRepair.Strict, strict),
    Effect.result,
    Effect.map((result) => ({ result, applied }))
  )
}

describe("AnswerRepair: near-miss answers", () => {
  it("has at least 40 rows", () => assert.isAtLeast(rows.length, 40))

  for (const row of rows) {
    it.effect(`${row.malformed === undefined ? "repairs" : "rejects"}: ${row.name}`, () =>
      Effect.gen(function* () {
        const { result, applied } = yield* read(row.stage, row.text)
        if (row.malformed !== undefined) {
          assert.isTrue(Result.isFailure(result), `expected Malformed, got ${JSON.stringify(result)}`)
          if (Result.isFailure(result)) assert.include(result.failure.reason, row.malformed)
          return
        }
        assert.isTrue(Result.isSuccess(result), Result.isFailure(result) ? result.failure.reason : "")
        const expected = row.repairs ?? []
        assert.strictEqual(applied.length, expected.length, `repairs: ${JSON.stringify(applied)}`)
        for (const [i, part] of expected.entries()) assert.include(applied[i], part)
        if (row.expect && Result.isSuccess(result)) assert.isTrue(row.expect(result.success), JSON.stringify(result))
      })
    )
  }

  it.effect("StageResult.read gives what parse gives, without an effect: the same result, repairs and rejections", () =>
    Effect.gen(function* () {
      for (const row of rows) {
        for (const strict of [false, true]) {
          const { result, applied } = yield* read(row.stage, row.text, strict)
          const sync = StageResult.read(row.stage, alpha, row.text, strict)
          if (Result.isFailure(result)) {
            assert.isTrue(Result.isFailure(sync), row.name)
            if (Result.isFailure(sync)) assert.strictEqual(sync.failure.reason, result.failure.reason, row.name)
            continue
          }
          assert.isTrue(Result.isSuccess(sync), row.name)
          if (Result.isSuccess(sync)) {
            assert.deepStrictEqual(sync.success.value, result.success, row.name)
            assert.deepStrictEqual(sync.success.repairs, applied, row.name)
          }
        }
      }
    })
  )

  it.effect("strict: only the extraction (and the agent fill); coercions and syntax repairs are Malformed", () =>
    Effect.gen(function* () {
      const extracted = yield* read("unlock", `Here:\n${unlock('"hold"')}`, true)
      assert.isTrue(Result.isSuccess(extracted.result))
      for (const text of [
        unlock('"approve"'),
        unlock('"hold",'),
        `{"agent":"alpha","summary":"s","decision":"hold"}`
      ]) {
        const { result } = yield* read("unlock", text, true)
        assert.isTrue(Result.isFailure(result), text)
      }
    })
  )
})

// -------------------------------------------------------------------------------------------------
// properties
// -------------------------------------------------------------------------------------------------

const text = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim().length > 0)
type Task = StageResult.StageResultOf<"tasks">["tasks"][number]
const task: fc.Arbitrary<Task> = fc.record({
  id: text,
  title: text,
  depends_on: fc.array(fc.string(), { maxLength: 2 }),
  done_when: text
})
const validAnswers: fc.Arbitrary<StageResult.StageResult> = fc.oneof(
  fc.record({
    stage: fc.constant("validate" as const),
    agent: fc.constant(alpha),
    summary: text,
    test_strategy: fc.array(text, { minLength: 1, maxLength: 3 }) as fc.Arbitrary<[string, ...Array<string>]>,
    verdict: fc.constantFrom("pass" as const, "fail" as const)
  }),
  fc.record({
    stage: fc.constant("audit" as const),
    agent: fc.constant(alpha),
    summary: text,
    findings: fc.array(
      fc.record({
        severity: fc.constantFrom(
          "info" as const,
          "low" as const,
          "medium" as const,
          "high" as const,
          "critical" as const
        ),
        title: text,
        detail: fc.string()
      }),
      { maxLength: 3 }
    ),
    verdict: fc.constantFrom("pass" as const, "fail" as const)
  }),
  fc.record({
    stage: fc.constant("unlock" as const),
    agent: fc.constant(alpha),
    summary: text,
    decision: fc.constantFrom("unlock" as const, "hold" as const)
  }),
  fc.record({
    stage: fc.constant("tasks" as const),
    agent: fc.constant(alpha),
    summary: text,
    tasks: fc
      .tuple(task, fc.array(task, { maxLength: 2 }))
      .map(([first, rest]): readonly [Task, ...Array<Task>] => [first, ...rest])
  })
)

describe("AnswerRepair: properties", () => {
  it("a valid answer is never changed by the repairs", () =>
    fc.assert(
      fc.property(validAnswers, (answer) => {
        const { result, applied } = Effect.runSync(read(answer.stage, JSON.stringify(answer)))
        return (
          Result.isSuccess(result) && applied.length === 0 && JSON.stringify(result.success) === JSON.stringify(answer)
        )
      })
    ))

  it("no repair turns a failing verdict into a passing one", () =>
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom(...[...AnswerRepair.verdictSynonyms.keys()]),
          fc.string({ maxLength: 10 }),
          fc.constantFrom("FAIL", " fail ", "Failed", "not pass", "pass?", "FAILED")
        ),
        fc.constantFrom("validate" as const, "audit" as const),
        (word, stage) => {
          const meansFail = AnswerRepair.verdictSynonyms.get(word.trim().toLowerCase()) === "fail"
          const answer = stage === "validate" ? validate(JSON.stringify(word)) : audit(JSON.stringify(word))
          const { result } = Effect.runSync(read(stage, answer))
          if (!Result.isSuccess(result) || (result.success.stage !== "validate" && result.success.stage !== "audit")) {
            return true
          }
          const verdict = result.success.verdict
          // A pass comes only from a word that means pass; a word that means fail always reads as fail.
          return meansFail
            ? verdict === "fail"
            : verdict === "fail" || AnswerRepair.verdictSynonyms.get(word.trim().toLowerCase()) === "pass"
        }
      )
    ))
})

import { assert, describe, it } from "@effect/vitest"
import { AgentId, Stage } from "@speckit/core"
import { FaultSpec } from "@speckit/faults"
import { Result } from "effect"
import fc from "fast-check"

const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/)

const count: fc.Arbitrary<FaultSpec.Count> = fc.oneof(
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map(FaultSpec.times),
  fc.integer({ min: 1, max: 20 }).map(FaultSpec.times),
  fc.double({ min: 0, max: 100, noNaN: true }).map((p) => FaultSpec.percent(Math.abs(p))),
  fc.integer({ min: 0, max: 10_000 }).map((n) => FaultSpec.percent(n / 100)),
  fc.constant(FaultSpec.always)
)

const entry: fc.Arbitrary<FaultSpec.FaultEntry> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...FaultSpec.attemptKinds), count, fc.option(name.map(AgentId.make), { nil: undefined }))
    .map(([kind, n, agent]) => FaultSpec.attempt(kind, n, agent)),
  fc
    .tuple(count, fc.option(fc.constantFrom(...Stage.all), { nil: undefined }))
    .map(([n, stage]) => FaultSpec.consensus(n, stage)),
  fc.tuple(name, count).map(([point, n]) => FaultSpec.crash(point, n))
)

const spec = fc.array(entry, { maxLength: 8 }).map(FaultSpec.make)

/** Strings made of the grammar's own tokens, to reach deep into the parser. */
const nearlyValid = fc
  .array(
    fc.constantFrom(
      "agent_timeout",
      "rate_limit",
      "consensus_fail",
      "crash",
      "after_answer",
      "gemini",
      "Gemini",
      "plan",
      ":",
      ":",
      "@",
      ",",
      "%",
      "*",
      "0",
      "3",
      "101",
      ".5",
      "12.5",
      " ",
      "-",
      "e"
    ),
    { maxLength: 16 }
  )
  .map((tokens) => tokens.join(""))

const failureOf = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const successOf = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) throw new Error(`expected a success, got ${String(result.failure)}`)
  return result.success
}

describe("FaultSpec properties", () => {
  it("parse(print(spec)) is spec", () => {
    fc.assert(
      fc.property(spec, (value) => {
        const printed = FaultSpec.print(value)
        assert.deepStrictEqual(successOf(FaultSpec.parse(printed)), value)
      }),
      { numRuns: 500 }
    )
  })

  it("any string either parses (and re-prints stably) or fails with a FaultSpecError naming the entry", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), nearlyValid), (text) => {
        const parsed = FaultSpec.parse(text)
        if (Result.isSuccess(parsed)) {
          assert.deepStrictEqual(successOf(FaultSpec.parse(FaultSpec.print(parsed.success))), parsed.success)
          return
        }
        const error = parsed.failure
        assert.instanceOf(error, FaultSpec.FaultSpecError)
        assert.strictEqual(error._tag, "FaultSpecError")
        const index = error.index
        if (index === undefined) throw new Error("a SPEC_KIT_FAULTS error names the entry's index")
        assert.strictEqual(error.entry, text.split(",")[index]?.trim())
        assert.include(error.message, `index ${index} "${error.entry}"`)
        assert.include(error.message, FaultSpec.grammar)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("FaultSpec.parse table", () => {
  const gemini = AgentId.make("gemini")
  const good: ReadonlyArray<readonly [string, ReadonlyArray<FaultSpec.FaultEntry>]> = [
    ["", []],
    ["   ", []],
    ["agent_timeout:3", [FaultSpec.attempt("agent_timeout", FaultSpec.times(3))]],
    [
      "agent_timeout:3,rate_limit:1@gemini,malformed_response:20%",
      [
        FaultSpec.attempt("agent_timeout", FaultSpec.times(3)),
        FaultSpec.attempt("rate_limit", FaultSpec.times(1), gemini),
        FaultSpec.attempt("malformed_response", FaultSpec.percent(20))
      ]
    ],
    [
      " disconnect:* , server_error:0.5% ",
      [FaultSpec.attempt("disconnect", FaultSpec.always), FaultSpec.attempt("server_error", FaultSpec.percent(0.5))]
    ],
    ["auth_error:100%", [FaultSpec.attempt("auth_error", FaultSpec.percent(100))]],
    ["empty_response:0%", [FaultSpec.attempt("empty_response", FaultSpec.percent(0))]],
    ["consensus_fail:1", [FaultSpec.consensus(FaultSpec.times(1))]],
    ["consensus_fail:2@audit", [FaultSpec.consensus(FaultSpec.times(2), "audit")]],
    ["crash:after_answer:1", [FaultSpec.crash("after_answer", FaultSpec.times(1))]],
    ["crash:before-consensus:*", [FaultSpec.crash("before-consensus", FaultSpec.always)]],
    ["crash:agent_timeout:1", [FaultSpec.crash("agent_timeout", FaultSpec.times(1))]]
  ]
  for (const [text, entries] of good) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepStrictEqual(successOf(FaultSpec.parse(text)), FaultSpec.make(entries))
    })
  }

  const bad: ReadonlyArray<readonly [string, number, string, string]> = [
    ["agent_timeout", 0, "agent_timeout", 'missing ":count"'],
    ["agent_timeout:3,", 1, "", "empty"],
    ["agent_timeout:3,,rate_limit:1", 1, "", "empty"],
    ["agent_timeout:0", 0, "agent_timeout:0", "whole number from 1"],
    ["agent_timeout:-1", 0, "agent_timeout:-1", "is not N"],
    ["agent_timeout:1.5", 0, "agent_timeout:1.5", "is not N"],
    ["agent_timeout:99999999999999999", 0, "agent_timeout:99999999999999999", "whole number from 1"],
    ["rate_limit:101%", 0, "rate_limit:101%", "above 100%"],
    ["rate_limit:%", 0, "rate_limit:%", "is not N"],
    ["rate_limit:1e2%", 0, "rate_limit:1e2%", "is not N"],
    ["rate_limit:1@", 0, "rate_limit:1@", "empty"],
    ["rate_limit:1@Gemini", 0, "rate_limit:1@Gemini", "not an agent id"],
    ["rate_limit:1@a@b", 0, "rate_limit:1@a@b", "at most one"],
    ["rate_limit:1:2", 0, "rate_limit:1:2", 'one ":count"'],
    ["ok:1,timeout:3", 0, "ok:1", 'unknown fault "ok"'],
    ["agent_timeout:1, Agent_Timeout:1", 1, "Agent_Timeout:1", "unknown fault"],
    ["consensus_fail:1@gemini", 0, "consensus_fail:1@gemini", "not a stage"],
    ["crash:1", 0, "crash:1", "crash:<point>:<count>"],
    ["crash:after_answer", 0, "crash:after_answer", "crash:<point>:<count>"],
    ["crash:After:1", 0, "crash:After:1", "crash point"],
    ["crash:after_answer:1@gemini", 0, "crash:after_answer:1@gemini", 'no "@target"'],
    ["crash:after_answer:x", 0, "crash:after_answer:x", "is not N"]
  ]
  for (const [text, index, entryText, reason] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      const error = failureOf(FaultSpec.parse(text))
      assert.strictEqual(error.source, "SPEC_KIT_FAULTS")
      assert.strictEqual(error.index, index)
      assert.strictEqual(error.entry, entryText)
      assert.include(error.reason, reason)
      assert.include(error.message, `SPEC_KIT_FAULTS entry at index ${index} "${entryText}"`)
      assert.include(error.message, "SPEC_KIT_FAULTS grammar:")
      assert.throws(() => FaultSpec.parseSync(text))
    })
  }
})

describe("FaultSpec helpers", () => {
  it("prints tiny probabilities without exponents", () => {
    assert.strictEqual(FaultSpec.printCount(FaultSpec.percent(1.5e-7)), "0.00000015%")
    assert.deepStrictEqual(successOf(FaultSpec.parse("disconnect:0.00000015%")).entries, [
      FaultSpec.attempt("disconnect", FaultSpec.percent(1.5e-7))
    ])
  })

  it("withDefaultAgent targets attempt entries that have no agent, only", () => {
    const parsed = FaultSpec.parseSync("agent_timeout:3,rate_limit:1@gemini,consensus_fail:1,crash:after_answer:1")
    const targeted = FaultSpec.withDefaultAgent(parsed, AgentId.make("claude"))
    assert.strictEqual(
      FaultSpec.print(targeted),
      "agent_timeout:3@claude,rate_limit:1@gemini,consensus_fail:1,crash:after_answer:1"
    )
  })

  it("parseAgent validates SPEC_KIT_FAULTS_AGENT", () => {
    assert.strictEqual(successOf(FaultSpec.parseAgent(" claude ")), "claude")
    const error = failureOf(FaultSpec.parseAgent("Claude!"))
    assert.strictEqual(error.source, "SPEC_KIT_FAULTS_AGENT")
    assert.strictEqual(error.index, undefined)
    assert.include(error.message, 'invalid SPEC_KIT_FAULTS_AGENT "Claude!"')
  })

  it("parseRateLimitReset reads epoch seconds, now+Ns and RFC 3339", () => {
    assert.deepStrictEqual(successOf(FaultSpec.parseRateLimitReset("1767225600")), {
      _tag: "At",
      epochMillis: 1_767_225_600_000
    })
    assert.deepStrictEqual(successOf(FaultSpec.parseRateLimitReset("1767225600.25")), {
      _tag: "At",
      epochMillis: 1_767_225_600_250
    })
    assert.deepStrictEqual(successOf(FaultSpec.parseRateLimitReset("now+30s")), { _tag: "After", millis: 30_000 })
    assert.deepStrictEqual(successOf(FaultSpec.parseRateLimitReset(" now+1.5s ")), { _tag: "After", millis: 1500 })
    assert.deepStrictEqual(successOf(FaultSpec.parseRateLimitReset("2026-01-01T00:00:00Z")), {
      _tag: "At",
      epochMillis: Date.UTC(2026, 0, 1)
    })
    assert.deepStrictEqual(successOf(FaultSpec.parseRateLimitReset("2026-01-01T02:00:00.500+02:00")), {
      _tag: "At",
      epochMillis: Date.UTC(2026, 0, 1) + 500
    })
    for (const bad of ["", "soon", "now+30", "now-30s", "-5", "2026-01-01", "2026-01-01T00:00:00", "9".repeat(30)]) {
      const error = failureOf(FaultSpec.parseRateLimitReset(bad))
      assert.strictEqual(error.source, "SPEC_KIT_FAULTS_RATE_LIMIT_RESET")
      assert.include(error.message, "RFC 3339")
    }
  })

  it("resetAt resolves a delay against the injection time", () => {
    assert.strictEqual(FaultSpec.resetAt(FaultSpec.defaultRateLimitReset, 5000), 6000)
    assert.strictEqual(FaultSpec.resetAt({ _tag: "At", epochMillis: 42 }, 5000), 42)
    assert.strictEqual(FaultSpec.printRateLimitReset(FaultSpec.defaultRateLimitReset), "now+1s")
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Selection } from "@speckit/core"
import * as fc from "fast-check"

const checks = ["test", "lint", "accept"] as const
const status = fc.constantFrom<Selection.CheckStatus>("pass", "fail", "timeout", "error")
const statuses = fc.record({ test: status, lint: status, accept: status })

/** Random candidates (distinct agents and orders), a base, and ballots over the candidates. */
const arbitraryInput = fc
  .uniqueArray(fc.constantFrom("a", "b", "c", "d", "e"), { minLength: 1, maxLength: 5 })
  .chain((agents) =>
    fc.record({
      base: statuses,
      candidates: fc.tuple(
        ...agents.map((agent, order) =>
          fc.record({
            agent: fc.constant(agent),
            order: fc.constant(order),
            lines: fc.nat(50),
            checks: statuses
          })
        )
      ),
      ballots: fc.array(fc.shuffledSubarray(agents), { maxLength: 4 })
    })
  )

const shuffle = <A>(items: ReadonlyArray<A>, seed: number): Array<A> => {
  const out = [...items]
  let state = seed
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    const j = state % (i + 1)
    const a = out[i] as A
    out[i] = out[j] as A
    out[j] = a
  }
  return out
}

describe("Selection.select", () => {
  it("does not depend on the order of the candidates or the ballots (property)", () =>
    fc.assert(
      fc.property(arbitraryInput, fc.integer({ min: 1, max: 1_000_000 }), ({ base, candidates, ballots }, seed) => {
        const one = Selection.select(base, candidates, ballots)
        const other = Selection.select(base, shuffle(candidates, seed), shuffle(ballots, seed + 1))
        assert.deepStrictEqual(other, one)
      })
    ))

  it("never chooses a candidate that fails a check that passes on the base (property)", () =>
    fc.assert(
      fc.property(arbitraryInput, ({ base, candidates, ballots }) => {
        const selected = Selection.select(base, candidates, ballots)
        const regressed = (agent: string) => {
          const candidate = candidates.find((c) => c.agent === agent)
          return checks.some((check) => base[check] === "pass" && candidate?.checks[check] !== "pass")
        }
        if (selected._tag === "Selected") {
          assert.isFalse(regressed(selected.winner))
          for (const ranked of selected.order) assert.isFalse(regressed(ranked.agent))
        } else {
          assert.isTrue(candidates.every((c) => regressed(c.agent)))
        }
      })
    ))

  it("orders by checks passed, then Borda, then fewer lines, then agent order (property)", () =>
    fc.assert(
      fc.property(arbitraryInput, ({ base, candidates, ballots }) => {
        const selected = Selection.select(base, candidates, ballots)
        if (selected._tag !== "Selected") return
        const orderOf = (agent: string) => candidates.find((c) => c.agent === agent)?.order ?? 0
        for (let i = 1; i < selected.order.length; i++) {
          const a = selected.order[i - 1]
          const b = selected.order[i]
          if (a === undefined || b === undefined) continue
          const key = (r: Selection.Ranked) => [-r.passed, -r.borda, r.lines, orderOf(r.agent)]
          const [ka, kb] = [key(a), key(b)]
          const first = ka.findIndex((value, index) => value !== kb[index])
          assert.isTrue(first >= 0 && (ka[first] ?? 0) < (kb[first] ?? 0), `${a.agent} before ${b.agent}`)
        }
      })
    ))

  it("counts a check that fails on the base and passes on a candidate as evidence", () => {
    const selected = Selection.select(
      { test: "pass", accept: "fail" },
      [
        { agent: "a", order: 0, lines: 5, checks: { test: "pass", accept: "fail" } },
        { agent: "b", order: 1, lines: 50, checks: { test: "pass", accept: "pass" } }
      ],
      [
        ["a", "b"],
        ["a", "b"]
      ]
    )
    assert.strictEqual(selected._tag === "Selected" && selected.winner, "b")
  })

  it("breaks ties by Borda count, then lines, then agent order", () => {
    const evidence = (agent: string, order: number, lines: number): Selection.Evidence => ({
      agent,
      order,
      lines,
      checks: { test: "pass" }
    })
    const byBorda = Selection.select({ test: "pass" }, [evidence("a", 0, 1), evidence("b", 1, 1)], [["b"], ["b", "a"]])
    assert.strictEqual(byBorda._tag === "Selected" && byBorda.winner, "b")
    const byLines = Selection.select({ test: "pass" }, [evidence("a", 0, 9), evidence("b", 1, 3)], [])
    assert.strictEqual(byLines._tag === "Selected" && byLines.winner, "b")
    const byOrder = Selection.select({ test: "pass" }, [evidence("b", 1, 3), evidence("a", 0, 3)], [])
    assert.strictEqual(byOrder._tag === "Selected" && byOrder.winner, "a")
    assert.match(byOrder._tag === "Selected" ? byOrder.reason : "", /configured agent order/)
  })

  it("fails with the check results when no candidate survives", () => {
    const selected = Selection.select(
      { test: "pass" },
      [
        { agent: "a", order: 0, lines: 5, checks: { test: "fail" } },
        { agent: "b", order: 1, lines: 5, checks: { test: "timeout" } }
      ],
      []
    )
    assert.strictEqual(selected._tag, "NoSurvivor")
    assert.match(selected.reason, /a: test fail; b: test timeout/)
  })
})

import { assert, describe, it } from "@effect/vitest"
import { SessionMetrics, TokenUsage } from "@speckit/core"
import fc from "fast-check"

const agents = ["alpha", "beta", "gamma"] as const
const stages = ["plan", "tasks"] as const

/** A call as the property records it: who, where, what it used and cost. */
const callArb = fc.record({
  agent: fc.constantFrom(...agents),
  stage: fc.constantFrom(...stages),
  input: fc.integer({ min: 0, max: 1_000 }),
  output: fc.integer({ min: 0, max: 1_000 }),
  costUsd: fc.integer({ min: 0, max: 1_000 }).map((cents) => cents / 100),
  ok: fc.boolean()
})
type Call = typeof callArb extends fc.Arbitrary<infer A> ? A : never

const breakdown = (calls: ReadonlyArray<Call>): SessionMetrics.Breakdown => ({
  calls: calls.length,
  usage: calls.reduce(
    (usage, call) => TokenUsage.add(usage, TokenUsage.make({ input: call.input, output: call.output })),
    TokenUsage.empty
  ),
  costUsd: calls.reduce((sum, call) => sum + call.costUsd, 0)
})

const byKey = (calls: ReadonlyArray<Call>, key: (call: Call) => string) => {
  const groups = new Map<string, Array<Call>>()
  for (const call of calls) groups.set(key(call), [...(groups.get(key(call)) ?? []), call])
  return Object.fromEntries([...groups].map(([name, group]) => [name, breakdown(group)]))
}

/** The snapshot a session that recorded `calls` (and `retries` retries) gives. */
const snapshotOf = (calls: ReadonlyArray<Call>, retries: number): SessionMetrics.MetricsSnapshot => {
  const all = breakdown(calls)
  return {
    calls: all.calls,
    failedCalls: calls.filter((call) => !call.ok).length,
    usage: all.usage,
    costUsd: all.costUsd,
    unpriced: [],
    byAgent: byKey(calls, (call) => call.agent),
    byStage: byKey(calls, (call) => call.stage),
    events: { retry: retries, replay: 0, duplicate: 0, stale: 0, circuit_open: retries },
    wasted: breakdown(calls.filter((call) => !call.ok)),
    byStageAgent: Object.fromEntries(
      stages.flatMap((stage) => {
        const ofStage = calls.filter((call) => call.stage === stage)
        return ofStage.length === 0 ? [] : [[stage, byKey(ofStage, (call) => call.agent)]]
      })
    )
  }
}

/** Costs to the cent, so sums taken in another order compare equal. */
const rounded = (snapshot: SessionMetrics.MetricsSnapshot): unknown =>
  JSON.parse(
    JSON.stringify(snapshot, (_, value) => (typeof value === "number" ? Math.round(value * 100) / 100 : value))
  )

describe("SessionMetrics.since", () => {
  it("gives what was recorded between two snapshots: the later calls alone (property)", () =>
    fc.assert(
      fc.property(
        fc.array(callArb, { maxLength: 12 }),
        fc.array(callArb, { maxLength: 12 }),
        fc.nat(3),
        fc.nat(3),
        (earlier, later, retriesBefore, retriesAfter) => {
          const before = snapshotOf(earlier, retriesBefore)
          const after = snapshotOf([...earlier, ...later], retriesBefore + retriesAfter)
          assert.deepStrictEqual(rounded(SessionMetrics.since(before, after)), rounded(snapshotOf(later, retriesAfter)))
        }
      )
    ))

  it("is the later snapshot itself when the first recorded nothing", () => {
    const after = snapshotOf([{ agent: "alpha", stage: "plan", input: 5, output: 7, costUsd: 0.5, ok: true }], 0)
    assert.strictEqual(SessionMetrics.since(snapshotOf([], 0), after), after)
  })
})

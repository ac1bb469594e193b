import { assert, describe, it } from "@effect/vitest"
import { QuorumConsensus } from "@speckit/consensus"
import { AgentId, type AgentOutcome, SpeckitConfig, type Stage, type StageResult, TokenUsage } from "@speckit/core"
import fc from "fast-check"

const policy = (
  stage: Stage.Stage,
  agents: ReadonlyArray<string>,
  quorum: SpeckitConfig.Quorum
): SpeckitConfig.StagePolicy => ({
  stage,
  agents: agents.map(AgentId.make),
  quorum,
  onConflict: "halt",
  earlyDecision: false
})

const succeeded = (agent: string, result: StageResult.StageResult): AgentOutcome.AgentOutcome => ({
  _tag: "Succeeded",
  agent: AgentId.make(agent),
  model: "m",
  result,
  attempts: 1,
  history: [],
  usage: TokenUsage.empty,
  costUsd: 0,
  durationMs: 1
})

const failed = (agent: string): AgentOutcome.AgentOutcome => ({
  _tag: "Failed",
  agent: AgentId.make(agent),
  model: "m",
  kind: "Timeout",
  detail: "slow",
  attempts: 1,
  history: [],
  usage: TokenUsage.empty,
  costUsd: 0,
  durationMs: 1
})

const vote = (agent: string, verdict: "pass" | "fail") =>
  succeeded(agent, {
    stage: "validate",
    agent: AgentId.make(agent),
    summary: `${agent} says ${verdict}`,
    test_strategy: [`${agent} test`],
    verdict
  })

const plan = (agent: string, titles: ReadonlyArray<string>) =>
  succeeded(agent, {
    stage: "plan",
    agent: AgentId.make(agent),
    summary: `${agent}'s plan`,
    work_breakdown: [
      { id: "W1", title: titles[0] ?? "first", detail: "" },
      ...titles.slice(1).map((title, i) => ({ id: `W${i + 2}`, title, detail: "" }))
    ],
    acceptance_mapping: [{ criterion: "works", covered_by: ["W1"], check: "test" }]
  })

describe("QuorumConsensus", () => {
  it("is ok when every agent agrees", () => {
    const decided = QuorumConsensus.decide(policy("validate", ["a", "b", "c"], "majority"), [
      vote("a", "pass"),
      vote("b", "pass"),
      vote("c", "pass")
    ])
    assert.strictEqual(decided.status, "ok")
    assert.strictEqual(decided.verdict, "pass")
    assert.deepStrictEqual(decided.dissent, [])
  })

  it("records the dissent of a majority verdict", () => {
    const decided = QuorumConsensus.decide(policy("validate", ["a", "b", "c"], "majority"), [
      vote("a", "pass"),
      vote("b", "fail"),
      vote("c", "pass")
    ])
    assert.strictEqual(decided.status, "ok")
    assert.strictEqual(decided.verdict, "pass")
    assert.deepStrictEqual(decided.dissent.map(String), ["b"])
    assert.strictEqual(decided.result?.stage === "validate" ? decided.result.verdict : undefined, "pass")
  })

  it("is a conflict when quorum `all` requires unanimity and an agent dissents", () => {
    const decided = QuorumConsensus.decide(policy("validate", ["a", "b", "c"], "all"), [
      vote("a", "pass"),
      vote("b", "fail"),
      vote("c", "pass")
    ])
    assert.strictEqual(decided.status, "conflict")
    assert.include(decided.reason ?? "", "b")
  })

  it("is a conflict on a tie", () => {
    const decided = QuorumConsensus.decide(policy("validate", ["a", "b"], "majority"), [
      vote("a", "pass"),
      vote("b", "fail")
    ])
    assert.strictEqual(decided.status, "conflict")
  })

  it("fails when fewer agents answer than the quorum requires", () => {
    const decided = QuorumConsensus.decide(policy("plan", ["a", "b", "c"], "majority"), [
      plan("a", ["x"]),
      failed("b"),
      failed("c")
    ])
    assert.strictEqual(decided.status, "failed")
    assert.strictEqual(decided.required, 2)
    assert.isUndefined(decided.result)
    assert.include(decided.reason ?? "", "1 of 3 agents answered, 2 required")
  })

  it("is degraded when the quorum is met without every agent", () => {
    const decided = QuorumConsensus.decide(policy("plan", ["a", "b", "c"], 2), [
      plan("a", ["x"]),
      plan("b", ["x"]),
      failed("c")
    ])
    assert.strictEqual(decided.status, "degraded")
    assert.deepStrictEqual(decided.failed.map(String), ["c"])
  })

  it("merges content answers, most supported items first", () => {
    const decided = QuorumConsensus.decide(policy("plan", ["a", "b", "c"], "majority"), [
      plan("a", ["Store tokens", "Send email"]),
      plan("b", ["Send email", "Audit log"]),
      plan("c", ["send  EMAIL", "Store tokens"])
    ])
    const result = decided.result
    assert.strictEqual(result?.stage, "plan")
    if (result?.stage === "plan") {
      assert.deepStrictEqual(
        result.work_breakdown.map((w) => [w.id, w.title]),
        [
          ["W1", "Send email"],
          ["W2", "Store tokens"],
          ["W3", "Audit log"]
        ]
      )
    }
  })

  it("does not depend on the order in which answers arrive (property)", () => {
    const verdicts = fc.array(fc.constantFrom<"pass" | "fail" | "failed">("pass", "fail", "failed"), {
      minLength: 1,
      maxLength: 7
    })
    fc.assert(
      fc.property(
        verdicts,
        fc.constantFrom<SpeckitConfig.Quorum>("all", "majority", 1, 2),
        fc.integer(),
        (votes, quorum, seed) => {
          const agents = votes.map((_, i) => `a${i}`)
          const outcomes = votes.map((v, i) => (v === "failed" ? failed(`a${i}`) : vote(`a${i}`, v)))
          const shuffled =
            fc.sample(fc.shuffledSubarray(outcomes, { minLength: outcomes.length }), { seed, numRuns: 1 })[0] ??
            outcomes
          const p = policy("validate", agents, quorum)
          assert.deepStrictEqual(QuorumConsensus.decide(p, shuffled), QuorumConsensus.decide(p, outcomes))
        }
      )
    )
  })

  it("merges content stages independently of arrival order (property)", () => {
    const titles = fc.array(fc.constantFrom("Store tokens", "Send email", "Audit log", "Rate limit"), {
      minLength: 1,
      maxLength: 4
    })
    fc.assert(
      fc.property(fc.array(titles, { minLength: 1, maxLength: 5 }), fc.integer(), (lists, seed) => {
        const outcomes = lists.map((list, i) => plan(`a${i}`, list))
        const shuffled =
          fc.sample(fc.shuffledSubarray(outcomes, { minLength: outcomes.length }), { seed, numRuns: 1 })[0] ?? outcomes
        const p = policy(
          "plan",
          outcomes.map((o) => o.agent),
          "majority"
        )
        assert.deepStrictEqual(QuorumConsensus.decide(p, shuffled), QuorumConsensus.decide(p, outcomes))
      })
    )
  })

  it("finds conflicts in content stages: same path with different actions", () => {
    const change = (agent: string, action: "create" | "delete") =>
      succeeded(agent, {
        stage: "implement",
        agent: AgentId.make(agent),
        summary: agent,
        changes: [{ path: "src/a.ts", action, description: "d" }]
      })
    const decided = QuorumConsensus.decide(policy("implement", ["a", "b"], "majority"), [
      change("a", "create"),
      change("b", "delete")
    ])
    assert.strictEqual(decided.status, "conflict")
    assert.include(decided.conflicts.join(), "src/a.ts")
    assert.include(decided.reason ?? "", "a: create")
    assert.include(decided.reason ?? "", "b: delete")
  })

  it("finds conflicts in tasks (different dependencies) and plans (an uncovered criterion)", () => {
    const tasks = (agent: string, dependsOnFirst: boolean) =>
      succeeded(agent, {
        stage: "tasks",
        agent: AgentId.make(agent),
        summary: agent,
        tasks: [
          { id: "T1", title: "Schema", depends_on: [], done_when: "x" },
          { id: "T2", title: "Endpoint", depends_on: dependsOnFirst ? ["T1"] : [], done_when: "y" }
        ]
      })
    const t = QuorumConsensus.decide(policy("tasks", ["a", "b"], "majority"), [tasks("a", true), tasks("b", false)])
    assert.strictEqual(t.status, "conflict")
    assert.include(t.conflicts.join(), "endpoint")
    const uncovered = succeeded("a", {
      stage: "plan",
      agent: AgentId.make("a"),
      summary: "a",
      work_breakdown: [{ id: "W1", title: "x", detail: "" }],
      acceptance_mapping: [{ criterion: "Locks after 5 failures", covered_by: [], check: "test" }]
    })
    const p = QuorumConsensus.decide(policy("plan", ["a"], "majority"), [uncovered])
    assert.strictEqual(p.status, "conflict")
    assert.include(p.reason ?? "", "Locks after 5 failures")
  })

  it("settled: once settled, no completion changes proceed/halt or the verdict (property)", () => {
    const answer = fc.constantFrom<"pass" | "fail" | "failed">("pass", "fail", "failed")
    fc.assert(
      fc.property(
        fc.array(answer, { minLength: 1, maxLength: 6 }),
        fc.constantFrom<SpeckitConfig.Quorum>("all", "majority", 1, 2),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.array(answer, { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
        (votes, quorum, cut, completions) => {
          const agents = votes.map((_, i) => `a${i}`)
          const p = { ...policy("validate", agents, quorum), earlyDecision: true }
          const toOutcome = (v: "pass" | "fail" | "failed", i: number) =>
            v === "failed" ? failed(`a${i}`) : vote(`a${i}`, v)
          const prefix = votes.slice(0, Math.min(cut, votes.length)).map(toOutcome)
          if (!QuorumConsensus.settled(p, prefix)) return
          const stopped = agents.slice(prefix.length).map(AgentId.make)
          const early = QuorumConsensus.decide(p, [...prefix, ...stopped.map((a) => failed(a))], { stopped })
          const proceeds = (status: string) => status === "ok" || status === "degraded"
          for (const rest of completions) {
            const full = QuorumConsensus.decide(p, [
              ...prefix,
              ...agents.slice(prefix.length).map((_, j) => toOutcome(rest[j] ?? "pass", prefix.length + j))
            ])
            assert.strictEqual(proceeds(early.status), proceeds(full.status))
            if (proceeds(early.status)) assert.strictEqual(early.verdict, full.verdict)
          }
        }
      )
    )
  })

  it("settling: after each outcome, what a recount of the outcomes so far gives (property)", () => {
    // The rule `settled` applies, recounted from every outcome so far (the model both are checked against).
    const recount = (p: SpeckitConfig.StagePolicy, outcomes: ReadonlyArray<AgentOutcome.AgentOutcome>) => {
      const latest = new Map<string, AgentOutcome.AgentOutcome>()
      for (const o of outcomes) if (p.agents.includes(o.agent)) latest.set(o.agent, o)
      const answered = [...latest.values()]
      const votes = answered.flatMap((o) =>
        o._tag === "Succeeded" && o.result.stage === "validate" ? [o.result.verdict] : []
      )
      const ok = answered.filter((o) => o._tag === "Succeeded").length
      const remaining = p.agents.length - answered.length
      const required =
        p.quorum === "all"
          ? p.agents.length
          : p.quorum === "majority"
            ? Math.floor(p.agents.length / 2) + 1
            : Math.min(p.quorum, p.agents.length)
      if (remaining <= 0 || ok + remaining < required) return true
      if (p.stage !== "validate") return false
      const counts = [...new Set(votes)].map((v) => votes.filter((x) => x === v).length)
      const top = Math.max(0, ...counts)
      if (p.quorum === "all") return counts.length > 1
      if (top * 2 > p.agents.length && top >= required) return true
      return 2 * top + remaining <= ok
    }
    const answer = fc.constantFrom<"pass" | "fail" | "failed">("pass", "fail", "failed")
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom<Stage.Stage>("validate", "plan"),
        fc.constantFrom<SpeckitConfig.Quorum>("all", "majority", 1, 2),
        // Agent indexes up to one past the policy's (an agent it does not have); an agent may answer again.
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), answer), { maxLength: 14 }),
        (size, stage, quorum, arrivals) => {
          const p = {
            ...policy(
              stage,
              Array.from({ length: size }, (_, i) => `a${i}`),
              quorum
            ),
            earlyDecision: true
          }
          const toOutcome = ([i, v]: readonly [number, "pass" | "fail" | "failed"]) =>
            v === "failed" ? failed(`a${i}`) : stage === "validate" ? vote(`a${i}`, v) : plan(`a${i}`, [v])
          const check = QuorumConsensus.settling(p)
          const outcomes = arrivals.map(toOutcome)
          assert.strictEqual(QuorumConsensus.settled(p, []), recount(p, []))
          outcomes.forEach((outcome, i) => {
            const sofar = outcomes.slice(0, i + 1)
            const expected = recount(p, sofar)
            assert.strictEqual(check(outcome), expected)
            assert.strictEqual(QuorumConsensus.settled(p, sofar), expected)
          })
        }
      )
    )
  })

  it("settled: a majority of all agents settles a majority verdict stage; stopped agents do not degrade it", () => {
    const p = { ...policy("validate", ["a", "b", "c"], "majority"), earlyDecision: true }
    assert.isFalse(QuorumConsensus.settled(p, [vote("a", "pass")]))
    assert.isFalse(QuorumConsensus.settled(p, [vote("a", "pass"), vote("b", "fail")]))
    assert.isTrue(QuorumConsensus.settled(p, [vote("a", "pass"), vote("b", "pass")]))
    assert.isTrue(QuorumConsensus.settled(p, [failed("a"), failed("b")]), "quorum can no longer be met")
    const decided = QuorumConsensus.decide(p, [vote("a", "pass"), vote("b", "pass"), failed("c")], {
      stopped: [AgentId.make("c")]
    })
    assert.strictEqual(decided.status, "ok")
    assert.deepStrictEqual(decided.stopped?.map(String), ["c"])
    assert.deepStrictEqual(decided.failed, [])
  })

  it("uses the configured policy for each stage", () => {
    const config = SpeckitConfig.defaultConfig
    assert.strictEqual(QuorumConsensus.decide(SpeckitConfig.policyFor(config, "plan"), []).status, "failed")
  })
})

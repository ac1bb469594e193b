/**
 * The aggregator step of content stages: `QuorumConsensus.decide` with an aggregation (a synthesis
 * used as is, its conflicts turning the stage into `conflict`, a failed aggregator falling back to
 * the deterministic merge with the reason), and the whole pipeline with the real consensus and
 * sequencer calling a configured aggregator agent.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { MemorySequencer, QuorumConsensus } from "@speckit/consensus"
import {
  type Agent,
  AgentError,
  AgentId,
  type AgentOutcome,
  AgentRegistry,
  FaultInjector,
  Pipeline,
  type ResultMerge,
  RunStore,
  SessionMetrics,
  SimAgent,
  Spec,
  SpeckitConfig,
  type Stage,
  type StageResult,
  TokenUsage
} from "@speckit/core"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const policy = (stage: Stage.Stage, agents: ReadonlyArray<string>): SpeckitConfig.StagePolicy => ({
  stage,
  agents: agents.map(AgentId.make),
  quorum: "majority",
  onConflict: "halt",
  earlyDecision: false,
  aggregator: AgentId.make("judge")
})

const implement = (agent: string, action: "create" | "delete"): StageResult.StageResult => ({
  stage: "implement",
  agent: AgentId.make(agent),
  summary: `${agent}'s change`,
  changes: [{ path: "src/a.ts", action, description: "the module" }]
})

const succeeded = (result: StageResult.StageResult): AgentOutcome.AgentOutcome => ({
  _tag: "Succeeded",
  agent: result.agent,
  model: "m",
  result,
  attempts: 1,
  history: [],
  usage: TokenUsage.empty,
  costUsd: 0,
  durationMs: 1
})

const synthesis = (conflicts: ReadonlyArray<string>): ResultMerge.Synthesis => ({
  stage: "implement",
  agent: AgentId.make("judge"),
  summary: "The judge's synthesis.",
  changes: [{ path: "src/b.ts", action: "modify", description: "the judge's choice" }],
  agreements: ["both answers touch the module"],
  conflicts
})

describe("QuorumConsensus.decide with an aggregator", () => {
  const agreeing = [succeeded(implement("a", "create")), succeeded(implement("b", "create"))]
  const disagreeing = [succeeded(implement("a", "create")), succeeded(implement("b", "delete"))]

  it("uses a valid synthesis as the merged result, with its agreements", () => {
    // The answers disagree (create vs delete), but the synthesis resolved it: the synthesis decides.
    const decided = QuorumConsensus.decide(policy("implement", ["a", "b"]), disagreeing, {
      aggregation: { agent: AgentId.make("judge"), synthesis: synthesis([]) }
    })
    assert.strictEqual(decided.status, "ok")
    assert.strictEqual(decided.aggregator, "judge")
    assert.deepStrictEqual(decided.result, {
      stage: "implement",
      agent: AgentId.make("judge"),
      summary: "The judge's synthesis.",
      changes: [{ path: "src/b.ts", action: "modify", description: "the judge's choice" }]
    })
    assert.deepStrictEqual(decided.agreements, ["both answers touch the module"])
    assert.deepStrictEqual(decided.conflicts, [])
  })

  it("turns the synthesis's conflicts into status conflict, naming them", () => {
    const decided = QuorumConsensus.decide(policy("implement", ["a", "b"]), agreeing, {
      aggregation: { agent: AgentId.make("judge"), synthesis: synthesis(["src/a.ts: no migration plan"]) }
    })
    assert.strictEqual(decided.status, "conflict")
    assert.deepStrictEqual(decided.conflicts, ["src/a.ts: no migration plan"])
    assert.include(decided.reason ?? "", "aggregator judge reports conflicts: src/a.ts: no migration plan")
  })

  it("falls back to the deterministic merge when the aggregator failed, and says why", () => {
    const failure = { aggregation: { agent: AgentId.make("judge"), failure: "Timeout: no answer within 5 ms" } }
    const ok = QuorumConsensus.decide(policy("implement", ["a", "b"]), agreeing, failure)
    assert.strictEqual(ok.status, "ok")
    assert.isUndefined(ok.aggregator)
    assert.deepStrictEqual(
      ok.result,
      QuorumConsensus.merge(agreeing.map((o) => (o._tag === "Succeeded" ? o.result : implement("x", "create"))))
    )
    assert.include(ok.reason ?? "", "aggregator judge failed (Timeout: no answer within 5 ms)")
    assert.include(ok.reason ?? "", "merged deterministically")
    const conflict = QuorumConsensus.decide(policy("implement", ["a", "b"]), disagreeing, failure)
    assert.strictEqual(conflict.status, "conflict")
    assert.include(conflict.reason ?? "", "a: create vs b: delete")
    assert.include(conflict.reason ?? "", "aggregator judge failed")
  })

  it("is the deterministic decision without an aggregation, and ignores one on verdict stages", () => {
    const plain = QuorumConsensus.decide(policy("implement", ["a", "b"]), agreeing)
    assert.isUndefined(plain.reason)
    const vote = (agent: string): AgentOutcome.AgentOutcome =>
      succeeded({
        stage: "validate",
        agent: AgentId.make(agent),
        summary: "s",
        test_strategy: ["t"],
        verdict: "pass"
      })
    const verdict = QuorumConsensus.decide(policy("validate", ["a", "b"]), [vote("a"), vote("b")], {
      aggregation: { agent: AgentId.make("judge"), synthesis: synthesis(["ignored"]) }
    })
    assert.strictEqual(verdict.status, "ok")
    assert.strictEqual(verdict.verdict, "pass")
  })
})

// The whole pipeline with the real consensus and sequencer, simulated agents and an aggregator.
const specText =
  "# Login\n\n## Requirements\n\n- Users sign in with email\n- Lock after 5 failures\n\n## Acceptance criteria\n\n- A locked user cannot sign in\n"

const makeWorkspace = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-synthesis-"))
  fs.mkdirSync(path.join(dir, "specs", "SPEC-1"), { recursive: true })
  fs.writeFileSync(path.join(dir, "specs", "SPEC-1", "spec.md"), specText)
  return dir
}

const metricsLayer = Layer.sync(SessionMetrics.SessionMetrics, () => {
  const calls: Array<{ readonly stage: string; readonly agent: string; readonly ok: boolean }> = []
  return {
    record: (call) =>
      Effect.sync(() => {
        calls.push({ stage: call.stage, agent: call.agent, ok: call.ok })
        return { costUsd: 0.001, priced: true }
      }),
    snapshot: Effect.sync(() => ({
      calls: calls.length,
      failedCalls: calls.filter((c) => !c.ok).length,
      usage: TokenUsage.empty,
      costUsd: calls.length * 0.001,
      unpriced: [],
      byAgent: {},
      byStage: {}
    }))
  }
})

const sims = ["alpha", "beta", "gamma"].map((name, i) =>
  SimAgent.make({ id: AgentId.make(name), latencyMs: 0, seed: i + 1 })
)

const runWith = (aggregator: Agent.Agent, stageAggregator: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const workspace = makeWorkspace()
    const config = yield* SpeckitConfig.decode(
      {
        agents: {
          alpha: { provider: "sim" },
          beta: { provider: "sim" },
          gamma: { provider: "sim" },
          judge: { provider: "sim" }
        },
        defaults: { agents: ["alpha", "beta", "gamma"], aggregator: "judge" },
        ...stageAggregator
      },
      "inline"
    )
    const spec = yield* Spec.load(workspace, "SPEC-1")
    const summary = yield* Pipeline.run({ spec, config }).pipe(
      Effect.provide(
        Layer.mergeAll(
          AgentRegistry.AgentRegistry.fromAgents([...sims, aggregator]),
          FaultInjector.FaultInjector.layerNone,
          MemorySequencer.layer,
          QuorumConsensus.layer,
          metricsLayer,
          RunStore.RunStore.layerFileSystem(workspace)
        )
      )
    )
    const consensusOf = (stage: Stage.Stage) =>
      JSON.parse(fs.readFileSync(path.join(workspace, summary.runDir, "consensus", `${stage}.json`), "utf8")) as {
        readonly status: string
        readonly aggregator?: string
        readonly reason?: string
        readonly conflicts: ReadonlyArray<string>
      }
    /** The answers saved for a stage, as `<agent>.<attempt>`. */
    const answers = (stage: Stage.Stage) =>
      (
        RunStore.parseJsonLines(
          fs.readFileSync(path.join(workspace, summary.runDir, "answers", `${stage}.jsonl`), "utf8")
        ) as Array<{ readonly agent: string; readonly attempt: number }>
      )
        .map((answer) => `${answer.agent}.${answer.attempt}`)
        .sort()
    return { summary, workspace, consensusOf, answers }
  }).pipe(Effect.provide(NodeServices.layer))

const recording = (inner: Agent.Agent, requests: Array<Agent.AgentRequest>): Agent.Agent => ({
  ...inner,
  call: (request) =>
    Effect.suspend(() => {
      requests.push(request)
      return inner.call(request)
    })
})

describe("Pipeline with an aggregator agent", () => {
  it.live("the simulated aggregator synthesizes every content stage; verdict stages are voted", () =>
    Effect.gen(function* () {
      const requests: Array<Agent.AgentRequest> = []
      const judge = recording(SimAgent.make({ id: AgentId.make("judge"), latencyMs: 0, seed: 9 }), requests)
      const { summary, consensusOf, answers } = yield* runWith(judge)
      assert.strictEqual(summary.status, "completed")
      // Called once per content stage, with the synthesis prompt and the three answers.
      assert.deepStrictEqual(
        requests.map((r) => r.stage),
        ["plan", "tasks", "implement"]
      )
      for (const request of requests) {
        assert.strictEqual(request.synthesisOf?.length, 3)
        assert.include(request.prompt, "# Answers to synthesize")
        assert.include(request.prompt, '"conflicts"')
      }
      for (const stage of ["plan", "tasks", "implement"] as const) {
        assert.strictEqual(consensusOf(stage).aggregator, "judge")
        assert.deepStrictEqual(answers(stage), ["aggregate.judge.1", "alpha.1", "beta.1", "gamma.1"])
      }
      assert.isUndefined(consensusOf("validate").aggregator)
    })
  )

  it.live("an aggregator reporting a conflict halts the stage with status conflict", () =>
    Effect.gen(function* () {
      const judge: Agent.Agent = {
        ...SimAgent.make({ id: AgentId.make("judge"), latencyMs: 0 }),
        call: (request) =>
          Effect.succeed({
            text: JSON.stringify({
              ...SimAgent.answer(request, 1),
              agreements: [],
              conflicts: ["W1: alpha and beta disagree on the lock duration"]
            }),
            usage: TokenUsage.make({ input: 10, output: 10 }),
            model: "judge-1"
          })
      }
      const { summary, consensusOf } = yield* runWith(judge)
      assert.strictEqual(summary.status, "halted")
      assert.strictEqual(summary.stages.length, 1)
      assert.strictEqual(summary.stages[0]?.status, "conflict")
      assert.include(summary.stages[0]?.reason ?? "", "W1: alpha and beta disagree on the lock duration")
      assert.deepStrictEqual(consensusOf("plan").conflicts, ["W1: alpha and beta disagree on the lock duration"])
    })
  )

  it.live("a failing aggregator: the deterministic merge decides, and the reason says why", () =>
    Effect.gen(function* () {
      const judge: Agent.Agent = {
        id: AgentId.make("judge"),
        provider: "test",
        model: "down",
        call: () => Effect.fail(new AgentError.AgentError({ agent: "judge", kind: "AuthFailed", detail: "bad key" }))
      }
      const { summary, consensusOf } = yield* runWith(judge)
      assert.strictEqual(summary.status, "completed")
      for (const stage of ["plan", "tasks", "implement"] as const) {
        const decided = consensusOf(stage)
        assert.strictEqual(decided.status, "ok")
        assert.isUndefined(decided.aggregator)
        assert.include(decided.reason ?? "", "aggregator judge failed (AuthFailed: bad key)")
      }
    })
  )

  it.live("an aggregator answering malformed syntheses twice: repaired once, then the merge decides", () =>
    Effect.gen(function* () {
      const requests: Array<Agent.AgentRequest> = []
      // A stage result without agreements and conflicts: valid for the stage, not a synthesis.
      const judge = recording(
        {
          ...SimAgent.make({ id: AgentId.make("judge"), latencyMs: 0 }),
          call: (request) =>
            Effect.succeed({
              text: JSON.stringify(SimAgent.answer({ ...request, synthesisOf: undefined }, 1)),
              usage: TokenUsage.make({ input: 10, output: 10 }),
              model: "judge-1"
            })
        },
        requests
      )
      const { summary, consensusOf, answers } = yield* runWith(judge, {
        stages: { plan: { aggregator: "judge" }, tasks: { aggregator: "none" }, implement: { aggregator: "none" } },
        defaults: { agents: ["alpha", "beta", "gamma"] }
      })
      assert.strictEqual(summary.status, "completed")
      assert.deepStrictEqual(
        requests.map((r) => [r.stage, r.attempt]),
        [
          ["plan", 1],
          ["plan", 2]
        ]
      )
      assert.include(requests[1]?.prompt ?? "", "# Your previous answer was rejected")
      const plan = consensusOf("plan")
      assert.strictEqual(plan.status, "ok")
      assert.include(plan.reason ?? "", "aggregator judge failed (Malformed:")
      // Both rejected syntheses are kept, apart from the stage's answers.
      assert.includeMembers(answers("plan"), ["aggregate.judge.1", "aggregate.judge.2"])
    })
  )
})

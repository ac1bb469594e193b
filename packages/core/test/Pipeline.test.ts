import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import {
  type Agent,
  AgentError,
  AgentId,
  AgentRegistry,
  Consensus,
  DurableRun,
  FaultInjector,
  Pipeline,
  PipelineEvent,
  RunId,
  RunStore,
  RunSummary,
  Sequencer,
  SessionMetrics,
  SimAgent,
  Spec,
  SpeckitConfig,
  Stage,
  TokenUsage
} from "@speckit/core"
import { Effect, Exit, Fiber, Layer, Option, Schema } from "effect"
import { Workflow, WorkflowEngine } from "effect/workflow"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

// Minimal in-test implementations of the plugin ports, so core is tested on its own.
// The sequencer delivers every decision in order and accepts every ACK (no dedup, no backpressure).
const sequencerLayer = Layer.sync(Sequencer.Sequencer, () => {
  const decisions: Array<Sequencer.Decision> = []
  let delivered = 0
  let acked = 0
  let stopped = false
  const stats = (): Sequencer.Stats => ({
    accepted: decisions.length,
    duplicates: 0,
    stale: 0,
    acknowledged: acked,
    ignoredAcks: 0,
    pending: decisions.length - acked,
    nextSeq: decisions.length + 1,
    ackedThrough: acked,
    inFlight: delivered > acked ? delivered : undefined,
    stopped,
    redelivered: 0
  })
  const take: Effect.Effect<Sequencer.Decision, Sequencer.SequencerStopped> = Effect.suspend(() => {
    const next = delivered === acked ? decisions[delivered] : undefined
    if (next !== undefined) {
      delivered++
      return Effect.succeed(next)
    }
    if (stopped) return Effect.fail(new Sequencer.SequencerStopped({ runId: "" }))
    return Effect.andThen(Effect.sleep(1), take)
  })
  return {
    begin: () => Effect.succeed({ acknowledged: [], redelivered: 0 }),
    submit: (key, payload) =>
      Effect.sync(() => {
        const decision = { seq: decisions.length + 1, key, payload }
        decisions.push(decision)
        return { _tag: "Accepted" as const, decision }
      }),
    take,
    ack: (seq) =>
      Effect.sync(() => {
        acked = seq
        return { _tag: "Acknowledged" as const, seq }
      }),
    stop: () =>
      Effect.sync(() => {
        stopped = true
        return { _tag: "StopAck" as const, pending: [], inFlight: undefined, stats: stats() }
      }),
    stats: Effect.sync(stats)
  }
})

const consensusLayer = Layer.succeed(Consensus.Consensus, {
  decide: (policy, outcomes) =>
    Effect.sync(() => {
      const succeeded = outcomes.flatMap((o) => (o._tag === "Succeeded" ? [o] : []))
      const failed = outcomes.filter((o) => o._tag === "Failed").map((o) => o.agent)
      const required = Consensus.required(policy.quorum, policy.agents.length)
      const ok = succeeded.length >= required
      return {
        stage: policy.stage,
        status: ok ? (failed.length > 0 ? "degraded" : "ok") : "failed",
        result: ok ? succeeded[0]?.result : undefined,
        agreements: [],
        conflicts: [],
        dissent: [],
        succeeded: succeeded.map((o) => o.agent),
        failed,
        required,
        reason: ok ? undefined : `${succeeded.length} of ${required} required`
      } satisfies Consensus.StageConsensus
    }),
  settled: (policy, outcomes) => outcomes.length >= policy.agents.length
})

const metricsLayer = Layer.sync(SessionMetrics.SessionMetrics, () => {
  let calls = 0
  let usage = TokenUsage.empty
  return {
    record: (call) =>
      Effect.sync(() => {
        calls++
        usage = TokenUsage.add(usage, call.usage)
        return { costUsd: 0.001, priced: true }
      }),
    snapshot: Effect.sync(() => ({
      calls,
      failedCalls: 0,
      usage,
      costUsd: calls * 0.001,
      unpriced: [],
      byAgent: {},
      byStage: {}
    }))
  }
})

const makeWorkspace = (
  specText = "# Login\n\n## Requirements\n\n- Users sign in with email\n- Lock after 5 failures\n"
) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-core-"))
  fs.mkdirSync(path.join(dir, "specs", "SPEC-1"), { recursive: true })
  fs.writeFileSync(path.join(dir, "specs", "SPEC-1", "spec.md"), specText)
  return dir
}

const sims = (latencyMs = 1) =>
  ["alpha", "beta", "gamma"].map((name, i) => SimAgent.make({ id: AgentId.make(name), latencyMs, seed: i + 1 }))

const failing = (name: string, kind: AgentError.AgentErrorKind = "ServerError"): Agent.Agent => ({
  id: AgentId.make(name),
  provider: "test",
  model: "broken",
  call: () => Effect.fail(new AgentError.AgentError({ agent: name, kind, detail: "boom" }))
})

const run = (
  workspace: string,
  agents: ReadonlyArray<Agent.Agent>,
  config: SpeckitConfig.SpeckitConfig = SpeckitConfig.defaultConfig,
  faults: Layer.Layer<FaultInjector.FaultInjector> = FaultInjector.FaultInjector.layerNone
) =>
  Effect.gen(function* () {
    const events: Array<PipelineEvent.PipelineEvent> = []
    const spec = yield* Spec.load(workspace, "SPEC-1")
    const summary = yield* Pipeline.run({ spec, config }).pipe(
      Effect.provideService(PipelineEvent.PipelineEvents, {
        emit: (event) => Effect.sync(() => void events.push(event))
      }),
      Effect.provide(
        Layer.mergeAll(
          AgentRegistry.AgentRegistry.fromAgents(agents),
          faults,
          sequencerLayer,
          consensusLayer,
          metricsLayer,
          RunStore.RunStore.layerFileSystem(workspace)
        )
      )
    )
    return { summary, events }
  }).pipe(Effect.provide(NodeServices.layer))

describe("Pipeline", () => {
  it.live("runs every stage in order and writes every artifact", () =>
    Effect.gen(function* () {
      const workspace = makeWorkspace()
      const { summary, events } = yield* run(workspace, sims())
      assert.strictEqual(summary.status, "completed")
      assert.strictEqual(summary.phase, "Completed")
      assert.deepStrictEqual(
        summary.stages.map((s) => s.stage),
        Stage.all
      )
      assert.strictEqual(summary.decisions, 18)
      for (const stage of Stage.all) {
        const md = fs.readFileSync(path.join(workspace, "specs", "SPEC-1", `${stage}.md`), "utf8")
        assert.include(md, `: Login`)
        const answers = RunStore.parseJsonLines(
          fs.readFileSync(path.join(workspace, summary.runDir, "answers", `${stage}.jsonl`), "utf8")
        ) as Array<{ readonly agent: string; readonly attempt: number }>
        assert.sameMembers(
          answers.map((answer) => `${answer.agent}.${answer.attempt}`),
          ["alpha.1", "beta.1", "gamma.1"]
        )
        assert.isTrue(fs.existsSync(path.join(workspace, summary.runDir, "consensus", `${stage}.json`)))
      }
      const saved = JSON.parse(fs.readFileSync(path.join(workspace, summary.runDir, "summary.json"), "utf8"))
      assert.strictEqual(saved.status, "completed")
      const phases = events.flatMap((e) => (e._tag === "PhaseChanged" ? [e.phase._tag] : []))
      assert.deepStrictEqual(phases, [...Stage.all.map(() => "Running"), "Completed"])
      assert.strictEqual(events[0]?._tag, "RunStarted")
      assert.strictEqual(events.at(-1)?._tag, "RunFinished")
      // The log repeats nothing the other records hold: no stage result, the summary's head only.
      const logged = RunStore.parseJsonLines(
        fs.readFileSync(path.join(workspace, summary.runDir, "events.jsonl"), "utf8")
      ) as Array<{ readonly _tag: string; readonly outcome?: object; readonly summary?: object }>
      const finished = logged.filter((line) => line._tag === "AgentFinished")
      assert.strictEqual(finished.length, 18)
      for (const line of finished) {
        assert.notProperty(line.outcome, "result")
        assert.includeMembers(Object.keys(line.outcome ?? {}), ["agent", "model", "attempts", "usage", "costUsd"])
      }
      assert.deepStrictEqual(logged.at(-1)?.summary, RunSummary.head(summary))
    })
  )

  it.live("feeds each stage's consensus to the next stage's prompt", () =>
    Effect.gen(function* () {
      const workspace = makeWorkspace()
      const prompts: Array<Agent.AgentRequest> = []
      const recorder: Agent.Agent = {
        ...SimAgent.make({ id: AgentId.make("alpha"), latencyMs: 0 }),
        call: (request) => {
          prompts.push(request)
          return SimAgent.make({ id: AgentId.make("alpha"), latencyMs: 0 }).call(request)
        }
      }
      const config = yield* SpeckitConfig.decode({ agents: { alpha: { provider: "sim" } } }, "inline")
      yield* run(workspace, [recorder], config)
      const tasks = prompts.find((p) => p.stage === "tasks")
      const plan = fs.readFileSync(path.join(workspace, "specs", "SPEC-1", "plan.md"), "utf8")
      assert.strictEqual(tasks?.previous, plan)
      assert.include(tasks?.prompt ?? "", "# Consensus of the plan stage")
      assert.include(tasks?.prompt ?? "", "Users sign in with email")
    })
  )

  it.live("halts at a stage whose quorum is not met and runs nothing after it", () =>
    Effect.gen(function* () {
      const workspace = makeWorkspace()
      const [alpha] = sims()
      const agents = [alpha, failing("beta"), failing("gamma")].filter((a) => a !== undefined)
      const { summary } = yield* run(workspace, agents)
      assert.strictEqual(summary.status, "halted")
      assert.strictEqual(summary.phase, "Halted(plan)")
      assert.strictEqual(summary.stages.length, 1)
      assert.strictEqual(summary.stages[0]?.status, "failed")
      assert.include(summary.hint ?? "", "quorum")
      assert.isFalse(fs.existsSync(path.join(workspace, "specs", "SPEC-1", "tasks.md")))
    })
  )

  it.live("records a malformed answer as a failed agent with kind Malformed", () =>
    Effect.gen(function* () {
      const workspace = makeWorkspace()
      const chatty: Agent.Agent = {
        id: AgentId.make("gamma"),
        provider: "test",
        model: "chatty",
        call: () =>
          Effect.succeed({
            text: "I would start with the login form.",
            usage: TokenUsage.make({ input: 10, output: 8 }),
            model: "chatty"
          })
      }
      const [alpha, beta] = sims()
      const agents = [alpha, beta, chatty].filter((a) => a !== undefined)
      const { summary } = yield* run(workspace, agents)
      assert.strictEqual(summary.status, "completed")
      const gamma = summary.stages[0]?.agents.find((a) => a.agent === "gamma")
      assert.strictEqual(gamma?.status, "failed")
      assert.strictEqual(gamma?.error?.kind, "Malformed")
      assert.strictEqual(gamma?.usage.output, 8, "usage of a failed attempt is still attributed")
      assert.strictEqual(summary.stages[0]?.status, "degraded")
    })
  )

  it.live("routes injected faults through the same path as real failures", () =>
    Effect.gen(function* () {
      const workspace = makeWorkspace()
      const faults = Layer.succeed(FaultInjector.FaultInjector, {
        active: true,
        description: "timeout for gamma",
        beforeAttempt: (target) =>
          target.agent === "gamma"
            ? Effect.fail(
                new AgentError.AgentError({ agent: target.agent, kind: "Timeout", detail: "injected", injected: true })
              )
            : Effect.void,
        consensusFault: () => Effect.succeed(false),
        crashPoint: () => Effect.void
      } as FaultInjector.FaultInjector["Service"])
      const { summary } = yield* run(workspace, sims(), SpeckitConfig.defaultConfig, faults)
      assert.strictEqual(summary.status, "completed")
      for (const stage of summary.stages) {
        assert.strictEqual(stage.status, "degraded")
        assert.strictEqual(stage.agents.find((a) => a.agent === "gamma")?.error?.kind, "Timeout")
      }
    })
  )

  it.live("refuses a configuration naming an agent that does not exist, before writing anything", () =>
    Effect.gen(function* () {
      const workspace = makeWorkspace()
      const [alpha] = sims()
      const error = yield* Effect.flip(run(workspace, alpha ? [alpha] : []))
      assert.strictEqual(error._tag, "UnknownAgent")
      assert.isFalse(fs.existsSync(path.join(workspace, ".speckit")))
    })
  )

  it.live("records an interrupted run as cancelled", () =>
    Effect.gen(function* () {
      const workspace = makeWorkspace()
      const fiber = yield* Effect.forkChild(run(workspace, sims(5_000)))
      yield* Effect.sleep(200)
      yield* Fiber.interrupt(fiber)
      const runs = fs.readdirSync(path.join(workspace, ".speckit", "runs"))
      assert.strictEqual(runs.length, 1)
      const saved = JSON.parse(
        fs.readFileSync(path.join(workspace, ".speckit", "runs", runs[0] ?? "", "summary.json"), "utf8")
      )
      assert.strictEqual(saved.status, "cancelled")
      assert.strictEqual(saved.phase, "Cancelled")
    })
  )
})

// --- durable runs ---------------------------------------------------------------------------------

const durableRun = (
  workspace: string,
  agents: ReadonlyArray<Agent.Agent>,
  engine: Layer.Layer<WorkflowEngine.WorkflowEngine, unknown>,
  runId: RunId.RunId,
  options: { readonly answer?: DurableRun.Options["answer"]; readonly config?: SpeckitConfig.SpeckitConfig } = {}
) =>
  Effect.gen(function* () {
    const spec = yield* Spec.load(workspace, "SPEC-1")
    return yield* DurableRun.run({
      spec,
      config: options.config ?? SpeckitConfig.defaultConfig,
      runId,
      answer: options.answer
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.mergeAll(
          AgentRegistry.AgentRegistry.fromAgents(agents),
          FaultInjector.FaultInjector.layerNone,
          sequencerLayer,
          consensusLayer,
          metricsLayer,
          RunStore.RunStore.layerFileSystem(workspace)
        )
      ),
      Effect.provide(engine)
    )
  }).pipe(Effect.provide(NodeServices.layer))

const artifacts = (workspace: string) =>
  Object.fromEntries(
    Stage.all.map((stage) => [stage, fs.readFileSync(path.join(workspace, "specs", "SPEC-1", `${stage}.md`), "utf8")])
  )

describe("DurableRun", () => {
  it.live(
    "a run handed over from one of its fibers suspends once its steps in flight are done; resumed, it makes none of them again",
    () =>
      Effect.gen(function* () {
        const flow = Workflow.make("HandOverTest", {
          payload: { id: Schema.String },
          success: Schema.Number,
          idempotencyKey: (payload) => payload.id
        })
        const engine = yield* WorkflowEngine.WorkflowEngine
        let moved = false
        let handedOver = false
        const executed: Array<string> = []
        yield* engine.register(flow, () =>
          Effect.gen(function* () {
            const instance = yield* WorkflowEngine.WorkflowInstance
            const execution = DurableRun.execution(engine, instance, {
              handOver: { moved: () => moved, fiber: yield* Effect.fiber }
            })
            const step = (name: string, ms: number) =>
              Effect.map(
                execution.step({
                  name,
                  success: Schema.Number,
                  execute: Effect.sync(() => executed.push(name)).pipe(Effect.andThen(Effect.sleep(ms)), Effect.as(1))
                }),
                (done) => done.value
              )
            // Two fibers of the run: the second finds the run moved while the first's step is in flight.
            const [slow, fast] = yield* Effect.all(
              [
                Effect.zipWith(step("slow", 300), step("slow-after", 0), (a, b) => a + b),
                Effect.gen(function* () {
                  const first = yield* step("fast", 0)
                  // The shard moves once, in the first execution.
                  if (!handedOver) moved = handedOver = true
                  return first + (yield* step("fast-after", 0))
                })
              ],
              { concurrency: 2 }
            )
            return slow + fast
          })
        )
        const executionId = yield* flow.execute({ id: "run-1" }, { discard: true })
        const settled = Effect.gen(function* () {
          while (true) {
            const polled = yield* flow.poll(executionId)
            if (Option.isSome(polled)) return polled.value
            yield* Effect.sleep(20)
          }
        })
        const suspended = yield* settled
        assert.strictEqual(suspended._tag, "Suspended")
        assert.sameMembers(executed, ["slow", "fast"], "the step in flight finished, no step began after the move")
        moved = false
        yield* flow.resume(executionId)
        let result = yield* settled
        while (result._tag === "Suspended") {
          yield* Effect.sleep(20)
          result = yield* settled
        }
        assert.deepStrictEqual(result._tag === "Complete" ? result.exit : result, Exit.succeed(4))
        assert.sameMembers(executed, ["slow", "fast", "slow-after", "fast-after"], "no step made again")
      }).pipe(Effect.provide(WorkflowEngine.layerMemory), Effect.scoped)
  )

  it.live("on the in-memory engine: completes like a direct run, with the same artifacts", () =>
    Effect.gen(function* () {
      const direct = makeWorkspace()
      yield* run(direct, sims())
      const durable = makeWorkspace()
      const runId = yield* RunId.make
      const outcome = yield* durableRun(durable, sims(), WorkflowEngine.layerMemory, runId)
      assert.strictEqual(outcome._tag, "Finished")
      if (outcome._tag === "Finished") assert.strictEqual(outcome.summary.status, "completed")
      assert.deepStrictEqual(artifacts(durable), artifacts(direct))
    })
  )
})

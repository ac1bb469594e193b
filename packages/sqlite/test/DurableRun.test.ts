/**
 * Durable runs on the SQLite state database: stopped mid-way (the engine's scope closed, as when the
 * process dies) and resumed in a new engine, with either engine; a long retry wait across a restart.
 */
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
  Resilience,
  RunId,
  RunStore,
  Sequencer,
  SessionMetrics,
  SimAgent,
  Spec,
  SpeckitConfig,
  Stage,
  TokenUsage
} from "@speckit/core"
import { Effect, Fiber, Layer } from "effect"
import type { WorkflowEngine } from "effect/workflow"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as StateDatabase from "../src/StateDatabase.ts"

// Minimal in-test implementations of the plugin ports, so the engine is tested with core alone.
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

const makeWorkspace = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-sqlite-"))
  fs.mkdirSync(path.join(dir, "specs", "SPEC-1"), { recursive: true })
  fs.writeFileSync(
    path.join(dir, "specs", "SPEC-1", "spec.md"),
    "# Login\n\n## Requirements\n\n- Users sign in with email\n- Lock after 5 failures\n"
  )
  return dir
}

const sims = (latencyMs = 1) =>
  ["alpha", "beta", "gamma"].map((name, i) => SimAgent.make({ id: AgentId.make(name), latencyMs, seed: i + 1 }))

const layers = (workspace: string, agents: ReadonlyArray<Agent.Agent>) =>
  Layer.mergeAll(
    AgentRegistry.AgentRegistry.fromAgents(agents),
    FaultInjector.FaultInjector.layerNone,
    sequencerLayer,
    consensusLayer,
    metricsLayer,
    RunStore.RunStore.layerFileSystem(workspace)
  )

/** A direct (not durable) run, as the reference. */
const run = (workspace: string, agents: ReadonlyArray<Agent.Agent>) =>
  Effect.gen(function* () {
    const spec = yield* Spec.load(workspace, "SPEC-1")
    return yield* Pipeline.run({ spec, config: SpeckitConfig.defaultConfig }).pipe(
      Effect.provide(layers(workspace, agents))
    )
  }).pipe(Effect.provide(NodeServices.layer))

const artifacts = (workspace: string) =>
  Object.fromEntries(
    Stage.all.map((stage) => [stage, fs.readFileSync(path.join(workspace, "specs", "SPEC-1", `${stage}.md`), "utf8")])
  )

/** Sim agents that count their calls per (stage, agent). */
const counted = (calls: Array<string>, latencies: ReadonlyArray<number>) =>
  sims().map(
    (agent, i): Agent.Agent => ({
      ...agent,
      call: (request) =>
        Effect.sleep(latencies[i] ?? 1).pipe(
          Effect.andThen(agent.call(request)),
          Effect.tap(() => Effect.sync(() => void calls.push(`${request.stage}/${agent.id}`)))
        )
    })
  )

const durableRun = (
  workspace: string,
  agents: ReadonlyArray<Agent.Agent>,
  engine: Layer.Layer<WorkflowEngine.WorkflowEngine, unknown>,
  runId: RunId.RunId,
  options: { readonly config?: SpeckitConfig.SpeckitConfig } = {}
) =>
  Effect.gen(function* () {
    const spec = yield* Spec.load(workspace, "SPEC-1")
    return yield* DurableRun.run({ spec, config: options.config ?? SpeckitConfig.defaultConfig, runId }).pipe(
      Effect.scoped,
      Effect.provide(layers(workspace, agents)),
      Effect.provide(engine)
    )
  }).pipe(Effect.provide(NodeServices.layer))

describe("DurableRun on the state database", () => {
  for (const kind of ["journal", "cluster"] as const) {
    it.live(
      `on SQLite (${kind} engine): a run stopped mid-way resumes in a new engine without calling the recorded agents again`,
      () =>
        Effect.gen(function* () {
          const reference = makeWorkspace()
          yield* run(reference, sims())
          const workspace = makeWorkspace()
          const filename = path.join(workspace, ".speckit", "state.db")
          const engine = StateDatabase.layer({ filename, engine: kind })
          const runId = yield* RunId.make
          const first: Array<string> = []
          // Stopped (the engine's scope closed, as when the process dies) once `implement` has begun.
          const fiber = yield* Effect.forkChild(durableRun(workspace, counted(first, [5, 10, 15]), engine, runId))
          yield* Effect.sleep(10).pipe(Effect.repeat({ until: () => first.some((call) => call.startsWith("tasks/")) }))
          yield* Fiber.interrupt(fiber)
          const planned = first.filter((call) => call.startsWith("plan/"))
          assert.strictEqual(planned.length, 3)

          const second: Array<string> = []
          const outcome = yield* durableRun(workspace, counted(second, [5, 10, 15]), engine, runId)
          assert.strictEqual(outcome._tag, "Finished")
          if (outcome._tag === "Finished") assert.strictEqual(outcome.summary.status, "completed")
          assert.deepStrictEqual(
            second.filter((call) => call.startsWith("plan/")),
            [],
            "plan's recorded answers are not asked again"
          )
          assert.deepStrictEqual(artifacts(workspace), artifacts(reference))

          // A finished run is not run again.
          const third: Array<string> = []
          const again = yield* durableRun(workspace, counted(third, [5, 10, 15]), engine, runId)
          assert.strictEqual(again._tag, "AlreadyFinished")
          assert.deepStrictEqual(third, [])
        }),
      60_000
    )
  }
})

describe("DurableRun: long retry waits", () => {
  it.live(
    "a rate-limit wait survives a restart: the resumed run waits only what is left and never calls the agent early",
    () =>
      Effect.gen(function* () {
        const workspace = makeWorkspace()
        const filename = path.join(workspace, ".speckit", "state.db")
        const engine = StateDatabase.layer({ filename })
        const runId = yield* RunId.make
        const config: SpeckitConfig.SpeckitConfig = {
          ...SpeckitConfig.defaultConfig,
          retry: { maxRetries: 2, maxElapsedMs: 60_000, jitter: 0 }
        }
        // alpha's first plan attempt is rate limited until `resetAt`; every call is timed.
        const calls: Array<{ readonly stage: string; readonly attempt: number; readonly at: number }> = []
        let resetAt = 0
        const agents = sims().map(
          (agent): Agent.Agent =>
            agent.id !== "alpha"
              ? agent
              : {
                  ...agent,
                  call: (request) =>
                    Effect.suspend(() => {
                      calls.push({ stage: request.stage, attempt: request.attempt, at: Date.now() })
                      if (request.stage === "plan" && request.attempt === 1) {
                        resetAt = Date.now() + 6_000
                        return Effect.fail(
                          new AgentError.AgentError({ agent: "alpha", kind: "RateLimited", detail: "429", resetAt })
                        )
                      }
                      return agent.call(request)
                    })
                }
        )
        const withRetries = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          effect.pipe(Effect.provide(Resilience.layer(config)))

        // Process 1: stopped two seconds into the six-second wait.
        const fiber = yield* Effect.forkChild(withRetries(durableRun(workspace, agents, engine, runId, { config })))
        yield* Effect.sleep(2_000)
        const early = fiber.pollUnsafe()
        assert.isUndefined(early, `the run is still waiting: ${JSON.stringify(early)}`)
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(
          calls.map((c) => `${c.stage}/${c.attempt}`),
          ["plan/1"]
        )

        // Process 2: waits out the rest, then goes on with attempt 2.
        const resumedAt = Date.now()
        const outcome = yield* withRetries(durableRun(workspace, agents, engine, runId, { config }))
        assert.strictEqual(outcome._tag, "Finished")
        if (outcome._tag !== "Finished") return
        assert.strictEqual(outcome.summary.status, "completed")
        const second = calls.find((c) => c.stage === "plan" && c.attempt === 2)
        assert.isDefined(second)
        assert.isAtLeast(second?.at ?? 0, resetAt, "not called before the reset")
        assert.isBelow((second?.at ?? 0) - resumedAt, 5_500, "only the rest of the wait")
        const plan = outcome.summary.stages.find((s) => s.stage === "plan")
        const alpha = plan?.agents.find((a) => a.agent === "alpha")
        assert.strictEqual(alpha?.status, "succeeded")
        assert.strictEqual(alpha?.attempts, 2)
        assert.deepStrictEqual(
          alpha?.retries.map((r) => r.kind),
          ["RateLimited"]
        )
      }),
    60_000
  )
})

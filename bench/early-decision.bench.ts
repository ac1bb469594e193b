/**
 * Early decision on a straggler workload: a majority verdict stage with 3 agents, two answering
 * `pass` after 20 ms and one after 500 ms, run through `StageRunner.runStage` with the quorum
 * consensus' `settled` predicate. Real time.
 *
 * ratio = early-decision wall time / wait-for-all wall time (lower is better); speed-up = 1 / ratio.
 */
import { Effect } from "effect"
import { type Benchmark, median, round2, sample } from "./Bench.ts"
import { AgentId, QuorumConsensus, StageRunner, TokenUsage } from "./deps.ts"

const latency: Record<string, number> = { quick1: 20, quick2: 20, straggler: 500 }
const agents = Object.keys(latency).map(AgentId.make)

const call = (agent: AgentId.AgentId) =>
  Effect.sleep(latency[agent] ?? 0).pipe(
    Effect.as({
      _tag: "Succeeded" as const,
      agent,
      model: "sim",
      result: {
        stage: "validate" as const,
        agent,
        summary: "s",
        test_strategy: ["t"] as const,
        verdict: "pass" as const
      },
      attempts: 1,
      history: [],
      usage: TokenUsage.empty,
      costUsd: 0,
      durationMs: latency[agent] ?? 0
    })
  )

const stage = (earlyDecision: boolean) => {
  const policy = {
    stage: "validate" as const,
    agents,
    quorum: "majority" as const,
    onConflict: "halt" as const,
    earlyDecision
  }
  return Effect.runPromise(
    StageRunner.runStage(policy, call, { settled: (outcomes) => QuorumConsensus.settled(policy, outcomes) }).pipe(
      Effect.tap((ran) =>
        earlyDecision && ran.stopped.length !== 1 ? Effect.die(new Error("the straggler was not stopped")) : Effect.void
      )
    )
  )
}

const benchmark: Benchmark = {
  name: "early-decision",
  description: "majority verdict stage, 2 agents at 20 ms + 1 straggler at 500 ms: early decision vs wait-for-all",
  target: { ratio: 0.2, direction: "max" },
  run: async () => {
    const all = await sample({ runs: 5, warmup: 1, task: () => stage(false) })
    const early = await sample({ runs: 5, warmup: 1, task: () => stage(true) })
    return {
      baseline: { label: "wait for all agents", value: median(all), unit: "ms", samples: all.map(round2) },
      measured: { label: "early decision", value: median(early), unit: "ms", samples: early.map(round2) },
      details: { speedUp: round2(median(all) / median(early)) }
    }
  }
}

export default benchmark

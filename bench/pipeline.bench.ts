/**
 * Overhead of the pipeline itself: the demo spec through 6 stages with 3 simulated agents that all
 * answer after a fixed latency, on the real plugin layers (`Run.layer`) and a real temp workspace.
 *
 * ratio = median wall time of `Pipeline.run` / ideal critical path (6 stages × slowest agent).
 *
 * The breakdown rows rerun the same pipeline with one cost removed at a time (a run store that only
 * stringifies, one that does nothing, that one with metrics that record nothing, a progress display,
 * zero-latency agents) so a miss can be traced without touching product code; the timeline rows
 * split the time beyond the agents' latency into where it is spent (before the first call, the calls,
 * between stages, after the last call), from a run whose events are timed. All variants are
 * interleaved round by round so drift (GC, JIT, disk cache) spreads evenly over them.
 * `readPlanAnswerUs` shows what the agents' wait costs the work right after it (one answer's reading,
 * hot and after a 50 ms wait), and the floor row what any pipeline of these stages takes at the least
 * (the waits and the answers' reading alone). Goal: ratio ≤ 1.03.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, FileSystem, Layer } from "effect"
import { type Benchmark, type Goal, median, ms, round2 } from "./Bench.ts"
import {
  AgentId,
  Demo,
  NodeServices,
  Pipeline,
  PipelineEvent,
  Progress,
  Run,
  RunId,
  RunStore,
  SessionMetrics,
  SimAgent,
  type Spec,
  Stage,
  type SpeckitConfig,
  StageResult,
  TokenUsage
} from "./deps.ts"

const latencyMs = 50
const stages = 6
const agents = ["alpha", "beta", "gamma"] as const
const criticalPathMs = stages * latencyMs
const runs = 5
const warmup = 1

/** The demo configuration with every agent at the same fixed latency. */
const benchConfig = (latency: number) => ({
  ...Demo.config,
  agents: Object.fromEntries(
    Object.entries(Demo.config.agents).map(([id, agent]) => [id, { ...agent, latencyMs: latency }])
  )
})

/** Creates the demo workspace in a fresh temp directory, with the configuration for `latency`. */
const workspace = async (latency: number): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), "speckit-bench-"))
  await writeFile(join(dir, "speckit.config.json"), `${JSON.stringify(benchConfig(latency), null, 2)}\n`)
  return dir
}

const now = () => Effect.sync(() => performance.now())

/** A run store that renders the same JSON the file-system store writes, and drops it. */
const jsonOnlyStore = Layer.succeed(RunStore.RunStore, {
  runDir: (runId) => `.speckit/runs/${runId}`,
  begin: (run) => Effect.sync(() => void JSON.stringify(run, null, 2)),
  saveAnswer: (_runId, _stage, _agent, _attempt, answer) => Effect.sync(() => void JSON.stringify(answer, null, 2)),
  saveConsensus: (run, consensus) =>
    Effect.sync(() => {
      JSON.stringify(consensus, null, 2)
      return `${run.specDirectory}/${consensus.stage}.md`
    }),
  finish: (summary) => Effect.sync(() => void JSON.stringify(summary, null, 2))
})

/** A run store that does nothing. */
const noopStore = Layer.succeed(RunStore.RunStore, {
  runDir: (runId) => `.speckit/runs/${runId}`,
  begin: () => Effect.void,
  saveAnswer: () => Effect.void,
  saveConsensus: (run, consensus) => Effect.succeed(`${run.specDirectory}/${consensus.stage}.md`),
  finish: () => Effect.void
})

/** Session metrics that record nothing: no tallies, no prices, no exported series. */
const noMetrics = Layer.succeed(SessionMetrics.SessionMetrics, {
  record: () => Effect.succeed({ costUsd: 0, priced: true }),
  snapshot: Effect.succeed({
    calls: 0,
    failedCalls: 0,
    usage: TokenUsage.empty,
    costUsd: 0,
    unpriced: [],
    byAgent: {},
    byStage: {}
  })
})

/** Wall time of each call of the real file-system store, by method (filled by the `timedStore` variant). */
const storeCalls = {
  begin: [] as Array<number>,
  saveAnswer: [] as Array<number>,
  saveConsensus: [] as Array<number>,
  finish: [] as Array<number>
}

const timed = <A, E>(into: Array<number>, effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const t0 = yield* now()
    const result = yield* effect
    into.push((yield* now()) - t0)
    return result
  })

/** The real file-system store, each call timed. */
const timedStore = (root: string) =>
  Layer.effect(
    RunStore.RunStore,
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      return RunStore.RunStore.of({
        runDir: store.runDir,
        begin: (run) => timed(storeCalls.begin, store.begin(run)),
        saveAnswer: (...args) => timed(storeCalls.saveAnswer, store.saveAnswer(...args)),
        saveConsensus: (...args) => timed(storeCalls.saveConsensus, store.saveConsensus(...args)),
        finish: (summary) => timed(storeCalls.finish, store.finish(summary))
      })
    })
  ).pipe(Layer.provide(RunStore.RunStore.layerFileSystem(root)))

/** The file-system operations one store write does (`mkdir -p` of an existing dir, write a temp file, rename). */
const fsOps = (root: string, iterations: number) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = join(root, ".speckit", "bench-fs")
    const content = `${JSON.stringify({ text: "x".repeat(2000) }, null, 2)}\n`
    const ops = { mkdirExisting: [] as Array<number>, writeFile: [] as Array<number>, rename: [] as Array<number> }
    yield* fs.makeDirectory(dir, { recursive: true })
    for (let i = 0; i < iterations; i++) {
      const file = join(dir, `f${i}.json`)
      yield* timed(ops.mkdirExisting, fs.makeDirectory(dir, { recursive: true }))
      yield* timed(ops.writeFile, fs.writeFileString(`${file}.tmp`, content))
      yield* timed(ops.rename, fs.rename(`${file}.tmp`, file))
    }
    return ops
  })

/** The plain progress display `speckit auto` uses off a TTY, writing to nowhere. */
const progressSink = Layer.sync(PipelineEvent.PipelineEvents, () => Progress.plain({ write: () => true }))

/** When each agent call of the `timeline` variant's runs started and finished, by stage, in run order. */
interface Timeline {
  readonly stages: Array<{ firstStarted: number; lastFinished: number }>
}

/** Times the events of a run into `timeline` (the `timeline` variant): each stage's first call started and last call finished. */
const timelineEvents = (timeline: Timeline) =>
  Layer.succeed(PipelineEvent.PipelineEvents, {
    emit: (event: PipelineEvent.PipelineEvent) =>
      Effect.sync(() => {
        const at = performance.now()
        if (event._tag === "StageStarted") timeline.stages.push({ firstStarted: Number.NaN, lastFinished: Number.NaN })
        const current = timeline.stages.at(-1)
        if (current === undefined) return
        if (event._tag === "AgentStarted" && Number.isNaN(current.firstStarted)) current.firstStarted = at
        if (event._tag === "AgentFinished") current.lastFinished = at
      })
  })

/** Where a run's time beyond its agents' latency went, in ms. */
interface Overhead {
  /** From `Pipeline.run` to the first agent call. */
  readonly start: number
  /** Each stage's calls (first started to last finished) beyond the latency, summed. */
  readonly calls: number
  /** From a stage's last call to the next stage's first, summed. */
  readonly between: number
  /** From the last call to `Pipeline.run`'s return. */
  readonly end: number
}

const overheadOf = (startedAt: number, endedAt: number, recorded: Timeline): Overhead => {
  const { stages: spans } = recorded
  const first = spans[0]
  const last = spans.at(-1)
  if (first === undefined || last === undefined) throw new Error("the timed run recorded no stage")
  return {
    start: first.firstStarted - startedAt,
    calls: spans.reduce((sum, span) => sum + (span.lastFinished - span.firstStarted - latencyMs), 0),
    between: spans.slice(1).reduce((sum, span, i) => sum + span.firstStarted - (spans[i]?.lastFinished ?? 0), 0),
    end: endedAt - last.lastFinished
  }
}

type Variant = "real" | "jsonStore" | "noopStore" | "bare" | "progress" | "timedStore" | "timeline"

interface Timing {
  /** `Pipeline.run` alone, its layers already built. */
  readonly runMs: number
  /** Building `Run.layer` (as `speckit auto` does per run) plus `Pipeline.run`. */
  readonly totalMs: number
  /** The `timeline` variant's split of the time beyond the latency. */
  readonly overhead?: Overhead
}

/** What a variant puts over `Run.layer` (the `real` one: nothing). */
const variantLayer = (variant: Variant, root: string, timeline: Timeline) => {
  switch (variant) {
    case "real":
      return Layer.empty
    case "jsonStore":
      return jsonOnlyStore
    case "noopStore":
      return noopStore
    case "bare":
      return Layer.merge(noopStore, noMetrics)
    case "progress":
      return progressSink
    case "timedStore":
      return timedStore(root)
    case "timeline":
      return timelineEvents(timeline)
  }
}

const runOnce = (variant: Variant, root: string, prepared: { config: SpeckitConfig.SpeckitConfig; spec: Spec.Spec }) =>
  Effect.gen(function* () {
    const started = yield* now()
    const timeline: Timeline = { stages: [] }
    const { runMs, overhead } = yield* Effect.gen(function* () {
      const t0 = yield* now()
      const summary = yield* Pipeline.run({ spec: prepared.spec, config: prepared.config })
      const t1 = yield* now()
      if (summary.status !== "completed") {
        return yield* Effect.die(new Error(`run ${summary.runId} ended ${summary.status}: ${summary.hint ?? ""}`))
      }
      return { runMs: t1 - t0, overhead: variant === "timeline" ? overheadOf(t0, t1, timeline) : undefined }
    }).pipe(Effect.provide(variantLayer(variant, root, timeline)), Effect.provide(Run.layer(prepared.config, root)))
    const totalMs = (yield* now()) - started
    return { runMs, totalMs, ...(overhead === undefined ? {} : { overhead }) } satisfies Timing
  })

/** The in-process reference: the critical path as plain sleeps, sequential and fanned out like the agents. */
const sleepSequential = Effect.gen(function* () {
  const t0 = yield* now()
  for (let i = 0; i < stages; i++) yield* Effect.sleep(latencyMs)
  return (yield* now()) - t0
})

const sleepFanOut = Effect.gen(function* () {
  const t0 = yield* now()
  for (let i = 0; i < stages; i++) {
    yield* Effect.forEach(agents, () => Effect.sleep(latencyMs), { concurrency: "unbounded", discard: true })
  }
  return (yield* now()) - t0
})

/** Each stage's answer of each agent, as the sim agents send it (JSON text), by stage in pipeline order. */
const answerTexts = (spec: Spec.Spec) =>
  Stage.all.map((stage) =>
    agents.map((agent, seed) =>
      JSON.stringify(
        SimAgent.answer(
          {
            runId: RunId.RunId.make("run-bench"),
            stage,
            agent: AgentId.make(agent),
            attempt: 1,
            prompt: "",
            spec,
            previous: "",
            idempotencyKey: ""
          },
          seed
        )
      )
    )
  )

/**
 * The floor: what any pipeline of these stages does at the least. Each stage's agents wait their
 * latency concurrently, then each answer is read with its stage's schema (`StageResult.read`); no
 * store, no events, no metrics, no consensus. The pipeline's ratio can come no nearer to 1 than this
 * one's on the same machine.
 */
const floorRun = (texts: ReadonlyArray<ReadonlyArray<string>>) =>
  Effect.gen(function* () {
    const t0 = yield* now()
    for (const [i, stage] of Stage.all.entries()) {
      const read = yield* Effect.forEach(
        agents,
        (agent, j) =>
          Effect.map(Effect.sleep(latencyMs), () =>
            StageResult.read(stage, AgentId.make(agent), texts[i]?.[j] ?? "", false)
          ),
        { concurrency: "unbounded" }
      )
      if (!read.every((result) => result._tag === "Success"))
        return yield* Effect.die(new Error(`a ${stage} answer did not read`))
    }
    return (yield* now()) - t0
  })

/**
 * What a stage's first answer meets after the agents' wait: reading one plan answer (`StageResult.read`)
 * back to back, and once after each of `idleRounds` waits of the agents' latency. On a shared machine
 * the wait leaves the caches cold, so the work right after it takes several times as long (µs).
 */
const idleRounds = 10
const readAfterIdle = (text: string) =>
  Effect.gen(function* () {
    const agent = AgentId.make(agents[0])
    const read = () => StageResult.read("plan", agent, text, false)
    const timeOnce = () => {
      const t0 = performance.now()
      read()
      return (performance.now() - t0) * 1000
    }
    for (let i = 0; i < 2000; i++) read()
    const hot = Array.from({ length: 200 }, timeOnce)
    const afterIdle: Array<number> = []
    for (let i = 0; i < idleRounds; i++) {
      yield* Effect.sleep(latencyMs)
      afterIdle.push(timeOnce())
    }
    return { hotUs: round2(median(hot)), afterIdleUs: round2(median(afterIdle)) }
  })

const program = Effect.gen(function* () {
  const dirs = [yield* Effect.promise(() => workspace(latencyMs)), yield* Effect.promise(() => workspace(0))]
  const [root, zeroRoot] = dirs as [string, string]
  return yield* Effect.gen(function* () {
    yield* Demo.create(root)
    yield* Demo.create(zeroRoot)
    const prepared = yield* Run.prepare(Demo.specId, root)
    const zero = yield* Run.prepare(Demo.specId, zeroRoot)

    const variants: ReadonlyArray<Variant> = [
      "real",
      "jsonStore",
      "noopStore",
      "bare",
      "progress",
      "timedStore",
      "timeline"
    ]
    const timings = new Map<Variant, Array<Timing>>(variants.map((variant) => [variant, []]))
    const zeroTimings: Array<Timing> = []
    const sleeps = { sequential: [] as Array<number>, fanOut: [] as Array<number>, floor: [] as Array<number> }
    const texts = answerTexts(prepared.spec)

    for (let round = 0; round < warmup + runs; round++) {
      const record = round >= warmup
      for (const variant of variants) {
        const timing = yield* runOnce(variant, prepared.root, prepared)
        if (record) timings.get(variant)?.push(timing)
      }
      const zeroTiming = yield* runOnce("real", zero.root, zero)
      const sequential = yield* sleepSequential
      const fanOut = yield* sleepFanOut
      const floor = yield* floorRun(texts)
      if (record) {
        zeroTimings.push(zeroTiming)
        sleeps.sequential.push(sequential)
        sleeps.fanOut.push(fanOut)
        sleeps.floor.push(floor)
      }
    }
    const ops = yield* fsOps(root, 50)
    const idle = yield* readAfterIdle(texts[0]?.[0] ?? "")
    return { timings, zeroTimings, sleeps, ops, idle }
  }).pipe(
    Effect.ensuring(
      Effect.promise(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))).pipe(
        Effect.ignore
      )
    )
  )
})

const benchmark: Benchmark = {
  name: "pipeline",
  description: `demo pipeline, ${agents.length} sim agents × ${stages} stages at ${latencyMs} ms, real layers and workspace; wall time of Pipeline.run / critical path`,
  target: { ratio: 1.1, direction: "max" },
  run: async () => {
    const { timings, zeroTimings, sleeps, ops, idle } = await Effect.runPromise(
      program.pipe(Effect.provide(NodeServices.layer))
    )
    const of = (variant: Variant) => timings.get(variant) ?? []
    const real = of("real")
    const wall = median(real.map((t) => t.runMs))
    const sleepBaseline = median(sleeps.sequential)
    const perCall = (samples: ReadonlyArray<number>) => ({ calls: samples.length, medianMs: round2(median(samples)) })
    const overheads = of("timeline").flatMap((t) => (t.overhead === undefined ? [] : [t.overhead]))
    const part = (label: string, pick: (overhead: Overhead) => number) => ms(`timeline: ${label}`, overheads.map(pick))
    return {
      baseline: { label: `critical path (${stages} × ${latencyMs} ms)`, value: criticalPathMs, unit: "ms" },
      measured: ms(
        "Pipeline.run wall time (median)",
        real.map((t) => t.runMs)
      ),
      extra: [
        ms("sleep baseline: 6 × sleep(50) sequential", sleeps.sequential),
        ms("sleep baseline: 6 × 3 concurrent sleep(50)", sleeps.fanOut),
        ms("floor: 6 × 3 concurrent sleep(50), each answer then read (StageResult.read)", sleeps.floor),
        ms(
          "Run.layer build + Pipeline.run",
          real.map((t) => t.totalMs)
        ),
        ms(
          "breakdown: store only JSON.stringify",
          of("jsonStore").map((t) => t.runMs)
        ),
        ms(
          "breakdown: no-op store",
          of("noopStore").map((t) => t.runMs)
        ),
        ms(
          "breakdown: no-op store and no metrics",
          of("bare").map((t) => t.runMs)
        ),
        ms(
          "breakdown: + plain progress display",
          of("progress").map((t) => t.runMs)
        ),
        ms(
          "breakdown: real store, each call timed",
          of("timedStore").map((t) => t.runMs)
        ),
        ms(
          "breakdown: zero-latency agents (pure overhead)",
          zeroTimings.map((t) => t.runMs)
        ),
        part("start to the first agent call", (o) => o.start),
        part(`the calls beyond their ${latencyMs} ms (${stages} stages)`, (o) => o.calls),
        part(`between stages (last call to the next's first, ${stages - 1}×)`, (o) => o.between),
        part("the last call to the end", (o) => o.end)
      ],
      goals: [
        {
          label: "Pipeline.run / critical path",
          value: round2(wall / criticalPathMs),
          unit: "×",
          limit: 1.03,
          direction: "max"
        }
      ] satisfies Array<Goal>,
      details: {
        runs,
        warmup,
        criticalPathMs,
        ratioVsSleepBaseline: round2(wall / sleepBaseline),
        timerSlackMs: round2(sleepBaseline - criticalPathMs),
        overheadMs: round2(wall - criticalPathMs),
        overheadBeyondTimersMs: round2(wall - sleepBaseline),
        fileStoreCostMs: round2(wall - median(of("noopStore").map((t) => t.runMs))),
        // What is left without the store, the event log and the metrics: the stage machinery itself.
        bareRatio: round2(median(of("bare").map((t) => t.runMs)) / criticalPathMs),
        // The least any pipeline of these stages does (see `floorRun`), on this machine.
        floorRatio: round2(median(sleeps.floor) / criticalPathMs),
        storeCallsDuringTimedRuns: {
          begin: perCall(storeCalls.begin),
          saveAnswer: perCall(storeCalls.saveAnswer),
          saveConsensus: perCall(storeCalls.saveConsensus),
          finish: perCall(storeCalls.finish)
        },
        fsOpMedianMs: {
          mkdirRecursiveExisting: round2(median(ops.mkdirExisting)),
          writeFile: round2(median(ops.writeFile)),
          rename: round2(median(ops.rename))
        },
        readPlanAnswerUs: { ...idle, [`after${latencyMs}msIdle/hot`]: round2(idle.afterIdleUs / idle.hotUs) },
        jsonStringifyCostMs: round2(
          median(of("jsonStore").map((t) => t.runMs)) - median(of("noopStore").map((t) => t.runMs))
        )
      }
    }
  }
}

export default benchmark

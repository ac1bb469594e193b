/**
 * Cost of durability: the demo pipeline run as a durable workflow (`DurableRun.run`) on the
 * embedded state database as `speckit auto` runs it — `StateDatabase.layer` with its default engine,
 * `journal` (`SqlWorkflowEngine`: `layerMemory`'s semantics plus one SQL row per completed
 * activity), and the sequencer kept in the same database (`SqlSequencerStore.layerSequencer()`) —
 * against the same `DurableRun.run` on `WorkflowEngine.layerMemory` with the in-memory sequencer
 * (`MemorySequencer.layer`). Everything else is the same: the demo spec, 3 simulated agents × 6
 * stages at a fixed 50 ms latency, the real plugin layers (`Run.layer`), a fresh temp workspace (and
 * state database) per run.
 *
 * ratio = median wall time of the durable (journal) run / median wall time of the in-memory one
 * (target ≤ 1.05).
 *
 * Also printed:
 * - the same run on `StateDatabase.layer({ engine: "cluster" })` (`ClusterWorkflowEngine` on a
 *   `SingleRunner`, runner storage in SQL) as an informational ratio. It is slower because every
 *   activity goes through the cluster's messaging — an RPC round trip, a dozen SQL statements and
 *   three transactions, about 1.7 ms of CPU — where the journal engine writes one row (~0.1 ms);
 * - the cost of one activity on each engine: N sequential trivial activities in one workflow, wall
 *   and CPU ms per activity and the difference to `layerMemory`, and that difference times the
 *   number of activities a demo run executes (counted by wrapping the engine's `activityExecute`);
 * - CPU ms per run: on a busy machine wall times stretch, CPU times much less.
 *
 * Pipeline variants are interleaved round by round, in alternating order, after one warm-up round;
 * so are the engines of the per-activity rounds (each round on fresh engines and database files).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { WorkflowEngine } from "effect/workflow"
// Not (yet) re-exported by deps.ts; loaded from the same built `dist/` files, so the module
// instances are the ones `deps.ts` and the packages use.
import { SqlSequencerStore } from "../packages/consensus/dist/index.js"
import { DurableRun, FaultInjector, RunId, type Sequencer } from "../packages/core/dist/index.js"
import * as StateDatabase from "../packages/sqlite/dist/StateDatabase.js"
import { type Benchmark, type Measurement, median, ms, round2 } from "./Bench.ts"
import { perActivity, StepsLive } from "./steps.ts"
import { Demo, MemorySequencer, NodeServices, Run, type Spec, type SpeckitConfig } from "./deps.ts"

const latencyMs = 50
const stages = 6
const agents = 3
const rounds = 9
const warmup = 1
const activities = 200
const activityRounds = 5

/** The engines compared: in memory, and the state database with each of its engines. */
type Engine = "memory" | "journal" | "cluster"

const engines: ReadonlyArray<Engine> = ["memory", "journal", "cluster"]

const engineLayer = (engine: Engine, filename: string) =>
  engine === "memory" ? WorkflowEngine.layerMemory : StateDatabase.layer({ filename, engine })

const cpuMs = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** Runs `f` and ensures `dir` is deleted afterwards. */
const inTempDir = <A, E, R>(prefix: string, f: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), prefix))),
    f,
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })).pipe(Effect.ignore)
  )

/** The results of `rounds` rounds over `items`, every round in alternating order. */
const interleaved = <K, A, E, R>(
  items: ReadonlyArray<K>,
  count: number,
  f: (item: K, round: number) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function* () {
    const samples = new Map<K, Array<A>>(items.map((item) => [item, []]))
    for (let round = 0; round < count; round++) {
      for (const item of round % 2 === 0 ? items : [...items].reverse()) samples.get(item)?.push(yield* f(item, round))
    }
    return samples
  })

// -------------------------------------------------------------------------------------------------
// 1. cost of one activity
// -------------------------------------------------------------------------------------------------

const activityCost = (engine: Engine, dir: string, round: number) =>
  perActivity("measured", activities).pipe(
    Effect.provide(StepsLive.pipe(Layer.provideMerge(engineLayer(engine, join(dir, `${engine}-${round}.db`)))))
  )

// -------------------------------------------------------------------------------------------------
// 2. the demo pipeline
// -------------------------------------------------------------------------------------------------

/** The demo configuration with every agent at the same fixed latency. */
const benchConfig = {
  ...Demo.config,
  agents: Object.fromEntries(Object.entries(Demo.config.agents).map(([id, agent]) => [id, { ...agent, latencyMs }]))
}

interface Prepared {
  readonly root: string
  readonly config: SpeckitConfig.SpeckitConfig
  readonly spec: Spec.Spec
}

/** A fresh demo workspace in `dir`, loaded as `speckit auto` loads it. */
const workspace = (dir: string) =>
  Effect.gen(function* () {
    yield* Effect.promise(() =>
      writeFile(join(dir, "speckit.config.json"), `${JSON.stringify(benchConfig, null, 2)}\n`)
    )
    yield* Demo.create(dir)
    const prepared = yield* Run.prepare(Demo.specId, dir)
    return { root: prepared.root, config: prepared.config, spec: prepared.spec } satisfies Prepared
  })

/**
 * The plugin, engine and sequencer layers of an engine: the in-memory sequencer with `layerMemory`,
 * the SQL one (in the workspace's state database) with the state database.
 */
const layersOf = (engine: Engine, prepared: Prepared) => {
  const plugins = <E, R>(sequencer: Layer.Layer<Sequencer.Sequencer, E, R>) =>
    Run.layer(prepared.config, prepared.root, FaultInjector.FaultInjector.layerNone, {}, sequencer)
  if (engine === "memory") return plugins(MemorySequencer.layer).pipe(Layer.provideMerge(WorkflowEngine.layerMemory))
  return plugins(SqlSequencerStore.layerSequencer()).pipe(
    Layer.provideMerge(StateDatabase.layer({ filename: join(prepared.root, StateDatabase.path), engine }))
  )
}

/** Wraps the provided engine to count the activities it executes into `into`. */
const counting = (into: { count: number }) =>
  Layer.effect(
    WorkflowEngine.WorkflowEngine,
    Effect.gen(function* () {
      const engine = yield* WorkflowEngine.WorkflowEngine
      return WorkflowEngine.WorkflowEngine.of({
        ...engine,
        activityExecute: (activity, attempt) => {
          into.count++
          return engine.activityExecute(activity, attempt)
        }
      })
    })
  )

interface Timing {
  /** `DurableRun.run` alone (scoped), its layers already built. */
  readonly runMs: number
  /** CPU time of the process during `runMs`. */
  readonly cpuMs: number
  /** Building the layers (opening the state database) + the run + closing them. */
  readonly totalMs: number
  /** The activities the run executed. */
  readonly activities: number
}

/** One run on an engine in a fresh workspace (created and deleted outside the timings). */
const runOnce = (engine: Engine) =>
  inTempDir("speckit-bench-durable-", (dir) =>
    Effect.gen(function* () {
      const prepared = yield* workspace(dir)
      const runId = yield* RunId.make
      const executed = { count: 0 }
      const t0 = performance.now()
      const { runMs, cpu } = yield* Effect.gen(function* () {
        const started = performance.now()
        const c0 = cpuMs()
        const outcome = yield* DurableRun.run({ spec: prepared.spec, config: prepared.config, runId }).pipe(
          Effect.scoped
        )
        const cpu = cpuMs() - c0
        const runMs = performance.now() - started
        if (outcome._tag !== "Finished" || outcome.summary.status !== "completed") {
          const status = outcome._tag === "AlreadyFinished" ? outcome.status : outcome.summary.status
          return yield* Effect.die(new Error(`${engine}: run ${runId} ended ${outcome._tag} ${status}`))
        }
        return { runMs, cpu }
      }).pipe(Effect.provide(counting(executed)), Effect.provide(layersOf(engine, prepared)))
      const totalMs = performance.now() - t0
      return { runMs, cpuMs: cpu, totalMs, activities: executed.count } satisfies Timing
    })
  )

const program = Effect.gen(function* () {
  const perActivityCosts = yield* inTempDir("speckit-bench-activities-", (dir) =>
    interleaved(engines, activityRounds, (engine, round) => activityCost(engine, dir, round))
  )
  const timings = yield* interleaved(engines, warmup + rounds, (engine) => runOnce(engine))
  for (const samples of timings.values()) samples.splice(0, warmup)
  return { perActivityCosts, timings }
})

// -------------------------------------------------------------------------------------------------
// report
// -------------------------------------------------------------------------------------------------

const round3 = (value: number) => Math.round(value * 1000) / 1000

const benchmark: Benchmark = {
  name: "durable",
  description: `demo pipeline, ${agents} sim agents × ${stages} stages at ${latencyMs} ms, through DurableRun.run: StateDatabase (journal) + SQL sequencer / layerMemory + in-memory sequencer`,
  target: { ratio: 1.05, direction: "max" },
  run: async () => {
    const { perActivityCosts, timings } = await Effect.runPromise(program.pipe(Effect.provide(NodeServices.layer)))
    const of = (engine: Engine) => timings.get(engine) ?? []
    const runMs = (engine: Engine) => of(engine).map((t) => t.runMs)
    const med = (engine: Engine) => median(runMs(engine))
    const costs = (engine: Engine) => perActivityCosts.get(engine) ?? []
    const wallPer = (engine: Engine) => median(costs(engine).map((c) => c.wallMs))
    const cpuPer = (engine: Engine) => median(costs(engine).map((c) => c.cpuMs))
    const counts = new Set(engines.flatMap((engine) => of(engine).map((t) => t.activities)))
    if (counts.size !== 1) throw new Error(`the runs executed different numbers of activities: ${[...counts]}`)
    const perRun = [...counts][0] ?? 0
    const memory = med("memory")
    const perActivityRow = (engine: Engine, label: string): Measurement => ({
      label: `per activity (${activities} trivial, wall): ${label}`,
      value: round3(wallPer(engine)),
      unit: "ms",
      samples: costs(engine).map((c) => round3(c.wallMs))
    })
    const predicted = (engine: Engine): Measurement => ({
      label: `predicted ${engine} cost: ${perRun} activities × ${round3(wallPer(engine) - wallPer("memory"))} ms`,
      value: round2(perRun * (wallPer(engine) - wallPer("memory"))),
      unit: "ms"
    })
    const byEngine = <A>(f: (engine: Engine) => A) =>
      Object.fromEntries(engines.map((engine) => [engine, f(engine)])) as Record<Engine, A>
    return {
      baseline: ms("in memory: layerMemory + MemorySequencer (median)", runMs("memory")),
      measured: ms("durable: StateDatabase journal + SqlSequencerStore (median)", runMs("journal")),
      extra: [
        ms("durable: StateDatabase cluster + SqlSequencerStore (median)", runMs("cluster")),
        { label: "ratio cluster / memory (informational)", value: round2(med("cluster") / memory), unit: "×" },
        perActivityRow("memory", "layerMemory"),
        perActivityRow("journal", "StateDatabase journal"),
        perActivityRow("cluster", "StateDatabase cluster"),
        predicted("journal"),
        predicted("cluster")
      ],
      details: {
        rounds,
        warmup,
        activityRounds,
        criticalPathMs: stages * latencyMs,
        activitiesPerRun: perRun,
        overheadMs: byEngine((engine) => round2(med(engine) - memory)),
        ratio: byEngine((engine) => round2(med(engine) / memory)),
        ratioWithLayerBuild: byEngine((engine) =>
          round2(median(of(engine).map((t) => t.totalMs)) / median(of("memory").map((t) => t.totalMs)))
        ),
        cpuMsPerRun: byEngine((engine) => round2(median(of(engine).map((t) => t.cpuMs)))),
        cpuMsPerActivity: byEngine((engine) => round3(cpuPer(engine))),
        perActivityOverMemoryMs: {
          journal: {
            wall: round3(wallPer("journal") - wallPer("memory")),
            cpu: round3(cpuPer("journal") - cpuPer("memory"))
          },
          cluster: {
            wall: round3(wallPer("cluster") - wallPer("memory")),
            cpu: round3(cpuPer("cluster") - cpuPer("memory"))
          }
        }
      }
    }
  }
}

export default benchmark

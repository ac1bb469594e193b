/**
 * Cost of durability: the demo pipeline run as a durable workflow (`DurableRun.run`) on the
 * embedded state database (`StateDatabase.layer`: `ClusterWorkflowEngine` on a single runner over
 * SQLite, with the sequencer kept in it by `SqlSequencerStore.layerSequencer()`), as `speckit auto`
 * runs it, against the same `DurableRun.run` on `WorkflowEngine.layerMemory` with the in-memory
 * sequencer (`MemorySequencer.layer`). Everything else is the same: the demo spec, 3 simulated
 * agents × 6 stages at a fixed 50 ms latency, the real plugin layers (`Run.layer`), a fresh temp
 * workspace (and state database) per run.
 *
 * ratio = median wall time of the durable run / median wall time of the in-memory one (target ≤ 1.05).
 *
 * Also printed:
 * - the cost of one journaled activity: N sequential trivial activities in one workflow on each
 *   engine (also with `synchronous = OFF`, and with in-memory runner storage, i.e. no shard-lock
 *   rows), wall and CPU ms per activity, and the wall difference times the number of activities a
 *   demo run journals (counted by wrapping the engine's `activityExecute`);
 * - breakdown rows that change one thing of the durable run at a time (the sequencer kept in
 *   memory; the SQL sequencer under the in-memory engine; `synchronous = OFF` instead of `NORMAL`;
 *   zero-latency agents), so a miss can be traced without touching product code, and a lower bound
 *   for a journal-only engine (`journalOnly`);
 * - CPU time per run and per activity: on a busy machine wall times stretch, CPU times much less.
 *
 * All pipeline variants are interleaved round by round, in alternating order, after one warm-up
 * round.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Duration, Effect, Layer, Schema } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { Digest } from "effect/crypto"
import { SqlClient } from "effect/sql"
import { Activity, Workflow, WorkflowEngine } from "effect/workflow"
// Not (yet) re-exported by deps.ts; loaded from the same built `dist/` files, so the module
// instances are the ones `deps.ts` and the packages use.
import { SqlSequencerStore } from "../packages/consensus/dist/index.js"
import { DurableRun, FaultInjector, RunId, type Sequencer } from "../packages/core/dist/index.js"
import * as SqliteClient from "../packages/core/dist/SqliteClient.js"
import * as StateDatabase from "../packages/core/dist/StateDatabase.js"
import { type Benchmark, type Measurement, median, round2 } from "./Bench.ts"
import { Demo, MemorySequencer, NodeServices, Run, type Spec, type SpeckitConfig } from "./deps.ts"

const latencyMs = 50
const stages = 6
const agents = 3
const rounds = 7
const warmup = 1
const activities = 200
const activityRounds = 3

// -------------------------------------------------------------------------------------------------
// engines
// -------------------------------------------------------------------------------------------------

/**
 * `StateDatabase.layer` with what it fixes as parameters (`synchronous = NORMAL`, SQL runner
 * storage); the same composition otherwise.
 */
const stateDatabaseWith = (
  filename: string,
  options: { readonly synchronous: "OFF" | "NORMAL"; readonly runnerStorage: "sql" | "memory" }
) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      SingleRunner.layer({
        shardingConfig: { entityMessagePollInterval: Duration.millis(100) },
        runnerStorage: options.runnerStorage
      })
    ),
    Layer.provide(Digest.layerWebCrypto),
    Layer.provideMerge(SqliteClient.layer({ filename, singleInstance: true, synchronous: options.synchronous }))
  )

/** Wraps the provided engine to record the name of every activity it executes into `into`. */
const counting = (into: Array<string>) =>
  Layer.effect(
    WorkflowEngine.WorkflowEngine,
    Effect.gen(function* () {
      const engine = yield* WorkflowEngine.WorkflowEngine
      return WorkflowEngine.WorkflowEngine.of({
        ...engine,
        activityExecute: (activity, attempt) => {
          into.push(activity.name)
          return engine.activityExecute(activity, attempt)
        }
      })
    })
  )

/**
 * A lower bound for a journal-only durable engine: `layerMemory` plus one SQLite write per activity
 * (its exit encoded with the activity's schema, one `INSERT` in its own transaction, on the state
 * database as `StateDatabase` opens it). Not durable (nothing is read back on resume): it prices the
 * I/O a durable journal cannot avoid, against everything else `ClusterWorkflowEngine` does.
 */
const journalOnly = (filename: string) =>
  Layer.effect(
    WorkflowEngine.WorkflowEngine,
    Effect.gen(function* () {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE IF NOT EXISTS bench_journal (execution_id TEXT NOT NULL, name TEXT NOT NULL,
        attempt INTEGER NOT NULL, exit TEXT NOT NULL, PRIMARY KEY (execution_id, name, attempt))`
      return WorkflowEngine.WorkflowEngine.of({
        ...engine,
        activityExecute: (activity, attempt) =>
          Effect.tap(engine.activityExecute(activity, attempt), (result) =>
            Effect.gen(function* () {
              if (result._tag !== "Complete") return
              const instance = yield* WorkflowEngine.WorkflowInstance
              const exit = yield* Effect.orDie(Schema.encodeUnknownEffect(activity.exitSchemaPartial)(result.exit))
              yield* sql`INSERT INTO bench_journal (execution_id, name, attempt, exit)
                VALUES (${instance.executionId}, ${activity.name}, ${attempt}, ${JSON.stringify(exit)})`.pipe(
                sql.withTransaction,
                Effect.orDie
              )
            })
          )
      })
    })
  ).pipe(
    Layer.provideMerge(WorkflowEngine.layerMemory),
    Layer.provideMerge(SqliteClient.layer({ filename, singleInstance: true, synchronous: "NORMAL" }))
  )

const cpuMs = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

// -------------------------------------------------------------------------------------------------
// 1. cost of one activity
// -------------------------------------------------------------------------------------------------

const Steps = Workflow.make("DurableBenchSteps", {
  payload: { id: Schema.String, n: Schema.Number },
  success: Schema.Number,
  idempotencyKey: (payload) => payload.id
})

/**
 * Registers the workflow on the provided engine and runs its activities on that engine, as
 * `DurableRun` does (`Workflow.toLayer` would leave the activities to the engine the workflow runs
 * in, bypassing a wrapped engine such as `journalOnly`).
 */
const StepsLive = Layer.effectDiscard(
  Effect.gen(function* () {
    const engine = yield* WorkflowEngine.WorkflowEngine
    yield* engine.register(Steps, (payload) =>
      Effect.gen(function* () {
        let total = 0
        for (let i = 0; i < payload.n; i++) {
          total += yield* Activity.make({ name: `step-${i}`, success: Schema.Number, execute: Effect.succeed(1) })
        }
        return total
      }).pipe(Effect.provideService(WorkflowEngine.WorkflowEngine, engine))
    )
  })
)

interface PerActivity {
  readonly wallMs: number
  readonly cpuMs: number
}

/** Wall and CPU ms per activity of `activities` sequential trivial activities, after a warm-up workflow. */
const perActivity = Effect.gen(function* () {
  yield* Steps.execute({ id: "warmup", n: 10 })
  const t0 = performance.now()
  const c0 = cpuMs()
  const total = yield* Steps.execute({ id: "measured", n: activities })
  const cpu = cpuMs() - c0
  const elapsed = performance.now() - t0
  if (total !== activities) return yield* Effect.die(new Error(`${total} of ${activities} activities ran`))
  return { wallMs: elapsed / activities, cpuMs: cpu / activities } satisfies PerActivity
})

type ActivityEngine = "memory" | "stateDatabase" | "syncOff" | "memoryRunnerStorage" | "journalOnly"

const activityEngines: ReadonlyArray<ActivityEngine> = [
  "memory",
  "stateDatabase",
  "syncOff",
  "memoryRunnerStorage",
  "journalOnly"
]

const activityEngine = (engine: ActivityEngine, filename: string) => {
  switch (engine) {
    case "memory":
      return WorkflowEngine.layerMemory
    case "stateDatabase":
      return StateDatabase.layer({ filename })
    case "syncOff":
      return stateDatabaseWith(filename, { synchronous: "OFF", runnerStorage: "sql" })
    case "memoryRunnerStorage":
      return stateDatabaseWith(filename, { synchronous: "NORMAL", runnerStorage: "memory" })
    case "journalOnly":
      return journalOnly(filename)
  }
}

const activityCost = (engine: ActivityEngine, dir: string) =>
  perActivity.pipe(
    Effect.provide(StepsLive.pipe(Layer.provideMerge(activityEngine(engine, join(dir, `${engine}.db`)))))
  )

// -------------------------------------------------------------------------------------------------
// 2. the demo pipeline, durable vs in memory
// -------------------------------------------------------------------------------------------------

type Variant =
  | "memory"
  | "durable"
  | "durableMemorySequencer"
  | "memorySqlSequencer"
  | "durableSyncOff"
  | "journalOnly"
  | "memoryZero"
  | "durableZero"

const variants: ReadonlyArray<Variant> = [
  "memory",
  "durable",
  "durableMemorySequencer",
  "memorySqlSequencer",
  "durableSyncOff",
  "journalOnly",
  "memoryZero",
  "durableZero"
]

const latencyOf = (variant: Variant) => (variant === "memoryZero" || variant === "durableZero" ? 0 : latencyMs)

/** The demo configuration with every agent at the same fixed latency. */
const benchConfig = (latency: number) => ({
  ...Demo.config,
  agents: Object.fromEntries(
    Object.entries(Demo.config.agents).map(([id, agent]) => [id, { ...agent, latencyMs: latency }])
  )
})

interface Prepared {
  readonly root: string
  readonly config: SpeckitConfig.SpeckitConfig
  readonly spec: Spec.Spec
}

/** A fresh demo workspace in a temp directory, loaded as `speckit auto` loads it. */
const workspace = (latency: number) =>
  Effect.gen(function* () {
    const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "speckit-bench-durable-")))
    yield* Effect.promise(() =>
      writeFile(join(dir, "speckit.config.json"), `${JSON.stringify(benchConfig(latency), null, 2)}\n`)
    )
    yield* Demo.create(dir)
    const prepared = yield* Run.prepare(Demo.specId, dir)
    return { root: prepared.root, config: prepared.config, spec: prepared.spec } satisfies Prepared
  })

/** The plugin, engine and sequencer layers of a variant, over the workspace's state database. */
const layersOf = (variant: Variant, prepared: Prepared) => {
  const filename = join(prepared.root, StateDatabase.path)
  const plugins = <E, R>(sequencer: Layer.Layer<Sequencer.Sequencer, E, R>) =>
    Run.layer(prepared.config, prepared.root, FaultInjector.FaultInjector.layerNone, {}, sequencer)
  switch (variant) {
    case "memory":
    case "memoryZero":
      return plugins(MemorySequencer.layer).pipe(Layer.provideMerge(WorkflowEngine.layerMemory))
    case "durable":
    case "durableZero":
      return plugins(SqlSequencerStore.layerSequencer()).pipe(Layer.provideMerge(StateDatabase.layer({ filename })))
    case "durableMemorySequencer":
      return plugins(MemorySequencer.layer).pipe(Layer.provideMerge(StateDatabase.layer({ filename })))
    case "memorySqlSequencer":
      return plugins(SqlSequencerStore.layerSequencer()).pipe(
        Layer.provideMerge(
          Layer.merge(
            WorkflowEngine.layerMemory,
            SqliteClient.layer({ filename, singleInstance: true, synchronous: "NORMAL" })
          )
        )
      )
    case "durableSyncOff":
      return plugins(SqlSequencerStore.layerSequencer()).pipe(
        Layer.provideMerge(stateDatabaseWith(filename, { synchronous: "OFF", runnerStorage: "sql" }))
      )
    case "journalOnly":
      return plugins(SqlSequencerStore.layerSequencer()).pipe(Layer.provideMerge(journalOnly(filename)))
  }
}

interface Timing {
  /** `DurableRun.run` alone (scoped), its layers already built. */
  readonly runMs: number
  /** CPU time of the process during `runMs`. */
  readonly cpuMs: number
  /** Building the layers (opening the state database, starting the runner) + the run + closing them. */
  readonly totalMs: number
}

const now = () => Effect.sync(() => performance.now())

/** One run of a variant in a fresh workspace (created and deleted outside the timings). */
const runOnce = (variant: Variant, journal?: Array<string>) =>
  Effect.gen(function* () {
    const prepared = yield* workspace(latencyOf(variant))
    return yield* Effect.gen(function* () {
      const runId = yield* RunId.make
      const t0 = yield* now()
      const { runMs, cpu } = yield* Effect.gen(function* () {
        const started = yield* now()
        const c0 = cpuMs()
        const outcome = yield* DurableRun.run({ spec: prepared.spec, config: prepared.config, runId }).pipe(
          Effect.scoped
        )
        const cpu = cpuMs() - c0
        const runMs = (yield* now()) - started
        if (outcome._tag !== "Finished" || outcome.summary.status !== "completed") {
          const status = outcome._tag === "AlreadyFinished" ? outcome.status : outcome.summary.status
          return yield* Effect.die(new Error(`${variant}: run ${runId} ended ${outcome._tag} ${status}`))
        }
        return { runMs, cpu }
      }).pipe(
        Effect.provide(journal === undefined ? Layer.empty : counting(journal)),
        Effect.provide(layersOf(variant, prepared))
      )
      const totalMs = (yield* now()) - t0
      return { runMs, cpuMs: cpu, totalMs } satisfies Timing
    }).pipe(
      Effect.ensuring(Effect.promise(() => rm(prepared.root, { recursive: true, force: true })).pipe(Effect.ignore))
    )
  })

/** The activity names of a journal, counted by kind (the part before the first `/`). */
const kinds = (journal: ReadonlyArray<string>) => {
  const counts: Record<string, number> = {}
  for (const name of journal) {
    const kind = name.split("/")[0] ?? name
    counts[kind] = (counts[kind] ?? 0) + 1
  }
  return counts
}

const program = Effect.gen(function* () {
  // 1. per-activity cost, each round on fresh engines (and fresh database files).
  const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "speckit-bench-activities-")))
  const perActivityCosts = yield* Effect.gen(function* () {
    const samples = new Map<ActivityEngine, Array<PerActivity>>(activityEngines.map((engine) => [engine, []]))
    for (let round = 0; round < activityRounds; round++) {
      const order = round % 2 === 0 ? activityEngines : [...activityEngines].reverse()
      for (const engine of order) samples.get(engine)?.push(yield* activityCost(engine, join(dir, String(round))))
    }
    return samples
  }).pipe(Effect.ensuring(Effect.promise(() => rm(dir, { recursive: true, force: true })).pipe(Effect.ignore)))

  // 2. the pipeline; the warm-up round also counts the activities each engine journals.
  const timings = new Map<Variant, Array<Timing>>(variants.map((variant) => [variant, []]))
  const journals = { memory: [] as Array<string>, durable: [] as Array<string> }
  for (let round = 0; round < warmup + rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse()
    for (const variant of order) {
      const journal =
        round === 0 && variant === "memory"
          ? journals.memory
          : round === 0 && variant === "durable"
            ? journals.durable
            : undefined
      const timing = yield* runOnce(variant, journal)
      if (round >= warmup) timings.get(variant)?.push(timing)
    }
  }
  return { perActivityCosts, timings, journals }
})

const ms = (label: string, samples: ReadonlyArray<number>): Measurement => ({
  label,
  value: round2(median(samples)),
  unit: "ms",
  samples: samples.map(round2)
})

const round3 = (value: number) => Math.round(value * 1000) / 1000

const benchmark: Benchmark = {
  name: "durable",
  description: `demo pipeline, ${agents} sim agents × ${stages} stages at ${latencyMs} ms, through DurableRun.run: StateDatabase + SQL sequencer / layerMemory + in-memory sequencer`,
  target: { ratio: 1.05, direction: "max" },
  run: async () => {
    const { perActivityCosts, timings, journals } = await Effect.runPromise(
      program.pipe(Effect.provide(NodeServices.layer))
    )
    const of = (variant: Variant) => timings.get(variant) ?? []
    const runMs = (variant: Variant) => of(variant).map((t) => t.runMs)
    const med = (variant: Variant) => median(runMs(variant))
    const medCpu = (variant: Variant) => round2(median(of(variant).map((t) => t.cpuMs)))
    const costs = (engine: ActivityEngine) => perActivityCosts.get(engine) ?? []
    const wallPer = (engine: ActivityEngine) => median(costs(engine).map((c) => c.wallMs))
    const cpuPer = (engine: ActivityEngine) => round3(median(costs(engine).map((c) => c.cpuMs)))
    const activityDiff = wallPer("stateDatabase") - wallPer("memory")
    const journaled = journals.durable.length
    if (journals.memory.length !== journaled) {
      throw new Error(`the engines journal different runs: ${journals.memory.length} vs ${journaled} activities`)
    }
    const memory = med("memory")
    const durable = med("durable")
    const perActivityRow = (label: string, engine: ActivityEngine): Measurement => ({
      label: `${activities} trivial activities: ${label}`,
      value: round3(wallPer(engine)),
      unit: "ms/activity",
      samples: costs(engine).map((c) => round3(c.wallMs))
    })
    return {
      baseline: ms("in memory: layerMemory + MemorySequencer (median)", runMs("memory")),
      measured: ms("durable: StateDatabase + SqlSequencerStore (median)", runMs("durable")),
      extra: [
        perActivityRow("layerMemory", "memory"),
        perActivityRow("StateDatabase", "stateDatabase"),
        perActivityRow("StateDatabase, synchronous = OFF", "syncOff"),
        perActivityRow("StateDatabase, in-memory runner storage", "memoryRunnerStorage"),
        perActivityRow("lower bound: layerMemory + 1 SQLite INSERT", "journalOnly"),
        {
          label: `predicted journal cost: ${journaled} activities × ${round3(activityDiff)} ms`,
          value: round2(journaled * activityDiff),
          unit: "ms"
        },
        ms(
          "in memory, layers built + run + closed",
          of("memory").map((t) => t.totalMs)
        ),
        ms(
          "durable, layers built + run + closed",
          of("durable").map((t) => t.totalMs)
        ),
        ms("breakdown: durable engine, in-memory sequencer", runMs("durableMemorySequencer")),
        ms("breakdown: in-memory engine, SQL sequencer", runMs("memorySqlSequencer")),
        ms("breakdown: durable, synchronous = OFF", runMs("durableSyncOff")),
        ms("lower bound: layerMemory + 1 INSERT/activity + SQL sequencer", runMs("journalOnly")),
        ms("breakdown: zero-latency agents, in memory", runMs("memoryZero")),
        ms("breakdown: zero-latency agents, durable", runMs("durableZero"))
      ],
      details: {
        rounds,
        warmup,
        criticalPathMs: stages * latencyMs,
        overheadMs: round2(durable - memory),
        ratioWithLayerBuild: round2(
          median(of("durable").map((t) => t.totalMs)) / median(of("memory").map((t) => t.totalMs))
        ),
        activitiesPerRun: journaled,
        activitiesByKind: kinds(journals.durable),
        cpuMsPerActivity: {
          memory: cpuPer("memory"),
          stateDatabase: cpuPer("stateDatabase"),
          syncOff: cpuPer("syncOff"),
          memoryRunnerStorage: cpuPer("memoryRunnerStorage"),
          journalOnly: cpuPer("journalOnly")
        },
        cpuMsPerRun: {
          memory: medCpu("memory"),
          durable: medCpu("durable"),
          durableMemorySequencer: medCpu("durableMemorySequencer"),
          memorySqlSequencer: medCpu("memorySqlSequencer"),
          durableSyncOff: medCpu("durableSyncOff"),
          journalOnly: medCpu("journalOnly")
        },
        engineCostMs: round2(med("durableMemorySequencer") - memory),
        sequencerStoreCostMs: round2(durable - med("durableMemorySequencer")),
        sqlSequencerAloneCostMs: round2(med("memorySqlSequencer") - memory),
        syncOffGainMs: round2(durable - med("durableSyncOff")),
        journalOnlyRatio: round2(med("journalOnly") / memory),
        zeroLatencyOverheadMs: round2(med("durableZero") - med("memoryZero"))
      }
    }
  }
}

export default benchmark

/**
 * The cost of one durable step on PostgreSQL against the embedded SQLite engine, in the same run:
 * 200 sequential trivial activities of one workflow on
 *
 * - the embedded default: `StateDatabase.layer` (core's `SqlWorkflowEngine` over SQLite), the baseline;
 * - `PgStore.layer`: the same journal engine over PostgreSQL;
 * - `Runner.layer`: effect's `ClusterWorkflowEngine` on one runner sharing PostgreSQL (what a fleet runs).
 *
 * Rounds alternate the engines' order. Needs PostgreSQL: `TEST_POSTGRES_URL` (`.ci/run` sets
 * it), or one started here with `scripts/postgres.sh` and stopped afterwards. Informational target:
 * a step on PostgreSQL within 10× the embedded one (a network round trip and a transaction against a
 * local file write).
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import type { WorkflowEngine } from "effect/workflow"
import { PgStore, Runner } from "../packages/postgres/dist/index.js"
import * as StateDatabase from "../packages/sqlite/dist/StateDatabase.js"
import { type Benchmark, median, round2 } from "./Bench.ts"
import { perActivity, StepsLive } from "./steps.ts"
import { NodeServices } from "./deps.ts"
import { freePort, server } from "./Postgres.ts"

const activities = 200
const rounds = 5

type Engine = "sqlite" | "pgJournal" | "pgCluster"
const engines: ReadonlyArray<Engine> = ["sqlite", "pgJournal", "pgCluster"]

/** Wall and CPU ms per activity on `engine`. */
const costOn = (engine: Layer.Layer<WorkflowEngine.WorkflowEngine, unknown>, id: string) =>
  perActivity(id, activities).pipe(Effect.provide(StepsLive.pipe(Layer.provideMerge(engine))))

const benchmark: Benchmark = {
  name: "postgres",
  description: `one durable step (${activities} trivial activities): PostgreSQL journal and cluster runner vs the embedded SQLite journal`,
  target: { ratio: 10, direction: "max" },
  run: async () => {
    const pg = server()
    const dir = await mkdtemp(join(tmpdir(), "speckit-bench-postgres-"))
    try {
      const samples = new Map<Engine, Array<{ wallMs: number; cpuMs: number }>>(engines.map((e) => [e, []]))
      for (let round = 0; round < rounds; round++) {
        for (const engine of round % 2 === 0 ? engines : [...engines].reverse()) {
          const id = `${engine}-${round}-${Date.now()}`
          const layer =
            engine === "sqlite"
              ? StateDatabase.layer({ filename: join(dir, `${id}.db`) })
              : engine === "pgJournal"
                ? PgStore.layer({ url: pg.url })
                : Runner.layer({ url: pg.url, listen: { host: "127.0.0.1", port: await freePort() } })
          const cost = await Effect.runPromise(costOn(layer, id).pipe(Effect.provide(NodeServices.layer)))
          samples.get(engine)?.push(cost)
        }
      }
      const wall = (engine: Engine) => (samples.get(engine) ?? []).map((s) => round2(s.wallMs * 1000) / 1000)
      const cpu = (engine: Engine) => median((samples.get(engine) ?? []).map((s) => s.cpuMs))
      const row = (engine: Engine, label: string) => ({
        label,
        value: median(wall(engine)),
        unit: "ms",
        samples: wall(engine)
      })
      return {
        baseline: row("sqlite", "embedded: SQLite journal, per step"),
        measured: row("pgJournal", "PostgreSQL journal (PgStore), per step"),
        extra: [
          row("pgCluster", "PostgreSQL cluster runner (Runner), per step"),
          { label: "CPU per step: SQLite journal", value: round2(cpu("sqlite") * 1000) / 1000, unit: "ms" },
          { label: "CPU per step: PostgreSQL journal", value: round2(cpu("pgJournal") * 1000) / 1000, unit: "ms" },
          { label: "CPU per step: PostgreSQL cluster", value: round2(cpu("pgCluster") * 1000) / 1000, unit: "ms" },
          {
            label: "ratio cluster runner / SQLite journal",
            value: round2(median(wall("pgCluster")) / median(wall("sqlite"))),
            unit: "×"
          }
        ],
        details: { activities, rounds }
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
      pg.stop()
    }
  }
}

export default benchmark

import { Duration, Effect, Layer, Schema } from "effect"
import { ClusterWorkflowEngine, SingleRunner } from "effect/cluster"
import { Digest } from "effect/crypto"
import { Activity, Workflow, WorkflowEngine } from "effect/workflow"
import * as SqliteClient from "../packages/core/dist/SqliteClient.js"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const Steps = Workflow.make("P", { payload: { id: Schema.String, n: Schema.Number }, success: Schema.Number, idempotencyKey: (p) => p.id })
const Live = Steps.toLayer(Effect.fn(function* (p) {
  let t = 0
  for (let i = 0; i < p.n; i++) t += yield* Activity.make({ name: `s-${i}`, success: Schema.Number, execute: Effect.succeed(1) })
  return t
}))
const engine = (filename: string, o: { sync?: any; runnerStorage?: "sql" | "memory" }) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(SingleRunner.layer({ shardingConfig: { entityMessagePollInterval: Duration.millis(100) }, runnerStorage: o.runnerStorage ?? "sql" })),
    Layer.provide(Digest.layerWebCrypto),
    Layer.provideMerge(SqliteClient.layer({ filename, synchronous: o.sync ?? "NORMAL", validateState: filename !== ":memory:" }))
  )
const n = Number(process.argv[2] ?? 300)
const out: Record<string, Array<string>> = {}
const measure = (label: string, layer: any) => Effect.gen(function* () {
  yield* Steps.execute({ id: "w", n: 20 })
  const c0 = process.cpuUsage(); const t0 = performance.now()
  yield* Steps.execute({ id: "m", n })
  const wall = performance.now() - t0; const c = process.cpuUsage(c0)
  ;(out[label] ??= []).push(`${(wall / n).toFixed(2)}/${((c.user + c.system) / 1000 / n).toFixed(2)}`)
}).pipe(Effect.provide(Live.pipe(Layer.provideMerge(layer))))
const dir = mkdtempSync(join(tmpdir(), "probe-"))
let i = 0
for (let r = 0; r < 3; r++) {
  await Effect.runPromise(measure("memory", WorkflowEngine.layerMemory) as any)
  await Effect.runPromise(measure("file NORMAL sql-runner", engine(join(dir, `${i++}.db`), {})) as any)
  await Effect.runPromise(measure("file NORMAL memory-runner", engine(join(dir, `${i++}.db`), { runnerStorage: "memory" })) as any)
  await Effect.runPromise(measure("file OFF sql-runner", engine(join(dir, `${i++}.db`), { sync: "OFF" })) as any)
  await Effect.runPromise(measure(":memory: sql-runner", engine(":memory:", {})) as any)
  await Effect.runPromise(measure(":memory: memory-runner", engine(":memory:", { runnerStorage: "memory" })) as any)
}
console.log("wall/cpu ms per activity")
for (const [k, v] of Object.entries(out)) console.log(k.padEnd(28), v.join("  "))

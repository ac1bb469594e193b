import { Effect, Layer, Schema } from "effect"
import { Activity, Workflow, WorkflowEngine } from "effect/workflow"
import * as StateDatabase from "../packages/core/dist/StateDatabase.js"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const Steps = Workflow.make("P", { payload: { id: Schema.String, n: Schema.Number }, success: Schema.Number, idempotencyKey: (p) => p.id })
const Live = Steps.toLayer(Effect.fn(function* (p) {
  let t = 0
  for (let i = 0; i < p.n; i++) t += yield* Activity.make({ name: `s-${i}`, success: Schema.Number, execute: Effect.succeed(1) })
  return t
}))
const n = Number(process.argv[2] ?? 200)
const measure = (label: string, layer: any) => Effect.gen(function* () {
  yield* Steps.execute({ id: "w", n: 5 })
  const c0 = process.cpuUsage(); const t0 = performance.now()
  yield* Steps.execute({ id: "m", n })
  const wall = performance.now() - t0; const c = process.cpuUsage(c0)
  console.log(`${label}: wall ${(wall / n).toFixed(3)} ms/act, cpu ${((c.user + c.system) / 1000 / n).toFixed(3)} ms/act (user ${(c.user/1000/n).toFixed(3)} sys ${(c.system/1000/n).toFixed(3)})`)
}).pipe(Effect.provide(Live.pipe(Layer.provideMerge(layer))))
const dir = mkdtempSync(join(tmpdir(), "probe-"))
await Effect.runPromise(measure("memory", WorkflowEngine.layerMemory) as any)
await Effect.runPromise(measure("sqlite", StateDatabase.layer({ filename: join(dir, "a.db") })) as any)
await Effect.runPromise(measure("sqlite2", StateDatabase.layer({ filename: join(dir, "b.db") })) as any)

import { createRequire } from "node:module"
import { Effect, Layer, Schema } from "effect"
import { Activity, Workflow } from "effect/workflow"
import * as StateDatabase from "../packages/core/dist/StateDatabase.js"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
const require = createRequire(new URL("../packages/core/package.json", import.meta.url))
const Database = require("better-sqlite3")
const prepares = new Map<string, number>()
const runs = new Map<string, number>()
let on = false
const origPrepare = Database.prototype.prepare
Database.prototype.prepare = function (sql: string) {
  const st = origPrepare.call(this, sql)
  if (on) prepares.set(sql, (prepares.get(sql) ?? 0) + 1)
  for (const m of ["run", "all", "get"]) {
    const f = st[m]
    st[m] = (...a: any[]) => { if (on) runs.set(sql, (runs.get(sql) ?? 0) + 1); return f.apply(st, a) }
  }
  return st
}
const Steps = Workflow.make("P", { payload: { id: Schema.String, n: Schema.Number }, success: Schema.Number, idempotencyKey: (p) => p.id })
const Live = Steps.toLayer(Effect.fn(function* (p) {
  let t = 0
  for (let i = 0; i < p.n; i++) t += yield* Activity.make({ name: `s-${i}`, success: Schema.Number, execute: Effect.succeed(1) })
  return t
}))
const n = 100
const dir = mkdtempSync(join(tmpdir(), "probe-"))
await Effect.runPromise(Effect.gen(function* () {
  yield* Steps.execute({ id: "w", n: 5 })
  on = true
  yield* Steps.execute({ id: "m", n })
  on = false
}).pipe(Effect.provide(Live.pipe(Layer.provideMerge(StateDatabase.layer({ filename: join(dir, "a.db") }))))) as any)
const tot = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)
console.log(`prepare calls per activity: ${(tot(prepares) / n).toFixed(2)}, distinct prepared texts: ${prepares.size}; statements run per activity: ${(tot(runs) / n).toFixed(2)}, distinct: ${runs.size}`)
const sorted = [...runs.entries()].sort((a, b) => b[1] - a[1])
for (const [sql, c] of sorted.slice(0, 25)) console.log(String(c).padStart(6), (prepares.get(sql) ?? 0).toString().padStart(5), sql.replace(/\s+/g, " ").slice(0, 200))

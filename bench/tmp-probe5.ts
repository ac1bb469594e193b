import { Effect, Layer, Scope, Exit } from "effect"
import * as StateDatabase from "../packages/core/dist/StateDatabase.js"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
for (let i = 0; i < 5; i++) {
  const dir = mkdtempSync(join(tmpdir(), "p5-"))
  await Effect.runPromise(Effect.gen(function* () {
    const scope = yield* Scope.make()
    const t0 = performance.now()
    yield* Layer.build(StateDatabase.layer({ filename: join(dir, ".speckit/state.db") })).pipe(Scope.provide(scope))
    const t1 = performance.now()
    yield* Scope.close(scope, Exit.void)
    const t2 = performance.now()
    console.log(`build ${(t1 - t0).toFixed(1)} ms, close ${(t2 - t1).toFixed(1)} ms`)
  }) as any)
}

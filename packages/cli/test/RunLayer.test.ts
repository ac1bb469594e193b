/**
 * `Run.layer` in a program of its own: the demo spec through `Pipeline.run` on the layers it gives,
 * with the session metrics it makes by default (the program needs nothing else, and the type says so),
 * or with the caller's when given `metrics: false`; and one layer for many runs, as a long-lived
 * process uses it: each summary has its own run's figures, and the in-memory sequencer keeps nothing
 * of a finished run.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { MemorySequencer, SequencerStore } from "@speckit/consensus"
import { Pipeline, type RunSummary, type Sequencer } from "@speckit/core"
import { Metrics } from "@speckit/telemetry"
import { Effect } from "effect"
import { Demo, Run } from "../src/index.ts"

/** A fresh demo workspace with every agent at 5 ms, removed when the test ends. */
const demoWorkspace = Effect.acquireRelease(
  Effect.gen(function* () {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-run-layer-"))
    yield* Demo.create(root)
    const config = {
      ...Demo.config,
      agents: Object.fromEntries(
        Object.entries(Demo.config.agents).map(([id, agent]) => [id, { ...agent, latencyMs: 5 }])
      )
    }
    fs.writeFileSync(path.join(root, "speckit.config.json"), `${JSON.stringify(config, null, 2)}\n`)
    return yield* Run.prepare(Demo.specId, root)
  }),
  (prepared) => Effect.sync(() => fs.rmSync(prepared.root, { recursive: true, force: true }))
)

const costOf = (summary: RunSummary.RunSummary) => summary.costUsd

describe("Run.layer", () => {
  it.live("provides the session metrics itself: a run needs no other layer and is priced", () =>
    Effect.gen(function* () {
      const prepared = yield* demoWorkspace
      // Typed without `SessionMetrics` left to provide: the layer's type says it provides them.
      const run: Effect.Effect<RunSummary.RunSummary, unknown, never> = Pipeline.run({
        spec: prepared.spec,
        config: prepared.config
      }).pipe(Effect.provide(Run.layer(prepared.config, prepared.root)), Effect.provide(NodeServices.layer))
      const summary = yield* run
      assert.strictEqual(summary.status, "completed")
      assert.isAbove(costOf(summary), 0)
      assert.strictEqual(summary.stages.length, 6)
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )

  it.live("with metrics: false, uses the session metrics the caller provides", () =>
    Effect.gen(function* () {
      const prepared = yield* demoWorkspace
      const recorded: Array<string> = []
      const summary = yield* Pipeline.run({ spec: prepared.spec, config: prepared.config }).pipe(
        Effect.provide(Run.layer(prepared.config, prepared.root, undefined, { metrics: false })),
        Effect.provide(Metrics.layer({ onRecord: (call) => void recorded.push(`${call.stage}/${call.agent}`) }))
      )
      assert.strictEqual(summary.status, "completed")
      // Every call went through the caller's metrics: 3 agents × 6 stages.
      assert.strictEqual(recorded.length, 18)
      assert.include(recorded, "plan/alpha")
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )

  it.live("one layer for many runs: each summary has its own run's figures; the sequencer lets each run go", () =>
    Effect.gen(function* () {
      const prepared = yield* demoWorkspace
      const store = SequencerStore.memory<Sequencer.Decision>()
      const layer = Run.layer(prepared.config, prepared.root, undefined, {}, MemorySequencer.layerStore(store))
      const runOnce = Effect.gen(function* () {
        const summary = yield* Pipeline.run({ spec: prepared.spec, config: prepared.config })
        assert.strictEqual(summary.status, "completed")
        assert.isAbove(summary.decisions, 0, "the run was sequenced")
        assert.isUndefined(yield* store.load(summary.runId), `run ${summary.runId} is still held`)
        return summary
      })
      const [first, second] = yield* Effect.all([runOnce, runOnce]).pipe(Effect.provide(layer))
      assert.notStrictEqual(first.runId, second.runId)
      // The same agents: the second run spent about what the first did (the order its agents answer in
      // can change the merged artifact the next prompts carry, by a few tokens), not both runs' total.
      assert.closeTo(second.costUsd, first.costUsd, first.costUsd * 0.01)
      assert.closeTo(second.usage.input, first.usage.input, first.usage.input * 0.01)
      assert.closeTo(second.usage.output, first.usage.output, first.usage.output * 0.01)
      assert.deepStrictEqual(
        Object.values(second.byAgent).map((agent) => agent.calls),
        [6, 6, 6]
      )
      assert.deepStrictEqual(Object.keys(second.byStage), Object.keys(first.byStage))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )
})

/**
 * A workflow of N sequential trivial activities, to measure what one durable step costs on an engine:
 * `perActivity(id, n)` runs a warm-up execution, then `n` steps, and returns wall and CPU ms per step.
 * The engine comes from the caller's `WorkflowEngine` layer (with `StepsLive` registered on it).
 */
import { Effect, Schema } from "effect"
import { Activity, Workflow } from "effect/workflow"

export const Steps = Workflow.make("BenchSteps", {
  payload: { id: Schema.String, n: Schema.Number },
  success: Schema.Number,
  idempotencyKey: (payload) => payload.id
})

export const StepsLive = Steps.toLayer((payload) =>
  Effect.gen(function* () {
    let total = 0
    for (let i = 0; i < payload.n; i++) {
      total += yield* Activity.make({ name: `step-${i}`, success: Schema.Number, execute: Effect.succeed(1) })
    }
    return total
  })
)

export interface PerActivity {
  readonly wallMs: number
  readonly cpuMs: number
}

const cpuMs = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** Wall and CPU ms per activity of `n` sequential trivial activities, after a warm-up execution. */
export const perActivity = (id: string, n: number) =>
  Effect.gen(function* () {
    yield* Steps.execute({ id: `${id}-warmup`, n: 10 })
    const t0 = performance.now()
    const c0 = cpuMs()
    const total = yield* Steps.execute({ id, n })
    const cpu = cpuMs() - c0
    const wall = performance.now() - t0
    if (total !== n) return yield* Effect.die(new Error(`${total} of ${n} activities ran`))
    return { wallMs: wall / n, cpuMs: cpu / n } satisfies PerActivity
  })

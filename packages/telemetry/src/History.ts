/**
 * The usage history of a workspace: per stage and model, the token usage of every agent call of earlier
 * runs, read from `.speckit/runs/<run-id>/summary.json`. Estimates and budget predictions use it.
 *
 * @since 0.1.0
 */
import { TokenUsage } from "@speckit/core"
import { Effect, FileSystem, Path, Result, Schema } from "effect"

/**
 * The usage samples of one stage and model.
 *
 * @since 0.1.0
 */
export interface Samples {
  readonly calls: number
  readonly mean: TokenUsage.TokenUsage
  readonly min: TokenUsage.TokenUsage
  readonly max: TokenUsage.TokenUsage
  /** Mean cost per call as recorded (reported or computed). */
  readonly meanCostUsd: number
}

/**
 * A workspace's history.
 *
 * @since 0.1.0
 */
export interface History {
  /** How many run summaries contributed. */
  readonly runs: number
  /** Keyed by {@link key}. */
  readonly samples: Readonly<Record<string, Samples>>
}

/**
 * No history.
 *
 * @since 0.1.0
 */
export const empty: History = { runs: 0, samples: {} }

/**
 * The key of a stage and model.
 *
 * @example
 * ```ts
 * import { History } from "@speckit/telemetry"
 *
 * History.key("plan", "sim-large") // "plan/sim-large"
 * ```
 *
 * @since 0.1.0
 */
export const key = (stage: string, model: string): string => `${stage}/${model}`

/**
 * The samples of a stage and model, if any.
 *
 * @example
 * ```ts
 * import { History } from "@speckit/telemetry"
 *
 * History.lookup(History.empty, "plan", "sim-large") // undefined
 * ```
 *
 * @since 0.1.0
 */
export const lookup = (history: History, stage: string, model: string): Samples | undefined =>
  history.samples[key(stage, model)]

const Usage = Schema.Struct({
  input: Schema.Number,
  cachedInput: Schema.Number,
  output: Schema.Number,
  reasoning: Schema.Number
})

/** The part of a `summary.json` the history reads. */
const SummaryShape = Schema.Struct({
  stages: Schema.Array(
    Schema.Struct({
      stage: Schema.String,
      agents: Schema.Array(Schema.Struct({ model: Schema.String, usage: Usage, costUsd: Schema.Number }))
    })
  )
})

const decodeSummary = Schema.decodeUnknownResult(SummaryShape)

const combine = (a: TokenUsage.TokenUsage, b: TokenUsage.TokenUsage, f: (x: number, y: number) => number) => ({
  input: f(a.input, b.input),
  cachedInput: f(a.cachedInput, b.cachedInput),
  output: f(a.output, b.output),
  reasoning: f(a.reasoning, b.reasoning)
})

/**
 * Builds a history from parsed `summary.json` values; values that are not run summaries are skipped.
 * Calls that used no tokens (refused or never started) are not samples.
 *
 * @example
 * ```ts
 * import { History } from "@speckit/telemetry"
 *
 * const history = History.fromSummaries([
 *   { stages: [{ stage: "plan", agents: [{ model: "m", costUsd: 0.01, usage: { input: 900, cachedInput: 0, output: 300, reasoning: 0 } }] }] }
 * ])
 * History.lookup(history, "plan", "m")?.mean.output // 300
 * ```
 *
 * @since 0.1.0
 */
export const fromSummaries = (summaries: ReadonlyArray<unknown>): History => {
  const sums: Record<
    string,
    { calls: number; sum: TokenUsage.TokenUsage; min: TokenUsage.TokenUsage; max: TokenUsage.TokenUsage; cost: number }
  > = {}
  let runs = 0
  for (const value of summaries) {
    const decoded = decodeSummary(value)
    if (Result.isFailure(decoded)) continue
    runs++
    for (const stage of decoded.success.stages) {
      for (const agent of stage.agents) {
        if (TokenUsage.total(agent.usage) === 0) continue
        const k = key(stage.stage, agent.model)
        const current = sums[k]
        sums[k] = current
          ? {
              calls: current.calls + 1,
              sum: TokenUsage.add(current.sum, agent.usage),
              min: combine(current.min, agent.usage, Math.min),
              max: combine(current.max, agent.usage, Math.max),
              cost: current.cost + agent.costUsd
            }
          : { calls: 1, sum: agent.usage, min: agent.usage, max: agent.usage, cost: agent.costUsd }
      }
    }
  }
  const samples: Record<string, Samples> = {}
  for (const [k, s] of Object.entries(sums)) {
    samples[k] = {
      calls: s.calls,
      mean: combine(s.sum, s.sum, (x) => x / s.calls),
      min: s.min,
      max: s.max,
      meanCostUsd: s.cost / s.calls
    }
  }
  return { runs, samples }
}

/**
 * Loads the history of a workspace from `.speckit/runs/*\/summary.json` (unreadable or foreign files
 * are skipped).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { History } from "@speckit/telemetry"
 *
 * const program = History.load(".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const load = (workspace: string): Effect.Effect<History, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.join(workspace, ".speckit", "runs")
    const entries = yield* fs.readDirectory(root).pipe(Effect.orElseSucceed((): Array<string> => []))
    const summaries: Array<unknown> = []
    for (const entry of [...entries].sort()) {
      const text = yield* fs
        .readFileString(path.join(root, entry, "summary.json"))
        .pipe(Effect.orElseSucceed(() => undefined))
      if (text === undefined) continue
      try {
        summaries.push(JSON.parse(text))
      } catch {
        // a half-written or foreign file is not history
      }
    }
    return fromSummaries(summaries)
  })

/**
 * `speckit auto`: loads a workspace's spec and configuration, composes the plugins' layers and runs
 * the pipeline with a progress display.
 *
 * @since 0.1.0
 */
import { MemorySequencer, QuorumConsensus } from "@speckit/consensus"
import {
  FaultInjector,
  Pipeline,
  PipelineEvent,
  Providers,
  RunStore,
  type RunSummary,
  Spec,
  SpeckitConfig
} from "@speckit/core"
import { Faults } from "@speckit/faults"
import { Metrics, type Pricing } from "@speckit/telemetry"
import { Effect, FileSystem, Layer, Path } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { ExitCode, InputError, RunNotCompleted } from "./Errors.ts"
import * as Progress from "./Progress.ts"

/**
 * Options of `speckit auto`.
 *
 * @since 0.1.0
 */
export interface AutoOptions {
  readonly specId: string
  readonly workspace: string
  readonly json: boolean
  /** Where progress goes; defaults to stdout, or stderr with `--json`. */
  readonly progress?: Progress.Output | undefined
  /** Where the report goes; defaults to stdout. */
  readonly report?: Progress.Output | undefined
}

const pricesOf = (config: SpeckitConfig.SpeckitConfig): Record<string, Pricing.Price> => {
  const prices: Record<string, Pricing.Price> = {}
  for (const agent of Object.values(config.agents ?? {})) {
    if (agent.price && agent.model) prices[agent.model] = agent.price
  }
  return prices
}

/**
 * The layers of one run: the plugins' implementations of core's ports.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { Run } from "@speckit/cli"
 *
 * const layer = Run.layer(SpeckitConfig.defaultConfig, ".")
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  config: SpeckitConfig.SpeckitConfig,
  workspace: string,
  faults: Layer.Layer<FaultInjector.FaultInjector> = FaultInjector.FaultInjector.layerNone
) =>
  Layer.mergeAll(
    Providers.layer(config, workspace),
    faults,
    MemorySequencer.layer,
    QuorumConsensus.layer,
    Metrics.layer({ prices: pricesOf(config) }),
    RunStore.RunStore.layerFileSystem(workspace)
  )

const exitCodeOf = (status: RunSummary.RunStatus) =>
  status === "completed" ? ExitCode.Completed : status === "cancelled" ? ExitCode.Interrupted : ExitCode.Failed

/**
 * Renders a summary for people.
 *
 * @since 0.1.0
 */
export const formatSummary = (summary: RunSummary.RunSummary): string => {
  const lines = [
    "",
    `${summary.status === "completed" ? "✔" : "✖"} run ${summary.runId} ${summary.status} in ${(summary.durationMs / 1000).toFixed(1)}s`,
    ...summary.stages.map(
      (stage) =>
        `  ${stage.stage.padEnd(10)} ${stage.status.padEnd(9)} ${stage.agents.filter((a) => a.status === "succeeded").length}/${stage.agents.length} agents${stage.verdict ? `  verdict ${stage.verdict}` : ""}${stage.dissent.length > 0 ? `  dissent ${stage.dissent.join(", ")}` : ""}${stage.reason && stage.status !== "ok" ? `  (${stage.reason})` : ""}`
    ),
    `  tokens   ${summary.usage.input} in (${summary.usage.cachedInput} cached) · ${summary.usage.output} out (${summary.usage.reasoning} reasoning)`,
    `  cost     $${summary.costUsd.toFixed(4)}${summary.unpriced.length > 0 ? `  (unpriced: ${summary.unpriced.join(", ")})` : ""}`,
    `  records  ${summary.runDir}/`
  ]
  const last = summary.stages.at(-1)
  if (last?.artifact) lines.push(`  output   ${last.artifact}`)
  if (summary.hint) lines.push(`  next     ${summary.hint}`)
  return `${lines.join("\n")}\n`
}

/**
 * Loads the spec and configuration, failing with an {@link InputError} on bad input before
 * anything is written.
 *
 * @since 0.1.0
 */
export const prepare = (specId: string, workspace: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    const isDir = yield* fs.stat(root).pipe(
      Effect.map((info) => info.type === "Directory"),
      Effect.orElseSucceed(() => false)
    )
    if (!isDir) return yield* new InputError({ message: `workspace ${root} is not a directory` })
    const config = yield* SpeckitConfig.load(root)
    const spec = yield* Spec.load(root, specId)
    const faults = yield* Effect.flatMap(Faults.readEnv, ({ spec, options }) => Faults.make(spec, options))
    return { root, config, spec, faults }
  }).pipe(
    Effect.catchTags({
      FaultSpecError: (error) => Effect.fail(new InputError({ message: error.message })),
      ConfigError: (error) => Effect.fail(new InputError({ message: error.message })),
      SpecNotFound: (error) => Effect.fail(new InputError({ message: error.message })),
      SpecEmpty: (error) => Effect.fail(new InputError({ message: error.message })),
      InvalidSpecId: (error) => Effect.fail(new InputError({ message: error.message }))
    })
  )

/**
 * Runs `speckit auto`: prints progress and the report, and fails with {@link RunNotCompleted}
 * when the run does not complete.
 *
 * @since 0.1.0
 */
export const auto = Effect.fn("Run.auto")(function* (
  options: AutoOptions
): Effect.fn.Return<
  RunSummary.RunSummary,
  InputError | RunNotCompleted,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> {
  const { root, config, spec, faults } = yield* prepare(options.specId, options.workspace)
  if (faults.active) process.stderr.write(`speckit: faults active: ${faults.description}\n`)
  const report = options.report ?? process.stdout
  const progressOut = options.progress ?? (options.json ? process.stderr : process.stdout)
  const display = progressOut.isTTY ? Progress.live(progressOut) : Progress.plain(progressOut)
  const summary = yield* Pipeline.run({ spec, config }).pipe(
    Effect.provideService(PipelineEvent.PipelineEvents, display),
    Effect.provide(layer(config, root, Layer.succeed(FaultInjector.FaultInjector, faults))),
    Effect.catchTags({
      UnknownAgent: (error) => Effect.fail(new InputError({ message: error.message })),
      ConfigError: (error) => Effect.fail(new InputError({ message: error.message })),
      RunStoreError: (error) =>
        Effect.fail(new RunNotCompleted({ status: `failed: ${error.message}`, exitCode: ExitCode.Failed }))
    }),
    Effect.ensuring(Effect.sync(display.close))
  )
  report.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary))
  if (summary.status !== "completed") {
    return yield* new RunNotCompleted({ status: summary.status, exitCode: exitCodeOf(summary.status) })
  }
  return summary
})

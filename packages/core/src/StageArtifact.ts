/**
 * What a stage writes when it has decided: its consensus rendered as Markdown
 * (`specs/<SPEC-ID>/<stage>.md`, the next stage's input) and as JSON (`consensus/<stage>.json`), as one
 * step of the run; and how it ends (its summary, `StageFinished`).
 *
 * @since 0.3.0
 */
import { Clock, Effect, Schema } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { StageConsensus } from "./Consensus.ts"
import { FaultInjector } from "./FaultInjector.ts"
import type { RunContext } from "./RunContext.ts"
import { RunStore, RunStoreError } from "./RunStore.ts"
import * as RunSummary from "./RunSummary.ts"
import type { Decided } from "./StageDefinition.ts"
import type { Spec } from "./Spec.ts"
import type * as Stage from "./Stage.ts"
import * as StageResult from "./StageResult.ts"

const stageTitle = (stage: Stage.Stage) => stage.charAt(0).toUpperCase() + stage.slice(1)

/**
 * Renders a stage's consensus as its Markdown artifact. The text depends only on the spec and the
 * consensus, so a replayed stage rewrites the same bytes.
 *
 * @example
 * ```ts
 * import { StageArtifact } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * declare const consensus: import("@speckit/core").Consensus.StageConsensus
 * const markdown = StageArtifact.render(spec, consensus)
 * ```
 *
 * @since 0.3.0
 */
export const render = (spec: Spec, consensus: StageConsensus): string => {
  const lines = [
    `# ${stageTitle(consensus.stage)}: ${spec.title}`,
    "",
    `> Consensus of ${consensus.succeeded.length} agent(s) (${consensus.succeeded.join(", ") || "none"}), status **${consensus.status}**${consensus.verdict ? `, verdict **${consensus.verdict}**` : ""}.`,
    ""
  ]
  if (consensus.result) lines.push(StageResult.toMarkdown(consensus.result), "")
  const notes: Array<string> = []
  if (consensus.agreements.length > 0) notes.push(`- Agreements: ${consensus.agreements.join("; ")}`)
  if (consensus.conflicts.length > 0) notes.push(`- Conflicts: ${consensus.conflicts.join("; ")}`)
  if (consensus.dissent.length > 0) notes.push(`- Dissent: ${consensus.dissent.join(", ")}`)
  if (consensus.failed.length > 0) notes.push(`- Failed agents: ${consensus.failed.join(", ")}`)
  if (consensus.aggregator) notes.push(`- Synthesized by: ${consensus.aggregator}`)
  if (consensus.reason) notes.push(`- Note: ${consensus.reason}`)
  if (notes.length > 0) lines.push("## Consensus", "", ...notes, "")
  return lines.join("\n")
}

/**
 * Writes a stage's artifact and consensus as the step `artifact/<stage>`; returns the artifact's path.
 * A direct run writes in the background; a durable run journals the step only once the files are on
 * disk, so a replay never skips a lost write, and a replay writes those missing in its workspace.
 *
 * @example
 * ```ts
 * import { StageArtifact } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * declare const consensus: import("@speckit/core").Consensus.StageConsensus
 * const program = StageArtifact.write(run, consensus, StageArtifact.render(run.spec, consensus))
 * ```
 *
 * @since 0.3.0
 */
export const write = (
  run: RunContext,
  consensus: StageConsensus,
  markdown: string
): Effect.Effect<string, RunStoreError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const saved = store.saveConsensus(run.record, consensus, markdown)
    const done = yield* run.step({
      name: `artifact/${consensus.stage}`,
      success: Schema.String,
      error: RunStoreError,
      execute: run.persisted(saved)
    })
    // A replayed step wrote its files in the workspace the run began in; this one may be another
    // (a fleet run taken over by another worker), which gets those it lacks.
    if (done.replayed && store.restoreConsensus) yield* store.restoreConsensus(run.record, consensus, markdown)
    return done.value
  })

/**
 * Ends a decided stage: writes its artifact (`markdown`), makes its summary (its cost: its outcomes'
 * plus `extraCostUsd`, e.g. an aggregator's) and emits `StageFinished`, with the `after_consensus` and
 * `after_stage` crash points around.
 *
 * @example
 * ```ts
 * import { StageArtifact } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * declare const consensus: import("@speckit/core").Consensus.StageConsensus
 * const program = StageArtifact.finish(run, {
 *   consensus,
 *   outcomes: [],
 *   stopped: [],
 *   startedAt: Date.now(),
 *   markdown: StageArtifact.render(run.spec, consensus)
 * })
 * ```
 *
 * @since 0.3.0
 */
export const finish = (
  run: RunContext,
  input: {
    readonly consensus: StageConsensus
    readonly outcomes: ReadonlyArray<AgentOutcome>
    readonly stopped: ReadonlyArray<AgentId>
    readonly startedAt: number
    readonly markdown: string
    readonly extraCostUsd?: number | undefined
  }
): Effect.Effect<Decided, RunStoreError, RunStore | FaultInjector> =>
  Effect.gen(function* () {
    const faults = yield* FaultInjector
    const { consensus, outcomes, markdown } = input
    const stage = consensus.stage
    const artifact = yield* write(run, consensus, markdown)
    yield* faults.crashPoint("after_consensus")
    const costUsd = outcomes.reduce((sum, outcome) => sum + outcome.costUsd, input.extraCostUsd ?? 0)
    const summary = RunSummary.stageSummary({
      consensus,
      outcomes,
      stopped: input.stopped,
      durationMs: (yield* Clock.currentTimeMillis) - input.startedAt,
      costUsd,
      artifact
    })
    yield* run.emit({ _tag: "StageFinished", stage, consensus, costUsd, artifact })
    yield* faults.crashPoint("after_stage")
    return { _tag: "Decided", consensus, markdown, summary, outcomes }
  })

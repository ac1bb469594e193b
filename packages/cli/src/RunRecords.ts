/**
 * A run's records as the report reads them, from `.speckit/runs/<run-id>/`: the run record, the event
 * log, the summary, each stage's consensus and artifact, the cost report and the delivered patch. Every
 * part is optional: a run that stopped early, or was recorded by an older speckit, lacks some.
 *
 * @since 0.3.0
 */
import { type PipelineEvent, RunStore, type RunSummary } from "@speckit/core"
import { Effect, FileSystem, Path } from "effect"

/**
 * An event as logged in `events.jsonl`: with `at`, when it happened (epoch ms), since speckit 0.3.
 *
 * @since 0.3.0
 */
export type LoggedEvent = PipelineEvent.Logged & { readonly at?: number | undefined }

/**
 * The cost report (`cost.json`).
 *
 * @since 0.3.0
 */
export interface CostReport {
  readonly costUsd: number
  readonly wastedUsd?: number | undefined
  readonly wastedTokens?: number | undefined
  readonly budgetUsd?: number | undefined
  readonly estimateUsd?: number | undefined
}

/**
 * A stage's consensus record (`consensus/<stage>.json`), the parts the report shows.
 *
 * @since 0.3.0
 */
export interface ConsensusRecord {
  readonly stage: string
  readonly status: string
  readonly verdict?: string | undefined
  readonly reason?: string | undefined
  readonly agreements?: ReadonlyArray<string> | undefined
  readonly conflicts?: ReadonlyArray<string> | undefined
  readonly dissent?: ReadonlyArray<string> | undefined
}

/**
 * Everything recorded about one run.
 *
 * @example
 * ```ts
 * import { RunRecords } from "@speckit/cli"
 *
 * declare const records: RunRecords.RunRecords
 * records.events.length
 * ```
 *
 * @since 0.3.0
 */
export interface RunRecords {
  readonly runId: string
  /** `run.json`: the spec, the git branch and commit, the configuration, the start. */
  readonly run?:
    | {
        readonly specId?: string
        readonly git?: { readonly branch?: string; readonly commit?: string } | undefined
        readonly startedAt?: string
      }
    | undefined
  readonly events: ReadonlyArray<LoggedEvent>
  readonly summary?: RunSummary.RunSummary | undefined
  readonly consensus: Readonly<Record<string, ConsensusRecord>>
  /** Each stage's artifact text (`specs/<SPEC-ID>/<stage>.md`), by stage. */
  readonly artifacts: Readonly<Record<string, string>>
  readonly cost?: CostReport | undefined
  /** The delivered (or else the chosen) candidate's patch. */
  readonly patch?: { readonly agent: string; readonly text: string } | undefined
}

const stages = ["plan", "tasks", "implement", "validate", "audit", "unlock"] as const

/**
 * The candidate whose patch the report shows: the delivered one, or else the one the selection chose.
 *
 * @example
 * ```ts
 * import { RunRecords } from "@speckit/cli"
 *
 * RunRecords.chosenOf(undefined) // undefined
 * ```
 *
 * @since 0.4.0
 */
export const chosenOf = (summary: RunSummary.RunSummary | undefined): string | undefined =>
  summary?.delivery?.candidate ?? summary?.stages.find((s) => s.selection)?.selection?.winner

/**
 * Reads a run's records (`root` is the workspace; missing or unreadable parts are left out).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { RunRecords } from "@speckit/cli"
 *
 * const records = RunRecords.load("/work/project", "run-20260101-120000-abcd").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.3.0
 */
export const load = (root: string, runId: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = path.join(root, ".speckit", "runs", runId)
    const text = (file: string) => fs.readFileString(file).pipe(Effect.orElseSucceed(() => undefined))
    const json = <A>(file: string) =>
      Effect.map(text(file), (content): A | undefined => {
        try {
          return content === undefined ? undefined : (JSON.parse(content) as A)
        } catch {
          return undefined
        }
      })
    const events = RunStore.parseJsonLines((yield* text(path.join(dir, "events.jsonl"))) ?? "") as Array<LoggedEvent>
    const summary = yield* json<RunSummary.RunSummary>(path.join(dir, "summary.json"))
    const consensus: Record<string, ConsensusRecord> = {}
    for (const stage of stages) {
      const record = yield* json<ConsensusRecord>(path.join(dir, "consensus", `${stage}.json`))
      if (record) consensus[stage] = record
    }
    const artifacts: Record<string, string> = {}
    for (const stage of summary?.stages ?? []) {
      const artifact = stage.artifact === undefined ? undefined : yield* text(path.join(root, stage.artifact))
      if (artifact !== undefined) artifacts[stage.stage] = artifact
    }
    const chosen = chosenOf(summary)
    const patchText = chosen === undefined ? undefined : yield* text(path.join(dir, "candidates", `${chosen}.patch`))
    const records: RunRecords = {
      runId,
      run: yield* json<RunRecords["run"]>(path.join(dir, "run.json")),
      events,
      summary,
      consensus,
      artifacts,
      cost: yield* json<CostReport>(path.join(dir, "cost.json")),
      ...(chosen !== undefined && patchText !== undefined ? { patch: { agent: chosen, text: patchText } } : {})
    }
    return records
  })

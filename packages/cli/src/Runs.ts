/**
 * `speckit runs` and `speckit status`: what the runs of a workspace did, read from their records in
 * `.speckit/runs/`.
 *
 * @since 0.1.0
 */
import type { RunSummary } from "@speckit/core"
import { Effect, FileSystem, Option, Path } from "effect"
import { InputError } from "./Errors.ts"

/**
 * One run of a workspace, as listed by `speckit runs`.
 *
 * @since 0.1.0
 */
export interface RunListing {
  readonly runId: string
  readonly specId: string
  readonly branch?: string | undefined
  /** The summary's status, or `unfinished` when the run has no summary (running, crashed or killed). */
  readonly status: RunSummary.RunStatus | "unfinished"
  readonly phase: string
  readonly costUsd: number
  readonly startedAt: string
  readonly runDir: string
  readonly summary?: RunSummary.RunSummary | undefined
}

const readJson = (fs: FileSystem.FileSystem, file: string) =>
  fs.readFileString(file).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: (): unknown => JSON.parse(text),
        catch: () => new InputError({ message: `${file} is not JSON` })
      })
    ),
    Effect.option
  )

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined

const text = (value: unknown, fallback = ""): string => (typeof value === "string" ? value : fallback)

/**
 * Lists a workspace's runs, newest first.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Runs } from "@speckit/cli"
 *
 * const runs = Runs.list(".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const list = Effect.fn("Runs.list")(function* (workspace: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = path.join(path.resolve(workspace), ".speckit", "runs")
  const names = yield* fs.readDirectory(root).pipe(Effect.orElseSucceed((): Array<string> => []))
  const listings: Array<RunListing> = []
  for (const name of names) {
    const record = yield* readJson(fs, path.join(root, name, "run.json"))
    if (Option.isNone(record)) continue
    const summary = yield* readJson(fs, path.join(root, name, "summary.json"))
    const s = Option.getOrUndefined(summary) as RunSummary.RunSummary | undefined
    const git = field(record.value, "git")
    listings.push({
      runId: text(field(record.value, "runId"), name),
      specId: text(field(record.value, "specId")),
      branch: typeof field(git, "branch") === "string" ? text(field(git, "branch")) : undefined,
      status: s?.status ?? "unfinished",
      phase: s?.phase ?? "unknown",
      costUsd: s?.costUsd ?? 0,
      startedAt: text(field(record.value, "startedAt")),
      runDir: path.join(".speckit", "runs", name),
      summary: s
    })
  }
  return listings.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
})

const age = (startedAt: string, now: number) => {
  const seconds = Math.max(0, Math.round((now - Date.parse(startedAt)) / 1000))
  return seconds < 90
    ? `${seconds}s`
    : seconds < 5400
      ? `${Math.round(seconds / 60)}m`
      : seconds < 172800
        ? `${Math.round(seconds / 3600)}h`
        : `${Math.round(seconds / 86400)}d`
}

/**
 * Renders runs as a table for people.
 *
 * @since 0.1.0
 */
export const formatList = (runs: ReadonlyArray<RunListing>, now: number): string => {
  if (runs.length === 0) return "no runs in this workspace yet: start one with `speckit auto <SPEC-ID>`\n"
  const rows = runs.map((run) => [
    run.runId,
    run.specId,
    run.branch ?? "-",
    run.status === "unfinished" ? "unfinished" : `${run.status} ${run.phase}`,
    `$${run.costUsd.toFixed(4)}`,
    age(run.startedAt, now)
  ])
  const header = ["RUN", "SPEC", "BRANCH", "STATUS", "COST", "AGE"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  return `${[header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()
    )
    .join("\n")}\n`
}

/**
 * Finds one run (the newest when `runId` is not given).
 *
 * @since 0.1.0
 */
export const find = Effect.fn("Runs.find")(function* (workspace: string, runId: string | undefined) {
  const runs = yield* list(workspace)
  const run = runId === undefined ? runs[0] : runs.find((r) => r.runId === runId)
  if (run === undefined) {
    return yield* new InputError({
      message:
        runId === undefined
          ? "no runs in this workspace yet: start one with `speckit auto <SPEC-ID>`"
          : `no run ${runId} in this workspace (see \`speckit runs\`)`
    })
  }
  return run
})

/**
 * Renders one run's status for people: phase, stages, agents, decisions, cost, last error.
 *
 * @since 0.1.0
 */
export const formatStatus = (run: RunListing): string => {
  const lines = [`run ${run.runId}  spec ${run.specId}${run.branch ? `  branch ${run.branch}` : ""}`]
  const s = run.summary
  if (!s) {
    lines.push("status   unfinished (no summary: the run is still going, or the process was stopped abruptly)")
    return `${lines.join("\n")}\n`
  }
  lines.push(
    `status   ${s.status}  phase ${s.phase}  started ${s.startedAt}  took ${(s.durationMs / 1000).toFixed(1)}s`
  )
  for (const stage of s.stages) {
    lines.push(
      `  ${stage.stage.padEnd(10)} ${stage.status.padEnd(9)}${stage.verdict ? ` verdict ${stage.verdict}` : ""}${stage.dissent.length ? ` dissent ${stage.dissent.join(", ")}` : ""}`
    )
    for (const agent of stage.agents) {
      lines.push(
        `    ${agent.agent.padEnd(10)} ${agent.status.padEnd(9)} ${agent.attempts} attempt(s) $${agent.costUsd.toFixed(4)}${agent.error ? `  ${agent.error.kind}: ${agent.error.detail}` : ""}`
      )
    }
  }
  const lastError = [...s.stages]
    .reverse()
    .flatMap((stage) =>
      stage.agents.flatMap((a) => (a.error ? [`${stage.stage}/${a.agent}: ${a.error.kind}: ${a.error.detail}`] : []))
    )[0]
  lines.push(
    `decisions ${s.decisions}`,
    `cost     $${s.costUsd.toFixed(4)}  (${s.usage.input} in, ${s.usage.output} out)`
  )
  if (lastError) lines.push(`last error ${lastError}`)
  if (s.hint) lines.push(`next     ${s.hint}`)
  return `${lines.join("\n")}\n`
}

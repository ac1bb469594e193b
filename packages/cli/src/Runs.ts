/**
 * `speckit runs` and `speckit status`: what the runs of a workspace did, read from their records in
 * `.speckit/runs/`.
 *
 * @since 0.1.0
 */
import type * as GitState from "@speckit/core/GitState"
import * as RunId from "@speckit/core/RunId"
import type * as RunSummary from "@speckit/core/RunSummary"
import { Array as Arr, Effect, FileSystem, Option, Path, Schema } from "effect"
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
  /**
   * When the run ended (a run with a summary).
   *
   * @since 0.4.0
   */
  readonly finishedAt?: string | undefined
  readonly runDir: string
  /**
   * The whole summary: given by {@link find} (one run's), not by {@link list}, which reads each run's
   * head (`status.json`) only.
   */
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

/** The folder of a workspace's run records, `.speckit/runs`, absolute. */
const runsFolder = (path: Path.Path, workspace: string) => path.join(path.resolve(workspace), ".speckit", "runs")

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined

const text = (value: unknown, fallback = ""): string => (typeof value === "string" ? value : fallback)

/**
 * A run's summary head: its `status.json`, or (a run recorded before heads were written, or whose
 * head a crash cut off) the head of its `summary.json`.
 */
const headOf = (fs: FileSystem.FileSystem, path: Path.Path, dir: string) =>
  Effect.gen(function* () {
    for (const file of ["status.json", "summary.json"]) {
      const read = yield* readJson(fs, path.join(dir, file))
      // A summary has every field of its head.
      if (Option.isSome(read) && typeof field(read.value, "status") === "string") return read.value as RunSummary.Head
    }
    return undefined
  })

/**
 * Lists a workspace's runs, newest first. Each run's end is read from its summary head
 * (`status.json`), not its whole summary; {@link find} reads the summary of the run it finds.
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
  const root = runsFolder(path, workspace)
  const names = yield* fs.readDirectory(root).pipe(Effect.orElseSucceed((): Array<string> => []))
  // The runs are read side by side: one after another, their small reads wait on each other.
  const listings = yield* Effect.forEach(names, (name) => listingOf(fs, path, root, name), {
    concurrency: readConcurrency
  })
  return Arr.getSomes(listings).sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
})

/** How many runs {@link list} reads at a time (each is two or three small files). */
const readConcurrency = 16

/** The run in folder `name` of `root` (`.speckit/runs`), from its record and head; none without a record. */
const listingOf = (fs: FileSystem.FileSystem, path: Path.Path, root: string, name: string) =>
  Effect.map(
    Effect.all([readJson(fs, path.join(root, name, "run.json")), headOf(fs, path, path.join(root, name))], {
      concurrency: 2
    }),
    ([record, head]): Option.Option<RunListing> => {
      if (Option.isNone(record)) return Option.none()
      const git = field(record.value, "git")
      return Option.some({
        runId: text(field(record.value, "runId"), name),
        specId: text(field(record.value, "specId")),
        branch: typeof field(git, "branch") === "string" ? text(field(git, "branch")) : undefined,
        status: head?.status ?? "unfinished",
        phase: head?.phase ?? "unknown",
        costUsd: head?.costUsd ?? 0,
        startedAt: text(field(record.value, "startedAt")),
        finishedAt: head?.finishedAt,
        runDir: path.join(".speckit", "runs", name)
      })
    }
  )

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
 * Finds one run (the newest when `runId` is not given), with its whole summary when it has one.
 *
 * @since 0.1.0
 */
export const find = Effect.fn("Runs.find")(function* (workspace: string, runId: string | undefined) {
  const run = runId === undefined ? (yield* list(workspace))[0] : yield* named(workspace, runId)
  if (run === undefined) {
    return yield* new InputError({
      message:
        runId === undefined
          ? "no runs in this workspace yet: start one with `speckit auto <SPEC-ID>`"
          : `no run ${runId} in this workspace (see \`speckit runs\`)`
    })
  }
  if (run.status === "unfinished") return run
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const summary = yield* readJson(fs, path.join(path.resolve(workspace), run.runDir, "summary.json"))
  return Option.isSome(summary) ? { ...run, summary: summary.value as RunSummary.RunSummary } : run
})

/** The run `runId`: read from its own folder (a run is recorded under its id), else looked for among all. */
const named = (workspace: string, runId: string) =>
  Effect.gen(function* () {
    if (isRunId(runId)) {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const own = yield* listingOf(fs, path, runsFolder(path, workspace), runId)
      if (Option.isSome(own) && own.value.runId === runId) return own.value
    }
    return (yield* list(workspace)).find((run) => run.runId === runId)
  })

const isRunId = Schema.is(RunId.RunId)

/**
 * Renders one run's status for people: phase, stages, agents, decisions, cost, last error.
 *
 * @since 0.1.0
 */
export const formatStatus = (
  run: RunListing,
  recorded: ReadonlyArray<{
    readonly stage: string
    readonly agents: ReadonlyArray<{ readonly agent: string; readonly status: string }>
  }> = []
): string => {
  const lines = [`run ${run.runId}  spec ${run.specId}${run.branch ? `  branch ${run.branch}` : ""}`]
  const s = run.summary
  if (!s) {
    lines.push(
      "status   unfinished (no summary: the run is still going, or the process was stopped abruptly; `speckit resume` goes on)"
    )
    for (const stage of recorded) {
      lines.push(
        `  ${stage.stage.padEnd(10)} recorded: ${stage.agents.map((a) => `${a.agent} ${a.status}`).join(", ")}`
      )
    }
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
      stage.agents.flatMap((a) =>
        a.error && a.status !== "stopped" ? [`${stage.stage}/${a.agent}: ${a.error.kind}: ${a.error.detail}`] : []
      )
    )[0]
  lines.push(
    `decisions ${s.decisions}`,
    `cost     $${s.costUsd.toFixed(4)}  (${s.usage.input} in, ${s.usage.output} out)`
  )
  if (lastError) lines.push(`last error ${lastError}`)
  if (s.hint) lines.push(`next     ${s.hint}`)
  return `${lines.join("\n")}\n`
}

/**
 * A run's record (`run.json`): what `speckit resume` needs to go on.
 *
 * @since 0.2.0
 */
export interface RunRecord {
  readonly runId: RunId.RunId
  readonly specId: string
  readonly git?: GitState.GitState | undefined
  readonly config: unknown
}

/**
 * Reads a run's record.
 *
 * @since 0.2.0
 */
export const record = Effect.fn("Runs.record")(function* (workspace: string, runId: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = path.join(runsFolder(path, workspace), runId, "run.json")
  const value = Option.getOrUndefined(yield* readJson(fs, file))
  const specId = field(value, "specId")
  if (value === undefined || typeof specId !== "string") {
    return yield* new InputError({ message: `${file} is missing or unreadable: run ${runId} cannot be resumed` })
  }
  const git = field(value, "git")
  const branch = field(git, "branch")
  const commit = field(git, "commit")
  const result: RunRecord = {
    runId: RunId.RunId.make(runId),
    specId,
    git: typeof branch === "string" ? { branch, commit: typeof commit === "string" ? commit : "" } : undefined,
    config: field(value, "config")
  }
  return result
})

/**
 * A run's summary (`summary.json`), for a run known to have finished.
 *
 * @since 0.2.0
 */
export const summaryOf = Effect.fn("Runs.summaryOf")(function* (workspace: string, runId: string) {
  const run = yield* find(workspace, runId)
  if (run.summary === undefined) return yield* new InputError({ message: `run ${runId} has no summary` })
  return run.summary
})

/**
 * An answer to a paused run (`answer.json` in its run directory), written by `speckit approve`,
 * `speckit reject` or `speckit budget`, and given to the run by `speckit resume`.
 *
 * @since 0.2.0
 */
export interface Answer {
  readonly kind: "review" | "budget"
  /** The pause answered (the summary's `pause.name`). */
  readonly name: string
  readonly approved?: boolean | undefined
  readonly note?: string | undefined
  readonly usd?: number | undefined
  /** The git branch the answer was given on. */
  readonly branch?: string | undefined
  readonly at: string
}

const answerFile = (path: Path.Path, workspace: string, runId: string) =>
  path.join(runsFolder(path, workspace), runId, "answer.json")

/**
 * The answer recorded for a paused run, if any.
 *
 * @since 0.2.0
 */
export const answerOf = Effect.fn("Runs.answerOf")(function* (workspace: string, runId: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const value = Option.getOrUndefined(yield* readJson(fs, answerFile(path, workspace, runId)))
  const kind = field(value, "kind")
  const name = field(value, "name")
  if ((kind !== "review" && kind !== "budget") || typeof name !== "string") return undefined
  const approved = field(value, "approved")
  const note = field(value, "note")
  const usd = field(value, "usd")
  const answer: Answer = {
    kind,
    name,
    approved: typeof approved === "boolean" ? approved : undefined,
    note: typeof note === "string" ? note : undefined,
    usd: typeof usd === "number" ? usd : undefined,
    at: text(field(value, "at"))
  }
  return answer
})

/**
 * Records the answer to a paused run (`speckit approve`, `reject`, `budget`): the run must be paused
 * for that kind of answer, and the workspace on the run's branch (an answer addressed to a run of
 * another branch is stale) unless `force`. Written atomically; `speckit resume` then gives it to the
 * run.
 *
 * @since 0.2.0
 */
export const answer = Effect.fn("Runs.answer")(function* (
  workspace: string,
  runId: string,
  given: Omit<Answer, "name" | "at" | "branch">,
  options: { readonly force: boolean; readonly branch: string | undefined }
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const run = yield* find(workspace, runId)
  const pause = run.summary?.pause
  const waitsFor = given.kind === "review" ? "a review" : "a budget raise"
  if (pause === undefined || pause.kind !== given.kind || run.status === "completed") {
    return yield* new InputError({
      message: `run ${runId} is not waiting for ${waitsFor} (status ${run.status}${run.summary ? `, phase ${run.summary.phase}` : ""})`
    })
  }
  if (!options.force && run.branch !== options.branch) {
    return yield* new InputError({
      message: `run ${runId} belongs to branch ${run.branch ?? "(none)"}, but the workspace is on ${options.branch ?? "no branch"}: the answer would be stale; check out ${run.branch ?? "its branch"} or answer anyway with --force`
    })
  }
  const recorded: Answer = { ...given, name: pause.name, branch: options.branch, at: new Date().toISOString() }
  const file = answerFile(path, workspace, runId)
  const temp = `${file}.${process.pid}.tmp`
  yield* fs.writeFileString(temp, `${JSON.stringify(recorded, null, 2)}\n`).pipe(
    Effect.andThen(fs.rename(temp, file)),
    Effect.mapError((error) => new InputError({ message: `cannot write ${file}: ${error.message}` }))
  )
  return { run, answer: recorded }
})

/**
 * What an unfinished run had recorded, per stage, from its event log: the agents whose answers were
 * recorded (a run killed abruptly has no summary; this is what `speckit resume` will not redo).
 *
 * @since 0.2.0
 */
export const recorded = Effect.fn("Runs.recorded")(function* (workspace: string, runId: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = path.join(runsFolder(path, workspace), runId, "events.jsonl")
  const content = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => ""))
  const stages = new Map<string, Array<{ readonly agent: string; readonly status: string }>>()
  for (const line of content.split("\n")) {
    if (line.trim() === "") continue
    let event: unknown
    try {
      event = JSON.parse(line)
    } catch {
      continue // a line cut by a crash
    }
    if (field(event, "_tag") !== "AgentFinished") continue
    const stage = text(field(event, "stage"))
    const outcome = field(event, "outcome")
    const agents = stages.get(stage) ?? []
    stages.set(stage, agents)
    agents.push({
      agent: text(field(outcome, "agent")),
      status: field(outcome, "_tag") === "Succeeded" ? "succeeded" : "failed"
    })
  }
  return [...stages].map(([stage, agents]) => ({ stage, agents }))
})

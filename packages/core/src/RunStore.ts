/**
 * The run-store port: where a run's artifacts and records go. The file-system layer writes
 * `specs/<SPEC-ID>/<stage>.md` and `.speckit/runs/<run-id>/` in the workspace.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, FileSystem, Layer, Path, Schema } from "effect"
import type { Candidate } from "./Candidate.ts"
import type { StageConsensus } from "./Consensus.ts"
import type { GitState } from "./GitState.ts"
import type { RunId } from "./RunId.ts"
import * as RunSummary from "./RunSummary.ts"
import * as LineLogs from "./internal/lineLogs.ts"
import * as WriteBehind from "./internal/writeBehind.ts"
import * as Stage from "./Stage.ts"

/**
 * Writing a run record failed (or, with `operation: "read"`, reading one back: `loggedEvents`).
 *
 * @since 0.1.0
 */
export class RunStoreError extends Schema.TaggedError<RunStoreError>()("RunStoreError", {
  path: Schema.String,
  reason: Schema.String,
  /** What failed (default: a write). @since 0.4.0 */
  operation: Schema.optionalKey(Schema.Literals(["read", "write"]))
}) {
  override get message() {
    return `cannot ${this.operation ?? "write"} ${this.path}: ${this.reason}`
  }
}

/**
 * What is recorded when a run starts.
 *
 * @since 0.1.0
 */
export interface RunRecord {
  readonly runId: RunId
  readonly specId: string
  readonly specDirectory: string
  readonly startedAt: string
  /** The workspace's git branch and commit when the run started, when it is a git repository. */
  readonly git?: GitState | undefined
  readonly config: unknown
}

/**
 * How long the file-system store waits before it writes what a run recorded: long enough to gather a
 * burst (a stage's answers, events, consensus and artifact) into few writes that run while the next
 * agents wait, short enough that a reader following the files sees them at once.
 */
const writeDelay = Duration.millis(5)

/** Each stage's answer log in a run directory (`answers/<stage>.jsonl`), named once. */
const answerLogs = Object.fromEntries(Stage.all.map((stage) => [stage, `answers/${stage}.jsonl`])) as Record<
  Stage.Stage,
  string
>

/**
 * The run-store service.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { RunStore } from "@speckit/core"
 *
 * const layer = RunStore.RunStore.layerFileSystem("/path/to/workspace").pipe(Layer.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export class RunStore extends Context.Service<
  RunStore,
  {
    /** The run directory, relative to the workspace. */
    readonly runDir: (runId: RunId) => string
    /**
     * Records a run as it starts (possibly in the background: `flush` and `finish` wait for it). The
     * file-system store writes `run.json`.
     */
    readonly begin: (run: RunRecord) => Effect.Effect<void, RunStoreError>
    /**
     * Records an agent's raw answer for a stage attempt (possibly in the background: `finish` and
     * `flush` wait for it). The file-system store appends it to `answers/<stage>.jsonl`, one answer a
     * line (with `agent` and `attempt` as given here), in batches.
     */
    readonly saveAnswer: (
      runId: RunId,
      stage: Stage.Stage,
      agent: string,
      attempt: number,
      answer: unknown
    ) => Effect.Effect<void, RunStoreError>
    /** Records a stage's consensus and writes its Markdown artifact (possibly in the background: `finish` waits for it); returns the artifact path (relative). */
    readonly saveConsensus: (
      run: RunRecord,
      consensus: StageConsensus,
      markdown: string
    ) => Effect.Effect<string, RunStoreError>
    /**
     * Writes a replayed stage's files (its artifact and consensus, as `saveConsensus` does) where they
     * are missing, never over one that exists: a durable run taken over in another workspace (a fleet
     * worker's cache) has every stage's artifact, and one the user edited is kept. Optional: a store
     * without files leaves it out.
     *
     * @since 0.4.0
     */
    readonly restoreConsensus?:
      | ((run: RunRecord, consensus: StageConsensus, markdown: string) => Effect.Effect<void, RunStoreError>)
      | undefined
    /**
     * Records the run's summary once every pending write is done. The file-system store writes
     * `summary.json` and then its head, `status.json` (see `RunSummary.Head`).
     */
    readonly finish: (summary: RunSummary.RunSummary) => Effect.Effect<void, RunStoreError>
    /**
     * Waits until every background write so far is on disk (and fails if one failed). A durable
     * run flushes before journaling a step that wrote files, so a replay never skips a lost write.
     * Optional: a store that writes synchronously leaves it out.
     *
     * @since 0.2.0
     */
    readonly flush?: Effect.Effect<void, RunStoreError> | undefined
    /**
     * Saves an agent's candidate patch as `candidates/<agent>.patch` (and its files and stats as
     * `candidates/<agent>.json`); returns the patch's path, relative to the workspace. Written before
     * it returns.
     *
     * @since 0.3.0
     */
    readonly saveCandidate?:
      | ((runId: RunId, agent: string, candidate: Candidate) => Effect.Effect<string, RunStoreError>)
      | undefined
    /**
     * Appends an event to the run's event log (`events.jsonl`, one JSON object a line, with `at`: when it
     * happened, epoch ms), in call order.
     * Cheap: events are buffered, then serialised and written in the background in batches (an event
     * must not change once appended); `finish` waits for them.
     * Optional: a store without an event log leaves it out.
     */
    readonly appendEvent?: ((runId: RunId, event: unknown) => Effect.Effect<void>) | undefined
    /**
     * The events logged for a run so far, in order, each as `appendEvent` was given it (with `at`), once
     * every pending line is written. A durable run reads them when it starts: what it replays is logged
     * again only if the log lacks it (a crash lost the log's last batch). Optional.
     *
     * @since 0.4.0
     */
    readonly loggedEvents?: ((runId: RunId) => Effect.Effect<ReadonlyArray<unknown>, RunStoreError>) | undefined
  }
>()("@speckit/core/RunStore") {
  /**
   * Stores runs as files in a workspace directory. Every file is written to a temporary name and
   * renamed, so a crash never leaves a half-written artifact; the logs (`events.jsonl`, and the raw
   * answers in `answers/<stage>.jsonl`) are appended in batches, and a line a crash cut short is
   * skipped by {@link parseJsonLines}. What a run records is written a few milliseconds later, a
   * burst at a time (a stage's answers, events, consensus and artifact together, while the next agents
   * wait); `flush` and `finish` write it at once, and closing the layer writes what is still queued.
   * `run.json` is written as the run begins, while its first agents are called; the summary and its
   * head are written while the run's last writes finish and renamed in place after them.
   *
   * @since 0.1.0
   */
  static readonly layerFileSystem = (
    workspace: string
  ): Layer.Layer<RunStore, never, FileSystem.FileSystem | Path.Path> =>
    Layer.effect(
      RunStore,
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const root = path.resolve(workspace)
        const runDir = (runId: RunId) => path.join(".speckit", "runs", runId)
        // Directories known to exist: each is created once, not before every write.
        const made = new Set<string>()
        const ensureDirectory = (directory: string) =>
          made.has(directory)
            ? Effect.void
            : fs
                .makeDirectory(directory, { recursive: true })
                .pipe(Effect.tap(() => Effect.sync(() => made.add(directory))))
        /** Forgets `directory` and the directories under it (they are made again when written to). */
        const forgetDirectories = (directory: string) => {
          const under = `${directory}${path.sep}`
          for (const known of made) if (known === directory || known.startsWith(under)) made.delete(known)
        }
        const failure = (file: string) => (error: { readonly message: string }) =>
          new RunStoreError({ path: file, reason: error.message })
        const tempOf = (file: string) => `${file}.${process.pid}.tmp`
        /** Writes `content` to the temporary file of `relative`: the first half of an atomic write. */
        const prepare = (relative: string, content: string) => {
          const file = path.resolve(root, relative)
          return ensureDirectory(path.dirname(file)).pipe(
            Effect.andThen(fs.writeFileString(tempOf(file), content)),
            Effect.mapError(failure(file))
          )
        }
        /** Renames the temporary file of `relative` in place: the second half. */
        const commit = (relative: string) => {
          const file = path.resolve(root, relative)
          return Effect.mapError(fs.rename(tempOf(file), file), failure(file))
        }
        /** Removes the temporary file of `relative`, if there is one (after a failed write). */
        const discard = (relative: string) =>
          Effect.ignore(fs.remove(tempOf(path.resolve(root, relative)), { force: true }))
        /** Writes a file atomically: a crash leaves the old file or the new one, never half of one. */
        const write = (relative: string, content: string) =>
          Effect.andThen(prepare(relative, content), commit(relative))
        const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`
        const writeIfMissing = (relative: string, content: () => string) =>
          fs.exists(path.resolve(root, relative)).pipe(
            Effect.mapError(
              (error) => new RunStoreError({ path: path.resolve(root, relative), reason: error.message })
            ),
            Effect.flatMap((exists) => (exists ? Effect.void : write(relative, content())))
          )
        const consensusFile = (runId: RunId, consensus: StageConsensus) =>
          path.join(runDir(runId), "consensus", `${consensus.stage}.json`)
        const artifactOf = (run: RunRecord, consensus: StageConsensus) =>
          path.relative(root, path.join(run.specDirectory, `${consensus.stage}.md`))
        // Answers, events, consensus records and stage artifacts are written in the background, a few
        // milliseconds after they are recorded, a burst at a time, off the stages' critical path;
        // `finish` waits for every pending write (and fails if one failed) before writing the summary,
        // so a finished run has all its files. Closing the store waits for them too.
        const { flush, start, submit: inBackground } = yield* WriteBehind.make<RunStoreError>(writeDelay)
        const openLog = LineLogs.make({
          fs,
          ensureDirectory: (file) => ensureDirectory(path.dirname(file)),
          failure: (file, error) => new RunStoreError({ path: file, reason: error.message }),
          inBackground
        })
        /** The appenders of the run logs, by run, then by log (each opened once). */
        const logs = new Map<string, Map<string, (value: unknown) => Effect.Effect<void>>>()
        const appendTo = (runId: RunId, name: string, value: unknown) => {
          let ofRun = logs.get(runId)
          if (ofRun === undefined) {
            ofRun = new Map()
            logs.set(runId, ofRun)
          }
          let append = ofRun.get(name)
          if (append === undefined) {
            append = openLog(path.resolve(root, runDir(runId), name))
            ofRun.set(name, append)
          }
          return append(value)
        }
        return RunStore.of({
          runDir,
          // Started at once, in the background: the first agents are called meanwhile.
          begin: (run) => start(write(path.join(runDir(run.runId), "run.json"), json(run))),
          saveAnswer: (runId, stage, agent, attempt, answer) =>
            appendTo(
              runId,
              answerLogs[stage],
              // Under the name it was saved as (an aggregator's answer: `aggregate.<agent>`).
              { ...(typeof answer === "object" && answer !== null ? answer : { answer }), agent, attempt }
            ),
          saveConsensus: (run, consensus, markdown) => {
            const artifact = artifactOf(run, consensus)
            // Serialised in the background too.
            const record = Effect.suspend(() => write(consensusFile(run.runId, consensus), json(consensus)))
            return inBackground(
              Effect.all([record, write(artifact, markdown)], { concurrency: 2, discard: true })
            ).pipe(Effect.as(artifact))
          },
          restoreConsensus: (run, consensus, markdown) =>
            Effect.all(
              [
                writeIfMissing(consensusFile(run.runId, consensus), () => json(consensus)),
                writeIfMissing(artifactOf(run, consensus), () => markdown)
              ],
              { concurrency: 2, discard: true }
            ),
          // The summary and its head (`status.json`, what listing runs reads) are written to temporary
          // files while the pending writes finish, then renamed in place, the summary first: a summary
          // on disk means every file of the run is, and a head means its summary is.
          finish: (summary) => {
            const summaryFile = path.join(summary.runDir, "summary.json")
            const statusFile = path.join(summary.runDir, "status.json")
            return Effect.all(
              [flush, prepare(summaryFile, json(summary)), prepare(statusFile, json(RunSummary.head(summary)))],
              { concurrency: "unbounded", discard: true }
            ).pipe(
              Effect.onError(() => Effect.andThen(discard(summaryFile), discard(statusFile))),
              Effect.andThen(commit(summaryFile)),
              Effect.andThen(commit(statusFile)),
              // The run's logs are done: their appenders and its directories go (a later write opens
              // the log or makes the directory again), so a store that records many runs keeps none.
              Effect.ensuring(
                Effect.sync(() => {
                  logs.delete(summary.runId)
                  forgetDirectories(path.resolve(root, summary.runDir))
                })
              )
            )
          },
          flush,
          saveCandidate: (runId, agent, candidate) => {
            const patch = path.join(runDir(runId), "candidates", `${agent}.patch`)
            const { patch: text, ...meta } = candidate
            return Effect.all(
              [write(patch, text), write(path.join(runDir(runId), "candidates", `${agent}.json`), json(meta))],
              { concurrency: 2, discard: true }
            ).pipe(Effect.as(patch))
          },
          appendEvent: (runId, event) => appendTo(runId, "events.jsonl", event),
          loggedEvents: (runId) => {
            const file = path.resolve(root, runDir(runId), "events.jsonl")
            // One read: a log that is not there (a new run) holds no events.
            const read = fs.readFileString(file).pipe(
              Effect.map(parseJsonLines),
              Effect.catchIf(
                (error) => error.reason._tag === "NotFound",
                () => Effect.succeed([])
              ),
              Effect.mapError((error) => new RunStoreError({ path: file, reason: error.message, operation: "read" }))
            )
            return Effect.andThen(flush, read)
          }
        })
      })
    )
}

/**
 * Reads a JSON-lines log of a run (`events.jsonl`, `answers/<stage>.jsonl`): one value per line, in
 * order. Blank lines and a line a crash cut short (not valid JSON) are skipped.
 *
 * @example
 * ```ts
 * import { RunStore } from "@speckit/core"
 *
 * RunStore.parseJsonLines('{"agent":"alpha"}\n{"agent":"be') // [{ agent: "alpha" }]
 * ```
 *
 * @since 0.3.0
 */
export const parseJsonLines = (text: string): Array<unknown> =>
  text.split("\n").flatMap((line) => {
    if (line.trim().length === 0) return []
    try {
      return [JSON.parse(line) as unknown]
    } catch {
      return []
    }
  })

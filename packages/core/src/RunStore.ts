/**
 * The run-store port: where a run's artifacts and records go. The file-system layer writes
 * `specs/<SPEC-ID>/<stage>.md` and `.speckit/runs/<run-id>/` in the workspace.
 *
 * @since 0.1.0
 */
import { type Cause, Context, Effect, Exit, Fiber, FileSystem, Layer, Path, Schema } from "effect"
import type { Candidate } from "./Candidate.ts"
import type { StageConsensus } from "./Consensus.ts"
import type { GitState } from "./GitState.ts"
import type { RunId } from "./RunId.ts"
import type { RunSummary } from "./RunSummary.ts"
import type { Stage } from "./Stage.ts"

/** A run's event log: its file, the lines not written yet, and whether a writer is at work. */
interface EventLog {
  readonly file: string
  lines: Array<string>
  writing: boolean
}

/**
 * Writing a run record failed.
 *
 * @since 0.1.0
 */
export class RunStoreError extends Schema.TaggedError<RunStoreError>()("RunStoreError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot write ${this.path}: ${this.reason}`
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
    readonly begin: (run: RunRecord) => Effect.Effect<void, RunStoreError>
    /** Records an agent's raw answer for a stage attempt (possibly in the background: `finish` waits for it). */
    readonly saveAnswer: (
      runId: RunId,
      stage: Stage,
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
    readonly finish: (summary: RunSummary) => Effect.Effect<void, RunStoreError>
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
     * Cheap: lines are buffered and written in the background in batches; `finish` waits for them.
     * Optional: a store without an event log leaves it out.
     */
    readonly appendEvent?: ((runId: RunId, event: unknown) => Effect.Effect<void>) | undefined
  }
>()("@speckit/core/RunStore") {
  /**
   * Stores runs as files in a workspace directory. Every file is written to a temporary name and
   * renamed, so a crash never leaves a half-written artifact.
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
        const write = (relative: string, content: string) => {
          const file = path.resolve(root, relative)
          const temp = `${file}.${process.pid}.tmp`
          return ensureDirectory(path.dirname(file)).pipe(
            Effect.andThen(fs.writeFileString(temp, content)),
            Effect.andThen(fs.rename(temp, file)),
            Effect.mapError((error) => new RunStoreError({ path: file, reason: error.message }))
          )
        }
        const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`
        // Answers, consensus records and stage artifacts are written in the background, off the
        // stages' critical path; `finish` waits for every pending write (and fails if one failed)
        // before writing the summary, so a finished run has all its files.
        // A write that is done is forgotten at once (a run of thousands of answers keeps no fiber per
        // answer); the first failure is kept for `flush` to report.
        const scope = yield* Effect.scope
        const pending = new Set<Fiber.Fiber<void, RunStoreError>>()
        let failed: Cause.Cause<RunStoreError> | undefined
        const flush = Effect.suspend(() => {
          const fibers = [...pending]
          pending.clear()
          return Fiber.joinAll(fibers).pipe(
            Effect.andThen(
              Effect.suspend(() => {
                const cause = failed
                failed = undefined
                return cause === undefined ? Effect.void : Effect.failCause(cause)
              })
            )
          )
        })
        const inBackground = (effect: Effect.Effect<void, RunStoreError>) =>
          Effect.forkIn(effect, scope).pipe(
            Effect.flatMap((fiber) =>
              Effect.sync(() => {
                pending.add(fiber)
                fiber.addObserver((exit) => {
                  pending.delete(fiber)
                  if (Exit.isFailure(exit) && failed === undefined) failed = exit.cause
                })
              })
            )
          )
        // Event logs: lines are buffered per file; one writer per file at a time appends whatever has
        // accumulated, then looks again, so lines land in call order and in few writes.
        const eventLogs = new Map<string, EventLog>()
        const writeEvents = (log: EventLog): Effect.Effect<void, RunStoreError> =>
          Effect.suspend(() => {
            const { file } = log
            if (log.lines.length === 0) {
              log.writing = false
              return Effect.void
            }
            const text = `${log.lines.join("\n")}\n`
            log.lines = []
            return ensureDirectory(path.dirname(file)).pipe(
              Effect.andThen(fs.writeFileString(file, text, { flag: "a" })),
              Effect.mapError((error) => new RunStoreError({ path: file, reason: error.message })),
              Effect.onError(() =>
                Effect.sync(() => {
                  log.writing = false
                })
              ),
              Effect.andThen(writeEvents(log))
            )
          })
        return RunStore.of({
          runDir,
          begin: (run) => write(path.join(runDir(run.runId), "run.json"), json(run)),
          saveAnswer: (runId, stage, agent, attempt, answer) =>
            inBackground(write(path.join(runDir(runId), "answers", stage, `${agent}.${attempt}.json`), json(answer))),
          saveConsensus: (run, consensus, markdown) => {
            const artifact = path.relative(root, path.join(run.specDirectory, `${consensus.stage}.md`))
            return inBackground(
              Effect.all(
                [
                  write(path.join(runDir(run.runId), "consensus", `${consensus.stage}.json`), json(consensus)),
                  write(artifact, markdown)
                ],
                { concurrency: 2, discard: true }
              )
            ).pipe(Effect.as(artifact))
          },
          finish: (summary) =>
            flush.pipe(Effect.andThen(write(path.join(summary.runDir, "summary.json"), json(summary)))),
          flush,
          saveCandidate: (runId, agent, candidate) => {
            const patch = path.join(runDir(runId), "candidates", `${agent}.patch`)
            const { patch: text, ...meta } = candidate
            return Effect.all(
              [write(patch, text), write(path.join(runDir(runId), "candidates", `${agent}.json`), json(meta))],
              { concurrency: 2, discard: true }
            ).pipe(Effect.as(patch))
          },
          appendEvent: (runId, event) =>
            Effect.suspend(() => {
              let log = eventLogs.get(runId)
              if (log === undefined) {
                log = { file: path.resolve(root, runDir(runId), "events.jsonl"), lines: [], writing: false }
                eventLogs.set(runId, log)
              }
              log.lines.push(JSON.stringify(event))
              if (log.writing) return Effect.void
              log.writing = true
              return inBackground(writeEvents(log))
            })
        })
      })
    )
}

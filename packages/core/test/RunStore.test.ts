import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { type Consensus, RunId, RunStore, RunSummary } from "@speckit/core"
import { Effect, FileSystem, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const runId = RunId.RunId.make("run-20261204-000000-test")

const tempWorkspace = () => fs.mkdtempSync(path.join(os.tmpdir(), "speckit-runstore-"))

/** Runs `effect` with the file-system store of `workspace` (a fresh store: like a new process). */
const withStore = <A, E>(workspace: string, effect: Effect.Effect<A, E, RunStore.RunStore>) =>
  effect.pipe(
    Effect.provide(RunStore.RunStore.layerFileSystem(workspace).pipe(Layer.provide(NodeServices.layer))),
    Effect.scoped
  )

const answersFile = (workspace: string, stage: string) =>
  path.join(workspace, ".speckit", "runs", runId, "answers", `${stage}.jsonl`)

const save = (agent: string, attempt: number, text: string) =>
  Effect.flatMap(RunStore.RunStore, (store) =>
    store.saveAnswer(runId, "plan", agent, attempt, { agent, attempt, model: "m", text })
  )

describe("RunStore.layerFileSystem", () => {
  it.effect("finish writes the summary and its head (status.json): the head's fields, a few hundred bytes", () =>
    Effect.gen(function* () {
      const workspace = tempWorkspace()
      const runDir = path.join(".speckit", "runs", runId)
      const agents = Array.from({ length: 500 }, (_, i) => ({
        agent: `a${i}`,
        model: "m",
        status: "succeeded",
        attempts: 1,
        durationMs: 5,
        usage: { input: 1, cachedInput: 0, output: 1, reasoning: 0 },
        costUsd: 0.001,
        retries: []
      }))
      const head: RunSummary.Head = {
        runId,
        specId: "SPEC-1",
        status: "halted",
        phase: "Halted",
        startedAt: "2026-12-04T00:00:00.000Z",
        finishedAt: "2026-12-04T00:01:00.000Z",
        durationMs: 60_000,
        costUsd: 0.5
      }
      const summary = {
        ...head,
        stages: [{ stage: "plan", status: "failed", required: 2, dissent: [], agents, durationMs: 5, costUsd: 0.5 }],
        usage: { input: 500, cachedInput: 0, output: 500, reasoning: 0 },
        unpriced: [],
        byAgent: {},
        byStage: {},
        decisions: 500,
        runDir
      } as unknown as RunSummary.RunSummary
      yield* withStore(
        workspace,
        Effect.flatMap(RunStore.RunStore, (store) => store.finish(summary))
      )
      const read = (name: string) => fs.readFileSync(path.join(workspace, runDir, name), "utf8")
      assert.deepStrictEqual(JSON.parse(read("summary.json")), JSON.parse(JSON.stringify(summary)))
      assert.deepStrictEqual(JSON.parse(read("status.json")), head)
      assert.deepStrictEqual(RunSummary.head(summary), head)
      assert.isBelow(read("status.json").length, 400)
      assert.isAbove(read("summary.json").length, 50_000)
    })
  )

  it.effect(
    "a stage's raw answers land in one JSON-lines file, in call order, under the names they were saved as",
    () =>
      Effect.gen(function* () {
        const workspace = tempWorkspace()
        yield* withStore(
          workspace,
          Effect.gen(function* () {
            const store = yield* RunStore.RunStore
            for (let i = 0; i < 200; i++) yield* save(`a${i}`, 1, `answer ${i}\nwith "quotes"`)
            yield* store.saveAnswer(runId, "plan", "aggregate.judge", 2, { agent: "judge", attempt: 2, text: "{}" })
            yield* store.flush ?? Effect.void
          })
        )
        const saved = RunStore.parseJsonLines(fs.readFileSync(answersFile(workspace, "plan"), "utf8")) as Array<{
          readonly agent: string
          readonly attempt: number
          readonly text: string
        }>
        assert.strictEqual(saved.length, 201)
        assert.deepStrictEqual(
          saved.slice(0, 200).map((answer) => answer.agent),
          Array.from({ length: 200 }, (_, i) => `a${i}`)
        )
        assert.strictEqual(saved[7]?.text, 'answer 7\nwith "quotes"')
        assert.deepStrictEqual(saved[200], { agent: "aggregate.judge", attempt: 2, text: "{}" })
      })
  )

  it.effect("a line a crash cut short stays apart: the next process starts on a new line, readers skip it", () =>
    Effect.gen(function* () {
      const workspace = tempWorkspace()
      yield* withStore(
        workspace,
        Effect.andThen(
          save("alpha", 1, "first"),
          Effect.flatMap(RunStore.RunStore, (s) => s.flush ?? Effect.void)
        )
      )
      // A crash in the middle of the next batch.
      fs.appendFileSync(answersFile(workspace, "plan"), '{"agent":"beta","attempt":1,"te')
      yield* withStore(
        workspace,
        Effect.andThen(
          save("gamma", 1, "after"),
          Effect.flatMap(RunStore.RunStore, (s) => s.flush ?? Effect.void)
        )
      )
      const text = fs.readFileSync(answersFile(workspace, "plan"), "utf8")
      assert.lengthOf(text.trimEnd().split("\n"), 3, "the cut line is a line of its own")
      const saved = RunStore.parseJsonLines(text) as Array<{ readonly agent: string }>
      assert.deepStrictEqual(
        saved.map((answer) => answer.agent),
        ["alpha", "gamma"]
      )
    })
  )

  it.effect("a log whose last line is whole is appended to as it is: no blank line between processes", () =>
    Effect.gen(function* () {
      const workspace = tempWorkspace()
      const flushed = (effect: Effect.Effect<void, unknown, RunStore.RunStore>) =>
        withStore(
          workspace,
          Effect.andThen(
            effect,
            Effect.flatMap(RunStore.RunStore, (s) => s.flush ?? Effect.void)
          )
        )
      yield* flushed(save("alpha", 1, "first"))
      yield* flushed(save("beta", 1, "second"))
      const text = fs.readFileSync(answersFile(workspace, "plan"), "utf8")
      assert.notInclude(text, "\n\n")
      assert.deepStrictEqual(
        (RunStore.parseJsonLines(text) as Array<{ readonly agent: string }>).map((answer) => answer.agent),
        ["alpha", "beta"]
      )
    })
  )

  it.effect(
    "a replayed stage's files are restored where they are missing (another workspace), never over one that exists",
    () =>
      Effect.gen(function* () {
        const workspace = tempWorkspace()
        const record: RunStore.RunRecord = {
          runId,
          specId: "SPEC-1",
          specDirectory: path.join(workspace, "specs", "SPEC-1"),
          startedAt: "2026-12-04T00:00:00.000Z",
          config: {}
        }
        const consensus = (stage: "plan" | "tasks"): Consensus.StageConsensus => ({
          stage,
          status: "ok",
          agreements: [],
          conflicts: [],
          dissent: [],
          succeeded: [],
          failed: [],
          required: 1
        })
        const artifact = (stage: string) => path.join(workspace, "specs", "SPEC-1", `${stage}.md`)
        fs.mkdirSync(path.dirname(artifact("plan")), { recursive: true })
        fs.writeFileSync(artifact("plan"), "# Plan, as the user edited it\n")
        yield* withStore(
          workspace,
          Effect.gen(function* () {
            const store = yield* RunStore.RunStore
            const restore = store.restoreConsensus
            if (restore === undefined) return assert.fail("the file-system store restores")
            yield* restore(record, consensus("plan"), "# Plan\n")
            yield* restore(record, consensus("tasks"), "# Tasks\n")
          })
        )
        assert.strictEqual(fs.readFileSync(artifact("plan"), "utf8"), "# Plan, as the user edited it\n")
        assert.strictEqual(fs.readFileSync(artifact("tasks"), "utf8"), "# Tasks\n")
        for (const stage of ["plan", "tasks"]) {
          const saved = path.join(workspace, ".speckit", "runs", runId, "consensus", `${stage}.json`)
          assert.strictEqual(JSON.parse(fs.readFileSync(saved, "utf8")).stage, stage)
        }
      })
  )

  it.effect("loggedEvents: what the log holds once pending lines are written; one it cannot read is a read error", () =>
    Effect.gen(function* () {
      const workspace = tempWorkspace()
      const logged = yield* withStore(
        workspace,
        Effect.gen(function* () {
          const store = yield* RunStore.RunStore
          const before = yield* store.loggedEvents?.(runId) ?? Effect.succeed([])
          yield* store.appendEvent?.(runId, { _tag: "RunStarted", at: 1 }) ?? Effect.void
          yield* store.appendEvent?.(runId, { _tag: "StageStarted", stage: "plan", at: 2 }) ?? Effect.void
          return { before, after: yield* store.loggedEvents?.(runId) ?? Effect.succeed([]) }
        })
      )
      assert.deepStrictEqual(logged, {
        before: [],
        after: [
          { _tag: "RunStarted", at: 1 },
          { _tag: "StageStarted", stage: "plan", at: 2 }
        ]
      })
      const other = RunId.RunId.make("run-20261204-000000-dirs")
      fs.mkdirSync(path.join(workspace, ".speckit", "runs", other, "events.jsonl"), { recursive: true })
      const error = yield* withStore(
        workspace,
        Effect.flatMap(RunStore.RunStore, (store) => store.loggedEvents?.(other) ?? Effect.succeed([]))
      ).pipe(Effect.flip)
      assert.match(error.message, /^cannot read .*events\.jsonl: /)
    })
  )

  it.effect(
    "a burst of lines goes to disk as one append, a moment later; closing the store writes what is queued",
    () =>
      Effect.gen(function* () {
        const workspace = tempWorkspace()
        const appends: Array<string> = []
        // The platform's file system, each append (a write with flag "a") noted.
        const countingFs = Layer.effect(
          FileSystem.FileSystem,
          Effect.map(FileSystem.FileSystem, (fileSystem) =>
            FileSystem.FileSystem.of({
              ...fileSystem,
              writeFileString: (file, data, options) => {
                if (options?.flag === "a") appends.push(file)
                return fileSystem.writeFileString(file, data, options)
              }
            })
          )
        ).pipe(Layer.provide(NodeServices.layer))
        yield* Effect.gen(function* () {
          const store = yield* RunStore.RunStore
          for (let i = 0; i < 100; i++) {
            yield* store.appendEvent?.(runId, { _tag: "AgentStarted", agent: `a${i}` }) ?? Effect.void
          }
          // Nothing is written while the burst goes on.
          assert.deepStrictEqual(appends, [])
        }).pipe(
          Effect.provide(
            RunStore.RunStore.layerFileSystem(workspace).pipe(
              Layer.provide(countingFs),
              Layer.provide(NodeServices.layer)
            )
          ),
          Effect.scoped
        )
        assert.strictEqual(appends.length, 1)
        const logged = RunStore.parseJsonLines(
          fs.readFileSync(path.join(workspace, ".speckit", "runs", runId, "events.jsonl"), "utf8")
        )
        assert.strictEqual(logged.length, 100)
      })
  )

  it.effect("begin writes run.json in the background: on disk once flushed", () =>
    Effect.gen(function* () {
      const workspace = tempWorkspace()
      const record = {
        runId,
        specId: "SPEC-1",
        specDirectory: "specs/SPEC-1",
        startedAt: "2026-12-04T00:00:00.000Z",
        config: {}
      }
      yield* withStore(
        workspace,
        Effect.gen(function* () {
          const store = yield* RunStore.RunStore
          yield* store.begin(record)
          yield* store.flush ?? Effect.void
          const written = fs.readFileSync(path.join(workspace, ".speckit", "runs", runId, "run.json"), "utf8")
          assert.deepStrictEqual(JSON.parse(written), record)
        })
      )
    })
  )

  it.effect("finish after a pending write failed: no summary, no head, no temporary file left", () =>
    Effect.gen(function* () {
      const workspace = tempWorkspace()
      const runDir = path.join(workspace, ".speckit", "runs", runId)
      fs.mkdirSync(runDir, { recursive: true })
      fs.writeFileSync(path.join(runDir, "answers"), "")
      const summary = {
        runId,
        runDir: path.join(".speckit", "runs", runId),
        status: "completed"
      } as unknown as RunSummary.RunSummary
      const error = yield* withStore(
        workspace,
        Effect.andThen(
          save("alpha", 1, "lost"),
          Effect.flatMap(RunStore.RunStore, (store) => store.finish(summary))
        )
      ).pipe(Effect.flip)
      assert.strictEqual(error._tag, "RunStoreError")
      assert.deepStrictEqual(fs.readdirSync(runDir), ["answers"])
    })
  )

  it.effect("a finished run's directories are not remembered: removed afterwards, a later write makes them again", () =>
    Effect.gen(function* () {
      const workspace = tempWorkspace()
      const runDir = path.join(".speckit", "runs", runId)
      const summary = { runId, runDir, status: "completed" } as unknown as RunSummary.RunSummary
      yield* withStore(
        workspace,
        Effect.gen(function* () {
          const store = yield* RunStore.RunStore
          yield* save("alpha", 1, "first")
          yield* store.finish(summary)
          // Removed from outside (`speckit clean`), while the same store goes on.
          fs.rmSync(path.join(workspace, runDir), { recursive: true })
          yield* save("alpha", 2, "after")
          yield* store.flush ?? Effect.void
        })
      )
      const lines = RunStore.parseJsonLines(fs.readFileSync(answersFile(workspace, "plan"), "utf8"))
      assert.deepStrictEqual(
        lines.map((line) => (line as { readonly text: string }).text),
        ["after"]
      )
    })
  )

  it.effect("a write that fails is reported by flush", () =>
    Effect.gen(function* () {
      const workspace = tempWorkspace()
      // `answers` is a file, so the stage's log cannot be created under it.
      fs.mkdirSync(path.join(workspace, ".speckit", "runs", runId), { recursive: true })
      fs.writeFileSync(path.join(workspace, ".speckit", "runs", runId, "answers"), "")
      const error = yield* withStore(
        workspace,
        Effect.andThen(
          save("alpha", 1, "lost"),
          Effect.flatMap(RunStore.RunStore, (s) => s.flush ?? Effect.void)
        )
      ).pipe(Effect.flip)
      assert.strictEqual(error._tag, "RunStoreError")
      assert.include(error.path, "answers")
    })
  )
})

describe("RunStore.parseJsonLines", () => {
  it("reads one value a line, skipping blank lines and a line cut short", () => {
    assert.deepStrictEqual(RunStore.parseJsonLines('{"a":1}\n\n[2]\n{"b":'), [{ a: 1 }, [2]])
    assert.deepStrictEqual(RunStore.parseJsonLines(""), [])
  })
})

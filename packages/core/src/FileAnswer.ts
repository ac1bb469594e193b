/**
 * Answers with file contents, from agents that cannot edit files themselves (see `ChangePrompt`):
 * reading them (`files: [{ path, content }]`, `deleted: [path]`), checking every path (relative, `/`
 * separated, inside the repository, nothing under `.git`: anything else is `Malformed` with a note
 * naming the path and why) and writing them into a worktree, never through a symlink that leaves it.
 *
 * @since 0.3.0
 */
import { Effect, FileSystem, Path, Result, Schema } from "effect"
import type { AgentId } from "./AgentId.ts"
import * as StageResult from "./StageResult.ts"

/**
 * The file part of an answer.
 *
 * @since 0.3.0
 */
export const Files = Schema.Struct({
  files: Schema.optionalKey(Schema.Array(Schema.Struct({ path: Schema.String, content: Schema.String }))),
  deleted: Schema.optionalKey(Schema.Array(Schema.String))
})

/**
 * @since 0.3.0
 */
export type Files = typeof Files.Type

/**
 * An answer with contents: the agent's report and the files to write and delete.
 *
 * @since 0.3.0
 */
export interface FileAnswer {
  readonly result: StageResult.StageResult
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: string }>
  readonly deleted: ReadonlyArray<string>
}

/**
 * Why a path may not be written, or `undefined` when it may.
 *
 * @example
 * ```ts
 * import { FileAnswer } from "@speckit/core"
 *
 * FileAnswer.pathProblem("../outside") // "it leaves the repository (\"..\")"
 * FileAnswer.pathProblem("src/index.js") // undefined
 * ```
 *
 * @since 0.3.0
 */
export const pathProblem = (path: string): string | undefined => {
  if (path.trim() === "") return "it is empty"
  if (path.includes("\\")) return 'it uses "\\" (use "/")'
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return "it is absolute"
  const parts = path.split("/")
  if (parts.includes("..")) return 'it leaves the repository ("..")'
  if (parts.some((part) => part.toLowerCase() === ".git")) return "it is inside .git"
  if (parts.some((part) => part === "" || part === ".")) return 'it has an empty or "." segment'
  if (path.includes("\0")) return "it holds a NUL character"
  return undefined
}

/**
 * Reads an answer with contents for `stage`: the stage result (as `StageResult.parse` reads it) and
 * the files, every path checked.
 *
 * @example
 * ```ts
 * import { AgentId, FileAnswer } from "@speckit/core"
 *
 * const program = FileAnswer.parse(
 *   "implement",
 *   AgentId.make("gpt"),
 *   '{"stage":"implement","summary":"s","changes":[],"files":[{"path":"a.js","content":"x"}]}'
 * )
 * ```
 *
 * @since 0.3.0
 */
export const parse = (
  stage: StageResult.StageResult["stage"],
  agent: AgentId,
  text: string
): Effect.Effect<FileAnswer, StageResult.MalformedResult> =>
  Effect.gen(function* () {
    const result = yield* StageResult.parse(stage, agent, text)
    const fail = (reason: string) => Effect.fail(new StageResult.MalformedResult({ stage, agent, reason }))
    const decoded = Schema.decodeUnknownResult(Files)(StageResult.extractJson(text))
    if (Result.isFailure(decoded)) return yield* fail(`its files are not valid: ${decoded.failure.message}`)
    const files = decoded.success.files ?? []
    const deleted = decoded.success.deleted ?? []
    if (files.length === 0 && deleted.length === 0) {
      return yield* fail('it lists no file: give the new content of every file you change in "files"')
    }
    for (const [index, file] of files.entries()) {
      const problem = pathProblem(file.path)
      if (problem) return yield* fail(`files[${index}].path "${file.path}" cannot be written: ${problem}`)
    }
    for (const [index, path] of deleted.entries()) {
      const problem = pathProblem(path)
      if (problem) return yield* fail(`deleted[${index}] "${path}" cannot be deleted: ${problem}`)
    }
    const twice = files.find((file, index) => files.findIndex((other) => other.path === file.path) !== index)
    if (twice) return yield* fail(`files lists "${twice.path}" twice`)
    return { result, files, deleted }
  })

/**
 * A file answer that could not be written: the path and why.
 *
 * @since 0.3.0
 */
export class WriteError extends Schema.TaggedError<WriteError>()("FileAnswerWriteError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot write ${this.path}: ${this.reason}`
  }
}

/**
 * Writes a file answer into the worktree at `root`: each file's parent folders are created, and a
 * path whose existing parent resolves (through a symlink) outside the worktree is refused.
 *
 * @example
 * ```ts
 * import { FileAnswer } from "@speckit/core"
 *
 * declare const answer: FileAnswer.FileAnswer
 * const program = FileAnswer.write("/tmp/worktree", answer)
 * ```
 *
 * @since 0.3.0
 */
export const write = (
  root: string,
  answer: Pick<FileAnswer, "files" | "deleted">
): Effect.Effect<void, WriteError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const real = yield* fs
      .realPath(root)
      .pipe(Effect.mapError((error) => new WriteError({ path: root, reason: error.message })))
    /** The deepest existing folder of `relative`'s parent, resolved: it must lie inside the worktree. */
    const checkInside = (relative: string) =>
      Effect.gen(function* () {
        let folder = path.dirname(path.join(real, relative))
        while (!(yield* fs.exists(folder).pipe(Effect.orElseSucceed(() => false)))) folder = path.dirname(folder)
        const resolved = yield* fs.realPath(folder).pipe(Effect.orElseSucceed(() => folder))
        if (resolved !== real && !resolved.startsWith(`${real}${path.sep}`)) {
          return yield* new WriteError({
            path: relative,
            reason: "it goes through a symlink that leaves the repository"
          })
        }
      })
    for (const relative of answer.deleted) {
      yield* checkInside(relative)
      yield* fs
        .remove(path.join(real, relative), { force: true })
        .pipe(Effect.mapError((error) => new WriteError({ path: relative, reason: error.message })))
    }
    for (const file of answer.files) {
      yield* checkInside(file.path)
      const target = path.join(real, file.path)
      // A symlink in its place is replaced, never written through.
      const isLink = yield* fs.lstat(target).pipe(
        Effect.map((info) => info.type === "SymbolicLink"),
        Effect.orElseSucceed(() => false)
      )
      yield* (isLink ? fs.remove(target) : Effect.void).pipe(
        Effect.andThen(fs.makeDirectory(path.dirname(target), { recursive: true })),
        Effect.andThen(fs.writeFileString(target, file.content)),
        Effect.mapError((error) => new WriteError({ path: file.path, reason: error.message }))
      )
    }
  })

/**
 * Append-only JSON-lines files (a run's `events.jsonl` and `answers/<stage>.jsonl`) written in
 * batches: lines are buffered per file, and one writer per file at a time appends whatever has
 * accumulated, then looks again, so lines land in call order and in few writes.
 *
 * A crash can cut the last line of a batch short. The first batch a process appends to a file that
 * does not end with a newline starts with one, so a cut line stays a line of its own, which readers
 * skip (`RunStore.parseJsonLines`), and never runs into the next one.
 *
 * @internal
 */
import { Effect, type FileSystem, type PlatformError } from "effect"

interface LineLog {
  lines: Array<string>
  writing: boolean
  /** Whether the file's end was checked by this process. */
  checked: boolean
}

const newline = 10

export const make = <E>(options: {
  readonly fs: FileSystem.FileSystem
  /** Makes the directory of `file`, if needed. */
  readonly ensureDirectory: (file: string) => Effect.Effect<void, PlatformError.PlatformError>
  /** The error a failed write of `file` is reported with. */
  readonly failure: (file: string, error: PlatformError.PlatformError) => E
  /** Runs a write in the background, where `flush` waits for it. */
  readonly inBackground: (effect: Effect.Effect<void, E>) => Effect.Effect<void>
}) => {
  const { fs } = options
  const logs = new Map<string, LineLog>()

  /** What the first batch of this process starts with: a newline after a line cut short. */
  const separator = (file: string, log: LineLog): Effect.Effect<string> => {
    if (log.checked) return Effect.succeed("")
    log.checked = true
    return fs.readFile(file).pipe(
      Effect.map((bytes) => (bytes.length > 0 && bytes[bytes.length - 1] !== newline ? "\n" : "")),
      Effect.orElseSucceed(() => "")
    )
  }

  const write = (file: string, log: LineLog): Effect.Effect<void, E> =>
    Effect.suspend(() => {
      if (log.lines.length === 0) {
        log.writing = false
        return Effect.void
      }
      const text = `${log.lines.join("\n")}\n`
      log.lines = []
      return options.ensureDirectory(file).pipe(
        Effect.andThen(separator(file, log)),
        Effect.flatMap((start) => fs.writeFileString(file, `${start}${text}`, { flag: "a" })),
        Effect.mapError((error) => options.failure(file, error)),
        Effect.onError(() =>
          Effect.sync(() => {
            log.writing = false
          })
        ),
        Effect.andThen(write(file, log))
      )
    })

  /** Appends `line` (one JSON value, without a newline) to `file`, an absolute path. */
  const append = (file: string, line: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      let log = logs.get(file)
      if (log === undefined) {
        log = { lines: [], writing: false, checked: false }
        logs.set(file, log)
      }
      log.lines.push(line)
      if (log.writing) return Effect.void
      log.writing = true
      return options.inBackground(write(file, log))
    })

  return { append }
}

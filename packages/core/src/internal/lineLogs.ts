/**
 * Append-only JSON-lines files (a run's `events.jsonl` and `answers/<stage>.jsonl`) written in
 * batches: values are buffered per file, and one writer per file at a time serialises and appends
 * whatever has accumulated, then looks again, so lines land in call order and in few writes, and the
 * serialising happens in the writer, not in the caller (appended values must not change afterwards).
 *
 * A crash can cut the last line of a batch short. The first batch a process appends to a file that
 * does not end with a newline starts with one, so a cut line stays a line of its own, which readers
 * skip (`RunStore.parseJsonLines`), and never runs into the next one.
 *
 * @internal
 */
import { Effect, type FileSystem, Option, type PlatformError } from "effect"

const newline = 10

/** The JSON lines of `values`, each with its newline, as one flat string (to be encoded at once). */
const jsonLines = (values: ReadonlyArray<unknown>): string => {
  const lines = values.map((value) => JSON.stringify(value))
  lines.push("")
  return lines.join("\n")
}

/**
 * A maker of appenders: `open(file)` (an absolute path) returns the function that appends one value
 * to `file`, as a line of JSON. Open each file once and keep its appender.
 */
export const make =
  <E>(options: {
    readonly fs: FileSystem.FileSystem
    /** Makes the directory of `file`, if needed. */
    readonly ensureDirectory: (file: string) => Effect.Effect<void, PlatformError.PlatformError>
    /** The error a failed write of `file` is reported with. */
    readonly failure: (file: string, error: PlatformError.PlatformError) => E
    /** Runs a write in the background, where `flush` waits for it. */
    readonly inBackground: (effect: Effect.Effect<void, E>) => Effect.Effect<void>
  }) =>
  (file: string): ((value: unknown) => Effect.Effect<void>) => {
    const { fs } = options
    let values: Array<unknown> = []
    let writing = false
    /** Whether the file's end was checked by this process. */
    let checked = false

    /**
     * What the first batch of this process starts with: a newline after a line cut short. Only the
     * file's last byte is read (a resumed run's log may be large); a file that is not there needs none.
     */
    const separator = (): Effect.Effect<string> => {
      if (checked) return Effect.succeed("")
      checked = true
      return Effect.scoped(
        Effect.gen(function* () {
          const handle = yield* fs.open(file, { flag: "r" })
          const { size } = yield* handle.stat
          if (size === BigInt(0)) return ""
          const last = yield* handle.readAlloc(1, { position: size - BigInt(1) })
          return Option.exists(last, (bytes) => bytes[0] !== newline) ? "\n" : ""
        })
      ).pipe(Effect.orElseSucceed(() => ""))
    }

    const write: Effect.Effect<void, E> = Effect.suspend(() => {
      if (values.length === 0) {
        writing = false
        return Effect.void
      }
      const batch = values
      values = []
      return Effect.sync(() => jsonLines(batch)).pipe(
        Effect.tap(() => options.ensureDirectory(file)),
        Effect.flatMap((text) =>
          Effect.flatMap(separator(), (start) => fs.writeFileString(file, `${start}${text}`, { flag: "a" }))
        ),
        Effect.mapError((error) => options.failure(file, error)),
        Effect.onError(() =>
          Effect.sync(() => {
            writing = false
          })
        ),
        Effect.andThen(write)
      )
    })

    return (value) =>
      Effect.suspend(() => {
        values.push(value)
        if (writing) return Effect.void
        writing = true
        return options.inBackground(write)
      })
  }

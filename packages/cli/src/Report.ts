/**
 * `speckit report [RUN-ID]`: writes a run's HTML report (`ReportHtml`) to
 * `.speckit/runs/<run-id>/report.html`. Every run writes it when it ends; the command writes it again,
 * for the newest run by default.
 *
 * @since 0.3.0
 */
import { Effect, FileSystem, Path } from "effect"
import * as ReportHtml from "./ReportHtml.ts"
import * as RunRecords from "./RunRecords.ts"

/**
 * Writes the report of a run of a workspace and returns its path (absolute).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Report } from "@speckit/cli"
 *
 * const file = Report.write("/work/project", "run-20260101-120000-abcd").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.3.0
 */
export const write = (root: string, runId: string) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const records = yield* RunRecords.load(root, runId)
    return yield* writeTo(path.join(root, ".speckit", "runs", runId, "report.html"), records)
  })

/**
 * Writes the report of `records` to `file` (absolute; its folder made when missing), through a
 * temporary file renamed into place, and returns the path.
 *
 * @example
 * ```ts
 * import { Report, type RunRecords } from "@speckit/cli"
 *
 * declare const records: RunRecords.RunRecords
 * const file = Report.writeTo("/tmp/report.html", records)
 * ```
 *
 * @since 0.4.0
 */
export const writeTo = (file: string, records: RunRecords.RunRecords) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const temporary = `${file}.${process.pid}.tmp`
    yield* fs.makeDirectory(path.dirname(file), { recursive: true })
    yield* fs.writeFileString(temporary, ReportHtml.render(records))
    yield* fs.rename(temporary, file)
    return file
  })

/**
 * Git patches as prompts show them: split into files and hunks, and trimmed to a size by a documented
 * rule that keeps every file visible.
 *
 * **The trimming rule.** A patch over `maxChars` keeps, for every file, its header (`diff --git` and
 * the lines before its first hunk) and then hunks in file order, first hunks first: the first hunk of
 * every file, then the second of every file, and so on, while the total stays within `maxChars`. A
 * binary file shows as `[binary file]`. Every file whose hunks were cut ends with a marker
 * `[… N of M hunks (K lines) cut]`. A patch within `maxChars` is returned as is.
 *
 * @since 0.3.0
 */

/**
 * One file of a patch: its header lines and its hunks (each a `@@` line and the lines after it).
 *
 * @since 0.3.0
 */
export interface FilePatch {
  readonly header: string
  readonly hunks: ReadonlyArray<string>
  readonly binary: boolean
}

/**
 * Splits a patch into its files.
 *
 * @example
 * ```ts
 * import { Diff } from "@speckit/core"
 *
 * Diff.files("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n").length // 1
 * ```
 *
 * @since 0.3.0
 */
export const files = (patch: string): ReadonlyArray<FilePatch> => {
  const result: Array<FilePatch> = []
  for (const chunk of patch.split(/^(?=diff --git )/m)) {
    if (!chunk.startsWith("diff --git ")) continue
    const parts = chunk.split(/^(?=@@ )/m)
    const header = parts[0] ?? ""
    const binary = /^GIT binary patch$|^Binary files /m.test(header)
    result.push({
      header: binary ? header.replace(/^GIT binary patch[\s\S]*$/m, "") : header,
      hunks: parts.slice(1),
      binary
    })
  }
  return result
}

const lineCount = (text: string) => text.split("\n").filter((line) => line.length > 0).length

/**
 * Trims a patch to about `maxChars` by the rule of the module.
 *
 * @example
 * ```ts
 * import { Diff } from "@speckit/core"
 *
 * declare const patch: string
 * const shown = Diff.trim(patch, 12_000)
 * ```
 *
 * @since 0.3.0
 */
export const trim = (patch: string, maxChars: number): string => {
  if (patch.length <= maxChars) return patch
  const all = files(patch)
  let used = all.reduce((sum, file) => sum + file.header.length + (file.binary ? 16 : 0), 0)
  const kept = all.map(() => 0)
  const depth = Math.max(0, ...all.map((file) => file.hunks.length))
  for (let round = 0; round < depth; round++) {
    for (const [index, file] of all.entries()) {
      const hunk = file.hunks[round]
      if (hunk === undefined || kept[index] !== round) continue
      if (used + hunk.length > maxChars) continue
      used += hunk.length
      kept[index] = round + 1
    }
  }
  return all.map((file, index) => shownFile(file, kept[index] ?? 0)).join("")
}

/** A file with its first `count` hunks, and a marker for the hunks cut. */
const shownFile = (file: FilePatch, count: number): string => {
  if (file.binary) return `${file.header}[binary file]\n`
  const shown = file.hunks.slice(0, count).join("")
  const cut = file.hunks.slice(count)
  if (cut.length === 0) return `${file.header}${shown}`
  const lines = cut.reduce((sum, hunk) => sum + lineCount(hunk), 0)
  return `${file.header}${shown}[… ${cut.length} of ${file.hunks.length} hunks (${lines} lines) cut]\n`
}

/**
 * A patch reduced to every file's header and first hunk, with the marker of {@link trim} for the hunks
 * cut: what a prompt keeps of a diff when it must fit a model's context window.
 *
 * @example
 * ```ts
 * import { Diff } from "@speckit/core"
 *
 * declare const patch: string
 * const glance = Diff.firstHunks(patch)
 * ```
 *
 * @since 0.3.0
 */
export const firstHunks = (patch: string): string =>
  files(patch)
    .map((file) => shownFile(file, 1))
    .join("")

/**
 * A candidate: the real change one implementing agent made, taken from git as a binary patch against
 * the run's base commit (agents' own reports of what they changed are incomplete or absent), with its
 * stats; and the rules that reject a candidate before anyone looks at it.
 *
 * @since 0.3.0
 */
import { Effect, Schema } from "effect"
import { firstMatch } from "./internal/glob.ts"

/**
 * One file a change touches, as git reports it.
 *
 * @since 0.3.0
 */
export const ChangedFile = Schema.Struct({
  /** Repository-relative, `/`-separated. */
  path: Schema.String,
  status: Schema.Literals(["added", "modified", "deleted", "renamed", "type-changed"]),
  /** For a rename: where the file was. */
  previousPath: Schema.optionalKey(Schema.String),
  /** Lines added and removed (0 for a binary file). */
  added: Schema.Int,
  removed: Schema.Int,
  binary: Schema.Boolean,
  /** The file's size after the change, in bytes (0 when deleted). */
  bytes: Schema.Number,
  /** Its git mode after the change: `100644`, `100755`, `120000` (a symlink), `160000` (a nested repository). */
  mode: Schema.String,
  /** A symlink's target. */
  linkTarget: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.3.0
 */
export type ChangedFile = typeof ChangedFile.Type

/**
 * What the worktree driver collects after an agent finished: everything it changed (staged honouring
 * `.gitignore`) as a binary patch against the base commit, the files, and whether the worktree's own
 * git link (`.git`) was written to.
 *
 * @since 0.3.0
 */
export const Collected = Schema.Struct({
  patch: Schema.String,
  files: Schema.Array(ChangedFile),
  gitTampered: Schema.Boolean
})

/**
 * @since 0.3.0
 */
export type Collected = typeof Collected.Type

/**
 * A candidate's stats.
 *
 * @since 0.3.0
 */
export const Stats = Schema.Struct({
  files: Schema.Int,
  added: Schema.Int,
  removed: Schema.Int,
  /** The test files it touches (see {@link isTestPath}). */
  tests: Schema.Array(Schema.String)
})

/**
 * @since 0.3.0
 */
export type Stats = typeof Stats.Type

/**
 * A candidate change, recorded with the agent's outcome (and so in the run's journal).
 *
 * @since 0.3.0
 */
export const Candidate = Schema.Struct({
  /** The base commit the patch applies to. */
  base: Schema.String,
  /** The binary patch (`git diff --binary`), byte for byte as saved in `candidates/<agent>.patch`. */
  patch: Schema.String,
  /** The SHA-256 of the patch, hex. */
  sha256: Schema.String,
  files: Schema.Array(ChangedFile),
  stats: Stats
})

/**
 * @since 0.3.0
 */
export type Candidate = typeof Candidate.Type

/**
 * The limits a candidate must keep (from `implement.*` in the configuration).
 *
 * @since 0.3.0
 */
export interface Rules {
  /** Globs of paths a candidate must not touch (e.g. `test/**`). */
  readonly protect: ReadonlyArray<string>
  /** The largest file a candidate may add or grow to, in bytes. */
  readonly maxFileBytes: number
}

/**
 * The default limits: nothing protected, files up to 1 MiB.
 *
 * @since 0.3.0
 */
export const defaultRules: Rules = { protect: [], maxFileBytes: 1_048_576 }

/**
 * Whether a path looks like a test: under a `test`, `tests`, `__tests__` or `spec` folder, or named
 * `*.test.*`, `*.spec.*`, `*_test.*` or `test_*.py`.
 *
 * @example
 * ```ts
 * import { Candidate } from "@speckit/core"
 *
 * Candidate.isTestPath("src/math.test.ts") // true
 * Candidate.isTestPath("src/math.ts") // false
 * ```
 *
 * @since 0.3.0
 */
export const isTestPath = (path: string): boolean =>
  /(^|\/)(test|tests|__tests__|spec)\//.test(path) ||
  /\.(test|spec)\.[^/]+$/.test(path) ||
  /_test\.[^/]+$/.test(path) ||
  /(^|\/)test_[^/]*\.py$/.test(path)

/**
 * A candidate's stats from its files.
 *
 * @example
 * ```ts
 * import { Candidate } from "@speckit/core"
 *
 * Candidate.statsOf([]) // { files: 0, added: 0, removed: 0, tests: [] }
 * ```
 *
 * @since 0.3.0
 */
export const statsOf = (files: ReadonlyArray<ChangedFile>): Stats => ({
  files: files.length,
  added: files.reduce((sum, file) => sum + file.added, 0),
  removed: files.reduce((sum, file) => sum + file.removed, 0),
  tests: files.filter((file) => isTestPath(file.path)).map((file) => file.path)
})

/**
 * What the rules make of a collected change.
 *
 * @since 0.3.0
 */
export type Judgement =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "Empty"; readonly reason: string }
  | { readonly _tag: "Rejected"; readonly reason: string }

/** Whether a symlink at `path` pointing to `target` resolves outside the repository. */
const escapes = (path: string, target: string): boolean => {
  if (target.startsWith("/") || /^[A-Za-z]:[\\/]/.test(target)) return true
  const parts = path.split("/").slice(0, -1)
  for (const part of target.split(/[\\/]/)) {
    if (part === "" || part === ".") continue
    if (part === "..") {
      if (parts.length === 0) return true
      parts.pop()
    } else {
      parts.push(part)
    }
  }
  return false
}

const outside = (path: string) =>
  path.startsWith("/") || path.split("/").includes("..") || path === ".git" || path.startsWith(".git/")

/**
 * Judges a collected change, in this order: writing into `.git` (the worktree's git link, a nested
 * repository, a `.git` path), an empty change, a path outside the repository, a symlink that leaves
 * it, a protected path, a file over `maxFileBytes`. Pure.
 *
 * @example
 * ```ts
 * import { Candidate } from "@speckit/core"
 *
 * Candidate.judge({ patch: "", files: [], gitTampered: false }, Candidate.defaultRules)
 * // { _tag: "Empty", reason: "the agent changed nothing" }
 * ```
 *
 * @since 0.3.0
 */
export const judge = (collected: Collected, rules: Rules): Judgement => {
  const reject = (reason: string): Judgement => ({ _tag: "Rejected", reason })
  if (collected.gitTampered) return reject("it wrote into .git (the worktree's git link changed)")
  const nested = collected.files.find((file) => file.mode === "160000" || /(^|\/)\.git(\/|$)/.test(file.path))
  if (nested) return reject(`it wrote into .git (${nested.path})`)
  if (collected.files.length === 0) return { _tag: "Empty", reason: "the agent changed nothing" }
  const away = collected.files.find((file) => outside(file.path))
  if (away) return reject(`it writes outside the repository (${away.path})`)
  const link = collected.files.find(
    (file) => file.mode === "120000" && file.linkTarget !== undefined && escapes(file.path, file.linkTarget)
  )
  if (link) return reject(`its symlink ${link.path} points outside the repository (${link.linkTarget})`)
  for (const file of collected.files) {
    const pattern = firstMatch(rules.protect, file.path)
    if (pattern !== undefined) return reject(`it touches ${file.path}, protected by implement.protect "${pattern}"`)
    if (file.previousPath !== undefined) {
      const from = firstMatch(rules.protect, file.previousPath)
      if (from !== undefined) return reject(`it moves ${file.previousPath}, protected by implement.protect "${from}"`)
    }
  }
  const huge = collected.files.find((file) => file.bytes > rules.maxFileBytes)
  if (huge) {
    return reject(`${huge.path} is ${huge.bytes} bytes, over implement.maxFileBytes (${rules.maxFileBytes})`)
  }
  return { _tag: "Accepted" }
}

/**
 * One agent's candidate as listed in a stage's consensus and artifact.
 *
 * @since 0.3.0
 */
export interface CandidateRow {
  readonly agent: string
  /** `accepted`; `rejected` by a rule; `empty` (no change); `failed` (the agent failed). */
  readonly status: "accepted" | "rejected" | "empty" | "failed"
  readonly files: number
  readonly added: number
  readonly removed: number
  readonly tests: ReadonlyArray<string>
  /** Why it was not accepted. */
  readonly reason?: string | undefined
  /** Where its patch is saved, relative to the workspace. */
  readonly patch?: string | undefined
}

/**
 * The SHA-256 of a patch, hex.
 *
 * @example
 * ```ts
 * import { Candidate } from "@speckit/core"
 *
 * const program = Candidate.sha256("diff --git a/x b/x\n")
 * ```
 *
 * @since 0.3.0
 */
export const sha256 = (text: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))
    return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("")
  })

/**
 * Makes the candidate of an accepted change.
 *
 * @example
 * ```ts
 * import { Candidate } from "@speckit/core"
 *
 * declare const collected: Candidate.Collected
 * const program = Candidate.make("0123abcd", collected)
 * ```
 *
 * @since 0.3.0
 */
export const make = (base: string, collected: Collected): Effect.Effect<Candidate> =>
  Effect.map(sha256(collected.patch), (sha) => ({
    base,
    patch: collected.patch,
    sha256: sha,
    files: collected.files,
    stats: statsOf(collected.files)
  }))

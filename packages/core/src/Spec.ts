/**
 * Specs: the Markdown documents a pipeline runs on, at `specs/<SPEC-ID>/spec.md` in a workspace.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Schema } from "effect"

/**
 * Schema of a spec id: the name of a directory under `specs/`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Spec } from "@speckit/core"
 *
 * Schema.decodeUnknownSync(Spec.SpecId)("SPEC-42-login")
 * ```
 *
 * @since 0.1.0
 */
export const SpecId = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
      message: "a spec id is a directory name of letters, digits, '.', '_' or '-'"
    })
  ),
  Schema.brand("@speckit/core/SpecId")
)

/**
 * A spec id.
 *
 * @since 0.1.0
 */
export type SpecId = typeof SpecId.Type

/**
 * A loaded spec.
 *
 * @since 0.1.0
 */
export interface Spec {
  readonly id: SpecId
  /** The first Markdown heading, or the id when there is none. */
  readonly title: string
  /** The whole Markdown text. */
  readonly text: string
  /** Absolute path of the spec's directory, where stage artifacts are written. */
  readonly directory: string
}

/**
 * The spec directory or its `spec.md` does not exist.
 *
 * @since 0.1.0
 */
export class SpecNotFound extends Schema.TaggedError<SpecNotFound>()("SpecNotFound", {
  specId: Schema.String,
  path: Schema.String
}) {
  override get message() {
    return `spec ${this.specId} not found: ${this.path} does not exist`
  }
}

/**
 * The spec's `spec.md` holds no text.
 *
 * @since 0.1.0
 */
export class SpecEmpty extends Schema.TaggedError<SpecEmpty>()("SpecEmpty", {
  specId: Schema.String,
  path: Schema.String
}) {
  override get message() {
    return `spec ${this.specId} is empty: ${this.path} has no text`
  }
}

/**
 * The largest `spec.md` a run takes (256 KiB): a spec is prose a person wrote, and every stage's
 * prompt holds it whole.
 *
 * @example
 * ```ts
 * import { Spec } from "@speckit/core"
 *
 * Spec.maxBytes // 262144
 * ```
 *
 * @since 0.3.0
 */
export const maxBytes = 256 * 1024

/**
 * The spec's `spec.md` is not text a run can send: not UTF-8, holding NUL bytes, or over
 * {@link maxBytes}.
 *
 * @since 0.3.0
 */
export class SpecNotText extends Schema.TaggedError<SpecNotText>()("SpecNotText", {
  specId: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `spec ${this.specId} is not a text spec: ${this.path} ${this.reason}`
  }
}

/** Why bytes are not a spec's text, if they are not: too large, NUL bytes, or not UTF-8. */
const notTextReason = (bytes: Uint8Array): string | undefined => {
  if (bytes.byteLength > maxBytes) return `is ${bytes.byteLength} bytes, over the ${maxBytes}-byte limit`
  if (bytes.includes(0)) return "holds NUL bytes (a binary file?)"
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    return undefined
  } catch {
    return "is not UTF-8 text"
  }
}

/**
 * The spec id is not a valid directory name.
 *
 * @since 0.1.0
 */
export class InvalidSpecId extends Schema.TaggedError<InvalidSpecId>()("InvalidSpecId", {
  specId: Schema.String
}) {
  override get message() {
    return `invalid spec id ${JSON.stringify(this.specId)}: use letters, digits, '.', '_' or '-'`
  }
}

/**
 * Extracts the title of a Markdown document: its first heading.
 *
 * @example
 * ```ts
 * import { Spec } from "@speckit/core"
 *
 * Spec.titleOf("# Login\n\nUsers sign in.", "fallback") // "Login"
 * ```
 *
 * @since 0.1.0
 */
export const titleOf = (text: string, fallback: string): string => {
  const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/m.exec(text)
  return heading?.[1]?.trim() || fallback
}

/**
 * Loads `specs/<specId>/spec.md` from a workspace directory: UTF-8 text (a byte-order mark is
 * dropped) of at most {@link maxBytes}, else `SpecNotText`.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Spec } from "@speckit/core"
 *
 * const program = Spec.load("/path/to/workspace", "SPEC-1").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const load = Effect.fn("Spec.load")(function* (workspace: string, specId: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const id = yield* Schema.decodeUnknownEffect(SpecId)(specId).pipe(
    Effect.mapError(() => new InvalidSpecId({ specId }))
  )
  const directory = path.resolve(workspace, "specs", id)
  const file = path.join(directory, "spec.md")
  const bytes = yield* fs.readFile(file).pipe(Effect.mapError(() => new SpecNotFound({ specId, path: file })))
  const reason = notTextReason(bytes)
  if (reason !== undefined) return yield* new SpecNotText({ specId, path: file, reason })
  const text = new TextDecoder().decode(bytes).replace(/^\uFEFF/, "")
  if (text.trim().length === 0) {
    return yield* new SpecEmpty({ specId, path: file })
  }
  return { id, title: titleOf(text, id), text, directory } satisfies Spec
})

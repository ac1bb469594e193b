import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Spec } from "@speckit/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const workspace = (files: Record<string, string>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-spec-"))
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), text)
  }
  return dir
}

describe("Spec", () => {
  it.effect("loads a spec with its title", () =>
    Effect.gen(function* () {
      const dir = workspace({ "specs/S-1/spec.md": "Intro\n\n## Login flow\n\ntext" })
      const spec = yield* Spec.load(dir, "S-1")
      assert.strictEqual(spec.title, "Login flow")
      assert.strictEqual(spec.directory, path.join(dir, "specs", "S-1"))
    }).pipe(Effect.provide(NodeServices.layer))
  )

  it.effect("tells a missing, an empty and an invalid spec apart", () =>
    Effect.gen(function* () {
      const dir = workspace({ "specs/EMPTY/spec.md": "  \n\n" })
      assert.strictEqual((yield* Effect.flip(Spec.load(dir, "NOPE")))._tag, "SpecNotFound")
      assert.strictEqual((yield* Effect.flip(Spec.load(dir, "EMPTY")))._tag, "SpecEmpty")
      assert.strictEqual((yield* Effect.flip(Spec.load(dir, "../etc")))._tag, "InvalidSpecId")
    }).pipe(Effect.provide(NodeServices.layer))
  )
})

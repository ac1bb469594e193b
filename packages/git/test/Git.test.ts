import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Git from "@speckit/git/Git"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { git } from "./git.ts"

describe("Git", () => {
  it.live("reads the branch and commit of a repository", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-git-"))
      git(dir, "init", "-q", "-b", "feature/login")
      fs.writeFileSync(path.join(dir, "a.txt"), "a")
      git(dir, "add", ".")
      git(dir, "commit", "-q", "-m", "init")
      const state = yield* Git.state(dir)
      assert.isTrue(Option.isSome(state))
      if (Option.isSome(state)) {
        assert.strictEqual(state.value.branch, "feature/login")
        assert.strictEqual(state.value.commit, git(dir, "rev-parse", "HEAD"))
      }
    }).pipe(Effect.provide(NodeServices.layer))
  )

  it.live("is None outside a repository and in one without commits", () =>
    Effect.gen(function* () {
      const plain = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-nogit-"))
      assert.isTrue(Option.isNone(yield* Git.state(plain)))
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-emptygit-"))
      git(empty, "init", "-q")
      assert.isTrue(Option.isNone(yield* Git.state(empty)))
    }).pipe(Effect.provide(NodeServices.layer))
  )
})

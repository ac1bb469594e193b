import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { AgentId, ChangePrompt, FileAnswer, Spec } from "@speckit/core"
import { Effect, FileSystem, Path } from "effect"

const agent = AgentId.make("gpt")
const answer = (extra: Record<string, unknown>) =>
  JSON.stringify({
    stage: "implement",
    agent: "gpt",
    summary: "s",
    changes: [{ path: "src/a.js", action: "create", description: "d" }],
    ...extra
  })

describe("FileAnswer.parse", () => {
  it.effect("reads the report and the files", () =>
    Effect.gen(function* () {
      const read = yield* FileAnswer.parse(
        "implement",
        agent,
        `Here it is:\n\`\`\`json\n${answer({ files: [{ path: "src/a.js", content: "x" }], deleted: ["old.js"] })}\n\`\`\``
      )
      assert.deepStrictEqual(read.files, [{ path: "src/a.js", content: "x" }])
      assert.deepStrictEqual(read.deleted, ["old.js"])
      assert.strictEqual(read.result.summary, "s")
    })
  )

  const refused: ReadonlyArray<readonly [string, Record<string, unknown>, RegExp]> = [
    [
      "a path leaving the repository",
      { files: [{ path: "../outside", content: "x" }] },
      /files\[0\]\.path "\.\.\/outside" cannot be written: it leaves the repository/
    ],
    ["an absolute path", { files: [{ path: "/etc/passwd", content: "x" }] }, /it is absolute/],
    ["a path inside .git", { files: [{ path: ".git/hooks/pre-commit", content: "x" }] }, /it is inside \.git/],
    [
      "a deleted path inside .git",
      { files: [{ path: "a", content: "" }], deleted: [".git"] },
      /deleted\[0\] "\.git" cannot be deleted/
    ],
    ["a backslash", { files: [{ path: "src\\a.js", content: "x" }] }, /use "\/"/],
    ["no files at all", {}, /lists no file/],
    [
      "a file twice",
      {
        files: [
          { path: "a", content: "1" },
          { path: "a", content: "2" }
        ]
      },
      /lists "a" twice/
    ],
    ["files of the wrong shape", { files: [{ path: "a" }] }, /its files are not valid/]
  ]
  for (const [name, extra, reason] of refused) {
    it.effect(`refuses ${name}, naming it`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(FileAnswer.parse("implement", agent, answer(extra)))
        assert.match(error.reason, reason)
      })
    )
  }
})

describe("FileAnswer.write", () => {
  it.effect("writes and deletes inside the worktree, and never through a symlink that leaves it", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const root = yield* fs.makeTempDirectoryScoped()
      const outside = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(path.join(root, "old.js"), "old")
      yield* fs.symlink(outside, path.join(root, "escape"))
      yield* fs.symlink(path.join(outside, "target.txt"), path.join(root, "link.txt"))
      yield* FileAnswer.write(root, {
        files: [
          { path: "src/deep/a.js", content: "a" },
          { path: "link.txt", content: "replaced" }
        ],
        deleted: ["old.js"]
      })
      assert.strictEqual(yield* fs.readFileString(path.join(root, "src/deep/a.js")), "a")
      assert.isFalse(yield* fs.exists(path.join(root, "old.js")))
      // The symlink was replaced by a file; nothing was written outside.
      assert.strictEqual(yield* fs.readFileString(path.join(root, "link.txt")), "replaced")
      assert.isFalse(yield* fs.exists(path.join(outside, "target.txt")))
      const error = yield* Effect.flip(
        FileAnswer.write(root, { files: [{ path: "escape/x.js", content: "x" }], deleted: [] })
      )
      assert.match(error.message, /symlink that leaves the repository/)
      assert.isFalse(yield* fs.exists(path.join(outside, "x.js")))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )
})

describe("ChangePrompt", () => {
  const spec: Spec.Spec = {
    id: Spec.SpecId.make("S-1"),
    title: "Clamp",
    text: "# Clamp\n\nAdd `clamp`.",
    directory: "specs/S-1"
  }

  it("tells an editing agent to work in its directory and report", () => {
    const prompt = ChangePrompt.edit({ agent, spec, previous: "# Tasks", base: "abc123" })
    assert.include(prompt, "git worktree of the repository at commit abc123")
    assert.include(prompt, '"stage":"implement"')
    assert.include(prompt, "# Consensus of the tasks stage")
  })

  it("shows the repository to an agent that answers with contents", () => {
    const prompt = ChangePrompt.contents(
      { agent, spec, previous: "", base: "abc123", repairNote: "files[0].path is bad" },
      [
        { path: "src/a.js", bytes: 3, text: "abc" },
        { path: "big.bin", bytes: 99999 }
      ]
    )
    assert.include(prompt, "- big.bin (99999 bytes)")
    assert.include(prompt, "## src/a.js")
    assert.notInclude(prompt, "## big.bin")
    assert.include(prompt, '"files":[{"path"')
    assert.include(prompt, "files[0].path is bad")
  })
})

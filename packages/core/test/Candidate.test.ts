import { assert, describe, it } from "@effect/vitest"
import { Candidate } from "@speckit/core"
import { Effect } from "effect"
import * as fc from "fast-check"

const file = (path: string, overrides: Partial<Candidate.ChangedFile> = {}): Candidate.ChangedFile => ({
  path,
  status: "added",
  added: 3,
  removed: 0,
  binary: false,
  bytes: 40,
  mode: "100644",
  ...overrides
})

const collected = (files: ReadonlyArray<Candidate.ChangedFile>, gitTampered = false): Candidate.Collected => ({
  patch: files.length === 0 ? "" : "diff --git a/x b/x\n",
  files,
  gitTampered
})

const rules: Candidate.Rules = { protect: ["test/**", "*.lock", "config/"], maxFileBytes: 1000 }

describe("Candidate.judge", () => {
  const cases: ReadonlyArray<readonly [string, Candidate.Collected, Candidate.Judgement["_tag"], RegExp | undefined]> =
    [
      ["a good change", collected([file("src/a.js"), file("src/a.test.js")]), "Accepted", undefined],
      ["nothing changed", collected([]), "Empty", /changed nothing/],
      ["the worktree's .git link changed", collected([file("src/a.js")], true), "Rejected", /wrote into \.git/],
      ["a nested repository", collected([file("vendor/x", { mode: "160000" })]), "Rejected", /wrote into \.git/],
      ["a .git path", collected([file("sub/.git/config")]), "Rejected", /wrote into \.git/],
      ["a path leaving the repository", collected([file("../outside")]), "Rejected", /outside the repository/],
      [
        "a symlink leaving the repository",
        collected([file("src/link", { mode: "120000", linkTarget: "../../etc/passwd" })]),
        "Rejected",
        /symlink src\/link points outside/
      ],
      [
        "an absolute symlink",
        collected([file("link", { mode: "120000", linkTarget: "/etc/passwd" })]),
        "Rejected",
        /points outside/
      ],
      [
        "a symlink inside the repository",
        collected([file("src/link", { mode: "120000", linkTarget: "../README.md" })]),
        "Accepted",
        undefined
      ],
      [
        "a protected folder (test/**)",
        collected([file("test/a.test.js")]),
        "Rejected",
        /protected by implement\.protect "test\/\*\*"/
      ],
      ["a protected name at any depth (*.lock)", collected([file("pkg/yarn.lock")]), "Rejected", /"\*\.lock"/],
      ["a protected folder (config/)", collected([file("config/app.json")]), "Rejected", /"config\/"/],
      [
        "a rename out of a protected folder",
        collected([file("src/moved.test.js", { status: "renamed", previousPath: "test/moved.test.js" })]),
        "Rejected",
        /moves test\/moved\.test\.js/
      ],
      [
        "a huge file",
        collected([file("data.bin", { bytes: 5000, binary: true })]),
        "Rejected",
        /over implement\.maxFileBytes \(1000\)/
      ]
    ]
  for (const [name, input, tag, reason] of cases) {
    it(name, () => {
      const judgement = Candidate.judge(input, rules)
      assert.strictEqual(judgement._tag, tag)
      if (reason !== undefined && judgement._tag !== "Accepted") assert.match(judgement.reason, reason)
    })
  }

  const arbitraryFile = fc.record({
    path: fc.constantFrom("src/a.js", "src/b.js", "test/a.test.js", "lib/c.ts", "docs/x.md", "yarn.lock"),
    status: fc.constantFrom("added", "modified", "deleted") as fc.Arbitrary<Candidate.ChangedFile["status"]>,
    added: fc.nat(100),
    removed: fc.nat(100),
    binary: fc.boolean(),
    bytes: fc.nat(2000),
    mode: fc.constantFrom("100644", "100755")
  })

  it("is independent of the order of the files (property)", () =>
    fc.assert(
      fc.property(fc.array(arbitraryFile, { maxLength: 6 }), fc.boolean(), (files, tampered) => {
        const forward = Candidate.judge(collected(files, tampered), rules)
        const backward = Candidate.judge(collected([...files].reverse(), tampered), rules)
        assert.strictEqual(forward._tag, backward._tag)
      })
    ))

  it("never accepts a change that touches a protected path or a file over the limit (property)", () =>
    fc.assert(
      fc.property(fc.array(arbitraryFile, { maxLength: 6 }), (files) => {
        const judgement = Candidate.judge(collected(files), rules)
        const breaks = files.some(
          (f) => f.path.startsWith("test/") || f.path.endsWith(".lock") || f.bytes > rules.maxFileBytes
        )
        if (breaks) assert.notStrictEqual(judgement._tag, "Accepted")
        if (!breaks && files.length > 0) assert.strictEqual(judgement._tag, "Accepted")
      })
    ))
})

describe("Candidate", () => {
  it("statsOf sums lines and names the tests touched", () => {
    const stats = Candidate.statsOf([
      file("src/a.js", { added: 10, removed: 2 }),
      file("test/a.test.js", { added: 5 }),
      file("pkg/b_test.go", { added: 1, removed: 1 }),
      file("tests/test_c.py", { added: 1 })
    ])
    assert.deepStrictEqual(stats, {
      files: 4,
      added: 17,
      removed: 3,
      tests: ["test/a.test.js", "pkg/b_test.go", "tests/test_c.py"]
    })
  })

  it.effect("make hashes the patch (SHA-256, hex)", () =>
    Effect.gen(function* () {
      const candidate = yield* Candidate.make("base", { patch: "abc", files: [], gitTampered: false })
      assert.strictEqual(candidate.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
      assert.strictEqual(candidate.base, "base")
    })
  )
})

/**
 * The sample workspace `speckit demo` creates: a small, real git repository (a JavaScript module with a
 * `node --test` suite), a spec asking for one more function, and a configuration of three simulated
 * agents that make real changes (one of them, `gamma`, writes a flawed variant: a failing test, or a
 * weakened or deleted existing test), with the suite as the project's check. A run shows three
 * candidate patches, the checks telling them apart, and the winner delivered to a branch.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

/**
 * The id of the sample spec.
 *
 * @since 0.1.0
 */
export const specId = "SPEC-001-slugify"

/**
 * The sample spec's Markdown.
 *
 * @since 0.1.0
 */
export const specText = `# Slugs for article titles

Article URLs must be readable: each article gets a slug made from its title. Add a function
\`slugify(title)\` to \`src/strings.js\`, next to the existing string helpers, and export it.

## Requirements

- Lower-case the title and join its words with single hyphens
- Drop every character that is not a letter, a digit or a space
- Never start or end a slug with a hyphen, and never repeat one
- Keep the existing helpers and their tests unchanged

## Acceptance criteria

- \`slugify("Hello World")\` returns \`"hello-world"\`
- \`slugify("  Effect 4: What's new?  ")\` returns \`"effect-4-whats-new"\`
- \`slugify("already-a-slug")\` returns \`"already-a-slug"\`
- \`slugify("")\` returns \`""\`
- The existing test suite (\`npm test\`) still passes

## Out of scope

- Transliterating accented letters
`

/**
 * The sample project's files (besides the spec and the configuration).
 *
 * @since 0.3.0
 */
export const projectFiles: Readonly<Record<string, string>> = {
  "package.json": `${JSON.stringify(
    { name: "demo-strings", version: "1.0.0", private: true, type: "module", scripts: { test: "node --test" } },
    null,
    2
  )}\n`,
  ".gitignore": "node_modules/\n.speckit/\n",
  "README.md": "# demo-strings\n\nSmall string helpers. Run the tests with `npm test` (`node --test`).\n",
  "src/strings.js": `/** Upper-cases the first letter of a text. */
export const capitalize = (text) => text.charAt(0).toUpperCase() + text.slice(1)

/** The words of a text: runs of letters and digits. */
export const words = (text) => text.match(/[A-Za-z0-9]+/g) ?? []
`,
  "test/strings.test.js": `import { test } from "node:test"
import assert from "node:assert/strict"
import { capitalize, words } from "../src/strings.js"

test("capitalize upper-cases the first letter", () => {
  assert.equal(capitalize("speckit"), "Speckit")
  assert.equal(capitalize(""), "")
})

test("words splits on everything but letters and digits", () => {
  assert.deepEqual(words("Hello, world: 42!"), ["Hello", "world", "42"])
})
`
}

/**
 * The sample configuration: three simulated agents of different sizes and latencies that edit
 * worktrees (`gamma` always writes a flawed variant), and the test suite as the project's check.
 *
 * @since 0.1.0
 */
export const config = {
  agents: {
    alpha: { provider: "sim", model: "sim-large", latencyMs: 120, seed: 1 },
    beta: { provider: "sim", model: "sim-medium", latencyMs: 160, seed: 2 },
    gamma: { provider: "sim", model: "sim-small", latencyMs: 90, seed: 3, flawRate: 1 }
  },
  defaults: { agents: ["alpha", "beta", "gamma"], quorum: "majority", onConflict: "halt" },
  stages: { validate: { quorum: "all" } },
  checks: [{ name: "test", command: ["node", "--test"], timeoutMs: 60_000 }],
  budget: { usd: 1 }
}

/** Runs git in `directory` as the demo's author; `false` when git is missing or fails. */
const git = (directory: string, args: ReadonlyArray<string>) =>
  ChildProcessSpawner.ChildProcessSpawner.use((spawner) =>
    spawner.exitCode(
      ChildProcess.make("git", ["-c", "core.hooksPath=/dev/null", ...args], {
        cwd: directory,
        extendEnv: true,
        env: {
          GIT_AUTHOR_NAME: "speckit demo",
          GIT_AUTHOR_EMAIL: "demo@speckit.local",
          GIT_COMMITTER_NAME: "speckit demo",
          GIT_COMMITTER_EMAIL: "demo@speckit.local"
        }
      })
    )
  ).pipe(
    Effect.map((code) => Number(code) === 0),
    Effect.orElseSucceed(() => false)
  )

/**
 * Creates the sample workspace in `directory` (created if needed): the project, the spec and the
 * configuration (existing files are kept, never overwritten), and, when `directory` is not yet in a
 * git repository, a repository with them committed. Returns whether the workspace is a repository.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Demo } from "@speckit/cli"
 *
 * const program = Demo.create("/tmp/speckit-demo").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const create = Effect.fn("Demo.create")(function* (directory: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const specDir = path.join(directory, "specs", specId)
  yield* fs.makeDirectory(specDir, { recursive: true })
  const writeIfMissing = (file: string, content: string) =>
    Effect.gen(function* () {
      if (yield* fs.exists(file)) return
      yield* fs.makeDirectory(path.dirname(file), { recursive: true })
      yield* fs.writeFileString(file, content)
    })
  for (const [file, content] of Object.entries(projectFiles)) yield* writeIfMissing(path.join(directory, file), content)
  yield* writeIfMissing(path.join(specDir, "spec.md"), specText)
  yield* writeIfMissing(path.join(directory, "speckit.config.json"), `${JSON.stringify(config, null, 2)}\n`)
  if (yield* git(directory, ["rev-parse", "--verify", "--quiet", "HEAD"])) return true
  const made =
    (yield* git(directory, ["init", "--quiet"])) &&
    (yield* git(directory, ["add", "-A"])) &&
    (yield* git(directory, ["commit", "--quiet", "--no-verify", "-m", "demo-strings: capitalize and words"]))
  return made
})

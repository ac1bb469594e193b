import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { bundleMainPath, ensureBuilt, git, makeWorkspace, removeTempDirs, runCli, tempDir } from "./helpers.ts"

beforeAll(ensureBuilt, 120_000)
afterAll(removeTempDirs)

/**
 * What the commands people run often must not load (the list): the pipeline's workflow engine
 * and the cluster, SQL and RPC modules it brings, the HTTP client, SQLite, the tokenizer and the price
 * and model catalogue. Matched against the sources of every bundle file a command loads (its source
 * map) and against every module it loads from outside the bundle.
 */
const heavy: ReadonlyArray<readonly [string, RegExp]> = [
  ["the workflow engine", /effect\/src\/(workflow|cluster)\//],
  ["SQL", /effect\/src\/sql\/|(^|\/)sqlite\/src\/|better-sqlite3/],
  ["RPC", /effect\/src\/rpc\//],
  ["the HTTP client", /effect\/src\/http\/HttpClient|undici/i],
  ["the tokenizer or the model catalogue", /tokenlens|tiktoken|gpt-tokenizer/],
  ["the pipeline", /(^|\/)core\/src\/(Pipeline|AgentCall|Resilience|DurableRun)\.ts$/]
]

/**
 * A module hook (registered with `--import`) that appends every module URL the process resolves to
 * the file `SPECKIT_TEST_LOADED` names.
 */
const recorder = (): string => {
  const dir = tempDir()
  fs.writeFileSync(
    path.join(dir, "hooks.mjs"),
    [
      'import { appendFileSync } from "node:fs"',
      "export const resolve = async (specifier, context, next) => {",
      "  const resolved = await next(specifier, context)",
      '  appendFileSync(process.env.SPECKIT_TEST_LOADED, resolved.url + "\\n")',
      "  return resolved",
      "}"
    ].join("\n")
  )
  fs.writeFileSync(
    path.join(dir, "register.mjs"),
    'import { register } from "node:module"\nregister("./hooks.mjs", import.meta.url)\n'
  )
  return pathToFileURL(path.join(dir, "register.mjs")).href
}

/**
 * What a command loaded: each file of the bundle (with its sources) and each module from outside it.
 * The bundle runs without its launcher, which loads it with `require` (out of the hook's sight on Node
 * 20) and loads nothing else.
 */
const loadedBy = async (args: ReadonlyArray<string>, register: string) => {
  const list = path.join(tempDir(), "loaded.txt")
  fs.writeFileSync(list, "")
  const result = await runCli(args, {
    script: bundleMainPath,
    env: { NODE_OPTIONS: `--import=${register}`, SPECKIT_TEST_LOADED: list }
  })
  const bundle = path.dirname(bundleMainPath)
  const urls = [
    ...new Set(
      fs
        .readFileSync(list, "utf8")
        .split("\n")
        .filter((url) => url.startsWith("file:"))
    )
  ]
  const files = urls.map((url) => new URL(url).pathname)
  const ours = files.filter((file) => file.startsWith(`${bundle}/`))
  const sources = ours.flatMap((file) => {
    const map = `${file}.map`
    return fs.existsSync(map) ? (JSON.parse(fs.readFileSync(map, "utf8")) as { sources: Array<string> }).sources : []
  })
  return { result, bundleFiles: ours, sources, outside: files.filter((file) => !file.startsWith(`${bundle}/`)) }
}

describe("what each everyday command loads (the bundle)", () => {
  it("--help, --version, runs, status and clean in a repository with a run load neither the pipeline, SQL, HTTP, the workflow engine nor the tokenizer", async () => {
    const dir = makeWorkspace({
      config: { agents: { alpha: { provider: "sim", model: "sim-large", latencyMs: 1, seed: 1 } } }
    })
    git(dir, "init", "-q", "-b", "main")
    git(dir, "add", ".")
    git(dir, "commit", "-q", "-m", "spec")
    const run = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(run.code, 0, run.stderr)
    const register = recorder()
    // `clean` tests the workspace's lock, a SQLite lock, when its file exists (after any run): it loads
    // SQLite's driver and the lock, nothing more.
    const commands: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
      [["--help"], []],
      [["--version"], []],
      [["runs", "-C", dir], []],
      [["status", "-C", dir], []],
      [["clean", "-C", dir], ["SQL"]]
    ]
    for (const [args, allowed] of commands) {
      const loaded = await loadedBy(args, register)
      assert.strictEqual(loaded.result.code, 0, `${args.join(" ")}: ${loaded.result.stderr}`)
      assert.isAbove(loaded.bundleFiles.length, 0, `${args.join(" ")}: the hook recorded the bundle's files`)
      assert.isAbove(loaded.sources.length, 0, `${args.join(" ")}: the bundle's source maps name its sources`)
      for (const [what, pattern] of heavy) {
        if (allowed.includes(what)) continue
        const found = [...loaded.sources, ...loaded.outside].filter((source) => pattern.test(source))
        assert.deepStrictEqual(found, [], `speckit ${args.join(" ")} loads ${what}`)
      }
    }
    // The recorder sees what a command does load: `auto` loads the pipeline.
    const auto = await loadedBy(["auto", "SPEC-1", "-C", dir, "--json"], register)
    assert.strictEqual(auto.result.code, 0, auto.result.stderr)
    assert.isTrue(
      auto.sources.some((source) => /(^|\/)core\/src\/Pipeline\.ts$/.test(source)),
      "auto loads the pipeline"
    )
  }, 60_000)
})

describe("the bin's launcher", () => {
  it("loads the bundle where require cannot load an ES module (Node 22 before 22.12): by import()", async () => {
    const result = await runCli(["--version"], { env: { NODE_OPTIONS: "--no-experimental-require-module" } })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.match(result.stdout, /^speckit v\d+\.\d+\.\d+/)
  })
})

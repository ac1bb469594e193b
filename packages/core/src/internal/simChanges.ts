/**
 * What a simulated agent changes in a repository, derived from the spec alone (nothing is special-cased
 * for any spec): the function the spec names in backticks (`name(args)`), implemented from the examples
 * it gives (`` `name(1, 2)` returns `3` ``), in the module it names (`src/...`) or a new one, with a
 * `node:test` test of each example; in the repository's language and module system (TypeScript when it
 * has a `tsconfig.json`, ES modules when `package.json` says `"type": "module"`). A flawed variant (for
 * agents with a `flawRate`) writes a failing test, weakens an existing test or deletes one.
 */
import { outline, prng, slug } from "./specText.ts"

/** The repository as the planner sees it: its files, and the texts of the ones it may read. */
export interface Repository {
  readonly files: ReadonlyArray<string>
  readonly read: (path: string) => string | undefined
}

/** One change to make. */
export type Change =
  | { readonly _tag: "Write"; readonly path: string; readonly text: string }
  | { readonly _tag: "Delete"; readonly path: string }

/** The flaws a simulated agent can make. */
export type Flaw = "failing-test" | "weakened-test" | "deleted-test"

interface Example {
  readonly args: ReadonlyArray<unknown>
  readonly result: unknown
  readonly source: string
}

const parseJson = (text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  // JSON as written, else with single-quoted strings.
  for (const candidate of [text, text.replace(/'/g, '"')]) {
    try {
      return { ok: true, value: JSON.parse(candidate) }
    } catch {
      // the next form
    }
  }
  return { ok: false }
}

/** The first function the spec names in backticks, with its examples. */
export const subjectOf = (
  title: string,
  text: string
): { readonly name: string; readonly examples: ReadonlyArray<Example> } => {
  const named = /`([A-Za-z_$][\w$]*)\(([^`]*)\)`/.exec(text)
  const name = named?.[1] ?? slug(title).replace(/-([a-z0-9])/g, (_, char: string) => char.toUpperCase())
  const examples: Array<Example> = []
  const pattern = new RegExp(
    `\`${name.replace(/\$/g, "\\$")}\\(([^\`]*)\\)\`\\s*(?:returns|gives|is|equals|→|->|==|===)\\s*\`([^\`]+)\``,
    "g"
  )
  for (const match of text.matchAll(pattern)) {
    const args = parseJson(`[${match[1] ?? ""}]`)
    const result = parseJson(match[2] ?? "")
    if (args.ok && Array.isArray(args.value) && result.ok) {
      examples.push({ args: args.value, result: result.value, source: `${name}(${match[1] ?? ""})` })
    }
  }
  return { name, examples }
}

interface Style {
  readonly typescript: boolean
  readonly esm: boolean
  readonly extension: string
}

const styleOf = (repo: Repository): Style => {
  const typescript = repo.files.includes("tsconfig.json")
  const pkg = repo.read("package.json")
  const esm = typescript || (pkg !== undefined && /"type"\s*:\s*"module"/.test(pkg))
  return { typescript, esm, extension: typescript ? ".ts" : ".js" }
}

const relativeImport = (from: string, to: string): string => {
  const fromParts = from.split("/").slice(0, -1)
  const toParts = to.split("/")
  let common = 0
  while (common < fromParts.length && fromParts[common] === toParts[common]) common++
  const up = fromParts.slice(common).map(() => "..")
  const path = [...up, ...toParts.slice(common)].join("/")
  return path.startsWith(".") ? path : `./${path}`
}

/** The function, implemented from the spec's examples in one of three styles (chosen per seed). */
const functionCode = (
  name: string,
  examples: ReadonlyArray<Example>,
  style: Style,
  purpose: string,
  variant: number
) => {
  const table = `${name}Examples`
  const keyed = examples.map((example) => [
    JSON.stringify(JSON.stringify(example.args)),
    JSON.stringify(example.result)
  ])
  const signature = style.typescript ? `(...args: ReadonlyArray<unknown>): unknown` : "(...args)"
  const exported = style.esm ? "export function" : "function"
  const fail = `  throw new Error(\`${name}: no rule for \${key}\`)`
  const bodies = [
    [
      `const ${table} = new Map([\n${keyed.map(([key, value]) => `  [${key}, ${value}]`).join(",\n")}\n])`,
      "",
      `/** ${name}: ${purpose} */`,
      `${exported} ${name}${signature} {`,
      "  const key = JSON.stringify(args)",
      `  if (${table}.has(key)) return ${table}.get(key)`,
      fail,
      "}"
    ],
    [
      `const ${table} = [\n${keyed.map(([key, value]) => `  { input: ${key}, output: ${value} }`).join(",\n")}\n]`,
      "",
      `/** ${name}: ${purpose} */`,
      `${exported} ${name}${signature} {`,
      "  const key = JSON.stringify(args)",
      `  const found = ${table}.find((example) => example.input === key)`,
      "  if (found !== undefined) return found.output",
      fail,
      "}"
    ],
    [
      `/** ${name}: ${purpose} */`,
      `${exported} ${name}${signature} {`,
      "  const key = JSON.stringify(args)",
      "  switch (key) {",
      ...keyed.map(([key, value]) => `    case ${key}:\n      return ${value}`),
      "  }",
      fail,
      "}"
    ]
  ]
  return [
    "",
    ...(bodies[variant % bodies.length] ?? []),
    ...(style.esm ? [] : [`module.exports.${name} = ${name}`]),
    ""
  ].join("\n")
}

const wrong = (value: unknown): unknown =>
  typeof value === "number" ? value + 1 : typeof value === "string" ? `${value}!` : value === true ? false : "wrong"

const testCode = (
  name: string,
  examples: ReadonlyArray<Example>,
  style: Style,
  from: string,
  module: string,
  failing: boolean
) => {
  const target = relativeImport(from, module)
  const header = style.esm
    ? [
        `import { test } from "node:test"`,
        `import assert from "node:assert/strict"`,
        `import { ${name} } from "${target}"`
      ]
    : [
        `const { test } = require("node:test")`,
        `const assert = require("node:assert/strict")`,
        `const { ${name} } = require("${target}")`
      ]
  const cases = (examples.length > 0 ? examples : [{ args: [], result: undefined, source: `${name}()` }]).map(
    (example, index) => {
      const expected = failing && index === 0 ? wrong(example.result) : example.result
      const call = `${name}(${example.args.map((arg) => JSON.stringify(arg)).join(", ")})`
      return examples.length > 0
        ? `test(${JSON.stringify(`${example.source} returns ${JSON.stringify(example.result)}`)}, () => {\n  assert.deepEqual(${call}, ${JSON.stringify(expected)})\n})`
        : `test(${JSON.stringify(`${name} is a function`)}, () => {\n  assert.equal(typeof ${name}, ${failing ? '"object"' : '"function"'})\n})`
    }
  )
  return `${[...header, "", ...cases].join("\n")}\n`
}

/** Weakens a test file: every assertion becomes one that always holds. */
const weaken = (text: string): string => text.replace(/\bassert\.(\w+)\(/g, "assert.ok(true || ")

/** The changes a simulated agent makes (see the module). */
export const plan = (input: {
  readonly title: string
  readonly text: string
  readonly repo: Repository
  readonly seed: number
  readonly flawRate: number
}): { readonly changes: ReadonlyArray<Change>; readonly flaw: Flaw | undefined } => {
  const { repo } = input
  const style = styleOf(repo)
  const { name, examples } = subjectOf(input.title, input.text)
  const random = prng(`${input.seed}/changes/${input.title}`)
  const named = [...input.text.matchAll(/`((?:src|lib)\/[\w./-]+\.(?:m?js|cjs|ts))`/g)]
    .map((match) => match[1] ?? "")
    .find((path) => repo.files.includes(path))
  const folder =
    repo.files.some((file) => file.startsWith("lib/")) && !repo.files.some((f) => f.startsWith("src/")) ? "lib" : "src"
  const module = named ?? `${folder}/${slug(name)}${style.extension}`
  const purpose = outline(input.title, input.text).requirements[0] ?? input.title
  const existing = repo.read(module)
  const code = functionCode(name, examples, style, purpose, Math.floor(random() * 3))
  const testFolder = repo.files.some((file) => file.startsWith("tests/")) ? "tests" : "test"
  const testFile = `${testFolder}/${slug(name)}.test${style.extension}`
  const existingTests = repo.files.filter(
    (file) => /(^|\/)(test|tests)\//.test(file) && /\.(test|spec)\.[cm]?[jt]s$/.test(file) && file !== testFile
  )
  const flawed = random() < input.flawRate
  const flaws: ReadonlyArray<Flaw> =
    existingTests.length > 0 ? ["failing-test", "weakened-test", "deleted-test"] : ["failing-test"]
  const flaw = flawed ? flaws[Math.floor(random() * flaws.length)] : undefined
  const changes: Array<Change> = [
    { _tag: "Write", path: module, text: existing === undefined ? code.trimStart() : `${existing.trimEnd()}\n${code}` },
    { _tag: "Write", path: testFile, text: testCode(name, examples, style, testFile, module, flaw === "failing-test") }
  ]
  const victim = existingTests[Math.floor(random() * existingTests.length)]
  if (flaw === "weakened-test" && victim !== undefined) {
    changes.push({ _tag: "Write", path: victim, text: weaken(repo.read(victim) ?? "") })
  }
  if (flaw === "deleted-test" && victim !== undefined) changes.push({ _tag: "Delete", path: victim })
  return { changes, flaw }
}

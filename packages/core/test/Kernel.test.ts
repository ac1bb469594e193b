import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"

/** Modules the kernel may not import: drivers live in plugin packages (see ARCHITECTURE.md). */
const forbidden = ["effect/process", "effect/http", "node:child_process", "node:http", "better-sqlite3"]

const src = fileURLToPath(new URL("../src/", import.meta.url))

const modules = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? modules(full) : entry.name.endsWith(".ts") ? [full] : []
  })

describe("the kernel", () => {
  it("imports no process, HTTP or SQLite driver (type-only imports included)", () => {
    const found: Array<string> = []
    for (const file of modules(src)) {
      const text = fs.readFileSync(file, "utf8")
      for (const match of text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"/gm)) {
        const specifier = match[1] ?? ""
        if (forbidden.some((name) => specifier === name || specifier.startsWith(`${name}/`))) {
          found.push(`${path.relative(src, file)} imports ${specifier}`)
        }
      }
      for (const match of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) {
        if (forbidden.includes(match[1] ?? "")) found.push(`${path.relative(src, file)} imports ${match[1]}`)
      }
    }
    assert.deepStrictEqual(found, [])
  })

  it("has no better-sqlite3 in its package.json", () => {
    const manifest = fs.readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")
    assert.notInclude(manifest, "better-sqlite3")
  })
})

#!/usr/bin/env node
// Checks the packages' dependency arrows: a package may depend only on packages of a lower layer
// (`dependencies` and `peerDependencies`, what users install); plugins depend on the kernel only.
// `devDependencies` (tests and builds only) may also name a plugin of the same layer, never a package
// of a higher layer. Exit 1, naming each offending arrow.
//
// A new package is one line in `layers`.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Each package's layer: the kernel at 0, plugins (drivers, providers) at 1, applications at 2. */
const layers = {
  "@speckit/core": 0,
  "@speckit/agents": 1,
  "@speckit/sqlite": 1,
  "@speckit/postgres": 1,
  "@speckit/git": 1,
  "@speckit/consensus": 1,
  "@speckit/telemetry": 1,
  "@speckit/faults": 1,
  "@speckit/cli": 2
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const problems = []
const seen = new Set()
for (const dir of fs.readdirSync(path.join(root, "packages"))) {
  const file = path.join(root, "packages", dir, "package.json")
  if (!fs.existsSync(file)) continue
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"))
  const name = manifest.name
  seen.add(name)
  const layer = layers[name]
  if (layer === undefined) {
    problems.push(`${name} (packages/${dir}) has no layer in scripts/check-deps.mjs`)
    continue
  }
  const arrows = [
    ["dependencies", manifest.dependencies ?? {}, (other) => other < layer],
    ["peerDependencies", manifest.peerDependencies ?? {}, (other) => other < layer],
    ["devDependencies", manifest.devDependencies ?? {}, (other) => other <= layer && !(layer === 0 && other === 0)]
  ]
  for (const [field, deps, allowed] of arrows) {
    for (const dep of Object.keys(deps)) {
      const other = layers[dep]
      if (other === undefined) continue
      if (!allowed(other)) problems.push(`${name} ${field} → ${dep}: layer ${layer} may not depend on layer ${other}`)
    }
  }
}
for (const name of Object.keys(layers)) if (!seen.has(name)) problems.push(`${name} is listed but not in packages/`)
if (problems.length > 0) {
  console.error(`dependency arrows: FAIL\n- ${problems.join("\n- ")}`)
  process.exit(1)
}
console.log(`dependency arrows: PASS (${seen.size} packages; plugins depend on the kernel only)`)

// Bundles the `speckit` executable: one ES module (dist/bundle/main.js, with a source map) whose
// commands load what they need as chunks of their own (dist/bundle/chunks/), built from the workspace's
// sources, tree-shaken, and its launcher (dist/bundle/speckit.js, the bin). better-sqlite3 (a native
// addon) stays a dependency. `pnpm pack` ships it; the workspace's tests run the bin too.
import { build } from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outdir = path.join(root, "dist", "bundle")
fs.rmSync(outdir, { recursive: true, force: true })
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: "src/bin.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  conditions: ["@speckit/source"],
  external: ["better-sqlite3"],
  chunkNames: "chunks/[name]-[hash]",
  sourcemap: true,
  minifySyntax: true,
  minifyWhitespace: true,
  treeShaking: true,
  legalComments: "linked",
  // Bundled CommonJS dependencies may call require() for Node's built-in modules.
  banner: {
    js: 'import { createRequire as __speckitRequire } from "node:module"; const require = __speckitRequire(import.meta.url);'
  },
  metafile: true,
  logLevel: "warning"
})
// The launcher turns on Node's compile cache (Node >= 22.1; NODE_COMPILE_CACHE names its directory,
// NODE_DISABLE_COMPILE_CACHE=1 turns it off) before the bundle is compiled: later starts read the
// compiled code instead of compiling 1 MB of JavaScript again. It loads the bundle with require (an ES
// module without top-level await, Node >= 20.19), as fast as a static import; where require cannot
// load an ES module (Node 22 before 22.12), with import().
fs.writeFileSync(
  path.join(outdir, "speckit.js"),
  `#!/usr/bin/env node
// The speckit executable: compile cache on, then the bundle (main.js). See scripts/bundle.mjs.
import * as NodeModule from "node:module"
NodeModule.enableCompileCache?.()
try {
  NodeModule.createRequire(import.meta.url)("./main.js")
} catch (error) {
  if (error?.code !== "ERR_REQUIRE_ESM" && error?.code !== "ERR_REQUIRE_ASYNC_MODULE") throw error
  await import("./main.js")
}
`,
  { mode: 0o755 }
)
if (process.argv.includes("--analyze")) {
  const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith(".js"))
  for (const [file, output] of outputs)
    console.log(`${(output.bytes / 1024).toFixed(0).padStart(6)} KB  ${path.relative(root, file)}`)
}

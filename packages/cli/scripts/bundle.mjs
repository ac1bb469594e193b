// Bundles the `speckit` executable: one ES module (dist/bundle/speckit.js, with a source map) whose
// commands load what they need as chunks of their own (dist/bundle/chunks/), built from the workspace's
// sources, tree-shaken. better-sqlite3 (a native addon) stays a dependency. `pnpm pack` ships it; the
// workspace's tests run dist/bin.js (tsc's output of the same sources).
import { build } from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const outdir = path.join(root, "dist", "bundle")
fs.rmSync(outdir, { recursive: true, force: true })
const result = await build({
  absWorkingDir: root,
  entryPoints: { speckit: "src/bin.ts" },
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
// The entry keeps src/bin.ts's #! line.
fs.chmodSync(path.join(outdir, "speckit.js"), 0o755)
if (process.argv.includes("--analyze")) {
  const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith(".js"))
  for (const [file, output] of outputs)
    console.log(`${(output.bytes / 1024).toFixed(0).padStart(6)} KB  ${path.relative(root, file)}`)
}

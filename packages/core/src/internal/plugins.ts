/**
 * Finding and importing provider plugins: a path relative to the workspace (or absolute, or a
 * `file:` URL), or a package name resolved from the workspace's `node_modules` walking up (honouring
 * the package's `exports` with the `import`, `node` and `default` conditions, else `main`); a package
 * not found there is imported by name.
 */
import { Effect, FileSystem, Path, Predicate, Schema } from "effect"

const describe = (error: unknown): string => {
  if (error instanceof Error) {
    const inner = error.cause instanceof Error ? `: ${error.cause.message}` : ""
    return `${error.message}${inner}`
  }
  return String(error)
}

const isPathSpecifier = (specifier: string, path: Path.Path) =>
  specifier.startsWith("./") ||
  specifier.startsWith("../") ||
  specifier === "." ||
  specifier === ".." ||
  path.isAbsolute(specifier)

const PackageJson = Schema.Struct({
  main: Schema.optionalKey(Schema.String),
  exports: Schema.optionalKey(Schema.Unknown)
})

const conditions: ReadonlySet<string> = new Set(["import", "node", "default", "module-sync"])

/** Resolves an `exports` target (a string, an array or a conditions object) to a relative path. */
const exportTarget = (target: unknown): string | undefined => {
  if (Predicate.isString(target)) return target
  if (Array.isArray(target)) {
    for (const item of target) {
      const resolved = exportTarget(item)
      if (resolved !== undefined) return resolved
    }
    return undefined
  }
  if (Predicate.isObject(target)) {
    for (const [key, value] of Object.entries(target)) {
      if (conditions.has(key)) {
        const resolved = exportTarget(value)
        if (resolved !== undefined) return resolved
      }
    }
  }
  return undefined
}

/** The entry of a package for a subpath (`.` or `./sub`), per its `exports`, else `main`. */
const packageEntry = (json: typeof PackageJson.Type, subpath: string): string | undefined => {
  const exports = json.exports
  if (exports !== undefined) {
    const isSubpathMap =
      Predicate.isObject(exports) && !Array.isArray(exports) && Object.keys(exports).some((key) => key.startsWith("."))
    if (isSubpathMap) return exportTarget((exports as Record<string, unknown>)[subpath])
    return subpath === "." ? exportTarget(exports) : undefined
  }
  return subpath === "." ? (json.main ?? "index.js") : subpath
}

const splitPackage = (specifier: string): { readonly name: string; readonly subpath: string } | undefined => {
  const match = /^((?:@[^/\s]+\/)?[^/\s@][^/\s]*)(\/.*)?$/.exec(specifier)
  if (match?.[1] === undefined) return undefined
  return { name: match[1], subpath: match[2] === undefined ? "." : `.${match[2]}` }
}

/** Finds a package in `node_modules` from the workspace up; `undefined` when it is not installed there. */
const resolvePackage = (specifier: string, workspace: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const parts = splitPackage(specifier)
    if (parts === undefined) return undefined
    let directory = workspace
    for (;;) {
      const root = path.join(directory, "node_modules", parts.name)
      const manifest = path.join(root, "package.json")
      if (yield* fs.exists(manifest).pipe(Effect.orElseSucceed(() => false))) {
        const text = yield* fs.readFileString(manifest)
        const json = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(PackageJson))(text)
        const entry = packageEntry(json, parts.subpath)
        if (entry === undefined) {
          return yield* Effect.fail(new Error(`${manifest} exports no "${parts.subpath}" entry for ESM imports`))
        }
        return path.resolve(root, entry)
      }
      const parent = path.dirname(directory)
      if (parent === directory) return undefined
      directory = parent
    }
  })

const importModule = (specifier: string): Effect.Effect<unknown, unknown> =>
  Effect.tryPromise({ try: () => import(specifier) as Promise<unknown>, catch: (error) => error })

/** The provider definitions a plugin module exports, or why it exports none. */

/** Where a plugin specifier points: an importable URL or name, and whether it is a bare package name. */
const targetOf = (specifier: string, root: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (specifier.startsWith("file:")) return { target: specifier, bare: false }
    if (isPathSpecifier(specifier, path)) {
      const file = path.resolve(root, specifier)
      if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) {
        return yield* Effect.fail(`cannot be loaded: no such file ${file}`)
      }
      const url = yield* path.toFileUrl(file).pipe(Effect.orElseSucceed(() => undefined))
      if (url === undefined) return yield* Effect.fail(`is not a valid path (${file})`)
      return { target: url.href, bare: false }
    }
    const resolved = yield* resolvePackage(specifier, root).pipe(Effect.result)
    if (resolved._tag === "Failure") return yield* Effect.fail(`cannot be resolved: ${describe(resolved.failure)}`)
    if (resolved.success === undefined) return { target: specifier, bare: true }
    const url = yield* path.toFileUrl(resolved.success).pipe(Effect.orElseSucceed(() => undefined))
    if (url === undefined) return yield* Effect.fail(`resolves to an invalid path (${resolved.success})`)
    return { target: url.href, bare: false }
  })

/** Imports a plugin module; fails with why not, in a few words that follow `plugin "<specifier>"`. */
export const importPlugin = (
  specifier: string,
  root: string
): Effect.Effect<unknown, string, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const { target, bare } = yield* targetOf(specifier, root)
    const module = yield* importModule(target).pipe(Effect.result)
    if (module._tag === "Success") return module.success
    const error = module.failure
    const notFound =
      bare && Predicate.isObject(error) && error.code === "ERR_MODULE_NOT_FOUND" && describe(error).includes(specifier)
    if (notFound) {
      return yield* Effect.fail(
        `cannot be loaded: the package is not installed (no node_modules/${splitPackage(specifier)?.name ?? specifier} in ${root} or a parent directory)`
      )
    }
    return yield* Effect.fail(`cannot be loaded${target === specifier ? "" : ` (${target})`}: ${describe(error)}`)
  })

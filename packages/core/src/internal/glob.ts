/**
 * Path globs, as in `.gitignore`: `*` matches within one path segment, `**` across segments, `?` one
 * character; a pattern without `/` matches a file's name at any depth; a pattern ending in `/` matches
 * everything under that folder. Paths are repository-relative with `/` separators.
 */

const escapeChar = (char: string) => (/[.+^${}()|[\]\\]/.test(char) ? `\\${char}` : char)

const toRegExp = (pattern: string): RegExp => {
  let body = ""
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern.charAt(i)
    if (char === "*") {
      if (pattern.charAt(i + 1) === "*") {
        // `**/` matches zero or more folders; a trailing `**` matches everything below.
        if (pattern.charAt(i + 2) === "/") {
          body += "(?:.*/)?"
          i += 2
        } else {
          body += ".*"
          i += 1
        }
      } else {
        body += "[^/]*"
      }
    } else if (char === "?") {
      body += "[^/]"
    } else {
      body += escapeChar(char)
    }
  }
  return new RegExp(`^${body}$`)
}

/** Compiles a glob into a predicate on repository-relative paths. */
export const compile = (pattern: string): ((path: string) => boolean) => {
  const trimmed = pattern.replace(/^\.\//, "").replace(/^\//, "")
  const folder = trimmed.endsWith("/")
  const source = folder ? `${trimmed}**` : trimmed
  const regexp = toRegExp(source)
  if (source.includes("/")) return (path) => regexp.test(path)
  return (path) => regexp.test(path.slice(path.lastIndexOf("/") + 1))
}

/** Whether `path` matches any of `patterns`; returns the first pattern that matches. */
export const firstMatch = (patterns: ReadonlyArray<string>, path: string): string | undefined =>
  patterns.find((pattern) => compile(pattern)(path))

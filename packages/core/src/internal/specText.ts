/** Reads the structure of a Markdown spec: its requirements and acceptance criteria. */

export interface SpecOutline {
  readonly title: string
  readonly requirements: ReadonlyArray<string>
  readonly criteria: ReadonlyArray<string>
  readonly keywords: ReadonlyArray<string>
}

const bulletPattern = /^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.+?)\s*$/

const clean = (line: string) =>
  line
    .replace(/[*_`]/g, "")
    .replace(/\s+/g, " ")
    .replace(/[.;:]+$/, "")
    .trim()

const stop = new Set(
  "the a an and or of to in on for with by from as is are be must should can will shall that this it its at into each every when then than not no any all user users".split(
    " "
  )
)

// Outlines are derived from the spec's text alone; simulated agents ask for the same one on every call.
// Keyed by the text itself (the same string each call, whose hash V8 keeps), then by title.
const outlines = new Map<string, Map<string, SpecOutline>>()

export const outline = (title: string, text: string): SpecOutline => {
  let byTitle = outlines.get(text)
  const known = byTitle?.get(title)
  if (known) return known
  const made = makeOutline(title, text)
  if (byTitle === undefined) {
    if (outlines.size > 64) outlines.clear()
    byTitle = new Map()
    outlines.set(text, byTitle)
  }
  byTitle.set(title, made)
  return made
}

const makeOutline = (title: string, text: string): SpecOutline => {
  const requirements: Array<string> = []
  const criteria: Array<string> = []
  let section = ""
  for (const line of text.split(/\r?\n/)) {
    const heading = /^#{1,6}\s+(.+)$/.exec(line)
    if (heading?.[1]) {
      section = heading[1].toLowerCase()
      continue
    }
    const bullet = bulletPattern.exec(line)
    if (!bullet?.[1]) continue
    const item = clean(bullet[1])
    if (item.length < 3) continue
    if (/accept|done when|success|criteria|verif/.test(section)) criteria.push(item)
    else if (!/non-goal|out of scope|question/.test(section)) requirements.push(item)
  }
  if (requirements.length === 0) {
    const sentences = text
      .replace(/^#.*$/gm, "")
      .split(/(?<=[.!?])\s+/)
      .map(clean)
      .filter((s) => s.length > 12)
    requirements.push(...sentences.slice(0, 5))
  }
  if (requirements.length === 0) requirements.push(`Deliver ${title}`)
  const counts = new Map<string, number>()
  for (const word of text.toLowerCase().match(/[a-z][a-z-]{3,}/g) ?? []) {
    if (!stop.has(word)) counts.set(word, (counts.get(word) ?? 0) + 1)
  }
  const keywords = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 8)
    .map(([word]) => word)
  return { title, requirements: requirements.slice(0, 12), criteria: criteria.slice(0, 12), keywords }
}

/** A small deterministic PRNG (mulberry32) seeded from a string. */
export const prng = (seedText: string) => {
  let h = 2166136261
  for (let i = 0; i < seedText.length; i++) h = Math.imul(h ^ seedText.charCodeAt(i), 16777619)
  let state = h >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const slug = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .split("-")
    .slice(0, 4)
    .join("-") || "feature"

/**
 * When a rate limit resets: read from HTTP headers, JSON error bodies and the usage-limit texts of
 * agent CLIs. Every reader returns epoch milliseconds, or `undefined` when it finds no reset.
 *
 * Wall-clock times without a timezone (Codex's `try again at 3:28 PM`) are read in the local
 * timezone of this process, which is the timezone the CLI printed them in when it runs on the same
 * machine. Times followed by an IANA zone in parentheses (Claude's `resets Oct 1, 2am (Asia/Seoul)`)
 * are read in that zone; an unknown zone falls back to local time.
 *
 * @since 0.1.0
 */
import { Predicate } from "effect"

const SECOND = 1_000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const unitMs: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: SECOND,
  m: MINUTE,
  h: HOUR,
  d: DAY
}

/**
 * Parses a Go-style duration (`1s`, `12ms`, `6m0s`, `1h2m3s`, `1.5s`) into milliseconds. A bare
 * number is read as seconds.
 *
 * @example
 * ```ts
 * import { RateLimit } from "@speckit/agents"
 *
 * RateLimit.parseDuration("6m0s") // 360000
 * ```
 *
 * @since 0.1.0
 */
export const parseDuration = (text: string): number | undefined => {
  const trimmed = text.trim()
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Number(trimmed) * SECOND
  if (!/^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+$/.test(trimmed)) return undefined
  let total = 0
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) {
    const [, amount = "0", unit = "s"] = match
    total += Number(amount) * (unitMs[unit] ?? SECOND)
  }
  return Math.round(total)
}

/** Epoch seconds, epoch milliseconds (numbers past year 5138 in seconds) or a date string. */
const parseInstant = (value: unknown): number | undefined => {
  if (Predicate.isNumber(value)) {
    if (!Number.isFinite(value) || value <= 0) return undefined
    return value >= 1e11 ? value : value * SECOND
  }
  if (Predicate.isString(value)) {
    const trimmed = value.trim()
    if (/^\d+(?:\.\d+)?$/.test(trimmed)) return parseInstant(Number(trimmed))
    const parsed = Date.parse(trimmed)
    return Number.isNaN(parsed) ? undefined : parsed
  }
  return undefined
}

const parseSeconds = (value: unknown): number | undefined => {
  const seconds = Predicate.isString(value) && /^\s*\d+(?:\.\d+)?\s*$/.test(value) ? Number(value) : value
  return Predicate.isNumber(seconds) && Number.isFinite(seconds) && seconds >= 0 ? seconds * SECOND : undefined
}

const latest = (values: ReadonlyArray<number | undefined>): number | undefined => {
  const defined = values.filter(Predicate.isNotUndefined)
  return defined.length === 0 ? undefined : Math.max(...defined)
}

/**
 * Reads when a rate limit resets from HTTP response headers (names in any case), trying in order:
 * `retry-after-ms`; `retry-after` (seconds or an HTTP date); `x-ratelimit-reset-requests` and
 * `x-ratelimit-reset-tokens` (Go durations relative to now, the later of the two);
 * `anthropic-ratelimit-*-reset` (RFC 3339 timestamps, the latest).
 *
 * @example
 * ```ts
 * import { RateLimit } from "@speckit/agents"
 *
 * RateLimit.resetFromHeaders({ "retry-after": "30" }, 1_000) // 31000
 * RateLimit.resetFromHeaders({ "x-ratelimit-reset-tokens": "6m0s" }, 0) // 360000
 * ```
 *
 * @since 0.1.0
 */
export const resetFromHeaders = (headers: Readonly<Record<string, string>>, nowMs: number): number | undefined => {
  const lower = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))
  const retryAfterMs = lower.get("retry-after-ms")
  if (retryAfterMs !== undefined && /^\s*\d+(?:\.\d+)?\s*$/.test(retryAfterMs)) return nowMs + Number(retryAfterMs)
  const retryAfter = lower.get("retry-after")
  if (retryAfter !== undefined) {
    const seconds = parseSeconds(retryAfter)
    if (seconds !== undefined) return nowMs + seconds
    const date = Date.parse(retryAfter)
    if (!Number.isNaN(date)) return date
  }
  const openAi = latest(
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"].map((name) => {
      const value = lower.get(name)
      const duration = value === undefined ? undefined : parseDuration(value)
      return duration === undefined ? undefined : nowMs + duration
    })
  )
  if (openAi !== undefined) return openAi
  return latest(
    [...lower.entries()]
      .filter(([name]) => name.startsWith("anthropic-ratelimit-") && name.endsWith("-reset"))
      .map(([, value]) => {
        const date = Date.parse(value)
        return Number.isNaN(date) ? undefined : date
      })
  )
}

const absoluteKeys = ["reset_at", "resets_at", "resetAt", "resetsAt"] as const
const relativeKeys = ["resets_in_seconds", "reset_in_seconds", "retry_after", "retry_after_seconds"] as const

/**
 * Reads when a rate limit resets from a JSON error body: `reset_at` / `resets_at` / `resetsAt`
 * (epoch seconds, epoch milliseconds or an ISO date), else `resets_in_seconds` (relative to now),
 * looked up at the top level, under `error` and under `rate_limit_info`.
 *
 * @example
 * ```ts
 * import { RateLimit } from "@speckit/agents"
 *
 * RateLimit.resetFromBody({ error: { type: "usage_limit_reached", resets_in_seconds: 60 } }, 0) // 60000
 * ```
 *
 * @since 0.1.0
 */
export const resetFromBody = (body: unknown, nowMs: number): number | undefined => {
  if (!Predicate.isObject(body)) return undefined
  const scopes = [body, body.error, body.rate_limit_info].filter(Predicate.isObject)
  for (const scope of scopes) {
    for (const key of absoluteKeys) {
      const instant = parseInstant(scope[key])
      if (instant !== undefined) return instant
    }
  }
  for (const scope of scopes) {
    for (const key of relativeKeys) {
      const delay = parseSeconds(scope[key])
      if (delay !== undefined) return nowMs + delay
    }
  }
  return undefined
}

const months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

interface WallDate {
  readonly year: number
  /** 0-based. */
  readonly month: number
  readonly day: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

const zoneFormatter = (zone: string): Intl.DateTimeFormat | undefined => {
  const cached = formatters.get(zone)
  if (cached !== undefined) return cached
  try {
    const formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric"
    })
    formatters.set(zone, formatter)
    return formatter
  } catch {
    return undefined
  }
}

/** The wall-clock fields of an instant in a zone, as if that wall clock were UTC. */
const wallAsUtc = (formatter: Intl.DateTimeFormat, epochMs: number): number => {
  const fields = new Map(formatter.formatToParts(new Date(epochMs)).map((part) => [part.type, Number(part.value)]))
  const field = (name: Intl.DateTimeFormatPartTypes) => fields.get(name) ?? 0
  return Date.UTC(field("year"), field("month") - 1, field("day"), field("hour") % 24, field("minute"), field("second"))
}

/** Converts a wall-clock time to epoch ms in a zone (local time when the zone is unknown). */
const fromWall = (date: WallDate, hour: number, minute: number, zone: string | undefined): number => {
  const formatter = zone === undefined ? undefined : zoneFormatter(zone)
  if (formatter === undefined) return new Date(date.year, date.month, date.day, hour, minute).getTime()
  const guess = Date.UTC(date.year, date.month, date.day, hour, minute)
  const offset = wallAsUtc(formatter, guess) - guess
  const first = guess - offset
  const corrected = wallAsUtc(formatter, first) - first
  return corrected === offset ? first : guess - corrected
}

/** Today's date at an instant, in a zone (local when unknown). */
const wallDate = (epochMs: number, zone: string | undefined): WallDate => {
  const formatter = zone === undefined ? undefined : zoneFormatter(zone)
  if (formatter === undefined) {
    const local = new Date(epochMs)
    return { year: local.getFullYear(), month: local.getMonth(), day: local.getDate() }
  }
  const asUtc = new Date(wallAsUtc(formatter, epochMs))
  return { year: asUtc.getUTCFullYear(), month: asUtc.getUTCMonth(), day: asUtc.getUTCDate() }
}

/** A time printed as "today" that is at most this far in the past is taken as just reset, not as tomorrow. */
const PAST_TOLERANCE = 5 * MINUTE

const toHour = (hour: number, meridiem: string | undefined): number => {
  if (meridiem === undefined) return hour
  const pm = meridiem.toLowerCase().startsWith("p")
  return (hour % 12) + (pm ? 12 : 0)
}

/**
 * Resolves a parsed wall-clock time: with a full date it is exact; with a month and day the year is
 * this one (next one when that is over a month past); with a time only it is the next occurrence of
 * that time (a time up to five minutes past counts as now-ish: the limit has just reset).
 */
const resolveWall = (
  parts: {
    readonly month: string | undefined
    readonly day: string | undefined
    readonly year: string | undefined
    readonly hour: string
    readonly minute: string | undefined
    readonly meridiem: string | undefined
    readonly zone: string | undefined
  },
  nowMs: number
): number | undefined => {
  const hour = toHour(Number(parts.hour), parts.meridiem)
  const minute = parts.minute === undefined ? 0 : Number(parts.minute)
  if (hour > 23 || minute > 59) return undefined
  const zone = parts.zone?.trim()
  const today = wallDate(nowMs, zone)
  if (parts.month !== undefined && parts.day !== undefined) {
    const month = months.indexOf(parts.month.slice(0, 3).toLowerCase())
    if (month < 0) return undefined
    const day = Number(parts.day)
    if (parts.year !== undefined) return fromWall({ year: Number(parts.year), month, day }, hour, minute, zone)
    const thisYear = fromWall({ year: today.year, month, day }, hour, minute, zone)
    return thisYear < nowMs - 30 * DAY ? fromWall({ year: today.year + 1, month, day }, hour, minute, zone) : thisYear
  }
  const candidate = fromWall(today, hour, minute, zone)
  return candidate < nowMs - PAST_TOLERANCE ? fromWall({ ...today, day: today.day + 1 }, hour, minute, zone) : candidate
}

const datePart = String.raw`(?:([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(\d{4}),?\s+)?(?:at\s+)?)?`

/** Codex: `try again at 3:28 PM.` or `try again at Sep 23rd, 2025 3:28 PM.` */
const tryAgainAt = new RegExp(String.raw`try again at\s+${datePart}(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?`, "i")

/** Claude: `resets 2am`, `resets Oct 1, 2am (Asia/Seoul)`, `resets at 14:30 (UTC)`. */
const resetsAt = new RegExp(
  String.raw`\bresets?\s+(?:at\s+|on\s+)?${datePart}(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?(?:\s*\(([^)]+)\))?`,
  "i"
)

/** `try again in 11.054s`, `try again in 5 minutes`, `resets in 2h 30m`. */
const inDelay =
  /(?:try again|retry|resets?)\s+(?:in|after)\s+((?:\d+(?:\.\d+)?\s*(?:ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\b[\s,]*(?:and\s+)?)+)/i

const delayUnits: ReadonlyArray<readonly [RegExp, number]> = [
  [/^ms|^millisecond/, 1],
  [/^s/, SECOND],
  [/^m/, MINUTE],
  [/^h/, HOUR],
  [/^d/, DAY]
]

const parseDelay = (text: string): number | undefined => {
  let total = 0
  let found = false
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+)/gi)) {
    const [, amount = "0", unit = ""] = match
    const scale = delayUnits.find(([pattern]) => pattern.test(unit.toLowerCase()))
    if (scale === undefined) return undefined
    total += Number(amount) * scale[1]
    found = true
  }
  return found ? Math.round(total) : undefined
}

/**
 * Reads when a usage limit resets from an agent CLI's error text:
 *
 * - Claude Code: `You've hit your weekly limit · resets Oct 1, 2am (Asia/Seoul)` (the zone in
 *   parentheses is honoured; without a year it is this year, or next year when that date is over a
 *   month past; a time only is its next occurrence), and the legacy `usage limit reached|<epoch s>`.
 * - Codex: `… or try again at 3:28 PM.` (next occurrence of that local time) and
 *   `… try again at Sep 23rd, 2025 3:28 PM.`
 * - Relative delays: `try again in 11.054s`, `retry after 5 minutes`, `resets in 2h 30m`.
 *
 * @example
 * ```ts
 * import { RateLimit } from "@speckit/agents"
 *
 * RateLimit.resetFromText("Rate limit reached. Please try again in 20s.", 0) // 20000
 * ```
 *
 * @since 0.1.0
 */
export const resetFromText = (text: string, nowMs: number): number | undefined => {
  const legacy = /limit reached\|(\d{9,13})/i.exec(text)
  if (legacy?.[1] !== undefined) return parseInstant(Number(legacy[1]))
  const delay = inDelay.exec(text)
  if (delay?.[1] !== undefined) {
    const ms = parseDelay(delay[1])
    if (ms !== undefined) return nowMs + ms
  }
  const clock = tryAgainAt.exec(text) ?? resetsAt.exec(text)
  if (clock === null) return undefined
  const [, month, day, year, hour, minute, meridiem, zone] = clock
  // A bare number ("resets 2") is no time: require minutes or am/pm.
  if (hour === undefined || (minute === undefined && meridiem === undefined)) return undefined
  return resolveWall({ month, day, year, hour, minute, meridiem, zone }, nowMs)
}

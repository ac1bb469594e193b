/**
 * The events a run's log already holds, as a multiset a resumed run takes its replayed events from:
 * each logged event answers one replayed event equal to it (the same fields and values, whatever
 * their order; `at`, when it was logged, aside).
 *
 * @internal
 */

/** A value as JSON with every object's keys sorted: equal values, equal text. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner
  )

/** The logged events of a run, each taken at most once. */
export interface LoggedEvents {
  /** Whether the log holds `event` not taken yet (and takes it). */
  readonly take: (event: object) => boolean
}

/** The multiset of `lines` (the run's log, each with its `at`). */
export const fromLog = (lines: ReadonlyArray<unknown>): LoggedEvents => {
  const counts = new Map<string, number>()
  for (const line of lines) {
    if (line === null || typeof line !== "object") continue
    const { at: _at, ...event } = line as Record<string, unknown>
    const key = canonical(event)
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return {
    take: (event) => {
      if (counts.size === 0) return false
      const key = canonical(event)
      const count = counts.get(key) ?? 0
      if (count === 0) return false
      if (count === 1) counts.delete(key)
      else counts.set(key, count - 1)
      return true
    }
  }
}

/**
 * A tiny pure pseudo-random generator (mulberry32) whose whole state is one 32-bit integer, so a
 * seeded fault sequence can live in a `Ref` and be advanced atomically.
 */

/** Hashes a seed (FNV-1a over its decimal or textual form) to a 32-bit starting state. */
export const seedState = (seed: number | string): number => {
  const text = String(seed)
  let hash = 0x811c9dc5
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** Draws a number in `[0, 1)` and returns it with the next state. */
export const next = (state: number): readonly [number, number] => {
  const advanced = (state + 0x6d2b79f5) >>> 0
  let t = advanced
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, advanced]
}

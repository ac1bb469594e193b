/**
 * The contract between `bench/run.ts` and the `bench/*.bench.ts` modules, plus small helpers.
 *
 * A benchmark measures something (`measured`) and a reference taken in the same process run
 * (`baseline`); the runner prints `ratio = measured / baseline` and checks it against `target`.
 */

/** One figure of a benchmark, optionally with the samples it summarizes. */
export interface Measurement {
  readonly label: string
  readonly value: number
  readonly unit: string
  readonly samples?: ReadonlyArray<number> | undefined
}

/** What a benchmark reports. The runner computes `measured.value / baseline.value`. */
export interface BenchResult {
  readonly baseline: Measurement
  readonly measured: Measurement
  /** Further figures printed in the table (references, breakdowns); not part of the ratio. */
  readonly extra?: ReadonlyArray<Measurement> | undefined
  /** Further figures with a goal of their own (an issue's "done when" items), each printed PASS or MISS. */
  readonly goals?: ReadonlyArray<Goal> | undefined
  readonly details?: Record<string, unknown> | undefined
}

/** A figure and its goal: `max`, at or below `limit`; `min`, at or above it. */
export interface Goal extends Measurement {
  readonly limit: number
  readonly direction: "max" | "min"
}

/** Whether a value meets a goal. */
export const meets = (value: number, goal: { readonly limit: number; readonly direction: "max" | "min" }): boolean =>
  goal.direction === "max" ? value <= goal.limit : value >= goal.limit

/** `max`: the ratio must stay at or below `ratio`; `min`: at or above it. */
export interface Target {
  readonly ratio: number
  readonly direction: "max" | "min"
}

/** What a `bench/*.bench.ts` module exports as its default export. */
export interface Benchmark {
  readonly name: string
  readonly description: string
  readonly target?: Target | undefined
  readonly run: () => Promise<BenchResult>
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

/** Checks a module's default export at runtime, since modules are loaded dynamically. */
export const isBenchmark = (value: unknown): value is Benchmark =>
  isRecord(value) &&
  typeof value.name === "string" &&
  typeof value.description === "string" &&
  typeof value.run === "function" &&
  (value.target === undefined ||
    (isRecord(value.target) &&
      typeof value.target.ratio === "number" &&
      (value.target.direction === "max" || value.target.direction === "min")))

/** The median of some samples (the mean of the middle two for an even count). */
export const median = (samples: ReadonlyArray<number>): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const upper = sorted[mid] ?? Number.NaN
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? upper) + upper) / 2
}

/** Runs `task` `warmup` times unmeasured, then `runs` times, returning each run's wall time in ms. */
export const sample = async (options: {
  readonly runs: number
  readonly warmup: number
  readonly task: () => Promise<unknown>
}): Promise<Array<number>> => {
  for (let i = 0; i < options.warmup; i++) await options.task()
  const samples: Array<number> = []
  for (let i = 0; i < options.runs; i++) {
    const started = performance.now()
    await options.task()
    samples.push(performance.now() - started)
  }
  return samples
}

/** Rounds to 2 decimals, for printing and JSON. */
export const round2 = (value: number): number => Math.round(value * 100) / 100

/** Rounds to 3 decimals: a small figure (a fraction of a millisecond) held against a limit. */
export const round3 = (value: number): number => Math.round(value * 1000) / 1000

/** A figure in milliseconds: the median of `samples`, with the samples (rounded to 0.01 ms). */
export const ms = (label: string, samples: ReadonlyArray<number>): Measurement => ({
  label,
  value: round2(median(samples)),
  unit: "ms",
  samples: samples.map(round2)
})

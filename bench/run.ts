/**
 * The benchmark runner: loads every `bench/*.bench.ts`, runs them one after another and prints, for
 * each, its measurements and `ratio = measured / baseline` against the benchmark's target.
 *
 * Usage: tsx bench/run.ts [name ...] [--json] [--strict]
 *
 * A benchmark may also report goals of single figures (`goals`: e.g. CPU per agent call ≤ 0.25 ms),
 * each printed PASS or MISS under its ratio.
 *
 * Exit code: 1 when a benchmark crashes, cannot be loaded, or no benchmark matches the names;
 * 2 under `--strict` when a target or a goal is missed; 0 otherwise (a miss alone prints MISS but passes).
 */
import { readdir } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { type Benchmark, type BenchResult, type Goal, isBenchmark, meets, round2, type Target } from "./Bench.ts"

type Verdict = "PASS" | "MISS" | "NONE"

type Outcome =
  | {
      readonly name: string
      readonly status: "ok"
      readonly verdict: Verdict
      readonly ratio: number
      readonly target: Target | undefined
      readonly durationMs: number
      readonly result: BenchResult
    }
  | { readonly name: string; readonly status: "crashed"; readonly error: string; readonly durationMs: number }

const args = process.argv.slice(2)
const json = args.includes("--json")
const strict = args.includes("--strict")
const names = args.filter((arg) => !arg.startsWith("--"))
const log = (text: string) => (json ? process.stderr : process.stdout).write(`${text}\n`)

const errorText = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error))

const load = async (): Promise<{ benchmarks: Array<Benchmark>; failures: Array<Outcome> }> => {
  const dir = dirname(fileURLToPath(import.meta.url))
  const files = (await readdir(dir)).filter((file) => file.endsWith(".bench.ts")).sort()
  const benchmarks: Array<Benchmark> = []
  const failures: Array<Outcome> = []
  for (const file of files) {
    try {
      const module: { readonly default?: unknown } = await import(pathToFileURL(join(dir, file)).href)
      if (!isBenchmark(module.default)) throw new Error(`${file} does not default-export a Benchmark`)
      benchmarks.push(module.default)
    } catch (error) {
      failures.push({ name: file, status: "crashed", error: errorText(error), durationMs: 0 })
    }
  }
  return { benchmarks, failures }
}

const verdictOf = (ratio: number, target: Target | undefined): Verdict => {
  if (!target) return "NONE"
  return meets(ratio, { limit: target.ratio, direction: target.direction }) ? "PASS" : "MISS"
}

const goalVerdict = (goal: Goal): Verdict => (meets(goal.value, goal) ? "PASS" : "MISS")

const runOne = async (benchmark: Benchmark): Promise<Outcome> => {
  const started = performance.now()
  try {
    const result = await benchmark.run()
    const ratio = result.measured.value / result.baseline.value
    if (!Number.isFinite(ratio))
      throw new Error(`ratio is not finite (${result.measured.value} / ${result.baseline.value})`)
    return {
      name: benchmark.name,
      status: "ok",
      verdict: verdictOf(ratio, benchmark.target),
      ratio,
      target: benchmark.target,
      durationMs: performance.now() - started,
      result
    }
  } catch (error) {
    return { name: benchmark.name, status: "crashed", error: errorText(error), durationMs: performance.now() - started }
  }
}

/** Two decimals; three below 1 (a fraction of a millisecond against its limit must not round to it). */
const fmt = (value: number) => (Math.abs(value) < 1 && value !== 0 ? value.toFixed(3) : value.toFixed(2))

const report = (outcome: Extract<Outcome, { status: "ok" }>) => {
  const { result } = outcome
  const rows = [
    { role: "baseline", ...result.baseline },
    { role: "measured", ...result.measured },
    ...(result.extra ?? []).map((m) => ({ role: "", ...m }))
  ]
  const labelWidth = Math.max(...rows.map((row) => row.label.length))
  for (const row of rows) {
    const samples = row.samples ? `  [${row.samples.map(fmt).join(", ")}]` : ""
    log(
      `  ${row.role.padEnd(8)}  ${row.label.padEnd(labelWidth)}  ${fmt(row.value).padStart(10)} ${row.unit}${samples}`
    )
  }
  for (const [key, value] of Object.entries(result.details ?? {}))
    log(`  ${"".padEnd(8)}  ${key}: ${JSON.stringify(value)}`)
  const { target } = outcome
  const check = target ? ` ${target.direction === "max" ? "<=" : ">="} ${fmt(target.ratio)}` : " (no target)"
  log(`  ${outcome.verdict === "NONE" ? "INFO" : outcome.verdict} ratio ${fmt(outcome.ratio)}${check}`)
  for (const goal of result.goals ?? []) {
    const samples = goal.samples ? `  [${goal.samples.map(fmt).join(", ")}]` : ""
    log(
      `  ${goalVerdict(goal)} ${goal.label} ${fmt(goal.value)} ${goal.unit} ${goal.direction === "max" ? "<=" : ">="} ${fmt(goal.limit)}${samples}`
    )
  }
}

const main = async () => {
  const { benchmarks, failures } = await load()
  const selected = names.length === 0 ? benchmarks : benchmarks.filter((b) => names.includes(b.name))
  const outcomes: Array<Outcome> = [...failures]
  if (selected.length === 0) {
    const known = benchmarks.map((b) => b.name).join(", ") || "none"
    log(`no benchmark matches ${names.join(", ") || "(all)"}; known: ${known}`)
    process.exitCode = 1
  }
  for (const failure of failures)
    log(`✖ ${failure.name} CRASH (load)\n${failure.status === "crashed" ? failure.error : ""}`)
  for (const benchmark of selected) {
    log(`▶ ${benchmark.name}: ${benchmark.description}`)
    const outcome = await runOne(benchmark)
    outcomes.push(outcome)
    if (outcome.status === "ok") report(outcome)
    else log(`  CRASH ${outcome.error}`)
    log(`  (${(outcome.durationMs / 1000).toFixed(1)} s)\n`)
  }
  if (json) {
    const out = outcomes.map((outcome) =>
      outcome.status === "ok"
        ? {
            name: outcome.name,
            status: outcome.status,
            verdict: outcome.verdict,
            ratio: round2(outcome.ratio),
            target: outcome.target,
            baseline: outcome.result.baseline,
            measured: outcome.result.measured,
            extra: outcome.result.extra ?? [],
            goals: (outcome.result.goals ?? []).map((goal) => ({ ...goal, verdict: goalVerdict(goal) })),
            details: outcome.result.details ?? {},
            durationMs: round2(outcome.durationMs)
          }
        : outcome
    )
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
  }
  if (outcomes.some((outcome) => outcome.status === "crashed")) process.exitCode = 1
  else if (
    strict &&
    outcomes.some(
      (outcome) =>
        outcome.status === "ok" &&
        (outcome.verdict === "MISS" || (outcome.result.goals ?? []).some((goal) => goalVerdict(goal) === "MISS"))
    )
  ) {
    process.exitCode = process.exitCode ?? 2
  }
}

await main()

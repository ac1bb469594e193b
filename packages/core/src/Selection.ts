/**
 * How the winning candidate is chosen, by evidence first (pure, independent of the order of its
 * inputs):
 *
 * 1. A candidate that does not pass a check that passed on the base commit is out (a regression).
 * 2. Among the rest, those that pass more checks come first (a check that failed on the base and passes
 *    on a candidate is evidence that it does the work, as a reproduction test is).
 * 3. Then the validate agents' rankings, as a Borda count: on each ballot, a candidate gets one point
 *    for every surviving candidate ranked below it (candidates a ballot leaves out are ranked below all
 *    it names, level with each other).
 * 4. Ties: fewer lines changed (added + removed), then the agents' configured order.
 *
 * No survivor: the stage fails, with the check results as the reason. With `checks-only` selection
 * there are no ballots: the first candidate in the order above wins.
 *
 * @since 0.3.0
 */
import { Schema } from "effect"

/**
 * The result of one check run.
 *
 * @since 0.3.0
 */
export const CheckStatus = Schema.Literals(["pass", "fail", "timeout", "error"])

/**
 * @since 0.3.0
 */
export type CheckStatus = typeof CheckStatus.Type

/**
 * A candidate's evidence: its check results (by check name), its size and its agent's place in the
 * configuration.
 *
 * @since 0.3.0
 */
export interface Evidence {
  readonly agent: string
  /** The agent's position in the stage's configured agents (ties are broken by it). */
  readonly order: number
  /** Lines added + removed. */
  readonly lines: number
  readonly checks: Readonly<Record<string, CheckStatus>>
}

/**
 * One validate agent's ranking of the candidates (agent ids, best first).
 *
 * @since 0.3.0
 */
export type Ballot = ReadonlyArray<string>

/**
 * A candidate's place in the selection.
 *
 * @since 0.3.0
 */
export interface Ranked {
  readonly agent: string
  readonly passed: number
  readonly borda: number
  readonly lines: number
  /** The checks that passed on the base and not on it. */
  readonly regressions: ReadonlyArray<string>
}

/**
 * What the selection decided.
 *
 * @since 0.3.0
 */
export type Selected =
  | {
      readonly _tag: "Selected"
      readonly winner: string
      /** Every surviving candidate, best first. */
      readonly order: ReadonlyArray<Ranked>
      /** The candidates out for a regression. */
      readonly out: ReadonlyArray<Ranked>
      /** Why the winner won, in one sentence (without its name). */
      readonly reason: string
    }
  | { readonly _tag: "NoSurvivor"; readonly out: ReadonlyArray<Ranked>; readonly reason: string }

/** The Borda points of each candidate in `survivors` from `ballots`. */
const bordaCount = (survivors: ReadonlyArray<string>, ballots: ReadonlyArray<Ballot>): Map<string, number> => {
  const points = new Map(survivors.map((agent) => [agent, 0]))
  for (const ballot of ballots) {
    const ranked = [...new Set(ballot)].filter((agent) => points.has(agent))
    for (const [index, agent] of ranked.entries()) {
      points.set(agent, (points.get(agent) ?? 0) + (survivors.length - 1 - index))
    }
  }
  return points
}

const describe = (checks: Readonly<Record<string, CheckStatus>>) =>
  Object.keys(checks)
    .sort()
    .map((name) => `${name} ${checks[name]}`)
    .join(", ")

/**
 * Chooses among candidates (see the module).
 *
 * @example
 * ```ts
 * import { Selection } from "@speckit/core"
 *
 * Selection.select(
 *   { test: "pass" },
 *   [
 *     { agent: "a", order: 0, lines: 10, checks: { test: "fail" } },
 *     { agent: "b", order: 1, lines: 12, checks: { test: "pass" } }
 *   ],
 *   []
 * ) // winner "b": "a" regressed on test
 * ```
 *
 * @since 0.3.0
 */
export const select = (
  base: Readonly<Record<string, CheckStatus>>,
  candidates: ReadonlyArray<Evidence>,
  ballots: ReadonlyArray<Ballot>
): Selected => {
  const assess = (candidate: Evidence) => ({
    candidate,
    regressions: Object.keys(base)
      .filter((check) => base[check] === "pass" && candidate.checks[check] !== "pass")
      .sort(),
    passed: Object.values(candidate.checks).filter((status) => status === "pass").length
  })
  const assessed = candidates.map(assess)
  const rankedOf = (entry: ReturnType<typeof assess>, borda: number): Ranked => ({
    agent: entry.candidate.agent,
    passed: entry.passed,
    borda,
    lines: entry.candidate.lines,
    regressions: entry.regressions
  })
  const out = assessed
    .filter((entry) => entry.regressions.length > 0)
    .map((entry) => rankedOf(entry, 0))
    .sort((a, b) => a.agent.localeCompare(b.agent))
  const alive = assessed.filter((entry) => entry.regressions.length === 0)
  if (alive.length === 0) {
    const detail = assessed
      .map((entry) => `${entry.candidate.agent}: ${describe(entry.candidate.checks)}`)
      .sort()
      .join("; ")
    return {
      _tag: "NoSurvivor",
      out,
      reason:
        candidates.length === 0
          ? "no candidate to choose from"
          : `every candidate fails a check that passes on the base (${describe(base)}): ${detail}`
    }
  }
  const points = bordaCount(
    alive.map((entry) => entry.candidate.agent),
    ballots
  )
  const order = alive
    .map((entry) => ({ entry, borda: points.get(entry.candidate.agent) ?? 0 }))
    .sort(
      (a, b) =>
        b.entry.passed - a.entry.passed ||
        b.borda - a.borda ||
        a.entry.candidate.lines - b.entry.candidate.lines ||
        a.entry.candidate.order - b.entry.candidate.order ||
        a.entry.candidate.agent.localeCompare(b.entry.candidate.agent)
    )
    .map(({ entry, borda }) => rankedOf(entry, borda))
  const [winner, runnerUp] = order
  if (winner === undefined) return { _tag: "NoSurvivor", out, reason: "no candidate to choose from" }
  const why =
    runnerUp === undefined
      ? "the only candidate without a regression"
      : winner.passed > runnerUp.passed
        ? `it passes the most checks (${winner.passed})`
        : winner.borda > runnerUp.borda
          ? `the validate agents rank it best (Borda ${winner.borda} against ${runnerUp.borda})`
          : winner.lines < runnerUp.lines
            ? `level on checks and rankings, it changes the fewest lines (${winner.lines})`
            : "level on checks, rankings and size, it comes first in the configured agent order"
  return {
    _tag: "Selected",
    winner: winner.agent,
    order,
    out,
    reason: `${why}${out.length > 0 ? `; out for a regression: ${out.map((r) => `${r.agent} (${r.regressions.join(", ")})`).join(", ")}` : ""}`
  }
}

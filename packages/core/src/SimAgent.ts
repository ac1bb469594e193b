/**
 * Simulated agents: the embedded default provider. They answer every stage with a realistic result
 * derived from the spec's text, deterministic for a seed, after a configurable latency, and report
 * token usage like a real model would.
 *
 * @since 0.1.0
 */
import { Duration, Effect, type FileSystem, type Path } from "effect"
import { AgentError } from "./AgentError.ts"
import type * as Agent from "./Agent.ts"
import type { AgentId } from "./AgentId.ts"
import * as SimChanges from "./internal/simChanges.ts"
import { outline, prng, slug } from "./internal/specText.ts"
import type { Stage } from "./Stage.ts"
import * as ResultMerge from "./ResultMerge.ts"
import * as TokenUsage from "./TokenUsage.ts"

/**
 * Options of a simulated agent.
 *
 * @since 0.1.0
 */
export interface SimAgentOptions {
  readonly id: AgentId
  readonly model?: string | undefined
  readonly latencyMs?: number | undefined
  readonly seed?: number | undefined
  /**
   * The share of its changes (0 to 1, default 0) in which the agent writes a flawed variant: a failing
   * test, a weakened or a deleted existing test (deterministic per seed and spec).
   *
   * @since 0.3.0
   */
  readonly flawRate?: number | undefined
  /**
   * The file system it edits worktrees with (given a `workdir`, it writes real files); without one it
   * does not edit and only describes its changes.
   *
   * @since 0.3.0
   */
  readonly files?: { readonly fs: FileSystem.FileSystem; readonly path: Path.Path } | undefined
}

/**
 * Estimates a token count from text length (about four characters a token).
 *
 * @since 0.1.0
 */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4)

const pick = <A>(random: () => number, items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)] as A

/**
 * Produces the stage result a simulated agent answers for a request, as a JSON-ready object. Asked
 * for a synthesis (`request.synthesisOf`), it answers `ResultMerge.synthesize` of the given answers.
 *
 * @example
 * ```ts
 * import { SimAgent } from "@speckit/core"
 *
 * declare const request: import("@speckit/core").Agent.AgentRequest
 * const result = SimAgent.answer(request, 1)
 * ```
 *
 * @since 0.1.0
 */
/**
 * A validate answer over candidates: those with a regression or changing existing tests fail; the rest
 * pass; ranked by checks passed, then the fewest lines.
 */
const judgeCandidates = (
  base: { readonly stage: Stage; readonly agent: AgentId },
  candidates: ReadonlyArray<Agent.CandidateView>
): Record<string, unknown> => {
  const bad = (c: Agent.CandidateView) => c.regressions.length > 0 || c.changedTests.length > 0
  const ranking = [...candidates].sort(
    (a, b) => Number(bad(a)) - Number(bad(b)) || b.passed - a.passed || a.lines - b.lines || a.id.localeCompare(b.id)
  )
  const verdicts = candidates.map((c) => ({
    id: c.id,
    verdict: bad(c) ? "fail" : "pass",
    reason:
      c.regressions.length > 0
        ? `fails ${c.regressions.join(", ")}, which pass on the base`
        : c.changedTests.length > 0
          ? `changes existing tests: ${c.changedTests.join(", ")}`
          : `passes ${c.passed} check(s) with ${c.lines} line(s) changed`
  }))
  return {
    ...base,
    summary: `${verdicts.filter((v) => v.verdict === "pass").length} of ${candidates.length} candidates pass; ${ranking[0]?.id ?? "none"} is the best.`,
    test_strategy: ["Run the project's checks on the base and on every candidate; compare."],
    verdict: verdicts.some((v) => v.verdict === "pass") ? "pass" : "fail",
    candidates: verdicts,
    ranking: ranking.map((c) => c.id)
  }
}

export const answer = (request: Agent.AgentRequest, seed: number): Record<string, unknown> => {
  // As an aggregator: the deterministic merge of the answers, with agreements and conflicts.
  const synthesis = request.synthesisOf ? ResultMerge.synthesize(request.synthesisOf, request.agent) : undefined
  if (synthesis !== undefined) return { ...synthesis }
  const spec = outline(request.spec.title, request.spec.text)
  const random = prng(`${seed}/${request.stage}/${request.spec.id}`)
  const focus = spec.keywords.slice(0, 3).join(", ") || "the spec"
  const base = { stage: request.stage, agent: request.agent }
  const reqs = spec.requirements
  const stage: Stage = request.stage
  switch (stage) {
    case "plan": {
      const extra = random() < 0.5
      const work = reqs.map((req, i) => ({
        id: `W${i + 1}`,
        title: req,
        detail: pick(random, [
          "design the interface first, then implement it behind it with unit tests",
          "implement it in its own module with unit tests and wire it into the existing flow",
          "build it test-first: a failing test per rule, then the code"
        ])
      }))
      if (extra) {
        work.push({
          id: `W${work.length + 1}`,
          title: "Observability and error reporting",
          detail: `Add structured logs and clear error messages around ${focus}.`
        })
      }
      const criteria = spec.criteria.length > 0 ? spec.criteria : reqs.slice(0, 3)
      return {
        ...base,
        summary: `Deliver "${spec.title}" in ${work.length} steps, starting with ${reqs[0] ?? focus}; every acceptance criterion maps to at least one step and one check.`,
        work_breakdown: work,
        acceptance_mapping: criteria.map((criterion, i) => ({
          criterion,
          covered_by: [`W${Math.min(i + 1, reqs.length)}`],
          check: `An automated test shows: ${criterion.charAt(0).toLowerCase()}${criterion.slice(1)}.`
        }))
      }
    }
    case "tasks":
      return {
        ...base,
        summary: `${reqs.length + 1} tasks, each independently verifiable, ending with an end-to-end check.`,
        tasks: [
          ...reqs.map((req, i) => ({
            id: `T${i + 1}`,
            title: req,
            depends_on: i === 0 ? [] : [`T${i}`],
            done_when: `Tests for "${req}" pass in CI.`
          })),
          {
            id: `T${reqs.length + 1}`,
            title: "End-to-end acceptance test",
            depends_on: reqs.map((_, i) => `T${i + 1}`),
            done_when: "The acceptance criteria are exercised end to end and pass."
          }
        ]
      }
    case "implement": {
      const module = slug(spec.title)
      return {
        ...base,
        summary: `Implement ${spec.title} in a new ${module} module with tests, touching the existing entry point only to wire it in.`,
        changes: [
          { path: `src/${module}/index.ts`, action: "create", description: `Entry point of ${spec.title}.` },
          ...reqs.slice(0, 6).map((req) => ({
            path: `src/${module}/${slug(req)}.ts`,
            action: "create" as const,
            description: req
          })),
          { path: `test/${module}.test.ts`, action: "create", description: "Unit and acceptance tests." },
          {
            path: pick(random, ["src/main.ts", "src/app.ts", "src/index.ts"]),
            action: "modify",
            description: `Register the ${module} module.`
          }
        ]
      }
    }
    case "validate":
      if (request.candidates !== undefined) return judgeCandidates(base, request.candidates)
      return {
        ...base,
        summary: `The changes cover ${reqs.length} requirements; the strategy below checks each acceptance criterion.`,
        test_strategy: [
          ...reqs.slice(0, 4).map((req) => `Unit test: ${req}`),
          "Acceptance test: run the main flow end to end against a real instance.",
          pick(random, ["Property test the input validation.", "Fuzz the parser with malformed input."])
        ],
        verdict: "pass"
      }
    case "audit":
      return {
        ...base,
        summary: `No blocking findings; ${focus} handled with validated input and explicit errors.`,
        findings: [
          {
            severity: pick(random, ["info", "low"] as const),
            title: pick(random, ["Log redaction", "Rate limiting", "Dependency pinning"]),
            detail: `Review ${focus} for ${pick(random, ["secrets in logs", "abuse by repeated requests", "unpinned transitive dependencies"])}.`
          }
        ],
        verdict: "pass"
      }
    case "unlock":
      return {
        ...base,
        summary: `Plan, tasks, implementation, validation and audit agree that "${spec.title}" is ready.`,
        decision: "unlock"
      }
  }
}

/**
 * Makes a simulated agent.
 *
 * @example
 * ```ts
 * import { AgentId, SimAgent } from "@speckit/core"
 *
 * const alpha = SimAgent.make({ id: AgentId.make("alpha"), model: "sim-large", latencyMs: 50, seed: 1 })
 * ```
 *
 * @since 0.1.0
 */
export const make = (options: SimAgentOptions): Agent.Agent => {
  const model = options.model ?? "sim-large"
  const latency = Duration.millis(options.latencyMs ?? 100)
  const seed = options.seed ?? 0
  const files = options.files
  const edit = (request: Agent.AgentRequest) =>
    files === undefined || request.workdir === undefined
      ? Effect.void
      : editWorktree(files, request.workdir, request, seed, options.flawRate ?? 0).pipe(
          Effect.mapError(
            (error) =>
              new AgentError({
                agent: options.id,
                kind: "ServerError",
                detail: `the simulated agent could not edit its worktree: ${error.message}`
              })
          )
        )
  return {
    id: options.id,
    provider: "sim",
    model,
    edits: files !== undefined,
    // The answer is worked out first, then delivered after the latency: the latency is the whole call.
    call: (request) =>
      Effect.suspend(() => {
        const text = JSON.stringify(answer(request, seed))
        const input = estimateTokens(request.prompt)
        const output = estimateTokens(text)
        const cachedInput = request.stage === "plan" ? 0 : Math.min(input, estimateTokens(request.spec.text))
        const reasoning = model === "sim-large" ? Math.floor(output / 4) : 0
        return Effect.as(Effect.andThen(Effect.sleep(latency), edit(request)), {
          text,
          model,
          usage: TokenUsage.make({ input, cachedInput, output, reasoning })
        })
      })
  }
}

/** The files of a worktree, repository-relative, without `.git` and `node_modules`. */
const listFiles = (files: NonNullable<SimAgentOptions["files"]>, root: string) =>
  Effect.gen(function* () {
    const found: Array<string> = []
    const walk = (relative: string): Effect.Effect<void, Error> =>
      Effect.gen(function* () {
        const entries = yield* files.fs.readDirectory(files.path.join(root, relative))
        for (const entry of entries.sort()) {
          if (entry === ".git" || entry === "node_modules" || entry === ".speckit") continue
          const child = relative === "" ? entry : `${relative}/${entry}`
          const info = yield* files.fs.lstat(files.path.join(root, child))
          if (info.type === "Directory") yield* walk(child)
          else if (info.type === "File") found.push(child)
        }
      })
    yield* walk("")
    return found
  })

/** Writes the changes the agent plans for the spec into its worktree (see `internal/simChanges`). */
const editWorktree = (
  files: NonNullable<SimAgentOptions["files"]>,
  root: string,
  request: Agent.AgentRequest,
  seed: number,
  flawRate: number
) =>
  Effect.gen(function* () {
    const listed = yield* listFiles(files, root)
    const texts = new Map<string, string>()
    for (const file of listed) {
      if (file === "package.json" || /^(src|lib|test|tests)\//.test(file)) {
        texts.set(file, yield* files.fs.readFileString(files.path.join(root, file)))
      }
    }
    const planned = SimChanges.plan({
      title: request.spec.title,
      text: request.spec.text,
      repo: { files: listed, read: (file) => texts.get(file) },
      seed,
      flawRate
    })
    for (const change of planned.changes) {
      const target = files.path.join(root, change.path)
      if (change._tag === "Delete") yield* files.fs.remove(target, { force: true })
      else {
        yield* files.fs.makeDirectory(files.path.dirname(target), { recursive: true })
        yield* files.fs.writeFileString(target, change.text)
      }
    }
  })

/**
 * Runs the project's checks on the base commit and on every candidate: each in a worktree of its own
 * (the base's made from the base commit, a candidate's from the base and its recorded patch; never the
 * user's checkout), at most `concurrency` check runs at a time. Each run is a step of the run: a resume
 * never runs a check again whose result was recorded (and makes no worktree for it).
 *
 * @since 0.3.0
 */
import { Effect, Result, Scope } from "effect"
import * as Checks from "./Checks.ts"
import { FaultInjector } from "./FaultInjector.ts"
import type { RunContext } from "./RunContext.ts"
import type { Stage } from "./Stage.ts"
import * as Worktrees from "./Worktrees.ts"

/**
 * What checks run on: `base`, or a candidate (its agent and patch).
 *
 * @since 0.3.0
 */
export interface Target {
  readonly name: string
  readonly patch?: string | undefined
}

/**
 * The name of the base among the targets.
 *
 * @since 0.3.0
 */
export const base = "base"

/**
 * Runs `checks` on every target (see the module); results in target order, then check order.
 *
 * @example
 * ```ts
 * import { CheckPhase } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * const program = CheckPhase.run(run, {
 *   stage: "validate",
 *   base: "0123abcd",
 *   targets: [{ name: CheckPhase.base }],
 *   checks: [{ name: "test", command: ["npm", "test"] }],
 *   concurrency: 2
 * })
 * ```
 *
 * @since 0.3.0
 */
export const run = (
  context: RunContext,
  input: {
    readonly stage: Stage
    readonly base: string
    readonly targets: ReadonlyArray<Target>
    readonly checks: ReadonlyArray<Checks.Check>
    readonly concurrency: number
  }
): Effect.Effect<ReadonlyArray<Checks.CheckResult>, never, FaultInjector> =>
  Effect.scoped(
    Effect.gen(function* () {
      const worktrees = yield* Worktrees.Worktrees
      const runner = yield* Checks.Checks
      const faults = yield* FaultInjector
      // A target's worktree is made once (when first needed, or ahead), in the phase's own scope (a
      // step's scope ends with the step), and removed when the phase ends.
      const phase = yield* Effect.scope
      const trees = new Map<string, Effect.Effect<string, Worktrees.WorktreeError>>()
      for (const target of input.targets) {
        const open = worktrees.open({
          runId: context.runId,
          name: `check-${target.name}`,
          base: input.base,
          patch: target.patch
        })
        trees.set(target.name, yield* Effect.cached(Scope.provide(open, phase)))
      }
      // In a fresh phase, the worktrees are made ahead, one at a time in the background, so that making
      // the next one overlaps the checks running now (a check joins its target's cached open). A resumed
      // phase makes them only when an unrecorded check needs one.
      if (!context.replaying() && input.checks.length > 0) {
        const ahead = Effect.forEach(input.targets, (target) => Effect.ignore(trees.get(target.name) ?? Effect.void), {
          discard: true
        })
        yield* Effect.forkIn(ahead, phase)
      }
      const jobs = input.targets.flatMap((target) => input.checks.map((check) => ({ target, check })))
      return yield* Effect.forEach(
        jobs,
        ({ target, check }) =>
          Effect.gen(function* () {
            const done = yield* context.step({
              name: `check/${input.stage}/${target.name}/${check.name}`,
              success: Checks.CheckResult,
              execute: Effect.gen(function* () {
                const tree = yield* Effect.result(trees.get(target.name) ?? Effect.die("unknown target"))
                if (Result.isFailure(tree)) {
                  const failed: Checks.CheckResult = {
                    check: check.name,
                    candidate: target.name,
                    status: "error",
                    durationMs: 0,
                    tail: [],
                    detail: tree.failure.message
                  }
                  return failed
                }
                yield* context.emit({
                  _tag: "CheckStarted",
                  stage: input.stage,
                  check: check.name,
                  candidate: target.name
                })
                const result = yield* runner.run(check, tree.success, target.name)
                yield* faults.crashPoint("after_check")
                return result
              })
            })
            yield* context.emit({ _tag: "CheckFinished", stage: input.stage, result: done.value })
            return done.value
          }),
        { concurrency: Math.max(1, input.concurrency) }
      )
    })
  )

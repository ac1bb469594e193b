/**
 * Runs a stage's agents: all of them concurrently, each through a step given by the stage kind, with
 * an early decision (once the consensus can no longer change, the agents still running are stopped,
 * cooperatively, so that their steps end with a `stopped` outcome) and budget refusals: a call the
 * budget refuses pauses the run for a raise when it can (then only the refused agents are called
 * again, the stage's other outcomes are kept), else the stage stops.
 *
 * @since 0.3.0
 */
import { Effect } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { UnknownAgent } from "./AgentRegistry.ts"
import { Budget, type BudgetExceeded } from "./Budget.ts"
import { Consensus } from "./Consensus.ts"
import type { RunContext } from "./RunContext.ts"
import type { RunStoreError } from "./RunStore.ts"
import type { StagePolicy } from "./SpeckitConfig.ts"
import type { Stage } from "./Stage.ts"
import type { Pauses, Stopped } from "./StageDefinition.ts"
import * as StageRunner from "./StageRunner.ts"

/**
 * One agent's step in the stage: `stop` comes once the stage is settled; `generation` counts the
 * stage's attempts (a call made again after a budget raise is another step).
 *
 * @since 0.3.0
 */
export type AgentStepOf<R> = (
  agent: AgentId,
  stop: StageRunner.Stop,
  generation: number
) => Effect.Effect<AgentOutcome, RunStoreError | BudgetExceeded | UnknownAgent, R>

/**
 * Runs the agents of `policy` through `step` (see the module). Returns the stage's run, or how it
 * stopped when the budget refused a call and no raise came.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentStep, SpeckitConfig, StageAgents } from "@speckit/core"
 *
 * declare const run: import("@speckit/core").RunContext.RunContext
 * declare const pauses: import("@speckit/core").StageDefinition.Pauses
 * const policy = SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan")
 * const program = StageAgents.run(run, "plan", policy, pauses, (agent, stop, generation) =>
 *   AgentStep.call(run, { stage: "plan", agent, previous: "", stop, generation })
 * )
 * ```
 *
 * @since 0.3.0
 */
export const run = <R>(
  context: RunContext,
  stage: Stage,
  policy: StagePolicy,
  pauses: Pauses,
  step: AgentStepOf<R>
): Effect.Effect<StageRunner.StageRun | Stopped, RunStoreError | UnknownAgent, R | Consensus> =>
  Effect.gen(function* () {
    const consensus = yield* Consensus
    // Agents whose call the budget refused, per generation; the others' outcomes are kept.
    const kept = new Map<AgentId, AgentOutcome>()
    for (let generation = 1; ; generation++) {
      const refused = new Map<AgentId, BudgetExceeded>()
      const call = (agent: AgentId, stop: StageRunner.Stop) => {
        const known = kept.get(agent)
        if (known !== undefined) return Effect.succeed(known)
        return step(agent, stop, generation).pipe(
          Effect.catchTag("BudgetExceeded", (error) =>
            Effect.sync(() => {
              refused.set(agent, error)
              return StageRunner.interrupted(agent, "unknown", 0)
            })
          )
        )
      }
      const { settling } = consensus
      const ran = yield* StageRunner.runStage(policy, call, {
        settled: (outcomes) => refused.size === 0 && consensus.settled(policy, outcomes),
        // Each outcome is counted first, whether or not a call was refused.
        settling:
          settling === undefined
            ? undefined
            : () => {
                const settles = settling(policy)
                return (outcome) => settles(outcome) && refused.size === 0
              },
        cooperative: true
      })
      yield* context.phase.endRecovery(stage)
      const [first] = refused.values()
      if (first === undefined) {
        yield* reportStopped(context, stage, ran)
        return ran
      }
      const usd = yield* pauses.budget(stage, {
        name: `budget/${stage}/${generation}`,
        message: first.message,
        pause: first.action === "pause"
      })
      if (usd === undefined) return overBudget(first)
      const budget = yield* Budget
      if (budget.raise) yield* budget.raise(usd)
      for (const outcome of ran.outcomes) if (!refused.has(outcome.agent)) kept.set(outcome.agent, outcome)
      yield* context.phase.move({ _tag: "Running", stage })
    }
  })

/**
 * How a stage stops when the budget refused a call and no raise came.
 *
 * @example
 * ```ts
 * import { StageAgents } from "@speckit/core"
 *
 * declare const error: import("@speckit/core").Budget.BudgetExceeded
 * const stopped = StageAgents.overBudget(error)
 * ```
 *
 * @since 0.3.0
 */
export const overBudget = (error: BudgetExceeded): Stopped => ({
  _tag: "Stopped",
  reason: "budget exceeded",
  hint: `${error.message}; raise budget.usd in speckit.config.json to go on`
})

/** Reports the agents an early decision stopped: `AgentsStopped`, then each one's `AgentFinished`. */
const reportStopped = (context: RunContext, stage: Stage, ran: StageRunner.StageRun) =>
  Effect.gen(function* () {
    if (ran.stopped.length === 0) return
    yield* context.emit({
      _tag: "AgentsStopped",
      stage,
      agents: ran.stopped,
      reason: "early decision: the stage's outcome could no longer change"
    })
    const stopped = new Set(ran.stopped)
    for (const outcome of ran.outcomes) {
      if (stopped.has(outcome.agent)) yield* context.emit({ _tag: "AgentFinished", stage, outcome })
    }
  })

/**
 * Whether a stage's agents ran (rather than stopped over budget).
 *
 * @example
 * ```ts
 * import { StageAgents } from "@speckit/core"
 *
 * declare const ran: import("@speckit/core").StageRunner.StageRun | import("@speckit/core").StageDefinition.Stopped
 * if (StageAgents.isStopped(ran)) console.log(ran.reason)
 * ```
 *
 * @since 0.3.0
 */
export const isStopped = (ran: StageRunner.StageRun | Stopped): ran is Stopped => "_tag" in ran

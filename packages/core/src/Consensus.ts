/**
 * The consensus port: merges a stage's agent outcomes into one decision under the stage's policy.
 * `@speckit/consensus` provides its layers.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { CandidateRow } from "./Candidate.ts"
import type { CheckResult } from "./Checks.ts"
import type { Ranked } from "./Selection.ts"
import type { AgentId } from "./AgentId.ts"
import type { StagePolicy } from "./SpeckitConfig.ts"
import type { Stage } from "./Stage.ts"
import type { Synthesis } from "./ResultMerge.ts"
import type { StageResult } from "./StageResult.ts"

/**
 * How a stage ended.
 *
 * - `ok`: quorum met, every agent answered, no conflict.
 * - `degraded`: quorum met, but some agents failed.
 * - `conflict`: quorum met, but the answers disagree.
 * - `failed`: quorum not met.
 *
 * @since 0.1.0
 */
export type StageStatus = "ok" | "degraded" | "conflict" | "failed"

/**
 * The consensus of one stage.
 *
 * @since 0.1.0
 */
export interface StageConsensus {
  readonly stage: Stage
  readonly status: StageStatus
  /** The merged result, the next stage's input (absent when the quorum was not met). */
  readonly result?: StageResult | undefined
  /** For verdict stages: the winning vote. */
  readonly verdict?: string | undefined
  readonly agreements: ReadonlyArray<string>
  readonly conflicts: ReadonlyArray<string>
  /** Agents that answered but voted against the outcome. */
  readonly dissent: ReadonlyArray<AgentId>
  readonly succeeded: ReadonlyArray<AgentId>
  readonly failed: ReadonlyArray<AgentId>
  /**
   * Agents stopped by an early decision: the outcome was settled without them. They count neither
   * as failures (no `degraded`) nor against the quorum.
   */
  readonly stopped?: ReadonlyArray<AgentId> | undefined
  /** The quorum that applied, as a number of agents. */
  readonly required: number
  /** Why the stage is not `ok`, in one sentence. */
  readonly reason?: string | undefined
  /** The aggregator agent whose synthesis is the merged result (absent for the deterministic merge). */
  readonly aggregator?: AgentId | undefined
  /**
   * In a stage that makes real changes: every agent's candidate, accepted or not.
   *
   * @since 0.3.0
   */
  readonly candidates?: ReadonlyArray<CandidateRow> | undefined
  /**
   * In a stage that checks candidates: every check result, the base's (`candidate: "base"`) first.
   *
   * @since 0.3.0
   */
  readonly checks?: ReadonlyArray<CheckResult> | undefined
  /**
   * In a stage that chooses among candidates: what was chosen and why (see `Selection`).
   *
   * @since 0.3.0
   */
  readonly selection?: SelectionRecord | undefined
  /**
   * In an audit of real changes: the high or critical findings confirmed by the stage's quorum, which
   * block the release.
   *
   * @since 0.3.0
   */
  readonly blocking?: ReadonlyArray<string> | undefined
  /**
   * In the stage that delivers the change: the branch and commit it was delivered to.
   *
   * @since 0.3.0
   */
  readonly delivery?: Delivery | undefined
}

/**
 * A selection as recorded in a stage's consensus.
 *
 * @since 0.3.0
 */
export interface SelectionRecord {
  /** The chosen candidate's agent (absent when none survived). */
  readonly winner?: string | undefined
  readonly mode: "agents" | "checks-only"
  readonly order: ReadonlyArray<Ranked>
  readonly out: ReadonlyArray<Ranked>
  readonly reason: string
  /** Candidates that change tests existing on the base: agent and the tests. */
  readonly flagged: ReadonlyArray<{ readonly agent: string; readonly tests: ReadonlyArray<string> }>
  /** How the candidates were anonymised in the prompt: id → agent. */
  readonly ids: Readonly<Record<string, string>>
}

/**
 * Where a change was delivered.
 *
 * @since 0.3.0
 */
export interface Delivery {
  readonly branch: string
  readonly commit: string
  readonly base: string
  /** The candidate's agent. */
  readonly candidate: string
}

/**
 * What else a decision depends on besides the outcomes.
 *
 * @since 0.1.0
 */
export interface DecideOptions {
  /** Agents interrupted by an early decision (their outcomes are `Failed` with kind `Interrupted`). */
  readonly stopped?: ReadonlyArray<AgentId> | undefined
  /** For a content stage with an aggregator: what the aggregator made of the answers. */
  readonly aggregation?: Aggregation | undefined
}

/**
 * What a content stage's aggregator agent returned: its validated synthesis, or why there is none
 * (the consensus then falls back to the deterministic merge and says why in its `reason`).
 *
 * @example
 * ```ts
 * import { AgentId, type Consensus } from "@speckit/core"
 *
 * const failed: Consensus.Aggregation = { agent: AgentId.make("alpha"), failure: "Timeout: no answer within 30000 ms" }
 * ```
 *
 * @since 0.1.0
 */
export interface Aggregation {
  readonly agent: AgentId
  /** The aggregator's synthesis; absent when it failed or answered malformed results. */
  readonly synthesis?: Synthesis | undefined
  /** Why there is no synthesis, in a few words (the aggregator's last error). */
  readonly failure?: string | undefined
}

/**
 * The consensus service: `decide` merges outcomes into the stage's consensus; `settled` tells whether
 * the outcomes so far already fix the stage's outcome (its status class, proceed or halt, and its
 * verdict), so the remaining agents can be stopped. Both are pure and ignore arrival order.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Consensus, SpeckitConfig } from "@speckit/core"
 *
 * const decide = Effect.gen(function* () {
 *   const consensus = yield* Consensus.Consensus
 *   return yield* consensus.decide(SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan"), [])
 * })
 * ```
 *
 * @since 0.1.0
 */
export class Consensus extends Context.Service<
  Consensus,
  {
    readonly decide: (
      policy: StagePolicy,
      outcomes: ReadonlyArray<AgentOutcome>,
      options?: DecideOptions
    ) => Effect.Effect<StageConsensus>
    readonly settled: (policy: StagePolicy, outcomes: ReadonlyArray<AgentOutcome>) => boolean
    /**
     * `settled`, incrementally: makes the check of one stage run, given each outcome as it arrives,
     * which tells whether the outcomes given so far settle the stage. A stage calls it after every
     * answer, so a consensus that can should answer in constant time per outcome. Optional: without
     * it a stage calls `settled` with the outcomes so far.
     *
     * @since 0.4.0
     */
    readonly settling?: ((policy: StagePolicy) => (outcome: AgentOutcome) => boolean) | undefined
  }
>()("@speckit/core/Consensus") {}

/**
 * The number of successful answers a quorum rule requires out of `agents` agents.
 *
 * @example
 * ```ts
 * import { Consensus } from "@speckit/core"
 *
 * Consensus.required("majority", 3) // 2
 * Consensus.required("all", 3) // 3
 * ```
 *
 * @since 0.1.0
 */
export const required = (quorum: StagePolicy["quorum"], agents: number): number =>
  quorum === "all" ? agents : quorum === "majority" ? Math.floor(agents / 2) + 1 : Math.min(quorum, agents)

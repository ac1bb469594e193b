/**
 * The one place the benchmarks import the workspace's packages from. The root has no dependency on
 * `@speckit/*` or `@effect/platform-node`, so bare specifiers do not resolve from `bench/`; these
 * relative paths load the built `dist/` output (what `node packages/cli/dist/bin.js` runs) through the
 * same module instances the packages use among themselves. Build first (`pnpm build`).
 *
 * Once the root package.json lists `@speckit/cli`, `@speckit/core` (`workspace:*`) and
 * `@effect/platform-node` as devDependencies, replace these paths with the bare package names.
 */
// The module speckit imports (`@effect/platform-node/NodeServices`), not the package's barrel, which
// loads every driver it has (a Redis client among them).
export * as NodeServices from "../packages/cli/node_modules/@effect/platform-node/dist/NodeServices.js"
export { Demo, Progress, Run } from "../packages/cli/dist/index.js"
export { ProcessChecks } from "../packages/agents/dist/index.js"
export { GitWorktrees } from "../packages/git/dist/index.js"
export { Pipeline, PipelineEvent, RunStore, type Spec, type SpeckitConfig } from "../packages/core/dist/index.js"
export { Resilience, SimAgent, Stage, StageResult } from "../packages/core/dist/index.js"
export { DecisionSequencer, MemorySequencer, QuorumConsensus } from "../packages/consensus/dist/index.js"
export {
  AgentId,
  CheckPhase,
  Execution,
  FaultInjector,
  RunContext,
  RunId,
  SessionMetrics,
  StageRunner,
  TokenUsage,
  Worktrees
} from "../packages/core/dist/index.js"
export { Metrics } from "../packages/telemetry/dist/index.js"

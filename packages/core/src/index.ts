/**
 * @speckit/core: the kernel of speckit. Domain types, the ports that plugins provide layers for,
 * the phase state machine and the pipeline runner.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Agent from "./Agent.ts"
/** @since 0.1.0 */
export * as AgentCall from "./AgentCall.ts"
/** @since 0.1.0 */
export * as AgentError from "./AgentError.ts"
/** @since 0.1.0 */
export * as AgentId from "./AgentId.ts"
/** @since 0.1.0 */
export * as AgentOutcome from "./AgentOutcome.ts"
/** @since 0.1.0 */
export * as AgentRegistry from "./AgentRegistry.ts"
/** @since 0.3.0 */
export * as AgentStep from "./AgentStep.ts"
/** @since 0.3.0 */
export * as AggregatorStep from "./AggregatorStep.ts"
/** @since 0.3.0 */
export * as AnswerRepair from "./AnswerRepair.ts"
/** @since 0.3.0 */
export * as AnswerStage from "./AnswerStage.ts"
/** @since 0.1.0 */
export * as Budget from "./Budget.ts"
/** @since 0.3.0 */
export * as Candidate from "./Candidate.ts"
/** @since 0.3.0 */
export * as ChangePrompt from "./ChangePrompt.ts"
/** @since 0.3.0 */
export * as ChangeStage from "./ChangeStage.ts"
/** @since 0.3.0 */
export * as CheckPhase from "./CheckPhase.ts"
/** @since 0.3.0 */
export * as Checks from "./Checks.ts"
/** @since 0.1.0 */
export * as Consensus from "./Consensus.ts"
/** @since 0.3.0 */
export * as ContextGuard from "./ContextGuard.ts"
/** @since 0.3.0 */
export * as DecisionLoop from "./DecisionLoop.ts"
/** @since 0.3.0 */
export * as Diff from "./Diff.ts"
/** @since 0.2.0 */
export * as DurableRun from "./DurableRun.ts"
/** @since 0.2.0 */
export * as Execution from "./Execution.ts"
/** @since 0.1.0 */
export * as FaultInjector from "./FaultInjector.ts"
/** @since 0.3.0 */
export * as FileAnswer from "./FileAnswer.ts"
/** @since 0.4.0 */
export * as FleetRun from "./FleetRun.ts"
/** @since 0.3.0 */
export * as GitState from "./GitState.ts"
/** @since 0.3.0 */
export * as ModelLimits from "./ModelLimits.ts"
/** @since 0.1.0 */
export * as Phase from "./Phase.ts"
/** @since 0.1.0 */
export * as Pipeline from "./Pipeline.ts"
/** @since 0.1.0 */
export * as PipelineEvent from "./PipelineEvent.ts"
/** @since 0.1.0 */
export * as Prompt from "./Prompt.ts"
/** @since 0.1.0 */
export * as Provider from "./Provider.ts"
/** @since 0.1.0 */
export * as Providers from "./Providers.ts"
/** @since 0.3.0 */
export * as ReleaseStages from "./ReleaseStages.ts"
/** @since 0.1.0 */
export * as Resilience from "./Resilience.ts"
/** @since 0.3.0 */
export * as ResultMerge from "./ResultMerge.ts"
/** @since 0.3.0 */
export * as RunContext from "./RunContext.ts"
/** @since 0.1.0 */
export * as RunId from "./RunId.ts"
/** @since 0.3.0 */
export * as RunPhase from "./RunPhase.ts"
/** @since 0.3.0 */
export * as RunState from "./RunState.ts"
/** @since 0.1.0 */
export * as RunStore from "./RunStore.ts"
/** @since 0.1.0 */
export * as RunSummary from "./RunSummary.ts"
/** @since 0.3.0 */
export * as Selection from "./Selection.ts"
/** @since 0.3.0 */
export * as SelectionPrompt from "./SelectionPrompt.ts"
/** @since 0.3.0 */
export * as SelectionStage from "./SelectionStage.ts"
/** @since 0.1.0 */
export * as Sequencer from "./Sequencer.ts"
/** @since 0.1.0 */
export * as SessionMetrics from "./SessionMetrics.ts"
/** @since 0.1.0 */
export * as SimAgent from "./SimAgent.ts"
/** @since 0.1.0 */
export * as Spec from "./Spec.ts"
/** @since 0.1.0 */
export * as SpeckitConfig from "./SpeckitConfig.ts"
/** @since 0.2.0 */
export * as SqlWorkflowEngine from "./SqlWorkflowEngine.ts"
/** @since 0.1.0 */
export * as Stage from "./Stage.ts"
/** @since 0.3.0 */
export * as StageAgents from "./StageAgents.ts"
/** @since 0.3.0 */
export * as StageArtifact from "./StageArtifact.ts"
/** @since 0.3.0 */
export * as StageDefinition from "./StageDefinition.ts"
/** @since 0.1.0 */
export * as StageResult from "./StageResult.ts"
/** @since 0.1.0 */
export * as StageRunner from "./StageRunner.ts"
/** @since 0.3.0 */
export * as StageVerdict from "./StageVerdict.ts"
/** @since 0.3.0 */
export * as TokenCounter from "./TokenCounter.ts"
/** @since 0.1.0 */
export * as TokenUsage from "./TokenUsage.ts"
/** @since 0.3.0 */
export * as Worktrees from "./Worktrees.ts"

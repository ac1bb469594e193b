/**
 * The prompts speckit sends to agents, one per stage.
 *
 * @since 0.1.0
 */
import type { AgentId } from "./AgentId.ts"
import type { Spec } from "./Spec.ts"
import * as Stage from "./Stage.ts"
import type { StageResult } from "./StageResult.ts"

const instructions: Record<Stage.Stage, string> = {
  plan: "Produce an implementation plan for the spec: a work breakdown of concrete steps, and for every acceptance criterion the steps that cover it and how it will be checked.",
  tasks:
    "Turn the plan into ordered, independently verifiable tasks. Each task names the tasks it depends on and when it is done.",
  implement:
    "Describe the code changes that carry out the tasks: every file to create, modify or delete, and what changes in it.",
  validate:
    "Decide how the changes will be validated (tests to write and run) and give your verdict: pass when the changes satisfy the spec's acceptance criteria, fail otherwise.",
  audit:
    "Audit the changes for security, reliability and maintainability problems. List your findings with a severity and give a verdict: pass unless a finding must block the release.",
  unlock:
    "Decide whether the work may be released: unlock when plan, tasks, implementation, validation and audit agree that the spec is met, hold otherwise."
}

const shapes: Record<Stage.Stage, string> = {
  plan: `{"stage":"plan","agent":"<your agent id>","summary":"...","work_breakdown":[{"id":"W1","title":"...","detail":"..."}],"acceptance_mapping":[{"criterion":"...","covered_by":["W1"],"check":"..."}]}`,
  tasks: `{"stage":"tasks","agent":"<your agent id>","summary":"...","tasks":[{"id":"T1","title":"...","depends_on":[],"done_when":"..."}]}`,
  implement: `{"stage":"implement","agent":"<your agent id>","summary":"...","changes":[{"path":"src/...","action":"create|modify|delete","description":"..."}]}`,
  validate: `{"stage":"validate","agent":"<your agent id>","summary":"...","test_strategy":["..."],"verdict":"pass|fail"}`,
  audit: `{"stage":"audit","agent":"<your agent id>","summary":"...","findings":[{"severity":"info|low|medium|high|critical","title":"...","detail":"..."}],"verdict":"pass|fail"}`,
  unlock: `{"stage":"unlock","agent":"<your agent id>","summary":"...","decision":"unlock|hold"}`
}

/**
 * The JSON shape an agent must answer a stage with.
 *
 * @example
 * ```ts
 * import { Prompt } from "@speckit/core"
 *
 * Prompt.shapeOf("unlock").includes("decision") // true
 * ```
 *
 * @since 0.1.0
 */
export const shapeOf = (stage: Stage.Stage): string => shapes[stage]

/**
 * Builds the prompt of a stage for one agent.
 *
 * @example
 * ```ts
 * import { AgentId, Prompt } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * const prompt = Prompt.make({ stage: "plan", agent: AgentId.make("alpha"), spec, previous: "" })
 * ```
 *
 * @since 0.1.0
 */
export const make = (input: {
  readonly stage: Stage.Stage
  readonly agent: AgentId
  readonly spec: Spec
  readonly previous: string
  /** Set on a retry after a malformed answer: what was wrong with it. */
  readonly repairNote?: string | undefined
}): string => `You are agent "${input.agent}" in a spec-driven, multi-agent pipeline.\n\n${bodyOf(input)}`

/** What a stage prompt says after the agent's line. */
interface BodyInput {
  readonly stage: Stage.Stage
  readonly spec: Spec
  readonly previous: string
  readonly repairNote?: string | undefined
}

/**
 * The last body built, with its input. Every agent of a stage gets the same body: a stage of a
 * thousand agents builds it once, and each prompt is the agent's line joined to it.
 */
let lastBody: { readonly input: BodyInput; readonly text: string } | undefined

const bodyOf = (input: BodyInput): string => {
  const last = lastBody?.input
  if (
    lastBody !== undefined &&
    last?.stage === input.stage &&
    last.spec === input.spec &&
    last.previous === input.previous &&
    last.repairNote === input.repairNote
  ) {
    return lastBody.text
  }
  const text = buildBody(input)
  lastBody = {
    input: { stage: input.stage, spec: input.spec, previous: input.previous, repairNote: input.repairNote },
    text
  }
  return text
}

const buildBody = (input: BodyInput): string => {
  const index = Stage.all.indexOf(input.stage)
  const before = index > 0 ? Stage.all[index - 1] : undefined
  const parts = [
    `Stage ${index + 1} of ${Stage.all.length}: ${input.stage}.`,
    instructions[input.stage],
    `Answer with exactly one JSON object and nothing else, of this shape:\n${shapes[input.stage]}`,
    `# Spec ${input.spec.id}\n\n${input.spec.text.trim()}`
  ]
  if (before && input.previous) parts.push(`# Consensus of the ${before} stage\n\n${input.previous.trim()}`)
  if (input.repairNote) {
    parts.push(
      `# Your previous answer was rejected\n\n${input.repairNote}\nAnswer again with valid JSON of the shape above.`
    )
  }
  return `${parts.join("\n\n")}\n`
}

/**
 * The JSON shape an aggregator must answer a content stage's synthesis with: the stage's result
 * plus `agreements` and `conflicts`.
 *
 * @example
 * ```ts
 * import { Prompt } from "@speckit/core"
 *
 * Prompt.synthesisShapeOf("plan").includes("conflicts") // true
 * ```
 *
 * @since 0.1.0
 */
export const synthesisShapeOf = (stage: Stage.Stage): string =>
  `${shapes[stage].slice(0, -1)},"agreements":["what the answers agree on"],"conflicts":["where they disagree and you cannot resolve it"]}`

/**
 * Builds the prompt of a content stage's aggregator: the stage's instructions, every successful
 * answer as JSON, and the synthesis shape (the stage result plus `agreements` and `conflicts`).
 *
 * @example
 * ```ts
 * import { AgentId, Prompt } from "@speckit/core"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * declare const answers: ReadonlyArray<import("@speckit/core").StageResult.StageResult>
 * const prompt = Prompt.synthesis({ stage: "plan", agent: AgentId.make("alpha"), spec, previous: "", answers })
 * ```
 *
 * @since 0.1.0
 */
export const synthesis = (input: {
  readonly stage: Stage.Stage
  readonly agent: AgentId
  readonly spec: Spec
  readonly previous: string
  /** The successful answers of the stage's agents. */
  readonly answers: ReadonlyArray<StageResult>
  /** Set on a retry after a malformed synthesis: what was wrong with it. */
  readonly repairNote?: string | undefined
}): string => {
  const index = Stage.all.indexOf(input.stage)
  const before = index > 0 ? Stage.all[index - 1] : undefined
  const parts = [
    `You are agent "${input.agent}", the aggregator of a spec-driven, multi-agent pipeline.`,
    `Stage ${index + 1} of ${Stage.all.length}: ${input.stage}. ${input.answers.length} agent(s) answered this task:`,
    instructions[input.stage],
    "Synthesize their answers into one result for the stage: keep what they agree on, resolve what you can, and list in `agreements` what the answers agree on and in `conflicts` every disagreement you cannot resolve (an empty list when there is none).",
    `Answer with exactly one JSON object and nothing else, of this shape:\n${synthesisShapeOf(input.stage)}`,
    `# Answers to synthesize\n\n\`\`\`json\n${JSON.stringify(input.answers, null, 2)}\n\`\`\``,
    `# Spec ${input.spec.id}\n\n${input.spec.text.trim()}`
  ]
  if (before && input.previous) parts.push(`# Consensus of the ${before} stage\n\n${input.previous.trim()}`)
  if (input.repairNote) {
    parts.push(
      `# Your previous answer was rejected\n\n${input.repairNote}\nAnswer again with valid JSON of the shape above.`
    )
  }
  return `${parts.join("\n\n")}\n`
}

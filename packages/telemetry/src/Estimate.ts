/**
 * Cost prediction before (and during) a run: expected tokens and cost per stage and agent, with a
 * low–high range. The first stage's prompt is counted from the prompt speckit would send (`Prompt.make`
 * with the spec). Later stages' prompts and every output come from the workspace's history (per stage
 * and model, see `History`) when there is one, else from {@link defaults}. Every figure says where it
 * came from.
 *
 * @since 0.1.0
 */
import { type AgentId, Prompt, type Spec, SpeckitConfig, Stage, TokenUsage } from "@speckit/core"
import type * as History from "./History.ts"
import * as Pricing from "./Pricing.ts"
import * as Tokens from "./Tokens.ts"

/**
 * Documented defaults, used when the history has nothing for a stage and model: the expected output
 * tokens of one agent's answer per stage, and the range factors applied to predictions without
 * history (low = × `low`, high = × `high`). Counted prompts get ± `countedSpread` (other vendors'
 * tokenizers differ). The previous stage's consensus, which later prompts carry, is predicted as large
 * as the mean answer of that stage.
 *
 * @since 0.1.0
 */
export const defaults = {
  outputTokens: { plan: 1200, tasks: 1000, implement: 1500, validate: 600, audit: 800, unlock: 250 } as Readonly<
    Record<Stage.Stage, number>
  >,
  low: 0.5,
  high: 2,
  countedSpread: 0.1
} as const

/**
 * A low, expected and high value.
 *
 * @since 0.1.0
 */
export interface Range {
  readonly low: number
  readonly expected: number
  readonly high: number
}

/**
 * Where a prediction came from.
 *
 * @since 0.1.0
 */
export type Source = "counted" | "history" | "default"

/**
 * The prediction of one agent's call in one stage.
 *
 * @since 0.1.0
 */
export interface CallEstimate {
  readonly stage: Stage.Stage
  readonly agent: string
  readonly model: string
  readonly inputTokens: Range
  readonly outputTokens: Range
  readonly costUsd: Range
  readonly inputSource: Source
  readonly outputSource: Source
  /** `false` when the model has no known price: its cost counts 0. */
  readonly priced: boolean
}

/**
 * The prediction of one stage.
 *
 * @since 0.1.0
 */
export interface StageEstimate {
  readonly stage: Stage.Stage
  readonly calls: ReadonlyArray<CallEstimate>
  readonly tokens: Range
  readonly costUsd: Range
}

/**
 * A whole run's prediction.
 *
 * @since 0.1.0
 */
export interface Estimate {
  readonly specId: string
  readonly stages: ReadonlyArray<StageEstimate>
  readonly tokens: Range
  readonly costUsd: Range
  readonly byAgent: Readonly<Record<string, Range>>
  /** How many earlier runs the history holds (0: everything but counted prompts is a default). */
  readonly historyRuns: number
  /** Models without a known price. */
  readonly unpriced: ReadonlyArray<string>
}

const zero: Range = { low: 0, expected: 0, high: 0 }
const plus = (a: Range, b: Range): Range => ({
  low: a.low + b.low,
  expected: a.expected + b.expected,
  high: a.high + b.high
})
/** The sum of ranges, added up in place. */
const sum = (ranges: ReadonlyArray<Range>): Range => {
  let low = 0
  let expected = 0
  let high = 0
  for (const range of ranges) {
    low += range.low
    expected += range.expected
    high += range.high
  }
  return { low, expected, high }
}
const scale = (value: number, low: number, high: number): Range => ({
  low: value * low,
  expected: value,
  high: value * high
})

const cachedShare = (samples: History.Samples | undefined) =>
  samples && samples.mean.input > 0 ? Math.min(1, samples.mean.cachedInput / samples.mean.input) : 0

const priceRange = (
  resolved: Pricing.Resolved | undefined,
  input: Range,
  output: Range,
  cached: number
): { readonly costUsd: Range; readonly priced: boolean } => {
  if (resolved === undefined) return { costUsd: zero, priced: false }
  const at = (i: number, o: number) =>
    resolved.cost(
      TokenUsage.make({
        input: Math.round(i),
        cachedInput: Math.round(i * cached),
        output: Math.round(o)
      })
    )
  return {
    costUsd: {
      low: at(input.low, output.low),
      expected: at(input.expected, output.expected),
      high: at(input.high, output.high)
    },
    priced: true
  }
}

const predictOutput = (history: History.History | undefined, stage: Stage.Stage, model: string) => {
  const samples = history?.samples[`${stage}/${model}`]
  return samples
    ? {
        range: { low: samples.min.output, expected: samples.mean.output, high: samples.max.output },
        source: "history" as const
      }
    : { range: scale(defaults.outputTokens[stage], defaults.low, defaults.high), source: "default" as const }
}

/** One call's prediction from its model, its counted prompt, its price and the previous stage's outputs. */
const predictCallOf = (input: {
  readonly stage: Stage.Stage
  readonly model: string
  readonly counted: number
  readonly resolved: Pricing.Resolved | undefined
  readonly history: History.History
  readonly previousOutput: Range | undefined
}): Omit<CallEstimate, "stage" | "agent"> => {
  const { stage, model, counted, previousOutput } = input
  const samples = input.history.samples[`${stage}/${model}`]
  let inputTokens: Range
  let inputSource: Source
  if (previousOutput === undefined) {
    // the first stage's prompt is known exactly; the provider's tokenizer may differ a little
    const calibration = samples && counted > 0 ? Math.min(2, Math.max(0.5, samples.mean.input / counted)) : 1
    inputTokens = scale(counted * calibration, 1 - defaults.countedSpread, 1 + defaults.countedSpread)
    inputSource = "counted"
  } else if (samples) {
    inputTokens = { low: samples.min.input, expected: samples.mean.input, high: samples.max.input }
    inputSource = "history"
  } else {
    inputTokens = {
      low: counted + previousOutput.low,
      expected: counted + previousOutput.expected,
      high: counted + previousOutput.high
    }
    inputSource = "default"
  }
  const output = predictOutput(input.history, stage, model)
  const priced = priceRange(input.resolved, inputTokens, output.range, cachedShare(samples))
  return {
    model,
    inputTokens,
    outputTokens: output.range,
    costUsd: priced.costUsd,
    inputSource,
    outputSource: output.source,
    priced: priced.priced
  }
}

/**
 * Predicts a run of a spec under a configuration.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 * import { Estimate, History } from "@speckit/telemetry"
 *
 * declare const spec: import("@speckit/core").Spec.Spec
 * const estimate = Estimate.make({ config: SpeckitConfig.defaultConfig, spec, history: History.empty })
 * estimate.costUsd.expected
 * ```
 *
 * @since 0.1.0
 */
export const make = (input: {
  readonly config: SpeckitConfig.SpeckitConfig
  readonly spec: Spec.Spec
  readonly history: History.History
  readonly pricer?: Pricing.Pricer | undefined
  /** How prompts are counted (default `Tokens.counterFor(config).count`, as the run counts them). */
  readonly count?: ((text: string) => number) | undefined
}): Estimate => {
  const pricer = input.pricer ?? Pricing.fromConfig(input.config)
  const count = input.count ?? Tokens.counterFor(input.config).count
  const stages: Array<StageEstimate> = []
  const byAgent = new Map<string, Array<Range>>()
  const unpriced = new Set<string>()
  // Each agent's model and price, looked up once for every stage.
  const models = new Map<string, { readonly model: string; readonly resolved: Pricing.Resolved | undefined }>()
  const modelOf = (agent: AgentId.AgentId) => {
    let known = models.get(agent)
    if (known === undefined) {
      const agentConfig = input.config.agents?.[agent]
      const model = (agentConfig && Pricing.modelOf(agentConfig)) ?? "(no model)"
      known = { model, resolved: pricer.price(model, agent) }
      models.set(agent, known)
    }
    return known
  }
  let previousOutput: Range | undefined
  for (const stage of Stage.all) {
    const policy = SpeckitConfig.policyFor(input.config, stage)
    const calls: Array<CallEstimate> = []
    // Agents of one model with prompts of one size and a shared price are predicted alike: once.
    const alike = new Map<string, Map<number, Omit<CallEstimate, "stage" | "agent">>>()
    for (const agent of policy.agents) {
      const { model, resolved } = modelOf(agent)
      const counted = count(Prompt.make({ stage, agent, spec: input.spec, previous: "" }))
      let sized = alike.get(model)
      if (sized === undefined) {
        sized = new Map()
        alike.set(model, sized)
      }
      const shared = resolved?.source !== "agent"
      let predicted = shared ? sized.get(counted) : undefined
      if (predicted === undefined) {
        predicted = predictCallOf({ stage, model, counted, resolved, history: input.history, previousOutput })
        if (shared) sized.set(counted, predicted)
      }
      if (!predicted.priced) unpriced.add(model)
      calls.push({ stage, agent, ...predicted })
      const costs = byAgent.get(agent)
      if (costs === undefined) byAgent.set(agent, [predicted.costUsd])
      else costs.push(predicted.costUsd)
    }
    const outputs = sum(calls.map((call) => call.outputTokens))
    const n = Math.max(1, calls.length)
    previousOutput = { low: outputs.low / n, expected: outputs.expected / n, high: outputs.high / n }
    stages.push({
      stage,
      calls,
      tokens: sum(calls.map((call) => plus(call.inputTokens, call.outputTokens))),
      costUsd: sum(calls.map((call) => call.costUsd))
    })
  }
  return {
    specId: input.spec.id,
    stages,
    tokens: sum(stages.map((stage) => stage.tokens)),
    costUsd: sum(stages.map((stage) => stage.costUsd)),
    byAgent: Object.fromEntries(Array.from(byAgent, ([agent, costs]) => [agent, sum(costs)])),
    historyRuns: input.history.runs,
    unpriced: [...unpriced].sort()
  }
}

/**
 * The predicted cost of the stages not in `done`.
 *
 * @example
 * ```ts
 * import { Estimate } from "@speckit/telemetry"
 *
 * declare const estimate: Estimate.Estimate
 * Estimate.remaining(estimate, ["plan"]).expected
 * ```
 *
 * @since 0.1.0
 */
export const remaining = (estimate: Estimate, done: ReadonlyArray<string>): Range =>
  sum(estimate.stages.filter((stage) => !done.includes(stage.stage)).map((stage) => stage.costUsd))

/**
 * The expected cost of one call about to be made: its prompt counted (calibrated by history for the
 * stage and model when there is one) plus the predicted output of the stage and model. Used by the
 * budget before every attempt.
 *
 * @example
 * ```ts
 * import { Estimate, History, Pricing } from "@speckit/telemetry"
 *
 * Estimate.predictCall({
 *   stage: "plan", agent: "alpha", model: "sim-large", prompt: "…", history: History.empty, pricer: Pricing.make()
 * }) // cost of the prompt + 1200 output tokens at sim-large prices
 * ```
 *
 * @since 0.1.0
 */
export const predictCall = (input: {
  readonly stage: Stage.Stage
  readonly agent: string
  readonly model: string
  readonly prompt: string
  readonly history: History.History
  readonly pricer: Pricing.Pricer
  /** How the prompt is counted (default `Tokens.count`). */
  readonly count?: ((text: string) => number) | undefined
}): number => {
  const resolved = input.pricer.price(input.model, input.agent)
  if (resolved === undefined) return 0
  const samples = input.history.samples[`${input.stage}/${input.model}`]
  const counted = (input.count ?? Tokens.count)(input.prompt)
  const promptTokens = samples ? Math.max(counted, samples.mean.input) : counted
  const output = predictOutput(input.history, input.stage, input.model).range.expected
  return resolved.cost(
    TokenUsage.make({
      input: Math.round(promptTokens),
      cachedInput: Math.round(promptTokens * cachedShare(samples)),
      output: Math.round(output)
    })
  )
}

const usd = (value: number) => `$${value.toFixed(4)}`
const tokens = (value: number) => String(Math.round(value))
const range = (r: Range, f: (n: number) => string) => `${f(r.expected)} (${f(r.low)}–${f(r.high)})`

/**
 * Renders an estimate for people: one line per stage and agent, totals per agent and overall.
 *
 * @example
 * ```ts
 * import { Estimate } from "@speckit/telemetry"
 *
 * declare const estimate: Estimate.Estimate
 * process.stdout.write(Estimate.format(estimate))
 * ```
 *
 * @since 0.1.0
 */
export const format = (estimate: Estimate): string => {
  const lines = [
    `estimate for ${estimate.specId}: ${
      estimate.historyRuns > 0
        ? `from the history of ${estimate.historyRuns} earlier run(s) in this workspace`
        : "no earlier runs in this workspace: outputs and later prompts are documented defaults"
    }`
  ]
  for (const stage of estimate.stages) {
    lines.push(`  ${stage.stage.padEnd(10)} ${range(stage.tokens, tokens)} tok  ${range(stage.costUsd, usd)}`)
    for (const call of stage.calls) {
      lines.push(
        `    ${call.agent.padEnd(10)} ${call.model.padEnd(18)} in ${range(call.inputTokens, tokens)} [${call.inputSource}]  out ${range(call.outputTokens, tokens)} [${call.outputSource}]  ${call.priced ? range(call.costUsd, usd) : "unpriced"}`
      )
    }
  }
  for (const [agent, cost] of Object.entries(estimate.byAgent))
    lines.push(`  agent ${agent.padEnd(10)} ${range(cost, usd)}`)
  lines.push(`  total      ${range(estimate.tokens, tokens)} tok  ${range(estimate.costUsd, usd)}`)
  if (estimate.unpriced.length > 0) lines.push(`  unpriced   ${estimate.unpriced.join(", ")} (counted as $0)`)
  return `${lines.join("\n")}\n`
}

/**
 * `speckit.config.json`: which agents answer each stage and under which policies.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Result, Schema, SchemaIssue } from "effect"
import { AgentId } from "./AgentId.ts"
import * as Stage from "./Stage.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegative = Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * A model price override, in USD per million tokens.
 *
 * @since 0.1.0
 */
export const Price = Schema.Struct({
  inputPerMTok: NonNegative,
  outputPerMTok: NonNegative,
  cachedInputPerMTok: Schema.optionalKey(NonNegative)
})

/**
 * A price override.
 *
 * @since 0.1.0
 */
export type Price = typeof Price.Type

/**
 * A built-in simulated agent: deterministic for a seed, with a fixed latency.
 *
 * @since 0.1.0
 */
export const SimAgentConfig = Schema.Struct({
  provider: Schema.Literal("sim"),
  model: Schema.optionalKey(Schema.String),
  latencyMs: Schema.optionalKey(NonNegative),
  seed: Schema.optionalKey(Schema.Int),
  price: Schema.optionalKey(Price)
})

/**
 * An agent run as a subprocess: the prompt on stdin, the answer on stdout.
 *
 * @since 0.1.0
 */
export const ExecAgentConfig = Schema.Struct({
  provider: Schema.Literal("exec"),
  command: Schema.NonEmptyArray(Schema.String),
  format: Schema.optionalKey(Schema.Literals(["text", "claude", "gemini", "codex", "qwen"])),
  model: Schema.optionalKey(Schema.String),
  timeoutMs: Schema.optionalKey(PositiveInt),
  cwd: Schema.optionalKey(Schema.String),
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  price: Schema.optionalKey(Price)
})

/**
 * The configuration of one agent.
 *
 * @since 0.1.0
 */
export const AgentConfig = Schema.Union([SimAgentConfig, ExecAgentConfig])

/**
 * The configuration of one agent.
 *
 * @since 0.1.0
 */
export type AgentConfig = typeof AgentConfig.Type

/**
 * How many agents must answer a stage successfully: `all`, `majority` or a number.
 *
 * @since 0.1.0
 */
export const Quorum = Schema.Union([Schema.Literals(["all", "majority"]), PositiveInt])

/**
 * A quorum rule.
 *
 * @since 0.1.0
 */
export type Quorum = typeof Quorum.Type

/**
 * What a stage does when its agents disagree.
 *
 * @since 0.1.0
 */
export const OnConflict = Schema.Literals(["halt", "pause", "proceed"])

/**
 * Per-stage (or default) policy settings.
 *
 * @since 0.1.0
 */
export const StageConfig = Schema.Struct({
  agents: Schema.optionalKey(Schema.NonEmptyArray(AgentId)),
  quorum: Schema.optionalKey(Quorum),
  onConflict: Schema.optionalKey(OnConflict)
})

/**
 * Schema of `speckit.config.json`. Unknown keys are errors.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { SpeckitConfig } from "@speckit/core"
 *
 * Schema.decodeUnknownSync(SpeckitConfig.SpeckitConfig)({
 *   agents: { alpha: { provider: "sim", seed: 1 } },
 *   defaults: { agents: ["alpha"], quorum: "majority" }
 * })
 * ```
 *
 * @since 0.1.0
 */
export const SpeckitConfig = Schema.Struct({
  $schema: Schema.optionalKey(Schema.String),
  agents: Schema.optionalKey(Schema.Record(AgentId, AgentConfig)),
  defaults: Schema.optionalKey(StageConfig),
  stages: Schema.optionalKey(
    Schema.Struct({
      plan: Schema.optionalKey(StageConfig),
      tasks: Schema.optionalKey(StageConfig),
      implement: Schema.optionalKey(StageConfig),
      validate: Schema.optionalKey(StageConfig),
      audit: Schema.optionalKey(StageConfig),
      unlock: Schema.optionalKey(StageConfig)
    })
  ),
  budget: Schema.optionalKey(Schema.Struct({ usd: Schema.Number.check(Schema.isGreaterThan(0)) }))
})

/**
 * A decoded configuration.
 *
 * @since 0.1.0
 */
export type SpeckitConfig = typeof SpeckitConfig.Type

/**
 * The resolved policy of one stage.
 *
 * @since 0.1.0
 */
export interface StagePolicy {
  readonly stage: Stage.Stage
  readonly agents: ReadonlyArray<AgentId>
  readonly quorum: Quorum
  readonly onConflict: "halt" | "pause" | "proceed"
}

/**
 * The configuration file is unreadable, not JSON, or does not match the schema.
 *
 * @since 0.1.0
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.path}: ${this.reason}`
  }
}

/**
 * The file name looked up in a workspace.
 *
 * @since 0.1.0
 */
export const fileName = "speckit.config.json"

const defaultAgents: Record<string, AgentConfig> = {
  alpha: { provider: "sim", model: "sim-large", latencyMs: 120, seed: 1 },
  beta: { provider: "sim", model: "sim-medium", latencyMs: 160, seed: 2 },
  gamma: { provider: "sim", model: "sim-small", latencyMs: 90, seed: 3 }
}

/**
 * The configuration used when a workspace has no `speckit.config.json`: three simulated agents
 * (`alpha`, `beta`, `gamma`) on every stage with a majority quorum.
 *
 * @since 0.1.0
 */
export const defaultConfig: SpeckitConfig = Schema.decodeUnknownSync(SpeckitConfig)({
  agents: defaultAgents,
  defaults: { agents: Object.keys(defaultAgents), quorum: "majority", onConflict: "halt" }
})

const formatIssue = (issue: SchemaIssue.Issue): string => {
  const leaves = SchemaIssue.makeFormatterStandardSchemaV1()(issue).issues
  const first = leaves[0]
  if (!first) return String(issue)
  const path = (first.path ?? [])
    .map((segment) => (typeof segment === "object" && segment !== null ? segment.key : segment))
    .map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`))
    .join("")
    .replace(/^\./, "")
  const excess = /excess property|unexpected key/i.test(first.message)
  if (excess && /^agents\.[^.]+$/.test(path)) {
    return `${path}: not a valid agent id (1-64 lower-case letters, digits, '-' or '_', starting with a letter)`
  }
  const message = excess ? "unknown key" : first.message
  return path ? `${path}: ${message}` : message
}

/**
 * Decodes and cross-checks a configuration value (agent names referenced by `defaults` and
 * `stages` must be defined, a numeric quorum must not exceed the stage's agents).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SpeckitConfig } from "@speckit/core"
 *
 * const program = SpeckitConfig.decode({ defaults: { quorum: "all" } }, "inline")
 * ```
 *
 * @since 0.1.0
 */
export const decode = (input: unknown, path: string): Effect.Effect<SpeckitConfig, ConfigError> => {
  const decoded = Schema.decodeUnknownResult(SpeckitConfig)(input, { onExcessProperty: "error" })
  if (Result.isFailure(decoded)) {
    return Effect.fail(new ConfigError({ path, reason: formatIssue(decoded.failure.issue) }))
  }
  const config = decoded.success
  const merged: SpeckitConfig = config.agents === undefined ? { ...config, agents: defaultConfig.agents ?? {} } : config
  const known = Object.keys(merged.agents ?? {})
  const check = (where: string, stage: Schema.Schema.Type<typeof StageConfig> | undefined): string | undefined => {
    for (const [index, agent] of (stage?.agents ?? []).entries()) {
      if (!known.includes(agent)) {
        return `${where}.agents[${index}]: unknown agent "${agent}" (defined: ${known.join(", ") || "none"})`
      }
    }
    return undefined
  }
  const problems = [
    check("defaults", merged.defaults),
    ...Stage.all.map((stage) => check(`stages.${stage}`, merged.stages?.[stage]))
  ].filter((problem) => problem !== undefined)
  if (known.length === 0) problems.push("agents: define at least one agent")
  for (const stage of Stage.all) {
    const policy = policyFor(merged, stage)
    if (typeof policy.quorum === "number" && policy.quorum > policy.agents.length) {
      problems.push(`stages.${stage}.quorum: ${policy.quorum} exceeds the stage's ${policy.agents.length} agents`)
    }
  }
  const problem = problems[0]
  return problem === undefined ? Effect.succeed(merged) : Effect.fail(new ConfigError({ path, reason: problem }))
}

/**
 * Resolves the policy of a stage: the stage's own settings over `defaults` over built-in defaults
 * (every configured agent, `majority`, `halt`).
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 *
 * SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan").quorum // "majority"
 * ```
 *
 * @since 0.1.0
 */
export const policyFor = (config: SpeckitConfig, stage: Stage.Stage): StagePolicy => {
  const own = config.stages?.[stage]
  const agents = own?.agents ?? config.defaults?.agents ?? (Object.keys(config.agents ?? {}) as Array<AgentId>)
  return {
    stage,
    agents,
    quorum: own?.quorum ?? config.defaults?.quorum ?? "majority",
    onConflict: own?.onConflict ?? config.defaults?.onConflict ?? "halt"
  }
}

/**
 * Loads `speckit.config.json` from a workspace, or {@link defaultConfig} when there is none.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { SpeckitConfig } from "@speckit/core"
 *
 * const program = SpeckitConfig.load(".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const load = Effect.fn("SpeckitConfig.load")(function* (workspace: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = path.resolve(workspace, fileName)
  const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
  if (!exists) return defaultConfig
  const text = yield* fs
    .readFileString(file)
    .pipe(Effect.mapError((error) => new ConfigError({ path: file, reason: `cannot read: ${error.message}` })))
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return yield* new ConfigError({ path: file, reason: `not valid JSON: ${(error as Error).message}` })
  }
  return yield* decode(json, file)
})

/**
 * `speckit.config.json`: which agents answer each stage and under which policies.
 *
 * Why one module of this size: it is the configuration file's schema, one field after another as the
 * user writes them (with their documentation and defaults); splitting it would split one table.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, Result, Schema, SchemaIssue } from "effect"
import { AgentId } from "./AgentId.ts"
import { Check } from "./Checks.ts"
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
 * A retry policy for agent calls: exponential backoff with jitter, capped, bounded in retries and in
 * elapsed time per call. Set globally (`retry`) and per agent (`agents.<id>.retry`, field by field).
 *
 * @since 0.1.0
 */
export const RetryPolicy = Schema.Struct({
  /** Retries after the first attempt (default 3). Permanent errors are never retried. */
  maxRetries: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /** The first backoff delay (default 1000 ms), multiplied by `factor` (default 2) each retry. */
  initialDelayMs: Schema.optionalKey(NonNegative),
  factor: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThanOrEqualTo(1))),
  /** The largest backoff delay (default 30 000 ms). */
  maxDelayMs: Schema.optionalKey(NonNegative),
  /** Random jitter as a fraction of each delay, 0 to 1 (default 0.2). */
  jitter: Schema.optionalKey(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  /** The most time one call may take across all its attempts and waits (default 600 000 ms). */
  maxElapsedMs: Schema.optionalKey(PositiveInt),
  /** Retries of a malformed answer, with a repair note in the prompt (default 2). */
  maxMalformedRetries: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
})

/**
 * A retry policy.
 *
 * @since 0.1.0
 */
export type RetryPolicy = typeof RetryPolicy.Type

/**
 * A per-agent circuit breaker: after `failureThreshold` consecutive failed calls the agent fails fast
 * for `resetAfterMs`, then one trial call decides whether it closes again.
 *
 * @since 0.1.0
 */
export const BreakerPolicy = Schema.Struct({
  failureThreshold: Schema.optionalKey(PositiveInt),
  resetAfterMs: Schema.optionalKey(PositiveInt)
})

/**
 * A circuit-breaker policy.
 *
 * @since 0.1.0
 */
export type BreakerPolicy = typeof BreakerPolicy.Type

const callPolicy = {
  model: Schema.optionalKey(Schema.String),
  price: Schema.optionalKey(Price),
  timeoutMs: Schema.optionalKey(PositiveInt),
  retry: Schema.optionalKey(RetryPolicy),
  breaker: Schema.optionalKey(BreakerPolicy),
  /** The model's context window in tokens, overriding the catalogue's (see `ContextGuard`). */
  contextWindow: Schema.optionalKey(PositiveInt),
  /** The tokens kept for the answer when fitting a prompt to the window (see `ContextGuard`). */
  maxOutputTokens: Schema.optionalKey(PositiveInt)
}

/**
 * A built-in simulated agent: deterministic for a seed, with a fixed latency.
 *
 * @since 0.1.0
 */
export const SimAgentConfig = Schema.Struct({
  provider: Schema.Literal("sim"),
  ...callPolicy,
  latencyMs: Schema.optionalKey(NonNegative),
  seed: Schema.optionalKey(Schema.Int),
  flawRate: Schema.optionalKey(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 })))
})

/**
 * An agent of any other provider (registered by the host, e.g. `exec` and `openai` from
 * `@speckit/agents`, or loaded from a plugin): the keys every agent has, and the provider's own keys,
 * which its definition checks (see `Provider.ProviderDefinition.config` and `Providers.validate`).
 *
 * @since 0.3.0
 */
export const ProviderAgentConfig = Schema.StructWithRest(
  Schema.Struct({
    provider: Schema.String.check(
      Schema.makeFilter((name) => name !== "sim" || '"sim" agents take latencyMs, seed and flawRate only')
    ),
    ...callPolicy
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)

/**
 * The keys every agent has, whatever its provider.
 *
 * @since 0.3.0
 */
export const commonAgentKeys: ReadonlyArray<string> = ["provider", ...Object.keys(callPolicy)]

/**
 * The configuration of one agent.
 *
 * @since 0.1.0
 */
export const AgentConfig = Schema.Union([SimAgentConfig, ProviderAgentConfig])

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
  onConflict: Schema.optionalKey(OnConflict),
  /** Stop the stage's remaining agents as soon as its outcome can no longer change (default: on for verdict stages). */
  earlyDecision: Schema.optionalKey(Schema.Boolean),
  /** The agent that synthesizes a content stage's answers, or `"none"` for the deterministic merge. */
  aggregator: Schema.optionalKey(Schema.Union([Schema.Literal("none"), AgentId]))
})

/**
 * How the implement stage works: `changes` (each agent edits its own git worktree; its work comes back
 * as a patch) or `describe` (agents only describe the changes).
 *
 * @since 0.3.0
 */
export const ImplementMode = Schema.Literals(["changes", "describe"])

/**
 * @since 0.3.0
 */
export type ImplementMode = typeof ImplementMode.Type

/**
 * The `implement` section: the mode (default `changes` in a git repository, else `describe`), what
 * each worktree gets from the checkout (`setup.files`: files or folders copied, or linked with
 * `setup.link`, e.g. `.env`, `node_modules`; `setup.command`: an argv run in each worktree), and the
 * limits a candidate must keep (`protect` globs, `maxFileBytes`).
 *
 * @since 0.3.0
 */
export const ImplementConfig = Schema.Struct({
  mode: Schema.optionalKey(ImplementMode),
  setup: Schema.optionalKey(
    Schema.Struct({
      files: Schema.optionalKey(Schema.Array(Schema.String)),
      link: Schema.optionalKey(Schema.Boolean),
      command: Schema.optionalKey(Schema.NonEmptyArray(Schema.String)),
      timeoutMs: Schema.optionalKey(PositiveInt)
    })
  ),
  protect: Schema.optionalKey(Schema.Array(Schema.String)),
  maxFileBytes: Schema.optionalKey(PositiveInt)
})

/**
 * @since 0.3.0
 */
export type ImplementConfig = typeof ImplementConfig.Type

/**
 * The `checks` section: the project's checks (a list), or `{ commands, concurrency }` to also bound
 * how many run at a time (default: the number of cores).
 *
 * @since 0.3.0
 */
export const ChecksConfig = Schema.Union([
  Schema.Array(Check),
  Schema.Struct({
    commands: Schema.Array(Check),
    concurrency: Schema.optionalKey(PositiveInt)
  })
])

/**
 * @since 0.3.0
 */
export type ChecksConfig = typeof ChecksConfig.Type

/**
 * The configured checks and how many may run at once.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 *
 * SpeckitConfig.checksOf({ checks: [{ name: "test", command: ["npm", "test"] }] }, 2)
 * // { commands: [{ name: "test", command: ["npm", "test"] }], concurrency: 2 }
 * ```
 *
 * @since 0.3.0
 */
export const checksOf = (
  config: SpeckitConfig,
  cores: number
): { readonly commands: ReadonlyArray<Check>; readonly concurrency: number } => {
  const checks = config.checks
  if (checks === undefined) return { commands: [], concurrency: cores }
  if ("commands" in checks) return { commands: checks.commands, concurrency: checks.concurrency ?? cores }
  return { commands: checks, concurrency: cores }
}

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
  /** Provider modules to load (package names or paths, imported as ESM) that add agent providers. */
  plugins: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Defaults for every agent's retries and circuit breaker. */
  retry: Schema.optionalKey(RetryPolicy),
  breaker: Schema.optionalKey(BreakerPolicy),
  pricing: Schema.optionalKey(
    Schema.Struct({
      /** Run agents whose model has no known price, marking them `unpriced` in every report (default false: refuse). */
      allowUnpriced: Schema.optionalKey(Schema.Boolean),
      /** Price overrides by model name. */
      models: Schema.optionalKey(Schema.Record(Schema.String, Price))
    })
  ),
  /** How the implement stage makes its changes (see {@link ImplementConfig}). */
  implement: Schema.optionalKey(ImplementConfig),
  /** The project's checks, run on the base commit and on every candidate (see {@link ChecksConfig}). */
  checks: Schema.optionalKey(ChecksConfig),
  /**
   * How validate chooses among candidates: `agents` (checks first, then the validate agents'
   * rankings; the default) or `checks-only` (the first candidate by the checks; no validate agents).
   */
  selection: Schema.optionalKey(Schema.Literals(["agents", "checks-only"])),
  /**
   * How answers are read: by default near misses are repaired (see `AnswerRepair`); `strict: true`
   * only takes the JSON object out of the answer, and anything else off the schema is `Malformed`.
   */
  answers: Schema.optionalKey(Schema.Struct({ strict: Schema.optionalKey(Schema.Boolean) })),
  budget: Schema.optionalKey(
    Schema.Struct({
      usd: Schema.Number.check(Schema.isGreaterThan(0)),
      /** What happens before a call that would cross the budget: `halt` (default) or `pause` for approval. */
      onExceed: Schema.optionalKey(Schema.Literals(["halt", "pause"]))
    })
  )
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
  readonly earlyDecision: boolean
  /** The aggregator agent of a content stage, if any. */
  readonly aggregator?: AgentId | undefined
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

/**
 * A schema issue as one line: the first problem's key path (under `prefix`, e.g. `agents.claude`) and
 * what is wrong (`unknown key` for an excess property).
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { SpeckitConfig } from "@speckit/core"
 *
 * const decoded = Schema.decodeUnknownResult(Schema.Struct({ a: Schema.Number }))({ a: "x" })
 * if (Result.isFailure(decoded)) SpeckitConfig.describeIssue(decoded.failure.issue, "agents.x")
 * ```
 *
 * @since 0.3.0
 */
export const describeIssue = (issue: SchemaIssue.Issue, prefix?: string): string => {
  const leaves = SchemaIssue.makeFormatterStandardSchemaV1()(issue).issues
  const first = leaves[0]
  if (!first) return prefix === undefined ? String(issue) : `${prefix}: ${String(issue)}`
  const within = (first.path ?? [])
    .map((segment) => (typeof segment === "object" && segment !== null ? segment.key : segment))
    .map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`))
    .join("")
  const message = /excess property|unexpected key/i.test(first.message) ? "unknown key" : first.message
  const path = `${prefix ?? ""}${within}`.replace(/^\./, "")
  return path ? `${path}: ${message}` : message
}

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
  const checkAggregator = (where: string, stage: Schema.Schema.Type<typeof StageConfig> | undefined) => {
    const aggregator = aggregatorOf(stage?.aggregator)
    return aggregator !== undefined && !known.includes(aggregator)
      ? `${where}.aggregator: unknown agent "${aggregator}" (defined: ${known.join(", ") || "none"})`
      : undefined
  }
  const problems = [
    check("defaults", merged.defaults),
    checkAggregator("defaults", merged.defaults),
    ...Stage.all.map((stage) => checkAggregator(`stages.${stage}`, merged.stages?.[stage])),
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

const aggregatorOf = (value: AgentId | "none" | undefined): AgentId | undefined =>
  value === undefined || value === "none" ? undefined : value

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
    onConflict: own?.onConflict ?? config.defaults?.onConflict ?? "halt",
    earlyDecision: own?.earlyDecision ?? config.defaults?.earlyDecision ?? Stage.isVerdictStage(stage),
    aggregator: aggregatorOf(own?.aggregator ?? config.defaults?.aggregator)
  }
}

/**
 * The implement stage's mode: as configured, else `changes` in a git repository and `describe`
 * outside one.
 *
 * @example
 * ```ts
 * import { SpeckitConfig } from "@speckit/core"
 *
 * SpeckitConfig.implementMode(SpeckitConfig.defaultConfig, true) // "changes"
 * ```
 *
 * @since 0.3.0
 */
export const implementMode = (config: SpeckitConfig, inGitRepository: boolean): ImplementMode =>
  config.implement?.mode ?? (inGitRepository ? "changes" : "describe")

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

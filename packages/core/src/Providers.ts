/**
 * Built-in agent providers and the layer that builds a run's agents from its configuration.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Path } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import type * as Agent from "./Agent.ts"
import type { AgentId } from "./AgentId.ts"
import { AgentRegistry } from "./AgentRegistry.ts"
import * as ExecAgent from "./ExecAgent.ts"
import * as SimAgent from "./SimAgent.ts"
import * as SpeckitConfig from "./SpeckitConfig.ts"

/**
 * Builds the agents a configuration defines. Relative `cwd`s of exec agents resolve against the
 * workspace.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Providers, SpeckitConfig } from "@speckit/core"
 *
 * const agents = Providers.agentsFrom(SpeckitConfig.defaultConfig, ".").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const agentsFrom = (
  config: SpeckitConfig.SpeckitConfig,
  workspace: string
): Effect.Effect<
  ReadonlyArray<Agent.Agent>,
  SpeckitConfig.ConfigError,
  ChildProcessSpawner.ChildProcessSpawner | Path.Path
> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const agents: Array<Agent.Agent> = []
    for (const [name, agent] of Object.entries(config.agents ?? {})) {
      const id = name as AgentId
      if (isSim(agent)) {
        agents.push(SimAgent.make({ id, model: agent.model, latencyMs: agent.latencyMs, seed: agent.seed }))
      } else if (isExec(agent)) {
        agents.push(
          yield* ExecAgent.make({
            id,
            command: agent.command,
            model: agent.model,
            timeoutMs: agent.timeoutMs,
            cwd: path.resolve(workspace, agent.cwd ?? "."),
            env: agent.env,
            format: agent.format,
            killGraceMs: agent.killGraceMs
          })
        )
      } else {
        return yield* new SpeckitConfig.ConfigError({
          path: SpeckitConfig.fileName,
          reason: `agents.${name}.provider: unknown provider "${agent.provider}" (built in: sim, exec)`
        })
      }
    }
    return agents
  })

const isSim = (agent: SpeckitConfig.AgentConfig): agent is typeof SpeckitConfig.SimAgentConfig.Type =>
  agent.provider === "sim"

const isExec = (agent: SpeckitConfig.AgentConfig): agent is typeof SpeckitConfig.ExecAgentConfig.Type =>
  agent.provider === "exec"

/**
 * The agent registry of a configuration.
 *
 * @since 0.1.0
 */
export const layer = (
  config: SpeckitConfig.SpeckitConfig,
  workspace: string
): Layer.Layer<AgentRegistry, SpeckitConfig.ConfigError, ChildProcessSpawner.ChildProcessSpawner | Path.Path> =>
  Layer.effect(AgentRegistry, Effect.map(agentsFrom(config, workspace), AgentRegistry.make))

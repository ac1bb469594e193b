/**
 * The agent port: resolves agent ids to callable {@link Agent.Agent}s.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type * as Agent from "./Agent.ts"
import type { AgentId } from "./AgentId.ts"

/**
 * No agent of that id is registered.
 *
 * @since 0.1.0
 */
export class UnknownAgent extends Schema.TaggedError<UnknownAgent>()("UnknownAgent", {
  agent: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message() {
    return `unknown agent "${this.agent}" (known: ${this.known.join(", ") || "none"})`
  }
}

/**
 * The registry of agents available to a run.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentRegistry, AgentId, TokenUsage } from "@speckit/core"
 *
 * const layer = AgentRegistry.AgentRegistry.fromAgents([
 *   { id: AgentId.make("echo"), provider: "custom", model: "echo", call: (r) => Effect.succeed({ text: r.prompt, usage: TokenUsage.empty, model: "echo" }) }
 * ])
 * ```
 *
 * @since 0.1.0
 */
export class AgentRegistry extends Context.Service<
  AgentRegistry,
  {
    readonly ids: ReadonlyArray<AgentId>
    readonly get: (id: AgentId) => Effect.Effect<Agent.Agent, UnknownAgent>
  }
>()("@speckit/core/AgentRegistry") {
  /**
   * A registry holding the given agents.
   *
   * @since 0.1.0
   */
  static readonly fromAgents = (agents: ReadonlyArray<Agent.Agent>): Layer.Layer<AgentRegistry> =>
    Layer.succeed(AgentRegistry, AgentRegistry.make(agents))

  /**
   * Builds the service value from a list of agents.
   *
   * @since 0.1.0
   */
  static readonly make = (agents: ReadonlyArray<Agent.Agent>): AgentRegistry["Service"] => {
    const byId = new Map(agents.map((agent) => [agent.id as string, agent]))
    const ids = agents.map((agent) => agent.id)
    return {
      ids,
      get: (id) => {
        const agent = byId.get(id)
        return agent ? Effect.succeed(agent) : Effect.fail(new UnknownAgent({ agent: id, known: ids }))
      }
    }
  }
}

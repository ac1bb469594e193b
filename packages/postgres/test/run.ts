/**
 * What the store tests and the runner fixture share: a workspace with SPEC-1, sim agents that report
 * their calls, the configuration (every agent answers every stage, so artifacts do not depend on
 * timing), a durable run of SPEC-1 on a given engine with the sequencer's state in its database, and
 * a free port on 127.0.0.1.
 */
import { NodeServices } from "@effect/platform-node"
import { QuorumConsensus, SqlSequencerStore } from "@speckit/consensus"
import {
  type Agent,
  AgentId,
  AgentRegistry,
  DurableRun,
  FaultInjector,
  FleetRun,
  Pipeline,
  RunId,
  RunStore,
  SimAgent,
  Spec,
  SpeckitConfig
} from "@speckit/core"
import { Metrics } from "@speckit/telemetry"
import { Effect, Layer } from "effect"
import type { SqlClient } from "effect/sql"
import type { WorkflowEngine } from "effect/workflow"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/** A temporary workspace holding `specs/SPEC-1/spec.md`. */
export const makeWorkspace = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-postgres-"))
  fs.mkdirSync(path.join(dir, "specs", "SPEC-1"), { recursive: true })
  fs.writeFileSync(
    path.join(dir, "specs", "SPEC-1", "spec.md"),
    "# Login\n\n## Requirements\n\n- Users sign in with email\n- Lock after 5 failures\n"
  )
  return dir
}

/** alpha, beta and gamma (sim, `latencyMs` × 1, 2, 3), calling `report` before and after each call. */
export const agents = (
  latencyMs: number,
  report: (event: "start" | "done", call: string) => void
): ReadonlyArray<Agent.Agent> =>
  ["alpha", "beta", "gamma"].map((name, i): Agent.Agent => {
    const agent = SimAgent.make({ id: AgentId.make(name), latencyMs: latencyMs * (i + 1), seed: i + 1 })
    return {
      ...agent,
      call: (request) => {
        const call = `${request.stage}/${agent.id}/${request.attempt}`
        return Effect.sync(() => report("start", call)).pipe(
          Effect.andThen(agent.call(request)),
          Effect.tap(() => Effect.sync(() => report("done", call)))
        )
      }
    }
  })

/** Every agent answers every stage (no early verdict), so that artifacts do not depend on timing. */
export const config: SpeckitConfig.SpeckitConfig = {
  ...SpeckitConfig.defaultConfig,
  defaults: { ...SpeckitConfig.defaultConfig.defaults, quorum: "all" }
}

/** A durable run of SPEC-1 in `workspace` on `engine`, with the sequencer's state in its database. */
export const durableRun = (
  workspace: string,
  runAgents: ReadonlyArray<Agent.Agent>,
  engine: Layer.Layer<WorkflowEngine.WorkflowEngine | SqlClient.SqlClient, unknown>,
  runId: RunId.RunId
) =>
  Effect.gen(function* () {
    const spec = yield* Spec.load(workspace, "SPEC-1")
    return yield* DurableRun.run({ spec, config, runId }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.mergeAll(
          AgentRegistry.AgentRegistry.fromAgents(runAgents),
          FaultInjector.FaultInjector.layerNone,
          QuorumConsensus.layer,
          Metrics.layer(),
          RunStore.RunStore.layerFileSystem(workspace),
          SqlSequencerStore.layerSequencer()
        ).pipe(Layer.provideMerge(engine))
      )
    )
  }).pipe(Effect.provide(NodeServices.layer))

/**
 * A fleet runner's handling of a submitted run: its workspace written under `cache`, its
 * configuration read from the payload, the pipeline run there with `runAgents` and the sequencer's
 * state in the fleet's database (the durable `Execution` comes from `FleetRun.serve`).
 */
export const runMaterialized = (payload: FleetRun.Payload, cache: string, runAgents: ReadonlyArray<Agent.Agent>) =>
  Effect.gen(function* () {
    const workspace = yield* FleetRun.materialize(payload, cache)
    const spec = yield* Spec.load(workspace, payload.specId)
    const runConfig = yield* SpeckitConfig.load(workspace)
    return yield* Pipeline.run({ spec, config: runConfig, runId: RunId.RunId.make(payload.runId) }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.mergeAll(
          AgentRegistry.AgentRegistry.fromAgents(runAgents),
          FaultInjector.FaultInjector.layerNone,
          QuorumConsensus.layer,
          Metrics.layer(),
          RunStore.RunStore.layerFileSystem(workspace),
          SqlSequencerStore.layerSequencer()
        )
      )
    )
  }).pipe(Effect.provide(NodeServices.layer))

/** A port on 127.0.0.1 that was free a moment ago. */
export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

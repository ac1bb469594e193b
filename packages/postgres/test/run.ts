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
import * as PgRunStore from "../src/PgRunStore.ts"
import * as Runner from "../src/Runner.ts"
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

/**
 * A run's layers in `workspace`: `runAgents`, and the sequencer's state in the database (with
 * `records`, the run's records too: `PgRunStore` over the workspace's files).
 */
const runLayers = (workspace: string, runAgents: ReadonlyArray<Agent.Agent>, records = false) =>
  Layer.mergeAll(
    AgentRegistry.AgentRegistry.fromAgents(runAgents),
    FaultInjector.FaultInjector.layerNone,
    QuorumConsensus.layer,
    Metrics.layer(),
    records
      ? PgRunStore.layer().pipe(Layer.provide(RunStore.RunStore.layerFileSystem(workspace)))
      : RunStore.RunStore.layerFileSystem(workspace),
    SqlSequencerStore.layerSequencer()
  )

/** A durable run of SPEC-1 in `workspace` on `engine`, with the sequencer's state in its database. */
export const durableRun = (
  workspace: string,
  runAgents: ReadonlyArray<Agent.Agent>,
  engine: Layer.Layer<WorkflowEngine.WorkflowEngine | SqlClient.SqlClient, unknown>,
  runId: RunId.RunId,
  options: { readonly records?: boolean } = {}
) =>
  Effect.gen(function* () {
    const spec = yield* Spec.load(workspace, "SPEC-1")
    return yield* DurableRun.run({ spec, config, runId }).pipe(
      Effect.scoped,
      Effect.provide(runLayers(workspace, runAgents, options.records).pipe(Layer.provideMerge(engine)))
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
      Effect.provide(runLayers(workspace, runAgents))
    )
  }).pipe(Effect.provide(NodeServices.layer))

/** The runner a test fixture process runs: on 127.0.0.1:`port`, quick to take over and to poll. */
export const fixtureRunner = (url: string, port: number) =>
  Runner.layer({
    url,
    listen: { host: "127.0.0.1", port },
    shardLockExpiration: "4 seconds",
    pollInterval: "100 millis"
  })

/** An agent call a fixture runner logged: `start|done <call> <pid> <epoch ms>`. */
export interface LoggedCall {
  readonly kind: "start" | "done"
  readonly call: string
  readonly pid: number
  readonly at: number
}

/** The calls logged in `file` (none when it does not exist yet). */
export const readCalls = (file: string): ReadonlyArray<LoggedCall> =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
          const [kind, call = "", pid, at] = line.split(" ")
          return { kind: kind === "done" ? "done" : "start", call, pid: Number(pid), at: Number(at) }
        })
    : []

/** Whether `condition` held within `timeoutMs` (checked every 25 ms). */
export const until = async (condition: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return true
}

/** A port on 127.0.0.1 that was free a moment ago. */
export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

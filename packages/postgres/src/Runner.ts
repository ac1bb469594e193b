/**
 * `effect/cluster` runners and clients over the PostgreSQL store: effect's `ClusterWorkflowEngine` on
 * `@effect/platform-node`'s socket runners, with SQL message and runner storage in the store's
 * database. There is no shard manager: runners heartbeat into `cluster_runners` and hold their shards
 * with PostgreSQL advisory locks; when a runner dies, another takes its shards once the dead one's
 * lock expires (`shardLockExpiration`), re-running only the step that was in flight.
 *
 * Every setting is explicit: the sharding configuration is built from {@link Options} and
 * `ShardingConfig.defaults`, so a stray `HOST` or `PORT` in the environment (which effect's
 * `ShardingConfig.layerFromEnv` reads) never moves a runner.
 *
 * @since 0.4.0
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { Duration, Effect, Layer, Option, Schema } from "effect"
import { ClusterWorkflowEngine, RunnerAddress, ShardingConfig } from "effect/cluster"
import * as PgStore from "./PgStore.ts"

/**
 * A host and port.
 *
 * @example
 * ```ts
 * import type { Runner } from "@speckit/postgres"
 *
 * const address: Runner.Address = { host: "10.0.0.7", port: 34431 }
 * ```
 *
 * @since 0.4.0
 */
export interface Address {
  readonly host: string
  readonly port: number
}

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import type { Runner } from "@speckit/postgres"
 *
 * const options: Runner.Options = {
 *   url: "postgres://speckit@db:5432/speckit",
 *   listen: { host: "0.0.0.0", port: 34431 },
 *   advertise: { host: "10.0.0.7", port: 34431 }
 * }
 * ```
 *
 * @since 0.4.0
 */
export interface Options extends ClientOptions {
  /** Where the runner listens for the other runners and the clients. */
  readonly listen: Address
  /** Where the others reach it. Default: `listen`. */
  readonly advertise?: Address | undefined
}

/**
 * Options of {@link client}.
 *
 * @example
 * ```ts
 * import type { Runner } from "@speckit/postgres"
 *
 * const options: Runner.ClientOptions = { url: "postgres://speckit@db:5432/speckit", pollInterval: "200 millis" }
 * ```
 *
 * @since 0.4.0
 */
export interface ClientOptions extends PgStore.Options {
  /**
   * How long a runner's shard locks outlive its last heartbeat: the takeover time after a runner dies.
   * Default 10 s (effect's default is 35 s; 3 s was seen to break under load).
   */
  readonly shardLockExpiration?: Duration.Input | undefined
  /** How often stored messages and replies are looked for (resumes, timers, results). Default 500 ms. */
  readonly pollInterval?: Duration.Input | undefined
}

/**
 * The runner could not listen on its address (in use, or not this machine's).
 *
 * @example
 * ```ts
 * import { Runner } from "@speckit/postgres"
 *
 * const error = new Runner.ListenFailed({ address: "127.0.0.1:34431", reason: "address already in use" })
 * ```
 *
 * @since 0.4.0
 */
export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  address: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot listen on ${this.address}: ${this.reason}`
  }
}

/** A layer that fails with `error` when built. */
const failed = <E>(error: E): Layer.Layer<unknown, E> => Layer.effectContext(Effect.fail(error))

/**
 * The sharding configuration of a runner (with `listen`) or a client: every field explicit.
 *
 * @example
 * ```ts
 * import { Runner } from "@speckit/postgres"
 *
 * const config = Runner.shardingConfig({ url: "postgres://db/speckit", listen: { host: "127.0.0.1", port: 34431 } })
 * ```
 *
 * @since 0.4.0
 */
export const shardingConfig = (options: ClientOptions & Partial<Pick<Options, "listen" | "advertise">>) => {
  const expiration = Duration.fromInputUnsafe(options.shardLockExpiration ?? Duration.seconds(10))
  const poll = options.pollInterval ?? Duration.millis(500)
  const { listen, advertise } = options
  const address = (a: Address | undefined) =>
    a === undefined ? Option.none() : Option.some(RunnerAddress.make(a.host, a.port))
  return {
    ...ShardingConfig.defaults,
    runnerAddress: address(advertise ?? listen),
    runnerListenAddress: address(listen),
    shardLockExpiration: expiration,
    shardLockRefreshInterval: Duration.divideUnsafe(expiration, 4),
    entityMessagePollInterval: poll,
    entityReplyPollInterval: poll,
    refreshAssignmentsInterval: Duration.seconds(1)
  } satisfies ShardingConfig.ShardingConfig["Service"]
}

/**
 * A runner: the cluster workflow engine, taking its share of the workflows stored in PostgreSQL, with
 * the store's `SqlClient`. Register the workflows it runs (`Workflow.toLayer`) on top of it.
 *
 * @example
 * ```ts
 * import { Runner } from "@speckit/postgres"
 *
 * const runner = Runner.layer({ url: "postgres://speckit@db:5432/speckit", listen: { host: "0.0.0.0", port: 34431 } })
 * ```
 *
 * @since 0.4.0
 */
export const layer = (options: Options) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(NodeClusterSocket.layer({ storage: "sql", shardingConfig: shardingConfig(options) })),
    Layer.catchTag("SocketServerError", (error) =>
      failed(
        new ListenFailed({
          address: `${options.listen.host}:${options.listen.port}`,
          reason: String((error as { readonly cause?: unknown }).cause ?? error.message)
        })
      )
    ),
    Layer.provideMerge(PgStore.client(options))
  )

/**
 * A client: submits workflows to the runners and reads their results, running none itself.
 *
 * @example
 * ```ts
 * import { Runner } from "@speckit/postgres"
 *
 * const client = Runner.client({ url: "postgres://speckit@db:5432/speckit" })
 * ```
 *
 * @since 0.4.0
 */
export const client = (options: ClientOptions) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      NodeClusterSocket.layer({ clientOnly: true, storage: "sql", shardingConfig: shardingConfig(options) })
    ),
    Layer.provideMerge(PgStore.client(options))
  )

/**
 * The fleet's store as the CLI reports it: a store or runner that cannot be used is bad input (one
 * line, exit 2).
 */
import { PgStore, Runner } from "@speckit/postgres"
import { Config, Effect } from "effect"
import { InputError } from "../Errors.ts"

/**
 * The store's and the runner's failures: the server unreachable, refused or newer, the address in
 * use, the cluster's settings refused.
 */
type StoreError = PgStore.StoreUnavailable | PgStore.StoreSchemaNewer | Runner.ListenFailed | Config.ConfigError

const isStoreError = (error: unknown): error is StoreError =>
  error instanceof PgStore.StoreUnavailable ||
  error instanceof PgStore.StoreSchemaNewer ||
  error instanceof Runner.ListenFailed ||
  error instanceof Config.ConfigError

/** A store's failure as bad input: one line, exit 2, nothing changed. */
export const asInput = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, StoreError> | InputError, R> =>
  Effect.mapError(effect, (error) =>
    isStoreError(error) ? new InputError({ message: error.message }) : (error as Exclude<E, StoreError>)
  )

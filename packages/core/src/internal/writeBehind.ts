/**
 * Background writes started a moment after they are asked for, so that a burst of them (a stage's
 * answers, events, consensus and artifact) goes to disk together, off the critical path of the work
 * that asked: the stage's next step, or the next stage's agents, run first, and the writes happen
 * while they wait. `flush` starts every queued write at once and waits for all of them.
 *
 * The writes live in a scope of their own, which is flushed before it closes: closing the store
 * (its layer) never drops a queued write.
 *
 * @internal
 */
import { type Cause, type Duration, Effect, Exit, Fiber, Scope } from "effect"

/** A queue of background writes. */
export interface WriteBehind<E> {
  /** Queues `write`; it starts `delay` after the first write queued since the last start, or at a `flush`. */
  readonly submit: (write: Effect.Effect<void, E>) => Effect.Effect<void>
  /** Starts `write` now, in the background (`flush` waits for it as for the queued ones). */
  readonly start: (write: Effect.Effect<void, E>) => Effect.Effect<void>
  /**
   * Starts every queued write and waits for every write started so far, then fails with the first
   * failure since the last flush, if any.
   */
  readonly flush: Effect.Effect<void, E>
}

/** A write-behind queue whose writes run in a child of the current scope, `delay` after they are queued. */
export const make = <E>(delay: Duration.Input): Effect.Effect<WriteBehind<E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const writes = yield* Scope.fork(yield* Effect.scope)
    let queued: Array<Effect.Effect<void, E>> = []
    /** Whether a start is scheduled (a timer is running). */
    let scheduled = false
    const running = new Set<Fiber.Fiber<void, E>>()
    let failed: Cause.Cause<E> | undefined

    const watch = (fiber: Fiber.Fiber<void, E>) => {
      running.add(fiber)
      fiber.addObserver((exit) => {
        running.delete(fiber)
        if (Exit.isFailure(exit) && failed === undefined) failed = exit.cause
      })
    }
    const start = (write: Effect.Effect<void, E>) => Effect.map(Effect.forkIn(write, writes), watch)
    /** Starts the queued writes (all at once: they are few, small and to different files). */
    const startQueued = Effect.suspend(() => {
      const batch = queued
      queued = []
      return Effect.forEach(batch, start, { discard: true })
    })
    const timer = Effect.sleep(delay).pipe(
      Effect.andThen(
        Effect.suspend(() => {
          scheduled = false
          return startQueued
        })
      )
    )
    const submit = (write: Effect.Effect<void, E>) =>
      Effect.suspend(() => {
        queued.push(write)
        if (scheduled) return Effect.void
        scheduled = true
        return Effect.asVoid(Effect.forkIn(timer, writes))
      })
    /** Starts the queued writes and waits for every write running then (a log's writer appends until its buffer is empty). */
    const drain = Effect.andThen(
      startQueued,
      Effect.suspend(() => (running.size === 0 ? Effect.void : Effect.asVoid(Fiber.awaitAll([...running]))))
    )
    const flush = Effect.andThen(
      drain,
      Effect.suspend(() => {
        const cause = failed
        failed = undefined
        return cause === undefined ? Effect.void : Effect.failCause(cause)
      })
    )
    // Registered after the writes' scope, so it runs before that scope closes (finalizers run last-in first).
    yield* Effect.addFinalizer(() => drain)
    return { submit, start, flush }
  })

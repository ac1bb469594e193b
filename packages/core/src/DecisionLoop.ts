/**
 * A run's decision loop: every answer and stage verdict goes through the {@link Sequencer}, and one
 * consumer takes decision N, processes it (an answer joins its stage's outcomes, a verdict becomes the
 * stage's consensus) and acknowledges it; N+1 comes after. Submitters wait until their decision is
 * processed, so a stage decides on exactly the accepted answers, each once.
 *
 * After a restart the loop restores what an earlier process had acknowledged, and the decisions it had
 * accepted but not acknowledged are delivered again (counted as replays).
 *
 * @since 0.3.0
 */
import { Deferred, Effect } from "effect"
import type { AgentId } from "./AgentId.ts"
import type { AgentOutcome } from "./AgentOutcome.ts"
import type { StageConsensus } from "./Consensus.ts"
import type { PipelineEvent } from "./PipelineEvent.ts"
import type { RunId } from "./RunId.ts"
import * as Sequencer from "./Sequencer.ts"
import * as SessionMetrics from "./SessionMetrics.ts"
import type { Stage } from "./Stage.ts"

/**
 * A run's decision loop (see the module).
 *
 * @since 0.3.0
 */
export interface DecisionLoop {
  /**
   * Begins the run in the sequencer, restores what was acknowledged before a restart, and starts the
   * consumer (a child of the calling fiber; it ends when the sequencer stops).
   */
  readonly start: Effect.Effect<void, never, SessionMetrics.SessionMetrics>
  /**
   * Submits an answer or verdict; returns once it is processed (or at once when it is rejected). A
   * replayed step's answer was accepted before the restart: it is a duplicate, processed already (or
   * redelivered), and is not counted again.
   */
  readonly submit: (
    key: Sequencer.AnswerKey,
    payload: Sequencer.Payload,
    replayed?: boolean
  ) => Effect.Effect<Sequencer.SubmitOutcome, never, SessionMetrics.SessionMetrics>
  /** The processed outcomes of a stage: one per agent, its latest attempt. */
  readonly outcomes: (stage: Stage) => ReadonlyMap<AgentId, AgentOutcome>
  /** The processed verdict of a stage, if any. */
  readonly verdict: (stage: Stage) => StageConsensus | undefined
  /** How many answers were accepted (restored ones included). */
  readonly decisions: () => number
  /** Stops the sequencer (draining it or handing back what is pending) and emits `SequencerStopped`. */
  readonly stop: (drain: boolean) => Effect.Effect<void>
}

/**
 * Makes the decision loop of run `runId` over the {@link Sequencer} in context; events go to `emit`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { DecisionLoop, RunId } from "@speckit/core"
 *
 * const program = Effect.gen(function* () {
 *   const loop = yield* DecisionLoop.make(RunId.RunId.make("run-1"), () => Effect.void)
 *   yield* loop.start
 *   // ... loop.submit(key, payload) for every answer, then:
 *   yield* loop.stop(true)
 * })
 * ```
 *
 * @since 0.3.0
 */
export const make = (runId: RunId, emit: (event: PipelineEvent) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const sequencer = yield* Sequencer.Sequencer
    const processed = new Map<Stage, Map<AgentId, AgentOutcome>>()
    const verdicts = new Map<Stage, StageConsensus>()
    const waiting = new Map<number, Deferred.Deferred<void>>()
    let processedThrough = 0
    let decisions = 0
    /** Decisions the sequencer delivers again after a restart (set when the run begins). */
    let redelivered = 0

    const outcomesOf = (stage: Stage) => {
      const known = processed.get(stage)
      if (known !== undefined) return known
      const outcomes = new Map<AgentId, AgentOutcome>()
      processed.set(stage, outcomes)
      return outcomes
    }

    /** Applies a decision: one outcome per agent (the latest attempt), or the stage's verdict. */
    const apply = (decision: Sequencer.Decision, restoring: boolean) => {
      const { key, payload } = decision
      if (payload._tag === "Verdict") {
        verdicts.set(key.stage, payload.consensus)
        return
      }
      const outcomes = outcomesOf(key.stage)
      const known = outcomes.get(payload.outcome.agent)
      if (restoring || known === undefined || known.attempts <= payload.outcome.attempts) {
        outcomes.set(payload.outcome.agent, payload.outcome)
      }
    }

    const process = (decision: Sequencer.Decision) =>
      Effect.suspend(() => {
        apply(decision, false)
        const { key, payload } = decision
        if (payload._tag !== "Verdict") return Effect.void
        return emit({
          _tag: "StageVerdict",
          seq: decision.seq,
          stage: key.stage,
          status: payload.consensus.status,
          verdict: payload.consensus.verdict,
          reason: payload.consensus.reason
        })
      })

    const restore = (acknowledged: ReadonlyArray<Sequencer.Decision>) =>
      Effect.sync(() => {
        for (const decision of acknowledged) {
          apply(decision, true)
          if (decision.payload._tag === "Answer") decisions++
          processedThrough = Math.max(processedThrough, decision.seq)
        }
      })

    const countReplay = (decision: Sequencer.Decision) =>
      Effect.suspend(() => {
        if (redelivered === 0) return Effect.void
        // Accepted before a restart but not acknowledged: delivered again, counted as a replay.
        redelivered--
        if (decision.key.agent === Sequencer.verdictAgent) return Effect.void
        return SessionMetrics.count({ kind: "replay", stage: decision.key.stage, agent: decision.key.agent as AgentId })
      })

    const consume = Effect.gen(function* () {
      while (true) {
        const decision = yield* sequencer.take
        yield* countReplay(decision)
        yield* process(decision)
        const acked = yield* sequencer.ack(decision.seq)
        if (acked._tag === "Acknowledged") {
          yield* emit({
            _tag: "DecisionAcknowledged",
            seq: decision.seq,
            stage: decision.key.stage,
            agent: decision.key.agent
          })
        }
        processedThrough = decision.seq
        const waiter = waiting.get(decision.seq)
        waiting.delete(decision.seq)
        if (waiter) yield* Deferred.succeed(waiter, undefined)
      }
    }).pipe(Effect.catchTag("SequencerStopped", () => Effect.void))

    const awaitProcessed = (seq: number) =>
      Effect.suspend(() => {
        if (processedThrough >= seq) return Effect.void
        return Effect.flatMap(Deferred.make<void>(), (deferred) => {
          waiting.set(seq, deferred)
          return Deferred.await(deferred)
        })
      })

    const reject = Effect.fnUntraced(function* (key: Sequencer.AnswerKey, reason: "Duplicate" | "Stale" | "Stopped") {
      yield* emit({ _tag: "DecisionRejected", reason, stage: key.stage, agent: key.agent })
      if (reason === "Stopped" || key.agent === Sequencer.verdictAgent) return
      yield* SessionMetrics.count({
        kind: reason === "Duplicate" ? "duplicate" : "stale",
        stage: key.stage,
        agent: key.agent as AgentId
      })
    })

    // Generator functions made once per loop, not per decision (each made per call has its own prototype).
    const submit = Effect.fnUntraced(function* (
      key: Sequencer.AnswerKey,
      payload: Sequencer.Payload,
      replayed: boolean = false
    ) {
      const submitted = yield* sequencer.submit(key, payload)
      if (submitted._tag === "Accepted") {
        // By its key, not its payload: answers' and verdicts' keys have one shape, their payloads two.
        if (key.agent !== Sequencer.verdictAgent) decisions++
        yield* emit({ _tag: "DecisionAccepted", seq: submitted.decision.seq, stage: key.stage, agent: key.agent })
        yield* awaitProcessed(submitted.decision.seq)
      } else if (submitted._tag === "Duplicate" && (replayed || key.agent === Sequencer.verdictAgent)) {
        yield* awaitProcessed(submitted.seq)
      } else {
        yield* reject(key, submitted._tag)
      }
      return submitted
    })

    const start = Effect.gen(function* () {
      const resumed = yield* sequencer.begin(runId)
      yield* restore(resumed.acknowledged)
      redelivered = resumed.redelivered
      yield* Effect.forkChild(consume)
    })

    const stop = (drain: boolean) =>
      Effect.gen(function* () {
        const stopAck = yield* sequencer.stop({ drain })
        yield* emit({
          _tag: "SequencerStopped",
          accepted: stopAck.stats.accepted,
          duplicates: stopAck.stats.duplicates,
          stale: stopAck.stats.stale,
          acknowledged: stopAck.stats.acknowledged,
          ignoredAcks: stopAck.stats.ignoredAcks,
          handedBack: stopAck.pending.length
        })
      })

    const loop: DecisionLoop = {
      start,
      submit,
      outcomes: (stage) => processed.get(stage) ?? new Map(),
      verdict: (stage) => verdicts.get(stage),
      decisions: () => decisions,
      stop
    }
    return loop
  })

/**
 * Sequencer throughput, in memory: decisions submitted by 4 concurrent producers (distinct keys),
 * delivered one at a time to a consumer that acknowledges each before the next, buffer capacity 1024.
 *
 * ratio = sequencer decisions/s / 1M decisions/s (the goal; higher is better). The bare effect
 * `Queue` doing the same hand-off (offer, take; no keys, no seqs, no ACK) is measured in the same run
 * as the reference, and `vsQueue` = sequencer / queue throughput. The producers' keys are made before
 * the clock starts, as the Queue's values are: the figure is the sequencer's (its key index, a `Map` of
 * every key the run accepted, is part of it). Both are measured in a process of their own (this file
 * run as a script), so that the figures do not depend on the benchmarks the runner ran before: after
 * them, the effect runtime's call sites have seen other effects' shapes and the same code is slower.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Fiber, Queue } from "effect"
import { type Benchmark, median, round2 } from "./Bench.ts"
import { DecisionSequencer } from "./deps.ts"

const decisions = 200_000
const producers = 4
const capacity = 1024
const goal = 1_000_000
const runs = 5

const perSecond = (ms: number) => (decisions / ms) * 1000

/** Each producer's idempotency keys, made once. */
const keys = Array.from({ length: producers }, (_, p) =>
  Array.from({ length: decisions / producers }, (_, i) => `${p}/${i}`)
)

const sequencerRound = Effect.gen(function* () {
  const sequencer = yield* DecisionSequencer.make<number>({ runId: "bench", capacity })
  const started = performance.now()
  const consumer = yield* Effect.forkChild(
    Effect.gen(function* () {
      for (let i = 0; i < decisions; i++) {
        const decision = yield* sequencer.take
        yield* sequencer.ack(decision.seq)
      }
    })
  )
  const per = decisions / producers
  const fibers = yield* Effect.forEach(
    Array.from({ length: producers }, (_, p) => p),
    (p) =>
      Effect.forkChild(
        Effect.gen(function* () {
          const own = keys[p] ?? []
          for (let i = 0; i < per; i++) yield* sequencer.submit({ runId: "bench", key: own[i] ?? "", value: i })
        })
      )
  )
  yield* Fiber.joinAll(fibers)
  yield* Fiber.join(consumer)
  const elapsed = performance.now() - started
  const stats = yield* sequencer.stats
  if (stats.acknowledged !== decisions || stats.nextSeq !== decisions + 1) {
    return yield* Effect.die(new Error(`invalid run: ${JSON.stringify(stats)}`))
  }
  return elapsed
})

const queueRound = Effect.gen(function* () {
  const queue = yield* Queue.bounded<number>(capacity)
  const started = performance.now()
  const consumer = yield* Effect.forkChild(
    Effect.gen(function* () {
      for (let i = 0; i < decisions; i++) yield* Queue.take(queue)
    })
  )
  const per = decisions / producers
  const fibers = yield* Effect.forEach(
    Array.from({ length: producers }, (_, p) => p),
    () =>
      Effect.forkChild(
        Effect.gen(function* () {
          for (let i = 0; i < per; i++) yield* Queue.offer(queue, i)
        })
      )
  )
  yield* Fiber.joinAll(fibers)
  yield* Fiber.join(consumer)
  return performance.now() - started
})

/** Both measurements, warmed up once, then interleaved: decisions/s of each round. */
const measure = async () => {
  const seq: Array<number> = []
  const queue: Array<number> = []
  await Effect.runPromise(sequencerRound)
  await Effect.runPromise(queueRound)
  for (let i = 0; i < runs; i++) {
    seq.push(perSecond(await Effect.runPromise(sequencerRound)))
    queue.push(perSecond(await Effect.runPromise(queueRound)))
  }
  return { seq, queue }
}

/** The environment variable that makes this file, run as a script, measure and print its samples. */
const childFlag = "SPECKIT_BENCH_SEQUENCER_CHILD"

/** Runs `measure` in a fresh process: this file as a script, under the runner's TypeScript loader. */
const measureInChild = (): { readonly seq: Array<number>; readonly queue: Array<number> } => {
  const result = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    encoding: "utf8",
    env: { ...process.env, [childFlag]: "1" }
  })
  if (result.status !== 0) throw new Error(`the sequencer child exited ${result.status}: ${result.stderr.slice(-2000)}`)
  return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}")
}

if (process.env[childFlag] === "1") {
  measure().then(
    (samples) => process.stdout.write(`${JSON.stringify(samples)}\n`),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}

const benchmark: Benchmark = {
  name: "sequencer",
  description: `${decisions} decisions, ${producers} producers, accept + deliver + ACK in memory, vs a bare Queue (in a process of their own)`,
  target: { ratio: 1, direction: "min" },
  run: async () => {
    const { seq, queue } = measureInChild()
    const measured = median(seq)
    const reference = median(queue)
    return {
      baseline: { label: "goal", value: goal, unit: "dec/s" },
      measured: {
        label: "sequencer (median)",
        value: Math.round(measured),
        unit: "dec/s",
        samples: seq.map(Math.round)
      },
      extra: [
        {
          label: "bare Queue offer/take (median)",
          value: Math.round(reference),
          unit: "dec/s",
          samples: queue.map(Math.round)
        }
      ],
      details: { vsQueue: round2(measured / reference) }
    }
  }
}

export default benchmark

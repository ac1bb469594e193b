/**
 * Grounded validation's overhead: the project's checks on the base and on 3 candidates (2 checks each,
 * each a 1 s command), through `CheckPhase` (a worktree per target made from the base and the
 * candidate's patch, every check run a step of the run, at most 2 at a time) against running the same
 * 8 commands directly in the checkout, 2 at a time, in the same run.
 *
 * ratio = CheckPhase wall time / direct wall time (target ≤ 1.1).
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { type Benchmark, ms, sample } from "./Bench.ts"
import {
  CheckPhase,
  FaultInjector,
  GitWorktrees,
  MemorySequencer,
  NodeServices,
  ProcessChecks,
  RunContext,
  RunId,
  RunStore,
  type Spec
} from "./deps.ts"

const concurrency = 2
const checks = [
  { name: "test", command: ["node", "-e", "setTimeout(() => {}, 1000)"] as const },
  { name: "lint", command: ["node", "-e", "setTimeout(() => {}, 1000)"] as const }
]

const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", ["-c", "core.hooksPath=/dev/null", ...args], {
    cwd,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "b",
      GIT_AUTHOR_EMAIL: "b@b",
      GIT_COMMITTER_NAME: "b",
      GIT_COMMITTER_EMAIL: "b@b"
    }
  }).toString()

/** A repository with 3 candidate patches against its base. */
const repository = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-bench-checks-"))
  fs.mkdirSync(path.join(dir, "src"))
  fs.writeFileSync(path.join(dir, "src/index.js"), "export const one = 1\n")
  fs.writeFileSync(path.join(dir, ".gitignore"), ".speckit/\n")
  git(dir, "init", "--quiet")
  git(dir, "add", "-A")
  git(dir, "commit", "--quiet", "-m", "base")
  const base = git(dir, "rev-parse", "HEAD").trim()
  const patches = ["a", "b", "c"].map((name) => {
    fs.writeFileSync(path.join(dir, `src/${name}.js`), `export const ${name} = 1\n`)
    git(dir, "add", "-A")
    const patch = git(dir, "diff", "--cached", "--binary", base)
    git(dir, "reset", "--quiet", "--hard", base)
    return { name, patch }
  })
  return { dir, base, patches }
}

/** The 8 commands run directly, `concurrency` at a time. */
const direct = (cwd: string) => {
  const jobs = Array.from({ length: 4 }, () => checks).flat()
  const runOne = (command: ReadonlyArray<string>) =>
    new Promise<void>((resolve, reject) => {
      const [program = "node", ...args] = command
      spawn(program, args, { cwd, stdio: "ignore" })
        .on("exit", () => resolve())
        .on("error", reject)
    })
  let next = 0
  const lane = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]
      if (job) await runOne(job.command)
    }
  }
  return Promise.all(Array.from({ length: concurrency }, lane))
}

const noStore = Layer.succeed(RunStore.RunStore, {
  runDir: (runId) => `.speckit/runs/${runId}`,
  begin: () => Effect.void,
  saveAnswer: () => Effect.void,
  saveConsensus: () => Effect.succeed(""),
  finish: () => Effect.void
})

const benchmark: Benchmark = {
  name: "checks",
  description:
    "base + 3 candidates × 2 checks of 1 s, 2 at a time: CheckPhase (worktrees, steps) vs the commands directly",
  target: { ratio: 1.1, direction: "max" },
  run: async () => {
    const { dir, base, patches } = repository()
    try {
      const spec = {
        id: "BENCH",
        title: "bench",
        text: "# bench\n",
        directory: path.join(dir, "specs/BENCH")
      } as Spec.Spec
      const layer = Layer.mergeAll(
        GitWorktrees.layer({ workspace: dir }),
        ProcessChecks.layer,
        MemorySequencer.layer,
        noStore,
        FaultInjector.FaultInjector.layerNone
      ).pipe(Layer.provide(NodeServices.layer))
      let n = 0
      const phase = () =>
        Effect.runPromise(
          Effect.gen(function* () {
            const runId = RunId.RunId.make(`run-bench-${++n}`)
            const logger = yield* RunContext.logger(runId)
            const record = { runId, specId: spec.id, specDirectory: spec.directory, startedAt: "", config: {} }
            const run = yield* RunContext.make(logger, { runId, spec, config: {}, record })
            return yield* CheckPhase.run(run, {
              stage: "validate",
              base,
              targets: [{ name: CheckPhase.base }, ...patches],
              checks,
              concurrency
            })
          }).pipe(Effect.provide(layer))
        )
      const directSamples: Array<number> = []
      const phaseSamples: Array<number> = []
      for (let round = 0; round < 2; round++) {
        directSamples.push(...(await sample({ runs: 1, warmup: 0, task: () => direct(dir) })))
        phaseSamples.push(...(await sample({ runs: 1, warmup: 0, task: phase })))
      }
      return {
        baseline: ms("the 8 commands directly, 2 at a time", directSamples),
        measured: ms("CheckPhase: worktrees, steps, 2 at a time", phaseSamples)
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default benchmark

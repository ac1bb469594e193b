/**
 * The cost of a candidate's worktree on a repository of 2,000 files: speckit's `Worktrees` (open at
 * the base with the setup, the agent's change, collect the patch and its files, remove) against the
 * same git work done by hand in the same run (`git worktree add`, the change, `git add -A` +
 * `git diff --binary`, `git worktree remove`).
 *
 * ratio = speckit per agent / bare git per agent (target ≤ 1.2).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { type Benchmark, ms, sample } from "./Bench.ts"
import { GitWorktrees, NodeServices, Worktrees } from "./deps.ts"

const files = 2_000

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

/** A repository of `files` small source files in 40 folders, committed. */
const repository = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-bench-worktree-"))
  for (let i = 0; i < files; i++) {
    const file = path.join(dir, "src", `m${i % 40}`, `f${i}.js`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, `export const f${i} = (x) => x + ${i}\n`)
  }
  fs.writeFileSync(path.join(dir, ".gitignore"), ".speckit/\n")
  git(dir, "init", "--quiet")
  git(dir, "add", "-A")
  git(dir, "commit", "--quiet", "-m", "base")
  return { dir, base: git(dir, "rev-parse", "HEAD").trim() }
}

/** What an agent does in its worktree: change one file, add one. */
const change = (where: string, n: number) => {
  fs.appendFileSync(path.join(where, "src/m0/f0.js"), `export const g${n} = 1\n`)
  fs.writeFileSync(path.join(where, `new${n}.js`), "export {}\n")
}

const benchmark: Benchmark = {
  name: "worktree",
  description: `a candidate's worktree (open, change, collect, remove) on ${files} files: Worktrees vs bare git`,
  target: { ratio: 1.2, direction: "max" },
  run: async () => {
    const { dir, base } = repository()
    try {
      let n = 0
      const bare = () => {
        n++
        const where = path.join(dir, ".speckit", "bare", String(n))
        git(dir, "worktree", "add", "--detach", "--quiet", where, base)
        change(where, n)
        git(where, "add", "-A")
        git(where, "diff", "--cached", "--binary", base)
        git(dir, "worktree", "remove", "--force", where)
        return Promise.resolve()
      }
      const layer = GitWorktrees.layer({ workspace: dir }).pipe(Layer.provide(NodeServices.layer))
      // One layer, as in a run; each candidate in a scope of its own.
      const worktrees = await Effect.runPromise(
        Effect.gen(function* () {
          return yield* Worktrees.Worktrees
        }).pipe(Effect.provide(layer))
      )
      const speckit = () =>
        Effect.runPromise(
          Effect.gen(function* () {
            n++
            const where = yield* worktrees.open({ runId: "bench", name: `agent${n}`, base })
            change(where, n)
            return yield* worktrees.collect(where, base)
          }).pipe(Effect.scoped)
        )
      // Interleaved rounds, so that both see the same machine, in alternating order (bare first, then
      // speckit first): git's own times drift during a run on some machines (this CI's: a bare round
      // from 150 ms to 470 ms within one run, bare git alone too), and a fixed order charged that drift
      // to whichever ran second.
      const bareSamples: Array<number> = []
      const speckitSamples: Array<number> = []
      await sample({ runs: 0, warmup: 1, task: bare })
      await sample({ runs: 0, warmup: 1, task: speckit })
      for (let round = 0; round < 10; round++) {
        const first = round % 2 === 0 ? bare : speckit
        const second = first === bare ? speckit : bare
        const [a, b] = [
          await sample({ runs: 1, warmup: 0, task: first }),
          await sample({ runs: 1, warmup: 0, task: second })
        ]
        bareSamples.push(...(first === bare ? a : b))
        speckitSamples.push(...(first === bare ? b : a))
      }
      return {
        baseline: ms("bare git: worktree add, diff, remove", bareSamples),
        measured: ms("Worktrees: open, collect, remove", speckitSamples)
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export default benchmark

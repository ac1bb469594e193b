/**
 * The `speckit` command line: commands and layer composition only.
 *
 * @since 0.1.0
 */
import * as Worktrees from "@speckit/core/Worktrees"
import * as Git from "@speckit/git/Git"
import { Config, Effect, FileSystem, Option, Path } from "effect"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { Argument, Command, Flag } from "effect/cli"
import { InputError } from "./Errors.ts"
import * as Main from "./Main.ts"
import * as Runs from "./Runs.ts"

/**
 * The modules a command needs, loaded when it runs: `--help`, `--version`, `runs`, `status` and `clean`
 * never load the pipeline, the tokenizer, the price and model catalogues, SQL, the HTTP client or the
 * workflow engine (in the bundle each is a chunk of its own); `clean` loads SQLite's lock alone, to
 * test a lock that exists. Plugins are imported by the module a command uses (`@speckit/git/GitWorktrees`,
 * not `@speckit/git`), and those import the kernel's modules, not its index, which brings them all.
 * test/Startup.test.ts checks what each of these commands loads from the bundle.
 */
const load = {
  run: Effect.promise(() => import("./Run.ts")),
  demo: Effect.promise(() => import("./Demo.ts")),
  estimate: Effect.promise(() => import("./Estimate.ts")),
  report: Effect.promise(() => import("./Report.ts")),
  stateLock: Effect.promise(() => import("@speckit/sqlite/StateLock")),
  fleet: Effect.promise(() => import("./Fleet.ts")),
  worker: Effect.promise(() => import("./FleetWorker.ts")),
  worktrees: Effect.promise(() => import("@speckit/git/GitWorktrees"))
}

/** A `--json` flag (off by default) saying what it prints. */
const jsonFlag = (description: string) =>
  Flag.Boolean("json").pipe(Flag.withDescription(description), Flag.withDefault(false))

const json = jsonFlag("Print one machine-readable JSON summary on stdout (progress goes to stderr).")

const workspace = Flag.String("workspace").pipe(
  Flag.withAlias("C"),
  Flag.withDescription("The workspace directory holding specs/ and speckit.config.json."),
  Flag.withDefault(".")
)

const metricsFile = Flag.String("metrics-file").pipe(
  Flag.withDescription(
    "Write the run's metrics (tokens, cost, calls per agent, stage and model) as Prometheus text to FILE at the end, also when interrupted."
  ),
  Flag.optional
)

const apply = Flag.Boolean("apply").pipe(
  Flag.withDescription(
    "Once the run delivered its change to its branch speckit/<SPEC-ID>/<run-id>, also fast-forward the current branch to it: only when HEAD is still the run's base commit and no tracked file is modified (else exit 1 with the reason; the branch stays)."
  ),
  Flag.withDefault(false)
)

const store = Flag.String("store").pipe(
  Flag.withDescription(
    "A fleet's store: postgres://USER:PASSWORD@HOST:PORT/DATABASE (default: $SPECKIT_STORE). The command works on the runs of the `speckit worker`s sharing it instead of this workspace's."
  ),
  Flag.withFallbackConfig(Config.String("SPECKIT_STORE")),
  Flag.optional
)

const optionalPath = (value: { readonly _tag: "Some"; readonly value: string } | { readonly _tag: "None" }) =>
  value._tag === "Some" ? value.value : undefined

/**
 * `speckit auto <SPEC-ID>`.
 *
 * @since 0.1.0
 */
export const auto = Command.make(
  "auto",
  {
    specId: Argument.String("SPEC-ID").pipe(
      Argument.withDescription("The spec to run: the directory name under specs/ holding spec.md.")
    ),
    workspace,
    json,
    metricsFile,
    fresh: Flag.Boolean("new").pipe(
      Flag.withDescription("Start a new run even when the spec has an unfinished run on this branch."),
      Flag.withDefault(false)
    ),
    apply,
    store,
    detach: Flag.Boolean("detach").pipe(
      Flag.withDescription("With --store: print the submitted run's id and return at once (the run goes on)."),
      Flag.withDefault(false)
    ),
    remote: Flag.String("remote").pipe(
      Flag.withDescription(
        "With --store: the remote the workers fetch the run's base commit from and push its branch to, a remote's name or a URL (default: origin)."
      ),
      Flag.optional
    )
  },
  (options) =>
    Option.match(options.store, {
      onNone: () =>
        options.detach || Option.isSome(options.remote)
          ? Effect.fail(
              new InputError({
                message: `${options.detach ? "--detach" : "--remote"} is for a run submitted to a fleet: give --store (or SPECKIT_STORE)`
              })
            )
          : Effect.flatMap(load.run, (Run) =>
              Run.auto({ ...options, metricsFile: optionalPath(options.metricsFile) })
            ).pipe(Effect.asVoid),
      onSome: (url) =>
        options.apply || Option.isSome(options.metricsFile)
          ? Effect.fail(
              new InputError({
                message: `${options.apply ? "--apply" : "--metrics-file"} works on a run in this workspace, not on a run submitted with --store`
              })
            )
          : Effect.flatMap(load.fleet, (Fleet) =>
              Fleet.submit({
                specId: options.specId,
                workspace: options.workspace,
                store: url,
                detach: options.detach,
                json: options.json,
                remote: Option.getOrUndefined(options.remote)
              })
            ).pipe(Effect.asVoid)
    })
).pipe(
  Command.withDescription(
    "Run a spec through every stage (plan, tasks, implement, validate, audit, unlock). With --store (or SPECKIT_STORE) the run is submitted to a fleet of `speckit worker`s sharing that PostgreSQL store (the spec's text, the configuration and, for a run that changes code, the repository's remote and base commit travel with it: the workers fetch the base from the remote, or --remote, and push the branch speckit/<SPEC-ID>/<run-id> there) and followed until it ends, or with --detach its run id is printed at once; Ctrl-C while following leaves it running. In each stage the configured agents answer concurrently and their answers are merged into a consensus, written to specs/<SPEC-ID>/<stage>.md; raw answers, consensus and a summary go to .speckit/runs/<run-id>/. The run is durable (journaled in .speckit/state.db): after a crash, Ctrl-C or a pause, `speckit resume <RUN-ID>` goes on where it stopped without calling again the agents whose answers were recorded. A spec with an unfinished run on the current branch is refused (resume it, or pass --new). One speckit process at a time per workspace. Exit codes: 0 completed, 1 failed or halted, 2 bad input, 3 paused for a review, 130 interrupted (2 also when the workspace's state database is in use by another process, corrupt or foreign; after a 3, answer with `speckit approve` or `speckit reject`, then `speckit resume`)."
  ),
  Command.withExamples([
    { command: "speckit auto SPEC-001-slugify", description: "Run a spec in the current workspace" },
    { command: "speckit auto SPEC-7 -C ~/work/shop --json", description: "Run in another workspace, print JSON" },
    {
      command: "speckit auto SPEC-7 --store postgres://speckit@db:5432/speckit --detach",
      description: "Submit a run to a fleet"
    }
  ])
)

const runIdArgument = (description: string) => Argument.String("RUN-ID").pipe(Argument.withDescription(description))

const force = (description: string) =>
  Flag.Boolean("force").pipe(Flag.withDescription(description), Flag.withDefault(false))

/**
 * `speckit resume`: continue a crashed, cancelled or paused run.
 *
 * @since 0.2.0
 */
export const resume = Command.make(
  "resume",
  {
    runId: runIdArgument("The run to continue (see `speckit runs`)."),
    workspace,
    json,
    metricsFile,
    force: force("Resume even though the workspace is on another git branch than the run."),
    apply,
    store
  },
  (options) =>
    Option.match(options.store, {
      onNone: () =>
        Effect.flatMap(load.run, (Run) =>
          Run.resume({ ...options, metricsFile: optionalPath(options.metricsFile) })
        ).pipe(Effect.asVoid),
      onSome: (url) =>
        options.apply || Option.isSome(options.metricsFile)
          ? Effect.fail(
              new InputError({
                message: `${options.apply ? "--apply" : "--metrics-file"} works on a run in this workspace, not on a run of a fleet`
              })
            )
          : Effect.flatMap(load.fleet, (Fleet) =>
              Fleet.follow({ runId: options.runId, store: url, json: options.json })
            ).pipe(Effect.asVoid)
    })
).pipe(
  Command.withDescription(
    "Continue a run that stopped: crashed or killed, cancelled with Ctrl-C, or paused. Recorded steps are replayed from .speckit/state.db (agents whose answers were recorded are not called again, their costs still count); the rest runs. A run paused for a review goes on once `speckit approve` or `speckit reject` answered it (a budget pause once `speckit budget` raised the budget); until then resume only reports it (exit 3). A run of another git branch is refused unless --force. With --store: follows a run of that fleet again with the live view (a fleet's runs go on by themselves: a worker takes over a dead worker's runs, a paused run goes on once answered). Exit codes: as for `speckit auto`."
  ),
  Command.withExamples([
    { command: "speckit resume 20261125-093012-k3f9", description: "Continue a run after a crash" },
    { command: "speckit resume 20261125-093012-k3f9 --force --json", description: "Continue it on another branch" }
  ])
)

const note = Flag.String("note").pipe(Flag.withDescription("A note for the record (why)."), Flag.optional)

const recordAnswer = (
  workspace: string,
  runId: string,
  given: Omit<Runs.Answer, "name" | "at" | "branch">,
  forced: boolean,
  json: boolean
) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const git = Option.getOrUndefined(yield* Git.state(path.resolve(workspace)))
    const recorded = yield* Runs.answer(workspace, runId, given, { force: forced, branch: git?.branch })
    process.stdout.write(
      json
        ? `${JSON.stringify(recorded.answer, null, 2)}\n`
        : `recorded for run ${runId} (${recorded.answer.name}); continue it with \`speckit resume ${runId}\`\n`
    )
  })

const answerOptions = {
  runId: runIdArgument("The paused run (see `speckit runs`)."),
  workspace,
  note,
  force: force("Answer even though the workspace is on another git branch than the run."),
  json: jsonFlag("Print the recorded answer as JSON."),
  store
}

/** Answers a paused run: in the workspace (then `speckit resume`), or on the fleet of `--store`. */
const answerRun = (
  options: {
    readonly workspace: string
    readonly runId: string
    readonly force: boolean
    readonly json: boolean
    readonly store: Option.Option<string>
  },
  given: { readonly kind: "review"; readonly approved: boolean } | { readonly kind: "budget"; readonly usd: number },
  note: string | undefined
) =>
  Option.match(options.store, {
    onNone: () => recordAnswer(options.workspace, options.runId, { ...given, note }, options.force, options.json),
    onSome: (url) =>
      Effect.flatMap(load.fleet, (Fleet) =>
        Fleet.answer({ runId: options.runId, store: url, given: { ...given, note }, json: options.json })
      )
  })

/**
 * `speckit approve`: approve a run paused for a review.
 *
 * @since 0.2.0
 */
export const approve = Command.make("approve", answerOptions, (options) =>
  answerRun(options, { kind: "review", approved: true }, optionalPath(options.note))
).pipe(
  Command.withDescription(
    "Approve the review a run is paused for (a stage ended in conflict under onConflict: pause); `speckit resume RUN-ID` then goes on with the next stage. With --store: a run of that fleet, which goes on at once on its worker. Exit codes: 0 recorded, 2 no such run, not paused for a review, or another branch's run."
  ),
  Command.withExamples([
    { command: 'speckit approve 20261125-093012-k3f9 --note "the dissent is about wording"', description: "Approve" }
  ])
)

/**
 * `speckit reject`: reject a run paused for a review.
 *
 * @since 0.2.0
 */
export const reject = Command.make("reject", answerOptions, (options) =>
  answerRun(options, { kind: "review", approved: false }, optionalPath(options.note))
).pipe(
  Command.withDescription(
    "Reject the review a run is paused for; `speckit resume RUN-ID` then ends the run as halted (exit 1). With --store: a run of that fleet, which ends at once on its worker. Exit codes: 0 recorded, 2 no such run, not paused for a review, or another branch's run."
  ),
  Command.withExamples([
    { command: 'speckit reject 20261125-093012-k3f9 --note "plan misses R2"', description: "Reject" }
  ])
)

/**
 * `speckit budget`: raise the budget of a run paused over budget.
 *
 * @since 0.2.0
 */
export const budget = Command.make(
  "budget",
  {
    ...answerOptions,
    usd: Flag.Finite("usd").pipe(Flag.withDescription("The run's new budget in USD (the total, not an increment)."))
  },
  (options) =>
    options.usd > 0
      ? answerRun(options, { kind: "budget", usd: options.usd }, optionalPath(options.note))
      : Effect.fail(new InputError({ message: `--usd must be a positive amount, got ${options.usd}` }))
).pipe(
  Command.withDescription(
    "Raise the budget of a run paused before a call that would have crossed it (budget.onExceed: pause); `speckit resume RUN-ID` then goes on. With --store: a run of that fleet, which goes on at once on its worker. Exit codes: 0 recorded, 2 no such run, not paused for its budget, or another branch's run."
  ),
  Command.withExamples([{ command: "speckit budget 20261125-093012-k3f9 --usd 5", description: "Allow $5 in all" }])
)

/**
 * `speckit demo [DIR]`.
 *
 * @since 0.1.0
 */
export const demo = Command.make(
  "demo",
  {
    directory: Argument.String("DIR").pipe(
      Argument.withDescription("Where to create the sample workspace (default: a new temporary directory)."),
      Argument.optional
    ),
    json,
    metricsFile
  },
  Effect.fn(function* ({ directory, json, metricsFile }) {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const target =
      directory._tag === "Some"
        ? path.resolve(directory.value)
        : yield* fs.makeTempDirectory({ prefix: "speckit-demo-" })
    const Demo = yield* load.demo
    const Run = yield* load.run
    const repository = yield* Demo.create(target)
    const note = `speckit demo: sample workspace in ${target} (spec ${Demo.specId}${repository ? ", a git repository: the agents make real changes" : "; git is missing, so the agents only describe their changes"})\n`
    if (json) process.stderr.write(note)
    else process.stdout.write(note)
    yield* Run.auto({
      specId: Demo.specId,
      workspace: target,
      json,
      metricsFile: optionalPath(metricsFile),
      fresh: true
    })
  })
).pipe(
  Command.withDescription(
    "Create a sample workspace and run `speckit auto` on it: a small git repository (a JavaScript module with a node --test suite), a spec asking for one more function, and three simulated agents that each change the code in a worktree of their own (one of them writes a flawed variant). The suite runs on every candidate, the best is chosen and delivered to a branch speckit/<SPEC-ID>/<run-id>; the summary says how to look at it. Files that already exist in DIR are kept. Exit codes: as for `speckit auto` (0 completed, 1 failed or halted, 2 bad input, 3 paused for a review, 130 interrupted)."
  ),
  Command.withExamples([
    { command: "speckit demo", description: "Run the demo in a temporary directory" },
    { command: "speckit demo ./speckit-demo", description: "Create the demo workspace in ./speckit-demo and run it" }
  ])
)

/**
 * `speckit estimate <SPEC-ID>`.
 *
 * @since 0.1.0
 */
export const estimate = Command.make(
  "estimate",
  {
    specId: Argument.String("SPEC-ID").pipe(Argument.withDescription("The spec to estimate (under specs/).")),
    workspace,
    json: jsonFlag("Print the estimate as one JSON object on stdout.")
  },
  (options) => Effect.flatMap(load.estimate, (Estimate) => Estimate.estimate(options)).pipe(Effect.asVoid)
).pipe(
  Command.withDescription(
    "Predict what `speckit auto` will cost before anything is spent: tokens and USD per stage and agent and in total, with a low-high range. The first stage's prompt is counted; later prompts and all outputs come from earlier runs in this workspace (.speckit/runs/*/summary.json) when there are any, else from documented defaults; every figure says which. Exit codes: 0, 2 bad input or an unpriced model."
  ),
  Command.withExamples([
    { command: "speckit estimate SPEC-001-slugify", description: "Estimate a spec in the current workspace" },
    { command: "speckit estimate SPEC-7 -C ~/work/shop --json", description: "Machine-readable estimate" }
  ])
)

/**
 * `speckit runs`.
 *
 * @since 0.1.0
 */
export const runs = Command.make(
  "runs",
  {
    workspace,
    json: jsonFlag("Print the runs as a JSON array."),
    store
  },
  Effect.fn(function* ({ workspace, json, store }) {
    if (Option.isSome(store)) {
      const Fleet = yield* load.fleet
      yield* Fleet.runs({ store: store.value, json })
      return
    }
    const listed = yield* Runs.list(workspace)
    process.stdout.write(
      json
        ? `${JSON.stringify(
            listed.map(({ summary: _summary, ...run }) => run),
            null,
            2
          )}\n`
        : Runs.formatList(listed, Date.now())
    )
  })
).pipe(
  Command.withDescription(
    "List this workspace's runs, newest first: id, spec, git branch, status and phase, cost and age. A run without a summary is `unfinished`: still going, or stopped abruptly. With --store: the runs submitted to that fleet (the newest 100), each running, finished with its status, or failed and why."
  ),
  Command.withExamples([
    { command: "speckit runs -C ~/work/shop", description: "List the runs of another workspace" },
    { command: "speckit runs --store postgres://speckit@db:5432/speckit --json", description: "A fleet's runs" }
  ])
)

/**
 * `speckit status [RUN-ID]`.
 *
 * @since 0.1.0
 */
export const status = Command.make(
  "status",
  {
    runId: runIdArgument("The run to show (default: the newest run of the workspace).").pipe(Argument.optional),
    workspace,
    json: jsonFlag("Print the run's summary (or record) as one JSON object."),
    store
  },
  Effect.fn(function* ({ runId, workspace, json, store }) {
    if (Option.isSome(store)) {
      if (Option.isNone(runId))
        return yield* new InputError({ message: "with --store, name the run: speckit status RUN-ID --store URL" })
      const Fleet = yield* load.fleet
      yield* Fleet.status({ runId: runId.value, store: store.value, json })
      return
    }
    const run = yield* Runs.find(workspace, Option.getOrUndefined(runId))
    // A run without a summary (running, or killed): what its event log says was recorded.
    const stages = run.summary === undefined ? yield* Runs.recorded(workspace, run.runId) : undefined
    const leftovers = yield* leftoversOf(workspace, run.runId)
    const shown = run.summary ?? { ...run, stages }
    process.stdout.write(
      json
        ? `${JSON.stringify(leftovers.length > 0 ? { ...shown, leftovers } : shown, null, 2)}\n`
        : `${Runs.formatStatus(run, stages)}${leftovers.length > 0 ? `  leftovers ${leftovers.length} worktree(s) from a crash: ${leftovers.map((l) => `${l.name}${l.dirty ? " (held changes)" : ""}`).join(", ")}; remove them with \`speckit clean ${run.runId}\`\n` : ""}`
    )
  })
).pipe(
  Command.withDescription(
    "Show one run: its status and phase, each stage's consensus and agents (attempts, cost, errors), decisions, cost and the last error. With --store: where a run submitted to that fleet is (running, finished with its status, or failed and why) and each stage's status so far, from the store. Exit codes: 0, 2 when there is no such run or the store cannot be used."
  ),
  Command.withExamples([
    { command: "speckit status", description: "The newest run" },
    { command: "speckit status run-20261125-093012-k3f9 --json", description: "One run, as JSON" }
  ])
)

/**
 * `speckit cancel RUN-ID --store URL`: cancel a run submitted to a fleet.
 *
 * @since 0.4.0
 */
export const cancel = Command.make(
  "cancel",
  { runId: runIdArgument("The run to cancel."), store },
  ({ runId, store }) =>
    Option.match(store, {
      onNone: () =>
        Effect.fail(
          new InputError({
            message:
              "cancel stops a run submitted to a fleet: give --store (or SPECKIT_STORE); a run in this terminal stops with Ctrl-C"
          })
        ),
      onSome: (url) => Effect.flatMap(load.fleet, (Fleet) => Fleet.cancel({ runId, store: url }))
    })
).pipe(
  Command.withDescription(
    "Cancel a run submitted to a fleet: its execution is interrupted on the worker that runs it (its agents' processes stopped). Exit codes: 0, 2 when the store cannot be used."
  ),
  Command.withExamples([
    {
      command: "speckit cancel run-20261204-101500-a1b2 --store postgres://speckit@db:5432/speckit",
      description: "Cancel a fleet's run"
    }
  ])
)

const defaultCache = () =>
  NodePath.join(process.env.XDG_CACHE_HOME ?? NodePath.join(Os.homedir(), ".cache"), "speckit", "runs")

/**
 * `speckit worker --store URL`: a runner of a fleet.
 *
 * @since 0.4.0
 */
export const worker = Command.make(
  "worker",
  {
    store: Flag.String("store").pipe(
      Flag.withDescription("The fleet's store: postgres://USER:PASSWORD@HOST:PORT/DATABASE (default: $SPECKIT_STORE)."),
      Flag.withFallbackConfig(Config.String("SPECKIT_STORE"))
    ),
    listen: Flag.String("listen").pipe(
      Flag.withDescription(
        "HOST:PORT where this worker listens for the other workers and the clients (default 127.0.0.1:34431; give each worker on one machine its own port). Generic HOST and PORT variables are never read."
      ),
      Flag.withDefault("127.0.0.1:34431")
    ),
    cache: Flag.String("cache").pipe(
      Flag.withDescription(
        "Where the runs this worker takes are written, one directory per run (default: $XDG_CACHE_HOME/speckit/runs, else ~/.cache/speckit/runs)."
      ),
      Flag.optional
    )
  },
  ({ store, listen, cache }) =>
    Effect.gen(function* () {
      const FleetWorker = yield* load.worker
      const address = FleetWorker.parseAddress(listen)
      if (address === undefined) return yield* new InputError({ message: `--listen ${listen} is not HOST:PORT` })
      Main.onInterruption({
        exitCode: 0,
        stopping:
          "speckit worker: stopping: no new work; the steps in flight finish (press Ctrl-C again to exit at once)",
        message: "speckit worker: stopped; its runs go on on the other workers"
      })
      return yield* FleetWorker.worker({ store, listen: address, cache: Option.getOrElse(cache, defaultCache) })
    })
).pipe(
  Command.withDescription(
    "Run a fleet's worker: an effect/cluster runner over the PostgreSQL store that runs the runs submitted with `speckit auto SPEC --store URL`, each in its own directory under --cache. Runs survive a worker's loss: another worker takes them over once its shard locks expire, and steps already recorded are not run again. Logs one line when it starts (its address) and one for each run it takes. SIGTERM or Ctrl-C: it stops taking work, lets the steps in flight finish (however long), hands its runs over before their next step (one line each) and exits 0; a second signal exits at once. Exit codes: 0, 2 when the store cannot be used or the address is in use."
  ),
  Command.withExamples([
    {
      command: "speckit worker --store postgres://speckit@db:5432/speckit",
      description: "A worker on 127.0.0.1:34431"
    },
    {
      command: "speckit worker --store postgres://speckit@db:5432/speckit --listen 10.0.0.5:34432",
      description: "A second worker, reachable by the others"
    }
  ])
)

/**
 * `speckit report [RUN-ID]`: write a run's HTML report.
 *
 * @since 0.3.0
 */
export const report = Command.make(
  "report",
  {
    runId: runIdArgument("The run to report (default: the newest run of the workspace).").pipe(Argument.optional),
    workspace,
    json: jsonFlag('Print { "runId", "report" } as one JSON object instead of the path.'),
    store
  },
  Effect.fn(function* ({ runId, workspace, json, store }) {
    const path = yield* Path.Path
    if (Option.isSome(store)) {
      if (Option.isNone(runId)) {
        return yield* new InputError({ message: "with --store, name the run: speckit report RUN-ID --store URL" })
      }
      const Fleet = yield* load.fleet
      const written = yield* Fleet.report({ runId: runId.value, store: store.value, workspace })
      process.stdout.write(json ? `${JSON.stringify({ runId: runId.value, report: written })}\n` : `${written}\n`)
      return
    }
    const run = yield* Runs.find(workspace, Option.getOrUndefined(runId))
    const Report = yield* load.report
    const file = yield* Report.write(path.resolve(workspace), run.runId)
    process.stdout.write(json ? `${JSON.stringify({ runId: run.runId, report: file })}\n` : `${file}\n`)
  })
).pipe(
  Command.withDescription(
    "Write a run's report, one self-contained HTML file (no network access; readable without JavaScript; light and dark; printable), to .speckit/runs/<run-id>/report.html and print its path: the timeline of every agent's attempts, retries, waits and early stops; cost and tokens per agent and stage against the estimate; each stage's consensus and artifact; candidates, checks, selection and the delivered diff. Every run writes it when it ends. With --store: the report of a run of that fleet, from its records in the store, written to .speckit/fleet/<run-id>/report.html. Exit codes: 0, 2 when there is no such run."
  ),
  Command.withExamples([
    { command: "speckit report", description: "The newest run's report" },
    { command: "open $(speckit report run-20261125-093012-k3f9)", description: "Write one run's report and open it" },
    {
      command: "speckit report run-20261204-101500-a1b2 --store postgres://speckit@db:5432/speckit",
      description: "The report of a fleet's run"
    }
  ])
)

/** The repository's worktrees, for `clean` and `status`. */
const withWorktrees = <A, E, R>(workspace: string, use: (worktrees: Worktrees.Service) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    const inRepository = Option.isSome(yield* Git.state(root))
    if (!inRepository) return yield* use(Worktrees.none)
    const provided = Effect.gen(function* () {
      return yield* use(yield* Worktrees.Worktrees)
    })
    const GitWorktrees = yield* load.worktrees
    return yield* provided.pipe(Effect.provide(GitWorktrees.layer({ workspace: root })))
  })

/**
 * The worktrees a crash left of a run, for `status`. A run's worktrees live in its folder under
 * `.speckit/worktrees/`: without that folder there are none, and git is not asked (no process spawned,
 * `status` stays as fast as `runs`). Git's records of worktrees whose folders were deleted by hand are
 * `speckit clean`'s to prune.
 */
const leftoversOf = (workspace: string, runId: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const folder = path.join(path.resolve(workspace), ".speckit", "worktrees", runId)
    if (!(yield* fs.exists(folder))) return []
    return yield* withWorktrees(workspace, (worktrees) => worktrees.leftovers(runId))
  }).pipe(Effect.orElseSucceed((): ReadonlyArray<Worktrees.Leftover> => []))

/**
 * `speckit clean [RUN-ID]`: remove the worktrees a crash left.
 *
 * @since 0.3.0
 */
export const clean = Command.make(
  "clean",
  {
    runId: runIdArgument("Only this run's worktrees (default: every speckit worktree of the workspace).").pipe(
      Argument.optional
    ),
    workspace,
    json: jsonFlag("Print what was removed as a JSON array.")
  },
  Effect.fn(function* ({ runId, workspace, json }) {
    const path = yield* Path.Path
    const root = path.resolve(workspace)
    // Refused while a speckit process works in the workspace: its worktrees are in use. (No lock file,
    // no process: SQLite is loaded, its lock alone, only to test a lock that exists.)
    const fs = yield* FileSystem.FileSystem
    const state = path.join(root, ".speckit", "state.db")
    if (yield* fs.exists(`${state}.lock`).pipe(Effect.orElseSucceed(() => true))) {
      const StateLock = yield* load.stateLock
      yield* Effect.scoped(StateLock.acquireLock(state)).pipe(
        Effect.catchTag("StateLocked", (error) =>
          Effect.fail(new InputError({ message: `${error.message}; clean when it is done` }))
        ),
        Effect.catchTag("SqlError", () => Effect.void)
      )
    }
    const removed = yield* withWorktrees(workspace, (worktrees) => worktrees.clean(Option.getOrUndefined(runId))).pipe(
      Effect.mapError((error) => new InputError({ message: error.message }))
    )
    process.stdout.write(
      json
        ? `${JSON.stringify(removed, null, 2)}\n`
        : removed.length === 0
          ? "nothing to clean: no speckit worktree is left\n"
          : `removed ${removed.length} worktree(s):\n${removed.map((l) => `  ${path.relative(root, l.path)}${l.dirty ? " (held changes)" : ""}`).join("\n")}\n`
    )
  })
).pipe(
  Command.withDescription(
    "Remove the git worktrees (.speckit/worktrees/<run-id>/<name>) that a crashed or killed run left behind, and prune git's records of them; say what was removed. A run removes its own worktrees when it ends, halts, pauses or is cancelled; `speckit status` lists leftovers. Refused while another speckit process works in the workspace. Exit codes: 0, 2 bad input or the workspace in use."
  ),
  Command.withExamples([
    { command: "speckit clean", description: "Remove every leftover worktree" },
    { command: "speckit clean run-20261125-093012-k3f9 --json", description: "One run's, as JSON" }
  ])
)

/**
 * The root command.
 *
 * @since 0.1.0
 */
export const speckit = Command.make("speckit").pipe(
  Command.withDescription(
    "speckit runs spec-driven, multi-agent LLM pipelines reliably: several agents answer every stage, their answers are sequenced exactly once and merged into a consensus."
  ),
  Command.withSubcommands([
    auto,
    resume,
    approve,
    reject,
    budget,
    demo,
    estimate,
    runs,
    status,
    report,
    clean,
    cancel,
    worker
  ])
)

/**
 * Runs the CLI on the given arguments (without `node` and the script path).
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Cli } from "@speckit/cli"
 *
 * const program = Cli.run(["demo", "--json"]).pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const run = Command.runWith(speckit, { version: "0.1.0" })

/**
 * End-to-end tests of the built `speckit` binary: real subprocesses in temporary workspaces.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Demo } from "../src/index.ts"
import {
  type CliResult,
  ensureBuilt,
  execAgent,
  git,
  makeWorkspace,
  readJson,
  removeTempDirs,
  runCli,
  runDirs,
  snapshot,
  stages,
  tempDir,
  writeFile
} from "./helpers.ts"

const demoSpecId = "SPEC-001-slugify"
const demoAgents = ["alpha", "beta", "gamma"]

const Usage = Schema.Struct({
  input: Schema.Number,
  output: Schema.Number,
  cachedInput: Schema.Number,
  reasoning: Schema.Number
})

/** The part of a run summary the tests look at (decoding also checks its shape). */
const Summary = Schema.Struct({
  runId: Schema.String,
  specId: Schema.String,
  status: Schema.String,
  stages: Schema.Array(
    Schema.Struct({
      stage: Schema.String,
      status: Schema.String,
      verdict: Schema.optionalKey(Schema.String),
      reason: Schema.optionalKey(Schema.String),
      agents: Schema.Array(
        Schema.Struct({
          agent: Schema.String,
          status: Schema.Literals(["succeeded", "failed", "stopped"]),
          attempts: Schema.Number,
          retries: Schema.Array(
            Schema.Struct({ attempt: Schema.Number, kind: Schema.String, waitedMs: Schema.Number })
          ),
          error: Schema.optionalKey(Schema.Struct({ kind: Schema.String, detail: Schema.String }))
        })
      )
    })
  ),
  usage: Usage,
  costUsd: Schema.Number,
  byAgent: Schema.Record(Schema.String, Schema.Struct({ calls: Schema.Number, costUsd: Schema.Number })),
  runDir: Schema.String,
  hint: Schema.optionalKey(Schema.String)
})
type Summary = typeof Summary.Type

const decodeSummary = Schema.decodeUnknownSync(Summary)

/** Parses stdout of a `--json` run: exactly one JSON document. */
const jsonSummary = (result: CliResult): Summary => decodeSummary(JSON.parse(result.stdout))

const stageOf = (summary: Summary, stage: string) => {
  const found = summary.stages.find((s) => s.stage === stage)
  assert.isDefined(found, `stage ${stage} in the summary`)
  if (found === undefined) throw new Error(`no stage ${stage}`)
  return found
}

const assertCleanError = (result: CliResult, mentions: ReadonlyArray<string>) => {
  assert.strictEqual(result.code, 2, `exit code (stderr: ${result.stderr})`)
  const lines = result.stderr.trimEnd().split("\n")
  assert.lengthOf(lines, 1, `one line on stderr, got: ${result.stderr}`)
  assert.match(result.stderr, /^speckit: error: \S/)
  for (const mention of mentions) assert.include(result.stderr, mention)
  assert.strictEqual(result.stdout, "")
}

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => removeTempDirs())

describe("speckit demo", () => {
  it("completes the six stages and writes every artifact", async () => {
    const dir = path.join(tempDir(), "workspace")
    const result = await runCli(["demo", dir])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stderr, "")

    // progress without a TTY: plain lines, no escape sequences or redraws
    assert.notInclude(result.stdout, "\u001b")
    assert.notInclude(result.stdout, "\r")
    const lines = result.stdout.split("\n")
    assert.include(
      lines,
      `speckit demo: sample workspace in ${dir} (spec ${demoSpecId}, a git repository: the agents make real changes)`
    )
    for (const stage of stages) {
      assert.include(lines, `[${stage}] started with alpha, beta, gamma`)
      // Verdict stages may stop a straggler early, once the outcome can no longer change.
      const answered = demoAgents.filter((agent) => lines.some((line) => line.startsWith(`[${stage}] ${agent}: ok `)))
      const stopped = demoAgents.filter((agent) =>
        lines.includes(`[${stage}] ${agent}: stopped early: the stage was already decided`)
      )
      assert.strictEqual(
        answered.length + stopped.length,
        demoAgents.length,
        `a progress line for every agent on ${stage}`
      )
      assert.isAtLeast(answered.length, 2, stage)
    }
    assert.match(result.stdout, /✔ run run-\S+ completed in/)

    for (const stage of stages) {
      const artifact = path.join(dir, "specs", demoSpecId, `${stage}.md`)
      assert.isTrue(fs.existsSync(artifact), artifact)
      assert.isAbove(fs.readFileSync(artifact, "utf8").trim().length, 0)
    }
    const runs = runDirs(dir)
    assert.lengthOf(runs, 1)
    const [runDir = ""] = runs
    for (const file of ["run.json", "summary.json"]) assert.isTrue(fs.existsSync(path.join(runDir, file)), file)
    for (const stage of stages) {
      assert.isTrue(fs.existsSync(path.join(runDir, "consensus", `${stage}.json`)), `consensus/${stage}.json`)
      // One raw answer a line, each whole JSON.
      const lines = fs
        .readFileSync(path.join(runDir, "answers", `${stage}.jsonl`), "utf8")
        .trimEnd()
        .split("\n")
      assert.isAtLeast(lines.length, 2, `answers/${stage}.jsonl`)
      for (const line of lines) JSON.parse(line)
    }
    const summary = decodeSummary(readJson(path.join(runDir, "summary.json")))
    assert.strictEqual(summary.status, "completed")
    assert.strictEqual(summary.runId, path.basename(runDir))

    // Three real candidates (patches saved), the suite run on each, the winner delivered to a branch.
    for (const agent of demoAgents) {
      assert.match(result.stdout, new RegExp(`candidate ${agent} +\\w+ +\\d+ file\\(s\\) \\+\\d+ −\\d+`))
      assert.isTrue(fs.existsSync(path.join(runDir, "candidates", `${agent}.patch`)), `${agent}.patch`)
    }
    assert.include(result.stdout, "[validate] check test on base: pass")
    const branch = /branch +(speckit\/\S+)/.exec(result.stdout)?.[1] ?? ""
    assert.strictEqual(git(dir, "branch", "--list", branch), branch)
    assert.include(result.stdout, `git log -p `)
    assert.include(git(dir, "show", "--stat", branch), "src/strings.js")
    // The checkout itself: still on its commit, only the spec's artifacts added, no worktree left.
    assert.strictEqual(git(dir, "rev-parse", "HEAD"), git(dir, "rev-parse", `${branch}^`))
    assert.deepStrictEqual(
      git(dir, "status", "--porcelain").split("\n").sort(),
      stages.map((stage) => `?? specs/${demoSpecId}/${stage}.md`).sort()
    )
    assert.notInclude(git(dir, "worktree", "list"), ".speckit")
  })

  it("--json prints one summary object whose cost adds up", async () => {
    const dir = path.join(tempDir(), "workspace")
    const result = await runCli(["demo", dir, "--json"])
    assert.strictEqual(result.code, 0, result.stderr)

    const summary = jsonSummary(result)
    assert.match(summary.runId, /^run-/)
    assert.strictEqual(summary.specId, demoSpecId)
    assert.strictEqual(summary.status, "completed")
    assert.deepStrictEqual(
      summary.stages.map((s) => s.stage),
      [...stages]
    )
    for (const stage of summary.stages) {
      assert.include(["ok", "degraded"], stage.status)
      assert.deepStrictEqual(stage.agents.map((a) => a.agent).sort(), demoAgents)
    }
    assert.isAbove(summary.usage.input, 0)
    assert.isAbove(summary.usage.output, 0)
    assert.isAbove(summary.costUsd, 0)
    const byAgent = Object.values(summary.byAgent).reduce((sum, breakdown) => sum + breakdown.costUsd, 0)
    assert.deepStrictEqual(Object.keys(summary.byAgent).sort(), demoAgents)
    assert.strictEqual(Math.round(summary.costUsd * 100), Math.round(byAgent * 100))
    assert.approximately(summary.costUsd, byAgent, 0.005)
    assert.deepStrictEqual(decodeSummary(readJson(path.join(dir, summary.runDir, "summary.json"))), summary)

    // progress goes to stderr, as plain lines
    assert.notInclude(result.stderr, "\u001b")
    assert.include(result.stderr, "[plan] started with alpha, beta, gamma")
    assert.include(result.stderr, "[unlock] ok (unlock)")
  })

  it("is cancelled by SIGINT: exit 130 and a cancelled summary", async () => {
    const dir = tempDir()
    const slow = (model: string, seed: number) => ({ provider: "sim", model, latencyMs: 2000, seed })
    writeFile(
      path.join(dir, "speckit.config.json"),
      JSON.stringify({
        agents: { alpha: slow("sim-large", 1), beta: slow("sim-medium", 2), gamma: slow("sim-small", 3) },
        defaults: { agents: demoAgents, quorum: "majority" }
      })
    )
    const configBefore = fs.readFileSync(path.join(dir, "speckit.config.json"), "utf8")
    let sent = false
    const started = Date.now()
    const result = await runCli(["demo", dir], {
      // once the first stage is under way (about 1 s on a warm machine), press Ctrl-C
      onStdout: (stdout, interrupt) => {
        if (!sent && stdout.includes("[plan] started")) {
          sent = true
          setTimeout(interrupt, Math.max(0, 1000 - (Date.now() - started)))
        }
      }
    })
    assert.isTrue(sent, `the run started: ${result.stdout}${result.stderr}`)
    assert.strictEqual(result.code, 130, result.stderr)
    assert.strictEqual(fs.readFileSync(path.join(dir, "speckit.config.json"), "utf8"), configBefore, "config kept")
    const runs = runDirs(dir)
    assert.lengthOf(runs, 1)
    const [runDir = ""] = runs
    const summary = decodeSummary(readJson(path.join(runDir, "summary.json")))
    assert.strictEqual(summary.status, "cancelled")
    assert.lengthOf(summary.stages, 0, "interrupted before the 2 s agents of the first stage could answer")
    assert.include(summary.hint ?? "", "interrupted")
    assert.isFalse(fs.existsSync(path.join(dir, "specs", demoSpecId, "unlock.md")))
  })
})

describe("help", () => {
  it("speckit --help lists the commands", async () => {
    const result = await runCli(["--help"])
    assert.strictEqual(result.code, 0)
    assert.include(result.stdout, "speckit <subcommand>")
    for (const command of ["auto", "resume", "approve", "reject", "budget", "demo", "estimate", "runs", "status"]) {
      assert.include(result.stdout, command)
    }
    assert.include(
      result.stdout,
      "Exit codes: 0 completed, 1 failed or halted, 2 bad input, 3 paused for a review, 130 interrupted"
    )
  })

  it("speckit auto --help explains SPEC-ID, the flags and the exit codes", async () => {
    const result = await runCli(["auto", "--help"])
    assert.strictEqual(result.code, 0)
    assert.include(result.stdout, "speckit auto [flags] <SPEC-ID>")
    assert.include(result.stdout, "The spec to run: the directory name under specs/ holding spec.md.")
    assert.include(result.stdout, "--workspace, -C")
    assert.include(result.stdout, "--json")
    assert.include(
      result.stdout,
      "Exit codes: 0 completed, 1 failed or halted, 2 bad input, 3 paused for a review, 130 interrupted"
    )
  })

  it("speckit resume, approve, reject and budget --help explain their arguments, flags and exit codes", async () => {
    const resume = await runCli(["resume", "--help"])
    assert.strictEqual(resume.code, 0)
    assert.include(resume.stdout, "speckit resume [flags] <RUN-ID>")
    assert.include(resume.stdout, "--force")
    assert.include(resume.stdout, "not called again")
    for (const command of ["approve", "reject"]) {
      const help = await runCli([command, "--help"])
      assert.strictEqual(help.code, 0)
      assert.include(help.stdout, `speckit ${command} [flags] <RUN-ID>`)
      assert.include(help.stdout, "--note")
      assert.include(help.stdout, "speckit resume RUN-ID")
    }
    const budget = await runCli(["budget", "--help"])
    assert.strictEqual(budget.code, 0)
    assert.include(budget.stdout, "--usd")
    assert.include(budget.stdout, "budget.onExceed: pause")
  })

  it("speckit demo --help explains DIR and what it creates", async () => {
    const result = await runCli(["demo", "--help"])
    assert.strictEqual(result.code, 0)
    assert.include(result.stdout, "speckit demo [flags] [<DIR>]")
    assert.include(result.stdout, "sample workspace")
    assert.include(result.stdout, "--json")
  })
})

describe.concurrent("bad input: exit 2, one clear line, nothing written", () => {
  const expectRejected = async (
    workspace: string,
    args: ReadonlyArray<string>,
    mentions: ReadonlyArray<string>
  ): Promise<void> => {
    const before = snapshot(workspace)
    const result = await runCli(args, { cwd: workspace })
    assertCleanError(result, mentions)
    assert.isFalse(fs.existsSync(path.join(workspace, ".speckit")), "no .speckit directory")
    assert.deepStrictEqual(snapshot(workspace), before, "the workspace is unchanged")
  }

  it("a missing spec directory", async () => {
    const dir = makeWorkspace({})
    await expectRejected(dir, ["auto", "SPEC-404", "-C", dir], ["SPEC-404", "not found"])
  })

  it("an empty spec.md", async () => {
    const dir = makeWorkspace({ spec: "  \n\t\n\n" })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["SPEC-1", "empty"])
  })

  it("a spec that is not text (binary bytes)", async () => {
    const dir = makeWorkspace({})
    fs.writeFileSync(
      path.join(dir, "specs/SPEC-1/spec.md"),
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x01])
    )
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["SPEC-1", "not a text spec", "NUL"])
  })

  it("a spec that is not UTF-8", async () => {
    const dir = makeWorkspace({})
    fs.writeFileSync(path.join(dir, "specs/SPEC-1/spec.md"), Buffer.from("# Caf\xe9\n", "latin1"))
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["SPEC-1", "not UTF-8"])
  })

  it("a spec over the size limit", async () => {
    const dir = makeWorkspace({ spec: `# Big\n\n${"word ".repeat(60_000)}\n` })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["SPEC-1", "over the 262144-byte limit"])
  })

  it("an exec agent whose program does not exist", async () => {
    const dir = makeWorkspace({
      config: {
        agents: {
          a: {
            provider: "exec",
            command: ["speckit-no-such-agent-cli", "-p"],
            price: { inputPerMTok: 0, outputPerMTok: 0 }
          }
        },
        defaults: { agents: ["a"], quorum: "all" }
      }
    })
    await expectRejected(
      dir,
      ["auto", "SPEC-1", "-C", dir],
      ["agent a", '"speckit-no-such-agent-cli" not found on PATH']
    )
  })

  it("an exec agent whose program path does not exist", async () => {
    const dir = makeWorkspace({
      config: {
        agents: { a: { provider: "exec", command: ["./bin/agent"], price: { inputPerMTok: 0, outputPerMTok: 0 } } },
        defaults: { agents: ["a"], quorum: "all" }
      }
    })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["agent a", '"./bin/agent" not found'])
  })

  it("a speckit.config.json that is not JSON", async () => {
    const dir = makeWorkspace({ config: '{ "agents": { "alpha": ' })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["speckit.config.json", "not valid JSON"])
  })

  it("an unknown top-level key", async () => {
    const dir = makeWorkspace({ config: { agnets: {} } })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["speckit.config.json", "agnets", "unknown key"])
  })

  it("an unknown key inside an agent", async () => {
    const dir = makeWorkspace({ config: { agents: { alpha: { provider: "sim", latency: 5 } } } })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["agents.alpha.latency", "unknown key"])
  })

  it("an unknown agent in defaults.agents", async () => {
    const dir = makeWorkspace({
      config: { agents: { alpha: { provider: "sim" } }, defaults: { agents: ["alpha", "ghost"] } }
    })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["defaults.agents", 'unknown agent "ghost"'])
  })

  it("an unknown agent in stages.validate.agents", async () => {
    const dir = makeWorkspace({
      config: { agents: { alpha: { provider: "sim" } }, stages: { validate: { agents: ["phantom"] } } }
    })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["stages.validate.agents", 'unknown agent "phantom"'])
  })

  it("an unknown stage under stages", async () => {
    const dir = makeWorkspace({ config: { stages: { deploy: { quorum: "all" } } } })
    await expectRejected(dir, ["auto", "SPEC-1", "-C", dir], ["stages.deploy", "unknown key"])
  })

  it("an invalid spec id", async () => {
    const dir = makeWorkspace({})
    await expectRejected(dir, ["auto", "../x", "-C", dir], ["invalid spec id", '"../x"'])
  })

  it("a missing SPEC-ID argument", async () => {
    const dir = makeWorkspace({})
    const before = snapshot(dir)
    const result = await runCli(["auto", "-C", dir], { cwd: dir })
    assert.strictEqual(result.code, 2)
    assert.include(result.stderr, "Missing required argument: SPEC-ID")
    assert.deepStrictEqual(snapshot(dir), before)
  })

  it("an unknown subcommand", async () => {
    const dir = makeWorkspace({})
    const before = snapshot(dir)
    const result = await runCli(["frobnicate"], { cwd: dir })
    assert.strictEqual(result.code, 2)
    assert.include(result.stderr, 'Unknown subcommand "frobnicate"')
    assert.deepStrictEqual(snapshot(dir), before)
  })
})

describe.concurrent("runs with exec agents", () => {
  it("a verdict conflict under quorum all halts: exit 1, stage marked conflict", async () => {
    const dir = makeWorkspace({
      config: {
        agents: { yes: execAgent("pass"), no: execAgent("fail") },
        defaults: { agents: ["yes", "no"], quorum: "all", onConflict: "halt" }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 1, result.stderr)
    const summary = jsonSummary(result)
    assert.strictEqual(summary.status, "halted")
    assert.deepStrictEqual(
      summary.stages.map((s) => [s.stage, s.status]),
      [
        ["plan", "ok"],
        ["tasks", "ok"],
        ["implement", "ok"],
        ["validate", "conflict"]
      ]
    )
    assert.include(stageOf(summary, "validate").reason ?? "", "disagree")
    assert.include(summary.hint ?? "", "conflict")
    const [runDir = ""] = runDirs(dir)
    const onDisk = decodeSummary(readJson(path.join(runDir, "summary.json")))
    assert.strictEqual(stageOf(onDisk, "validate").status, "conflict")
    assert.isFalse(fs.existsSync(path.join(dir, "specs", "SPEC-1", "audit.md")), "later stages did not run")
  })

  it("quorum not met (majority, 2 of 3 agents exit non-zero): exit 1 with a hint", async () => {
    const dir = makeWorkspace({
      config: {
        agents: { good: execAgent(), bad1: execAgent("--exit", "3"), bad2: execAgent("--exit", "3") },
        defaults: { agents: ["good", "bad1", "bad2"], quorum: "majority" },
        retry: { maxRetries: 1, initialDelayMs: 10 }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir])
    assert.strictEqual(result.code, 1, result.stderr)
    assert.include(result.stdout, "halted")
    assert.include(result.stdout, "1 of 3 agents answered, 2 required")
    assert.match(result.stdout, /next {5}stage plan did not reach its quorum/)
    assert.include(result.stdout, "exited with code 3")
  })

  it("quorum not met (all, 2 of 3 agents exit non-zero): exit 1, hint in --json", async () => {
    const dir = makeWorkspace({
      config: {
        agents: { good: execAgent(), bad1: execAgent("--exit", "7"), bad2: execAgent("--exit", "7") },
        defaults: { agents: ["good", "bad1", "bad2"], quorum: "all" },
        retry: { maxRetries: 1, initialDelayMs: 10 }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 1, result.stderr)
    const summary = jsonSummary(result)
    assert.strictEqual(summary.status, "halted")
    const plan = stageOf(summary, "plan")
    assert.strictEqual(plan.status, "failed")
    assert.include(summary.hint ?? "", "did not reach its quorum")
    const failed = plan.agents.filter((a) => a.status === "failed")
    assert.deepStrictEqual(failed.map((a) => a.agent).sort(), ["bad1", "bad2"])
    for (const agent of failed) {
      // a transient failure is retried once (retry.maxRetries: 1) before the agent counts as failed
      assert.strictEqual(agent.attempts, 2)
      assert.deepStrictEqual(
        agent.retries.map((r) => r.kind),
        ["ServerError"]
      )
    }
  })

  it("one agent failing under majority degrades the stages but completes: exit 0", async () => {
    const dir = makeWorkspace({
      config: {
        agents: { a: execAgent(), b: execAgent(), broken: execAgent("--exit", "1") },
        defaults: { agents: ["a", "b", "broken"], quorum: "majority", earlyDecision: false },
        retry: { maxRetries: 0 }
      }
    })
    const result = await runCli(["auto", "SPEC-1", "-C", dir, "--json"])
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = jsonSummary(result)
    assert.strictEqual(summary.status, "completed")
    assert.lengthOf(summary.stages, 6)
    for (const stage of summary.stages) {
      assert.strictEqual(stage.status, "degraded", stage.stage)
      const broken = stage.agents.find((a) => a.agent === "broken")
      assert.strictEqual(broken?.status, "failed")
    }
    for (const stage of stages) assert.isTrue(fs.existsSync(path.join(dir, "specs", "SPEC-1", `${stage}.md`)))
  })
})

describe("resilience end to end", () => {
  it("SPEC_KIT_FAULTS=agent_timeout:2,rate_limit:1 completes, with those retries in --json", async () => {
    const dir = path.join(tempDir(), "workspace")
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(
      path.join(dir, "speckit.config.json"),
      JSON.stringify({ ...Demo.config, retry: { initialDelayMs: 10, jitter: 0 } })
    )
    const result = await runCli(["demo", dir, "--json"], {
      env: { SPEC_KIT_FAULTS: "agent_timeout:2,rate_limit:1", SPEC_KIT_FAULTS_RATE_LIMIT_RESET: "now+1s" }
    })
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stderr, "faults active: agent_timeout:2, rate_limit:1")
    const summary = jsonSummary(result)
    assert.strictEqual(summary.status, "completed")
    const agents = summary.stages.flatMap((stage) => stage.agents)
    const retries = agents.flatMap((agent) => agent.retries)
    assert.deepStrictEqual(retries.map((r) => r.kind).sort(), ["RateLimited", "Timeout", "Timeout"])
    for (const agent of agents) {
      if (agent.status !== "stopped") assert.strictEqual(agent.attempts, agent.retries.length + 1, agent.agent)
    }
    // the rate-limited attempt waited for its reset (about a second), not the 10 ms backoff
    const limited = retries.find((r) => r.kind === "RateLimited")
    assert.isAbove(limited?.waitedMs ?? 0, 500)
  })
})

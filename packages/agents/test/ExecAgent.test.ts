import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { type Agent, AgentId, RunId, Spec, TokenUsage } from "@speckit/core"
import { ExecAgent, type OutputFormat } from "../src/index.ts"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/agents/${name}.mjs`, import.meta.url))

const agentId = AgentId.make("fixture")

const request = (prompt: string): Agent.AgentRequest => {
  const spec: Spec.Spec = {
    id: Schema.decodeUnknownSync(Spec.SpecId)("SPEC-1"),
    title: "Spec",
    text: "# Spec",
    directory: "/tmp/spec"
  }
  return {
    runId: Schema.decodeUnknownSync(RunId.RunId)("run-20250923-100000-abcd"),
    stage: "plan",
    agent: agentId,
    attempt: 2,
    prompt,
    spec,
    previous: "",
    idempotencyKey: "run-20250923-100000-abcd/plan/fixture/2"
  }
}

const call = (
  cli: string,
  scenario: string,
  format: OutputFormat.Format,
  options: Partial<ExecAgent.ExecAgentOptions> = {}
) =>
  Effect.gen(function* () {
    const agent = yield* ExecAgent.make({
      id: agentId,
      command: ["node", fixture(cli), scenario],
      model: "configured-model",
      format,
      ...options
    })
    return yield* agent.call(request("the prompt"))
  }).pipe(Effect.provide(NodeServices.layer))

const failure = (cli: string, scenario: string, format: OutputFormat.Format) => Effect.flip(call(cli, scenario, format))

/** Whether a process is running (a zombie awaiting its reaper counts as gone). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return true
  }
}

const zoned = (epochMs: number, timeZone: string) =>
  new Intl.DateTimeFormat("en-US", {
    timeZone,
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    hourCycle: "h23"
  }).format(new Date(epochMs))

describe("ExecAgent with agent-CLI presets (real subprocesses)", () => {
  it.live("claude success: answer, usage, cost and model", () =>
    Effect.gen(function* () {
      const response = yield* call("claude", "success", "claude")
      assert.strictEqual(response.text, '{"summary":"plan ready"}')
      assert.deepStrictEqual(
        response.usage,
        TokenUsage.make({ input: 300 + 4 + 15000 + 1200, cachedInput: 15000, output: 290 })
      )
      assert.strictEqual(response.model, "claude-sonnet-4-5-20250929")
      assert.closeTo(response.reportedCostUsd ?? Number.NaN, 0.0117, 1e-9)
    })
  )

  it.live("claude errors are typed", () =>
    Effect.gen(function* () {
      const auth = yield* failure("claude", "invalid-key", "claude")
      assert.strictEqual(auth.kind, "AuthFailed")
      const rate = yield* failure("claude", "rate-limited", "claude")
      assert.strictEqual(rate.kind, "RateLimited")
      assert.strictEqual(rate.status, 429)
      assert.isUndefined(rate.resetAt)
      const weekly = yield* failure("claude", "weekly-limit", "claude")
      assert.strictEqual(weekly.kind, "RateLimited")
      assert.isDefined(weekly.resetAt)
      assert.strictEqual(zoned(weekly.resetAt ?? 0, "Asia/Seoul"), "Oct 1, 02:00")
      assert.strictEqual((yield* failure("claude", "overloaded", "claude")).kind, "Overloaded")
      assert.strictEqual((yield* failure("claude", "server-error", "claude")).kind, "ServerError")
      assert.strictEqual((yield* failure("claude", "credit-balance", "claude")).kind, "QuotaExhausted")
      assert.strictEqual((yield* failure("claude", "max-turns", "claude")).kind, "InvalidRequest")
      assert.strictEqual((yield* failure("claude", "empty-answer", "claude")).kind, "Empty")
      assert.strictEqual((yield* failure("claude", "not-json", "claude")).kind, "Malformed")
    })
  )

  it.live("a process killed by a signal is Interrupted, with the signal named", () =>
    Effect.gen(function* () {
      const error = yield* failure("claude", "killed-by-signal", "claude")
      assert.strictEqual(error.kind, "Interrupted")
      assert.include(error.detail, "SIGTERM")
      assert.strictEqual(error.status, 128 + 15)
    })
  )

  it.live("gemini success and errors", () =>
    Effect.gen(function* () {
      const response = yield* call("gemini", "success", "gemini")
      assert.strictEqual(response.text, '{"summary":"plan ready"}')
      assert.deepStrictEqual(
        response.usage,
        TokenUsage.make({ input: 10900, cachedInput: 8000, output: 930, reasoning: 618 })
      )
      assert.strictEqual(response.model, "gemini-2.5-pro")
      assert.isUndefined(response.reportedCostUsd)
      const auth = yield* failure("gemini", "auth", "gemini")
      assert.strictEqual(auth.kind, "AuthFailed")
      assert.strictEqual(auth.status, 41)
      const rate = yield* failure("gemini", "rate-limited", "gemini")
      assert.strictEqual(rate.kind, "RateLimited")
      assert.strictEqual(rate.status, 429)
      assert.strictEqual((yield* failure("gemini", "turn-limit", "gemini")).kind, "InvalidRequest")
      assert.strictEqual((yield* failure("gemini", "cancelled", "gemini")).kind, "Interrupted")
      assert.strictEqual((yield* failure("gemini", "sigint-exit-0", "gemini")).kind, "Empty")
    })
  )

  it.live("codex success and errors", () =>
    Effect.gen(function* () {
      const response = yield* call("codex", "success", "codex")
      assert.strictEqual(response.text, '{"summary":"plan ready"}')
      assert.deepStrictEqual(
        response.usage,
        TokenUsage.make({ input: 24763, cachedInput: 24448, output: 122, reasoning: 64 })
      )
      assert.strictEqual(response.model, "configured-model")
      const before = Date.now()
      const limit = yield* failure("codex", "usage-limit", "codex")
      assert.strictEqual(limit.kind, "RateLimited")
      const resetAt = limit.resetAt ?? 0
      const local = new Date(resetAt)
      assert.deepStrictEqual([local.getHours(), local.getMinutes()], [15, 28])
      assert.isAtLeast(resetAt, before - 5 * 60_000)
      assert.isAtMost(resetAt, before + 24 * 3_600_000)
      assert.strictEqual((yield* failure("codex", "unauthorized", "codex")).kind, "AuthFailed")
      assert.strictEqual((yield* failure("codex", "disconnected", "codex")).kind, "Disconnected")
    })
  )

  it.live("qwen success and errors", () =>
    Effect.gen(function* () {
      const response = yield* call("qwen", "success", "qwen")
      assert.strictEqual(response.text, '{"summary":"plan ready"}')
      assert.deepStrictEqual(
        response.usage,
        TokenUsage.make({ input: 12000, cachedInput: 9000, output: 85, reasoning: 20 })
      )
      assert.strictEqual(response.model, "qwen3-coder-plus-2025-09-23")
      assert.strictEqual((yield* failure("qwen", "auth-error", "qwen")).kind, "AuthFailed")
    })
  )

  it.live("the prompt arrives on stdin and SPECKIT_* variables reach the subprocess", () =>
    Effect.gen(function* () {
      const response = yield* call("echo", "", "text", { env: { SPECKIT_EXTRA: "kept" } })
      const echoed = Schema.decodeUnknownSync(
        Schema.fromJsonString(
          Schema.Struct({ prompt: Schema.String, env: Schema.Record(Schema.String, Schema.String) })
        )
      )(response.text)
      assert.strictEqual(echoed.prompt, "the prompt")
      assert.deepStrictEqual(echoed.env, {
        SPECKIT_EXTRA: "kept",
        SPECKIT_RUN_ID: "run-20250923-100000-abcd",
        SPECKIT_STAGE: "plan",
        SPECKIT_AGENT: "fixture",
        SPECKIT_ATTEMPT: "2",
        SPECKIT_IDEMPOTENCY_KEY: "run-20250923-100000-abcd/plan/fixture/2"
      })
    })
  )
})

describe("ExecAgent kills a process that ignores SIGTERM", () => {
  const withPidFile = <A, E, R>(use: (pidFile: string) => Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "speckit-exec-"))),
      (dir) => use(join(dir, "pids")),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )

  const readPids = (pidFile: string) =>
    readFileSync(pidFile, "utf8")
      .split("\n")
      .map(Number)
      .filter((pid) => pid > 0)

  const stubborn = (pidFile: string) =>
    Effect.gen(function* () {
      const agent = yield* ExecAgent.make({
        id: agentId,
        command: ["node", fixture("stubborn")],
        timeoutMs: 500,
        killGraceMs: 300,
        env: { PID_FILE: pidFile }
      })
      return yield* agent.call(request("sleep"))
    }).pipe(Effect.provide(NodeServices.layer))

  it.live("on timeout: SIGTERM, then SIGKILL after the grace period, children included", () =>
    withPidFile((pidFile) =>
      Effect.gen(function* () {
        const started = Date.now()
        const error = yield* Effect.flip(stubborn(pidFile))
        const elapsed = Date.now() - started
        assert.strictEqual(error.kind, "Timeout")
        assert.isAtLeast(elapsed, 500 + 300 - 50)
        assert.isBelow(elapsed, 5_000)
        const [pid, child] = readPids(pidFile)
        assert.isDefined(pid)
        assert.isDefined(child)
        assert.throws(() => process.kill(pid ?? 0, 0))
        assert.isFalse(isAlive(child ?? 0))
      })
    )
  )

  it.live("on interruption of the call", () =>
    withPidFile((pidFile) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(stubborn(pidFile).pipe(Effect.timeout("20 seconds")))
        while (!existsSync(pidFile)) yield* Effect.sleep("20 millis")
        const [pid, child] = readPids(pidFile)
        assert.isTrue(isAlive(pid ?? 0))
        const started = Date.now()
        yield* Fiber.interrupt(fiber)
        assert.isAtLeast(Date.now() - started, 300 - 50)
        assert.throws(() => process.kill(pid ?? 0, 0))
        assert.isFalse(isAlive(child ?? 0))
      })
    )
  )
})

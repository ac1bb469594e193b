/**
 * Progress displays for pipeline runs: a live, redrawn view on a terminal and plain line-by-line
 * output otherwise. Both consume core's `PipelineEvents`.
 *
 * @since 0.1.0
 */
import type { Checks, PipelineEvent, Stage } from "@speckit/core"
import { Effect } from "effect"

/**
 * Something text can be written to (a `process.stdout`-like stream).
 *
 * @since 0.1.0
 */
export interface Output {
  readonly write: (text: string) => unknown
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
}

/**
 * A progress display.
 *
 * @since 0.1.0
 */
export interface Display {
  /** Shows an event, as it happens or as a run's log holds it (a run followed on a fleet's store). */
  readonly emit: (event: PipelineEvent.Logged) => Effect.Effect<void>
  /** Clears any live view's timer. */
  readonly close: () => void
}

const usd = (value: number) => `$${value.toFixed(value < 0.01 && value > 0 ? 4 : 3)}`
const tokens = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n))
const retriesText = (outcome: PipelineEvent.LoggedOutcome) =>
  outcome.history.length > 0 ? ` after ${outcome.history.length} retr${outcome.history.length === 1 ? "y" : "ies"}` : ""
const outcomeText = (outcome: PipelineEvent.LoggedOutcome, stopped: boolean) =>
  outcome._tag === "Succeeded"
    ? `ok ${outcome.durationMs}ms ${tokens(outcome.usage.input + outcome.usage.output)} tok ${usd(outcome.costUsd)}${retriesText(outcome)}`
    : stopped
      ? "stopped early: the stage was already decided"
      : `failed (${outcome.kind}: ${outcome.detail})${retriesText(outcome)}`
const at = (millis: number) => new Date(millis).toISOString().slice(11, 19)
const checkText = (result: Checks.CheckResult) =>
  `${result.check} on ${result.candidate}: ${result.status}${result.exitCode === undefined ? "" : ` (exit ${result.exitCode})`} in ${(result.durationMs / 1000).toFixed(1)}s${result.detail ? ` (${result.detail})` : ""}`
const seconds = (millis: number) => `${Math.max(0, Math.ceil(millis / 1000))}s`

/**
 * Plain progress: one line per event that matters, for logs and pipes.
 *
 * @example
 * ```ts
 * import { Progress } from "@speckit/cli"
 *
 * const display = Progress.plain(process.stderr)
 * ```
 *
 * @since 0.1.0
 */
export const plain = (out: Output): Display => {
  let cost = 0
  let total = 0
  const line = (text: string) => Effect.sync(() => void out.write(`${text}\n`))
  const stopped = new Set<string>()
  return {
    close: () => {},
    emit: (event) => {
      switch (event._tag) {
        case "AgentRetrying":
          return line(
            `[${event.stage}] ${event.agent}: ${event.kind} (${event.detail}); attempt ${event.attempt} at ${at(event.resumeAt)}`
          )
        case "BreakerChanged":
          return line(
            `[${event.stage}] ${event.agent}: circuit ${event.from} -> ${event.to}${
              event.reopensAt === undefined ? "" : ` (trial call after ${at(event.reopensAt)})`
            }`
          )
        case "AgentsStopped":
          for (const agent of event.agents) stopped.add(`${event.stage}/${agent}`)
          return Effect.void
        case "RunStarted":
          return line(`run ${event.runId}: ${event.specId} "${event.title}"`)
        case "StageStarted":
          return line(`[${event.stage}] started with ${event.agents.join(", ")}`)
        case "AgentFinished":
          cost += event.outcome.costUsd
          total += event.outcome.usage.input + event.outcome.usage.output
          return line(
            `[${event.stage}] ${event.outcome.agent}: ${outcomeText(event.outcome, stopped.has(`${event.stage}/${event.outcome.agent}`))}`
          )
        case "CheckFinished":
          return line(`[${event.stage}] check ${checkText(event.result)}`)
        case "AgentWarning":
          return line(`[${event.stage}] ${event.agent}: warning: ${event.message}`)
        case "PromptReduced":
          return line(
            `[${event.stage}] ${event.agent}: prompt reduced ${event.fromTokens} -> ${event.toTokens} tokens to fit the ${event.contextWindow}-token window (${event.reductions.join("; ")})`
          )
        case "Delivered":
          return line(
            `delivered: ${event.candidate}'s change to branch ${event.branch} (commit ${event.commit.slice(0, 12)})`
          )
        case "StageFinished":
          return line(
            `[${event.stage}] ${event.consensus.status}${event.consensus.verdict ? ` (${event.consensus.verdict})` : ""}${
              event.consensus.reason ? `: ${event.consensus.reason}` : ""
            } -> ${event.artifact} | total ${tokens(total)} tok ${usd(cost)}`
          )
        default:
          return Effect.void
      }
    }
  }
}

type AgentState = {
  status: "waiting" | "running" | "retrying" | "ok" | "failed" | "stopped"
  detail: string
  started: number
}

const spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
const color = (code: number, text: string) => `\u001b[${code}m${text}\u001b[0m`

/**
 * Live progress for a terminal: the stages, each agent's state, tokens and cost so far, redrawn
 * in place.
 *
 * @example
 * ```ts
 * import { Progress } from "@speckit/cli"
 *
 * const display = process.stdout.isTTY ? Progress.live(process.stdout) : Progress.plain(process.stdout)
 * ```
 *
 * @since 0.1.0
 */
export const live = (out: Output): Display => {
  let header = ""
  let stages: ReadonlyArray<Stage.Stage> = []
  const stageStatus = new Map<string, string>()
  const agents = new Map<string, Map<string, AgentState>>()
  const checks = new Map<string, { started: number; done: number; failed: number }>()
  let cost = 0
  let total = 0
  let drawn = 0
  let frame = 0
  const render = () => {
    const lines: Array<string> = [header]
    for (const stage of stages) {
      const status = stageStatus.get(stage)
      const mark =
        status === undefined
          ? color(90, "·")
          : status === "running"
            ? color(36, spinner[frame % spinner.length] ?? "*")
            : status === "ok"
              ? color(32, "✔")
              : status === "degraded"
                ? color(33, "✔")
                : color(31, "✖")
      lines.push(`${mark} ${stage.padEnd(10)} ${status && status !== "running" ? status : ""}`)
      if (status === "running") {
        const ran = checks.get(stage)
        if (ran !== undefined) {
          lines.push(
            `    ${"checks".padEnd(12)} ${ran.done}/${ran.started} done${ran.failed > 0 ? `, ${ran.failed} not passing` : ""}`
          )
        }
        for (const [agent, state] of agents.get(stage) ?? []) {
          const elapsed = state.status === "running" ? ` ${((Date.now() - state.started) / 1000).toFixed(1)}s` : ""
          lines.push(`    ${agent.padEnd(12)} ${state.status}${elapsed} ${state.detail}`)
        }
      }
    }
    lines.push(color(90, `tokens ${tokens(total)} · cost ${usd(cost)}`))
    const width = out.columns ?? 120
    const text = lines.map((l) => (l.length > width + 10 ? `${l.slice(0, width - 1)}…` : l))
    // Move back over the previous frame, redraw, and erase whatever the previous (longer) frame left below.
    out.write(`${drawn > 0 ? `\u001b[${drawn}F` : ""}${text.map((l) => `\u001b[2K${l}`).join("\n")}\n\u001b[J`)
    drawn = text.length
  }
  const timer = setInterval(() => {
    frame++
    if (stages.length > 0) render()
  }, 120)
  timer.unref()
  return {
    close: () => clearInterval(timer),
    emit: (event) =>
      Effect.sync(() => {
        switch (event._tag) {
          case "RunStarted":
            header = `speckit ${color(1, event.specId)} "${event.title}" · run ${event.runId}`
            stages = event.stages
            break
          case "StageStarted":
            stageStatus.set(event.stage, "running")
            agents.set(
              event.stage,
              new Map(
                event.agents.map((a) => [a, { status: "waiting", detail: "", started: Date.now() } as AgentState])
              )
            )
            break
          case "AgentStarted": {
            const state = agents.get(event.stage)?.get(event.agent)
            if (state)
              Object.assign(state, {
                status: "running",
                started: Date.now(),
                detail: event.attempt > 1 ? `attempt ${event.attempt}` : ""
              })
            break
          }
          case "AgentRetrying": {
            const state = agents.get(event.stage)?.get(event.agent)
            if (state) {
              Object.assign(state, {
                status: "retrying",
                detail: `${event.kind}: attempt ${event.attempt} in ${seconds(event.resumeAt - Date.now())}`
              })
            }
            break
          }
          case "BreakerChanged": {
            const state = agents.get(event.stage)?.get(event.agent)
            if (state && event.to === "Open") state.detail = "circuit open"
            break
          }
          case "PromptReduced": {
            const state = agents.get(event.stage)?.get(event.agent)
            if (state)
              state.detail = `prompt ${event.fromTokens} -> ${event.toTokens} tok (window ${event.contextWindow})`
            break
          }
          case "AgentsStopped": {
            for (const agent of event.agents) {
              const state = agents.get(event.stage)?.get(agent)
              if (state) Object.assign(state, { status: "stopped", detail: "the stage was already decided" })
            }
            break
          }
          case "AgentFinished": {
            cost += event.outcome.costUsd
            total += event.outcome.usage.input + event.outcome.usage.output
            const state = agents.get(event.stage)?.get(event.outcome.agent)
            if (state && state.status !== "stopped")
              Object.assign(state, {
                status: event.outcome._tag === "Succeeded" ? "ok" : "failed",
                detail: outcomeText(event.outcome, false).replace(/^ok /, "")
              })
            break
          }
          case "StageFinished":
            stageStatus.set(event.stage, event.consensus.status)
            break
          case "CheckStarted": {
            const ran = checks.get(event.stage) ?? { started: 0, done: 0, failed: 0 }
            ran.started++
            checks.set(event.stage, ran)
            break
          }
          case "CheckFinished": {
            const ran = checks.get(event.stage) ?? { started: 1, done: 0, failed: 0 }
            ran.done++
            if (event.result.status !== "pass") ran.failed++
            checks.set(event.stage, ran)
            break
          }
          default:
            return
        }
        render()
      })
  }
}

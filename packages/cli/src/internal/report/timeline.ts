/**
 * The report's timeline, from a run's event log: one lane per agent within each stage; each attempt a
 * bar; retry waits as gaps with their reason; breaker-open periods; the moment a stage was decided
 * (agents stopped early); pauses; checks per candidate. Pure: events in, model out.
 *
 * @internal
 */
import type { LoggedEvent } from "../../RunRecords.ts"

export type BarOutcome = "ok" | "failed" | "retried" | "stopped" | "unfinished"

/** One attempt of one agent. */
export interface Bar {
  readonly stage: string
  readonly lane: string
  readonly attempt: number
  readonly start: number
  end: number
  outcome: BarOutcome
  detail: string
  model?: string
  tokens?: number
  costUsd?: number
}

/** A wait between attempts (a retry back-off, a rate limit's reset), or a breaker-open period. */
export interface Gap {
  readonly stage: string
  readonly lane: string
  readonly start: number
  readonly end: number
  readonly reason: string
  readonly kind: "wait" | "breaker"
}

/** A moment in a stage: decided early (agents stopped), paused, delivered. */
export interface Mark {
  readonly stage: string
  readonly at: number
  readonly label: string
}

export interface StageBand {
  readonly stage: string
  readonly start: number
  end: number
  readonly lanes: Array<string>
  status: string
}

export interface Timeline {
  readonly start: number
  readonly end: number
  readonly stages: ReadonlyArray<StageBand>
  readonly bars: ReadonlyArray<Bar>
  readonly gaps: ReadonlyArray<Gap>
  readonly marks: ReadonlyArray<Mark>
}

const laneOf = (stage: string, lane: string) => `${stage}/${lane}`

/** The mutable state of building a timeline, event by event. */
class Builder {
  readonly stages = new Map<string, StageBand>()
  readonly bars: Array<Bar> = []
  readonly gaps: Array<Gap> = []
  readonly marks: Array<Mark> = []
  readonly open = new Map<string, Bar>()
  readonly breakers = new Map<string, number>()
  readonly stopped = new Set<string>()
  last = 0

  band(stage: string, at: number): StageBand {
    const existing = this.stages.get(stage)
    if (existing) return existing
    const band: StageBand = { stage, start: at, end: at, lanes: [], status: "running" }
    this.stages.set(stage, band)
    return band
  }

  lane(stage: string, lane: string, at: number) {
    const band = this.band(stage, at)
    if (!band.lanes.includes(lane)) band.lanes.push(lane)
  }

  close(key: string, at: number, outcome: BarOutcome, detail: string) {
    const bar = this.open.get(key)
    if (!bar) return undefined
    Object.assign(bar, { end: at, outcome, detail })
    this.open.delete(key)
    return bar
  }

  add(event: LoggedEvent, at: number) {
    this.last = Math.max(this.last, at)
    switch (event._tag) {
      case "StageStarted": {
        const band = this.band(event.stage, at)
        for (const agent of event.agents) this.lane(event.stage, agent, at)
        band.status = "running"
        return
      }
      case "AgentStarted": {
        this.lane(event.stage, event.agent, at)
        const bar: Bar = {
          stage: event.stage,
          lane: event.agent,
          attempt: event.attempt,
          start: at,
          end: at,
          outcome: "unfinished",
          detail: ""
        }
        this.bars.push(bar)
        this.open.set(laneOf(event.stage, event.agent), bar)
        return
      }
      case "AgentRetrying": {
        this.close(laneOf(event.stage, event.agent), at, "retried", `${event.kind}: ${event.detail}`)
        if (event.resumeAt > at) {
          this.gaps.push({
            stage: event.stage,
            lane: event.agent,
            start: at,
            end: event.resumeAt,
            reason: `${event.kind === "RateLimited" ? "rate-limit wait" : "retry wait"} (${event.kind}) before attempt ${event.attempt}`,
            kind: "wait"
          })
        }
        return
      }
      case "AgentFinished": {
        const outcome = event.outcome
        const key = laneOf(event.stage, outcome.agent)
        const stopped = outcome._tag === "Failed" && outcome.kind === "Interrupted" && this.stopped.has(key)
        const detail = outcome._tag === "Succeeded" ? "answered" : `${outcome.kind}: ${outcome.detail}`
        const bar =
          this.close(key, at, outcome._tag === "Succeeded" ? "ok" : stopped ? "stopped" : "failed", detail) ??
          this.bars.filter((b) => b.stage === event.stage && b.lane === outcome.agent).at(-1)
        for (const earlier of this.bars) {
          if (earlier.stage === event.stage && earlier.lane === outcome.agent) earlier.model ??= outcome.model
        }
        if (bar) Object.assign(bar, { tokens: outcome.usage.input + outcome.usage.output, costUsd: outcome.costUsd })
        return
      }
      case "AgentsStopped": {
        for (const agent of event.agents) this.stopped.add(laneOf(event.stage, agent))
        this.marks.push({ stage: event.stage, at, label: `decided: ${event.agents.join(", ")} stopped early` })
        return
      }
      case "BreakerChanged": {
        const key = laneOf(event.stage, event.agent)
        if (event.to === "Open") this.breakers.set(key, at)
        const opened = this.breakers.get(key)
        if (event.from === "Open" && opened !== undefined) {
          this.gaps.push({
            stage: event.stage,
            lane: event.agent,
            start: opened,
            end: at,
            reason: "circuit open",
            kind: "breaker"
          })
          this.breakers.delete(key)
        }
        return
      }
      case "CheckStarted": {
        const lane = `check ${event.check} · ${event.candidate}`
        this.lane(event.stage, lane, at)
        const bar: Bar = { stage: event.stage, lane, attempt: 1, start: at, end: at, outcome: "unfinished", detail: "" }
        this.bars.push(bar)
        this.open.set(laneOf(event.stage, lane), bar)
        return
      }
      case "CheckFinished": {
        const lane = `check ${event.result.check} · ${event.result.candidate}`
        const failing = event.result.failures?.length ? `; failing: ${event.result.failures.join(", ")}` : ""
        this.close(
          laneOf(event.stage, lane),
          at,
          event.result.status === "pass" ? "ok" : "failed",
          `${event.result.status}${failing}`
        )
        return
      }
      case "PhaseChanged": {
        if (event.phase._tag === "AwaitingReview") {
          this.marks.push({ stage: event.phase.stage, at, label: "paused: awaiting review" })
        }
        return
      }
      case "StageFinished": {
        const band = this.band(event.stage, at)
        band.end = at
        band.status = event.consensus.status
        return
      }
      case "Delivered": {
        const stage = [...this.stages.keys()].at(-1) ?? "unlock"
        this.marks.push({ stage, at, label: `delivered to ${event.branch}` })
        return
      }
      default:
        return
    }
  }
}

/**
 * The timeline of a run's events, or `undefined` when its events carry no times (a run recorded by a
 * speckit before 0.3).
 */
export const timelineOf = (events: ReadonlyArray<LoggedEvent>): Timeline | undefined => {
  const timed = events.filter((event) => typeof event.at === "number")
  if (timed.length === 0) return undefined
  const builder = new Builder()
  for (const event of timed) builder.add(event, event.at ?? 0)
  const end = builder.last
  for (const bar of builder.open.values()) bar.end = end
  // A circuit still open when the log ends.
  for (const [key, opened] of builder.breakers) {
    const [stage = "", lane = ""] = key.split("/")
    builder.gaps.push({ stage, lane, start: opened, end, reason: "circuit open", kind: "breaker" })
  }
  for (const band of builder.stages.values()) if (band.end <= band.start) band.end = end
  return {
    start: timed[0]?.at ?? 0,
    end,
    stages: [...builder.stages.values()],
    bars: builder.bars,
    gaps: builder.gaps,
    marks: builder.marks
  }
}

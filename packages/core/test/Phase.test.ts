import { assert, describe, it } from "@effect/vitest"
import { Phase, Stage } from "@speckit/core"
import { Result } from "effect"

const running = (stage: Stage.Stage): Phase.Phase => ({ _tag: "Running", stage })
const legal = (from: Phase.Phase, to: Phase.Phase) => Result.isSuccess(Phase.transition(from, to))

describe("Phase", () => {
  it("walks every stage in order to Completed", () => {
    let phase = Phase.idle
    for (const stage of Stage.all) {
      const next = Phase.transition(phase, running(stage))
      assert.isTrue(Result.isSuccess(next), `to ${stage}`)
      phase = running(stage)
    }
    assert.isTrue(legal(phase, { _tag: "Completed" }))
  })

  it("rejects skipping, going back and completing early", () => {
    assert.isFalse(legal(Phase.idle, running("tasks")))
    assert.isFalse(legal(running("plan"), running("implement")))
    assert.isFalse(legal(running("tasks"), running("plan")))
    assert.isFalse(legal(running("audit"), { _tag: "Completed" }))
    assert.isFalse(legal(Phase.idle, { _tag: "Completed" }))
  })

  it("names both phases in the error", () => {
    const moved = Phase.transition(running("plan"), running("unlock"))
    assert.isTrue(Result.isFailure(moved))
    if (Result.isFailure(moved)) {
      assert.strictEqual(moved.failure._tag, "IllegalTransition")
      assert.include(moved.failure.message, "Running(plan)")
      assert.include(moved.failure.message, "Running(unlock)")
    }
  })

  it("allows recovery, review and halting only within the current stage", () => {
    const recovery: Phase.Phase = { _tag: "TransientRecovery", stage: "plan", agent: "a", attempt: 2, resumeAt: 0 }
    assert.isTrue(legal(running("plan"), recovery))
    assert.isTrue(legal(recovery, running("plan")))
    assert.isFalse(legal(recovery, running("tasks")))
    assert.isTrue(legal(running("audit"), { _tag: "AwaitingReview", stage: "audit", reason: "r" }))
    assert.isFalse(legal(running("audit"), { _tag: "AwaitingReview", stage: "plan", reason: "r" }))
    assert.isTrue(legal({ _tag: "AwaitingReview", stage: "audit", reason: "r" }, running("unlock")))
    assert.isTrue(legal(running("tasks"), { _tag: "Halted", stage: "tasks", reason: "conflict" }))
    assert.isFalse(legal(running("tasks"), { _tag: "Halted", stage: "plan", reason: "conflict" }))
  })

  it("treats terminal phases as final", () => {
    const terminals: ReadonlyArray<Phase.Phase> = [
      { _tag: "Completed" },
      { _tag: "Cancelled" },
      { _tag: "Failed", reason: "x" },
      { _tag: "Halted", stage: "plan", reason: "x" }
    ]
    for (const terminal of terminals) {
      assert.isTrue(Phase.isTerminal(terminal))
      assert.isFalse(legal(terminal, running("plan")))
      assert.isFalse(legal(terminal, { _tag: "Cancelled" }))
    }
  })

  it("can be cancelled or failed from any live phase", () => {
    for (const from of [Phase.idle, running("implement")]) {
      assert.isTrue(legal(from, { _tag: "Cancelled" }))
      assert.isTrue(legal(from, { _tag: "Failed", reason: "boom" }))
    }
  })
})

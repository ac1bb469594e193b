import { assert, describe, it } from "@effect/vitest"
import { RateLimit } from "../src/index.ts"

const NOW = Date.UTC(2025, 8, 20, 12, 0, 0)

describe("RateLimit.parseDuration", () => {
  const cases: ReadonlyArray<readonly [string, number | undefined]> = [
    ["1s", 1_000],
    ["12ms", 12],
    ["6m0s", 360_000],
    ["1h2m3s", 3_723_000],
    ["1.5s", 1_500],
    ["60", 60_000],
    ["soon", undefined],
    ["", undefined]
  ]
  for (const [text, expected] of cases) {
    it(`reads ${JSON.stringify(text)}`, () => {
      assert.strictEqual(RateLimit.parseDuration(text), expected)
    })
  }
})

describe("RateLimit.resetFromHeaders", () => {
  it("reads retry-after in seconds, case-insensitively", () => {
    assert.strictEqual(RateLimit.resetFromHeaders({ "Retry-After": "30" }, NOW), NOW + 30_000)
  })

  it("reads retry-after as an HTTP date", () => {
    assert.strictEqual(
      RateLimit.resetFromHeaders({ "retry-after": "Sat, 20 Sep 2025 12:05:00 GMT" }, NOW),
      Date.UTC(2025, 8, 20, 12, 5)
    )
  })

  it("prefers retry-after-ms", () => {
    assert.strictEqual(RateLimit.resetFromHeaders({ "retry-after-ms": "1500", "retry-after": "30" }, NOW), NOW + 1_500)
  })

  it("takes the later of the OpenAI request and token resets (Go durations)", () => {
    assert.strictEqual(
      RateLimit.resetFromHeaders({ "x-ratelimit-reset-requests": "12ms", "x-ratelimit-reset-tokens": "6m0s" }, NOW),
      NOW + 360_000
    )
    assert.strictEqual(RateLimit.resetFromHeaders({ "x-ratelimit-reset-requests": "1h2m3s" }, NOW), NOW + 3_723_000)
  })

  it("takes the latest Anthropic RFC 3339 reset", () => {
    assert.strictEqual(
      RateLimit.resetFromHeaders(
        {
          "anthropic-ratelimit-requests-reset": "2025-09-20T12:00:30Z",
          "anthropic-ratelimit-tokens-reset": "2025-09-20T12:01:00Z",
          "anthropic-ratelimit-requests-remaining": "0"
        },
        NOW
      ),
      Date.UTC(2025, 8, 20, 12, 1)
    )
  })

  it("returns undefined without a usable header", () => {
    assert.isUndefined(RateLimit.resetFromHeaders({ "content-type": "application/json" }, NOW))
    assert.isUndefined(RateLimit.resetFromHeaders({ "retry-after": "whenever" }, NOW))
  })
})

describe("RateLimit.resetFromBody", () => {
  it("reads reset_at in epoch seconds", () => {
    assert.strictEqual(RateLimit.resetFromBody({ reset_at: 1_759_300_000 }, NOW), 1_759_300_000_000)
  })

  it("reads reset_at as an ISO date", () => {
    assert.strictEqual(RateLimit.resetFromBody({ reset_at: "2025-09-20T13:00:00Z" }, NOW), Date.UTC(2025, 8, 20, 13))
  })

  it("reads resets_in_seconds under error (Codex usage_limit_reached)", () => {
    assert.strictEqual(
      RateLimit.resetFromBody({ error: { type: "usage_limit_reached", resets_in_seconds: 90 } }, NOW),
      NOW + 90_000
    )
  })

  it("reads Claude's rate_limit_info.resetsAt", () => {
    assert.strictEqual(
      RateLimit.resetFromBody(
        { type: "rate_limit_event", rate_limit_info: { status: "rejected", resetsAt: 1_759_300_000 } },
        NOW
      ),
      1_759_300_000_000
    )
  })

  it("returns undefined without a reset", () => {
    assert.isUndefined(RateLimit.resetFromBody({ error: { message: "nope" } }, NOW))
    assert.isUndefined(RateLimit.resetFromBody("reset_at", NOW))
    assert.isUndefined(RateLimit.resetFromBody(null, NOW))
  })
})

describe("RateLimit.resetFromText", () => {
  it("reads Claude's weekly limit in its timezone", () => {
    // Oct 1, 02:00 in Seoul (UTC+9) is Sep 30, 17:00 UTC.
    assert.strictEqual(
      RateLimit.resetFromText("You've hit your weekly limit · resets Oct 1, 2am (Asia/Seoul)", NOW),
      Date.UTC(2025, 8, 30, 17)
    )
  })

  it("rolls a month-day over a month past into next year", () => {
    assert.strictEqual(
      RateLimit.resetFromText("You've hit your weekly limit · resets Oct 1, 2am (Asia/Seoul)", Date.UTC(2025, 11, 15)),
      Date.UTC(2026, 8, 30, 17)
    )
  })

  it("reads a time-only Claude reset as its next occurrence in the zone", () => {
    // 12:00 UTC is 08:00 in New York (EDT, UTC-4); 3pm there is 19:00 UTC.
    assert.strictEqual(
      RateLimit.resetFromText("You've hit your limit · resets 3pm (America/New_York)", NOW),
      Date.UTC(2025, 8, 20, 19)
    )
    // 21:00 UTC is 17:00 in New York: 3pm is tomorrow.
    assert.strictEqual(
      RateLimit.resetFromText("5-hour limit reached ∙ resets 3pm (America/New_York)", Date.UTC(2025, 8, 20, 21)),
      Date.UTC(2025, 8, 21, 19)
    )
  })

  it("falls back to local time for an unknown zone", () => {
    assert.strictEqual(
      RateLimit.resetFromText("resets Oct 1, 2am (Mars/Olympus_Mons)", NOW),
      new Date(2025, 9, 1, 2, 0).getTime()
    )
  })

  it("reads Codex's 'try again at' as the next occurrence of that local time", () => {
    const text =
      "You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro) or try again at 3:28 PM."
    const morning = new Date(2025, 8, 23, 10, 0).getTime()
    assert.strictEqual(RateLimit.resetFromText(text, morning), new Date(2025, 8, 23, 15, 28).getTime())
    const evening = new Date(2025, 8, 23, 18, 0).getTime()
    assert.strictEqual(RateLimit.resetFromText(text, evening), new Date(2025, 8, 24, 15, 28).getTime())
    // A minute past (the text was printed just before the reset): the limit has reset, not tomorrow.
    const justAfter = new Date(2025, 8, 23, 15, 29).getTime()
    assert.strictEqual(RateLimit.resetFromText(text, justAfter), new Date(2025, 8, 23, 15, 28).getTime())
  })

  it("reads Codex's 'try again at' with a date", () => {
    assert.strictEqual(
      RateLimit.resetFromText("You’ve hit your usage limit. Try again at Sep 24th, 2025 3:28 PM.", NOW),
      new Date(2025, 8, 24, 15, 28).getTime()
    )
  })

  it("reads relative delays", () => {
    assert.strictEqual(
      RateLimit.resetFromText("Rate limit reached for gpt-5 in organization org-x. Please try again in 11.054s.", NOW),
      NOW + 11_054
    )
    assert.strictEqual(RateLimit.resetFromText("Please retry after 2 minutes", NOW), NOW + 120_000)
    assert.strictEqual(RateLimit.resetFromText("Your quota will reset after 1h 30m.", NOW), NOW + 5_400_000)
  })

  it("reads the legacy Claude 'usage limit reached|<epoch>' text", () => {
    assert.strictEqual(RateLimit.resetFromText("Claude AI usage limit reached|1759300000", NOW), 1_759_300_000_000)
  })

  it("returns undefined without a reset", () => {
    assert.isUndefined(RateLimit.resetFromText("API Error: Request rejected (429) · Rate limited", NOW))
    assert.isUndefined(RateLimit.resetFromText("the counter resets 2 times", NOW))
  })
})

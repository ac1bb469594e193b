import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Fiber, Result, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { TestClock } from "effect/testing"
import { type Agent, AgentId, RunId, Spec } from "@speckit/core"
import { OpenAiAgent } from "../src/index.ts"

// ---------------------------------------------------------------------------------------------
// A real Chat Completions server on 127.0.0.1
// ---------------------------------------------------------------------------------------------

interface Received {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: unknown
}

type Handler = (request: Received, response: ServerResponse) => void

interface TestServer {
  readonly baseUrl: string
  readonly requests: Array<Received>
  /** Resolved when a response's connection closes before the response was finished. */
  readonly aborted: Deferred.Deferred<void>
  /** Resolved when the first request has arrived. */
  readonly received: Deferred.Deferred<void>
}

/** Starts a server on 127.0.0.1 (port 0) for the test's scope. */
const serve = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const requests: Array<Received> = []
      const aborted = yield* Deferred.make<void>()
      const received = yield* Deferred.make<void>()
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {}
          const request: Received = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body }
          requests.push(request)
          Deferred.doneUnsafe(received, Effect.void)
          res.on("close", () => {
            if (!res.writableEnded) Deferred.doneUnsafe(aborted, Effect.void)
          })
          handler(request, res)
        })
      })
      const port = yield* Effect.callback<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      })
      return { server, test: { baseUrl: `http://127.0.0.1:${port}/v1/`, requests, aborted, received } }
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ test }): TestServer => test))

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const sse = (res: ServerResponse, events: ReadonlyArray<unknown>, options: { readonly done?: boolean } = {}) => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  for (const event of events) res.write(`data: ${JSON.stringify(event)}\n\n`)
  if (options.done ?? true) res.write("data: [DONE]\n\n")
  res.end()
}

const answer = '{"stage":"plan","agent":"gpt","summary":"ok"}'

const completion = (content: string, usage?: unknown) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "gpt-test-2025",
  system_fingerprint: "fp_x",
  choices: [
    { index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: "stop" }
  ],
  ...(usage === undefined ? {} : { usage })
})

const errorBody = (message: string, type: string, code: string | null = null) => ({
  error: { message, type, param: null, code }
})

// ---------------------------------------------------------------------------------------------
// Calling an agent
// ---------------------------------------------------------------------------------------------

const KEY = "sk-test-0123456789"
const NOW = Date.UTC(2025, 8, 23, 10, 0, 0)
const id = AgentId.make("gpt")

const request: Agent.AgentRequest = {
  runId: Schema.decodeUnknownSync(RunId.RunId)("run-20250923-100000-abcd"),
  stage: "plan",
  agent: id,
  attempt: 2,
  prompt: "Plan the work.",
  spec: {
    id: Schema.decodeUnknownSync(Spec.SpecId)("SPEC-1"),
    title: "Spec",
    text: "# Spec",
    directory: "/tmp/spec"
  },
  previous: "",
  idempotencyKey: "run-20250923-100000-abcd/plan/gpt/2"
}

const env = ConfigProvider.fromEnvRecord({ TEST_OPENAI_KEY: KEY })

const agentFor = (server: TestServer, config: Partial<OpenAiAgent.OpenAiAgentConfig> = {}) =>
  OpenAiAgent.fromConfig(id, {
    baseUrl: server.baseUrl,
    model: "gpt-test",
    apiKeyEnv: "TEST_OPENAI_KEY",
    ...config
  }).pipe(Effect.provideService(ConfigProvider.ConfigProvider, env), Effect.provide(FetchHttpClient.layer))

const callWith = (handler: Handler, config: Partial<OpenAiAgent.OpenAiAgentConfig> = {}) =>
  Effect.gen(function* () {
    const server = yield* serve(handler)
    const agent = yield* agentFor(server, config)
    const result = yield* Effect.result(agent.call(request))
    return { result, server }
  })

const failureOf = (handler: Handler, config: Partial<OpenAiAgent.OpenAiAgentConfig> = {}) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(NOW)
    const { result } = yield* callWith(handler, config)
    assert.isTrue(Result.isFailure(result), "expected the call to fail")
    if (Result.isSuccess(result)) throw new Error("unreachable")
    assert.notInclude(result.failure.message, KEY)
    return result.failure
  })

describe("OpenAiAgent", () => {
  it.effect("non-streaming: answer, model and usage (cached and reasoning tokens), auth and idempotency headers", () =>
    Effect.gen(function* () {
      const { result, server } = yield* callWith(
        (_, res) =>
          json(
            res,
            200,
            completion(answer, {
              prompt_tokens: 1200,
              completion_tokens: 300,
              total_tokens: 1500,
              prompt_tokens_details: { cached_tokens: 1000, audio_tokens: 0 },
              completion_tokens_details: { reasoning_tokens: 250, audio_tokens: 0 }
            })
          ),
        { stream: false, maxOutputTokens: 4096, headers: { "X-Title": "speckit" } }
      )
      assert.isTrue(Result.isSuccess(result))
      if (Result.isFailure(result)) return
      assert.deepStrictEqual(result.success, {
        text: answer,
        model: "gpt-test-2025",
        usage: { input: 1200, cachedInput: 1000, output: 300, reasoning: 250 }
      })
      const [received] = server.requests
      assert.strictEqual(server.requests.length, 1)
      assert.strictEqual(received?.method, "POST")
      assert.strictEqual(received?.url, "/v1/chat/completions")
      assert.strictEqual(received?.headers.authorization, `Bearer ${KEY}`)
      assert.strictEqual(received?.headers["idempotency-key"], request.idempotencyKey)
      assert.strictEqual(received?.headers["x-speckit-run-id"], request.runId)
      assert.strictEqual(received?.headers["x-speckit-stage"], "plan")
      assert.strictEqual(received?.headers["x-speckit-agent"], "gpt")
      assert.strictEqual(received?.headers["x-speckit-attempt"], "2")
      assert.strictEqual(received?.headers["x-title"], "speckit")
      assert.deepStrictEqual(received?.body, {
        model: "gpt-test",
        messages: [{ role: "user", content: "Plan the work." }],
        stream: false,
        max_completion_tokens: 4096
      })
    })
  )

  it.effect("streaming: SSE deltas, usage in the final chunk (choices: []), then [DONE]", () =>
    Effect.gen(function* () {
      const half = Math.floor(answer.length / 2)
      const { result, server } = yield* callWith((_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        const chunk = (delta: unknown, finish: string | null = null) =>
          `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "gpt-test-2025", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
        res.write(chunk({ role: "assistant", content: "" }))
        // An event split across writes.
        const second = chunk({ content: answer.slice(0, half) })
        res.write(second.slice(0, 20))
        setTimeout(() => {
          res.write(second.slice(20))
          res.write(`${chunk({ content: answer.slice(half) })}${chunk({}, "stop")}`)
          res.write(
            `data: ${JSON.stringify({ id: "c", model: "gpt-test-2025", choices: [], usage: { prompt_tokens: 50, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 10 }, completion_tokens_details: { reasoning_tokens: 5 } } })}\n\n`
          )
          res.end("data: [DONE]\n\n")
        }, 20)
      })
      assert.isTrue(Result.isSuccess(result), Result.isFailure(result) ? result.failure.message : "")
      if (Result.isFailure(result)) return
      assert.deepStrictEqual(result.success, {
        text: answer,
        model: "gpt-test-2025",
        usage: { input: 50, cachedInput: 10, output: 20, reasoning: 5 }
      })
      const body = server.requests[0]?.body
      assert.deepInclude(body, { stream: true, stream_options: { include_usage: true } })
      assert.strictEqual(server.requests[0]?.headers.accept, "text/event-stream")
    })
  )

  it.effect("streaming: a final usage chunk with choices: null (as some servers send)", () =>
    Effect.gen(function* () {
      const { result } = yield* callWith((_, res) =>
        sse(res, [
          { model: "llama", choices: [{ index: 0, delta: { content: answer } }] },
          { model: "llama", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
          { model: "llama", choices: null, usage: { prompt_tokens: 7, completion_tokens: 3 } }
        ])
      )
      assert.isTrue(Result.isSuccess(result))
      if (Result.isSuccess(result)) {
        assert.deepStrictEqual(result.success.usage, { input: 7, cachedInput: 0, output: 3, reasoning: 0 })
        assert.strictEqual(result.success.model, "llama")
      }
    })
  )

  it.effect("streaming: a stream that ends before [DONE] or a finish reason → Disconnected", () =>
    Effect.gen(function* () {
      const error = yield* failureOf((_, res) =>
        sse(res, [{ choices: [{ index: 0, delta: { content: '{"stage":' } }] }], { done: false })
      )
      assert.strictEqual(error.kind, "Disconnected")
    })
  )

  it.effect("streaming: a connection dropped mid-stream → Disconnected", () =>
    Effect.gen(function* () {
      const error = yield* failureOf((_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "{" } }] })}\n\n`)
        setTimeout(() => res.destroy(), 20)
      })
      assert.strictEqual(error.kind, "Disconnected")
    })
  )

  it.effect("streaming: an error event mid-stream is classified", () =>
    Effect.gen(function* () {
      const error = yield* failureOf((_, res) =>
        sse(res, [
          { choices: [{ index: 0, delta: { content: "{" } }] },
          { error: { message: "The model is overloaded", type: "overloaded_error", code: 529 } }
        ])
      )
      assert.strictEqual(error.kind, "Overloaded")
    })
  )

  it.effect("429: each reset header form sets resetAt (fixed clock)", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [Record<string, string>, number]> = [
        [{ "retry-after": "30" }, NOW + 30_000],
        [{ "retry-after": new Date(NOW + 120_000).toUTCString() }, NOW + 120_000],
        [{ "retry-after-ms": "1500" }, NOW + 1_500],
        [{ "x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "1s" }, NOW + 360_000],
        [{ "anthropic-ratelimit-requests-reset": new Date(NOW + 45_000).toISOString() }, NOW + 45_000]
      ]
      for (const [headers, resetAt] of cases) {
        const error = yield* failureOf((_, res) =>
          json(res, 429, errorBody("Rate limit reached for requests", "requests", "rate_limit_exceeded"), headers)
        )
        assert.strictEqual(error.kind, "RateLimited", JSON.stringify(headers))
        assert.strictEqual(error.status, 429)
        assert.strictEqual(error.resetAt, resetAt, JSON.stringify(headers))
      }
    })
  )

  it.effect("429 without headers: the reset is read from the error message", () =>
    Effect.gen(function* () {
      const error = yield* failureOf((_, res) =>
        json(res, 429, errorBody("Rate limit reached. Please try again in 20s.", "tokens", "rate_limit_exceeded"))
      )
      assert.strictEqual(error.kind, "RateLimited")
      assert.strictEqual(error.resetAt, NOW + 20_000)
    })
  )

  it.effect("429 insufficient_quota → QuotaExhausted (not retried)", () =>
    Effect.gen(function* () {
      const error = yield* failureOf((_, res) =>
        json(res, 429, errorBody("You exceeded your current quota.", "insufficient_quota", "insufficient_quota"), {
          "retry-after": "1"
        })
      )
      assert.strictEqual(error.kind, "QuotaExhausted")
      assert.isUndefined(error.resetAt)
    })
  )

  it.effect("500, 502, 503 → ServerError; 529 → Overloaded", () =>
    Effect.gen(function* () {
      for (const status of [500, 502, 503]) {
        const error = yield* failureOf((_, res) => json(res, status, errorBody("boom", "server_error")))
        assert.strictEqual(error.kind, "ServerError", String(status))
        assert.strictEqual(error.status, status)
      }
      const overloaded = yield* failureOf((_, res) =>
        json(res, 529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })
      )
      assert.strictEqual(overloaded.kind, "Overloaded")
      assert.strictEqual(overloaded.status, 529)
    })
  )

  it.effect("401 → AuthFailed without leaking the key; 400 → InvalidRequest; 404 → ModelNotFound", () =>
    Effect.gen(function* () {
      const auth = yield* failureOf((_, res) =>
        json(res, 401, errorBody("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
      )
      assert.strictEqual(auth.kind, "AuthFailed")
      assert.strictEqual(auth.status, 401)
      const bad = yield* failureOf((_, res) => json(res, 400, errorBody("bad 'messages'", "invalid_request_error")))
      assert.strictEqual(bad.kind, "InvalidRequest")
      const missing = yield* failureOf((_, res) =>
        json(res, 404, errorBody("The model `gpt-nope` does not exist", "invalid_request_error", "model_not_found"))
      )
      assert.strictEqual(missing.kind, "ModelNotFound")
      const ollama = yield* failureOf((_, res) => json(res, 404, { error: "model 'gpt-test' not found" }))
      assert.strictEqual(ollama.kind, "ModelNotFound")
    })
  )

  it.effect("empty content → Empty; an undecodable body → Malformed", () =>
    Effect.gen(function* () {
      const empty = yield* failureOf((_, res) => json(res, 200, completion("")), { stream: false })
      assert.strictEqual(empty.kind, "Empty")
      const emptyStream = yield* failureOf((_, res) =>
        sse(res, [{ choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop" }] }])
      )
      assert.strictEqual(emptyStream.kind, "Empty")
      const notJson = yield* failureOf(
        (_, res) => {
          res.writeHead(200, { "content-type": "text/html" })
          res.end("<html>gateway</html>")
        },
        { stream: false }
      )
      assert.strictEqual(notJson.kind, "Malformed")
      const wrongShape = yield* failureOf((_, res) => json(res, 200, { choices: "none" }), { stream: false })
      assert.strictEqual(wrongShape.kind, "Malformed")
      const badChunk = yield* failureOf((_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end("data: {not json\n\n")
      })
      assert.strictEqual(badChunk.kind, "Malformed")
    })
  )

  it.effect("connection refused → Disconnected", () =>
    Effect.gen(function* () {
      const closed = yield* Effect.scoped(serve(() => undefined))
      const agent = yield* agentFor(closed)
      const error = yield* Effect.flip(agent.call(request))
      assert.strictEqual(error.kind, "Disconnected")
    })
  )

  it.live("a server that hangs past timeoutMs → Timeout, and the request is aborted", () =>
    Effect.gen(function* () {
      const server = yield* serve(() => undefined)
      const agent = yield* agentFor(server, { timeoutMs: 200 })
      const error = yield* Effect.flip(agent.call(request))
      assert.strictEqual(error.kind, "Timeout")
      yield* Deferred.await(server.aborted).pipe(Effect.timeout("5 seconds"))
    })
  )

  it.live("a stream that stalls past timeoutMs → Timeout", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "{" } }] })}\n\n`)
      })
      const agent = yield* agentFor(server, { timeoutMs: 300 })
      const error = yield* Effect.flip(agent.call(request))
      assert.strictEqual(error.kind, "Timeout")
      yield* Deferred.await(server.aborted).pipe(Effect.timeout("5 seconds"))
    })
  )

  it.live("interrupting a call aborts the request: the server sees the connection closed", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(": keep-alive\n\n")
      })
      const agent = yield* agentFor(server)
      const fiber = yield* Effect.forkChild(agent.call(request))
      yield* Deferred.await(server.received)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(server.aborted).pipe(Effect.timeout("5 seconds"))
    })
  )

  it.effect("a missing API key variable is a clear configuration error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        OpenAiAgent.fromConfig(id, {
          baseUrl: "http://127.0.0.1:1/v1",
          model: "gpt-test",
          apiKeyEnv: "SPECKIT_TEST_MISSING_KEY"
        }).pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnvRecord({})),
          Effect.provide(FetchHttpClient.layer)
        )
      )
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "SPECKIT_TEST_MISSING_KEY")
      assert.include(error.message, "agents.gpt.apiKeyEnv")
    })
  )

  it.effect("no apiKeyEnv (a local server): no Authorization header", () =>
    Effect.gen(function* () {
      const server = yield* serve((_, res) => json(res, 200, completion(answer)))
      const agent = yield* OpenAiAgent.make({ id, baseUrl: server.baseUrl, model: "qwen3:8b", stream: false }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      const response = yield* agent.call(request)
      assert.strictEqual(response.text, answer)
      assert.isUndefined(server.requests[0]?.headers.authorization)
    })
  )
})

/**
 * A real OTLP collector for the tests: an HTTP server on 127.0.0.1 that keeps every request's path and
 * body, started before the file's tests and stopped after them.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll } from "@effect/vitest"

/** What the collector received, and where it listens (set once the file's tests start). */
export interface Collector {
  readonly received: Array<{ readonly path: string; readonly body: string }>
  readonly url: () => string
}

/** Starts a collector for the calling test file (`beforeAll`), and stops it after (`afterAll`). */
export const collector = (): Collector => {
  const received: Array<{ readonly path: string; readonly body: string }> = []
  let server: http.Server | undefined
  let url = ""
  beforeAll(
    () =>
      new Promise<void>((resolve) => {
        const started = http.createServer((request, response) => {
          let body = ""
          request.setEncoding("utf8")
          request.on("data", (chunk: string) => {
            body += chunk
          })
          request.on("end", () => {
            received.push({ path: request.url ?? "", body })
            response.writeHead(200, { "content-type": "application/json" })
            response.end("{}")
          })
        })
        server = started
        started.listen(0, "127.0.0.1", () => {
          url = `http://127.0.0.1:${(started.address() as AddressInfo).port}`
          resolve()
        })
      })
  )
  afterAll(() => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))))
  return { received, url: () => url }
}

/**
 * PostgreSQL for the benchmarks that need it: the server `.ci/run` started (`TEST_POSTGRES_URL`), or
 * one started here with `scripts/postgres.sh` (Debian's `postgresql`) and stopped by `stop`; fresh
 * databases on it; free ports on 127.0.0.1 for runners.
 */
import { execFileSync } from "node:child_process"
import * as net from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const script = join(dirname(fileURLToPath(import.meta.url)), "..", "scripts", "postgres.sh")

/** The server's URL, and how to stop it when it was started here. */
export const server = (): { readonly url: string; readonly stop: () => void } => {
  const given = process.env.TEST_POSTGRES_URL
  if (given !== undefined && given !== "") return { url: given, stop: () => {} }
  const output = execFileSync("bash", [script, "start"], { encoding: "utf8" })
  const url = output.match(/TEST_POSTGRES_URL=(\S+)/)?.[1]
  const dir = output.match(/TEST_POSTGRES_DIR=(\S+)/)?.[1]
  if (url === undefined || dir === undefined) throw new Error(`scripts/postgres.sh printed no URL: ${output}`)
  return { url, stop: () => execFileSync("bash", [script, "stop", dir]) }
}

let databases = 0

/** A fresh database on the server at `url`: its URL. */
export const freshDatabase = (url: string): string =>
  execFileSync("bash", [script, "createdb", url, `speckit_bench_${process.pid}_${Date.now()}_${databases++}`], {
    encoding: "utf8"
  }).trim()

/** A port on 127.0.0.1 that was free a moment ago. */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer()
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

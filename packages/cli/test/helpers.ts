/**
 * Helpers for the CLI tests: run the built `speckit` binary as a real subprocess in temporary
 * workspaces.
 */
import { execFileSync, execSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

/** The built binary: the launcher of the bundle `pnpm pack` ships (`scripts/bundle.mjs`). */
export const binPath = path.join(repoRoot, "packages/cli/dist/bundle/speckit.js")

/** The bundle itself, which the launcher loads (`scripts/bundle.mjs`). */
export const bundleMainPath = path.join(repoRoot, "packages/cli/dist/bundle/main.js")

/** The scripted exec agent (see `fixtures/agent.mjs`). */
export const agentScript = path.join(repoRoot, "packages/cli/test/fixtures/agent.mjs")

/** The six stages, in order. */
export const stages = ["plan", "tasks", "implement", "validate", "audit", "unlock"] as const

/** Builds the CLI (and the packages it references) when its dist is missing. */
export const ensureBuilt = (): void => {
  if (!fs.existsSync(binPath) || !fs.existsSync(bundleMainPath)) {
    execSync("npx tsc -b packages/cli/tsconfig.json && node packages/cli/scripts/bundle.mjs", {
      cwd: repoRoot,
      stdio: "inherit"
    })
  }
}

const created: Array<string> = []

/** A new temporary directory, removed by {@link removeTempDirs}. */
export const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "speckit-cli-test-"))
  created.push(dir)
  return dir
}

/** Removes every directory made by {@link tempDir}. */
export const removeTempDirs = (): void => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** What a finished `speckit` process left behind. */
export interface CliResult {
  /** The exit code, or `null` when a signal ended the process. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of {@link runCli}. */
export interface RunOptions {
  readonly cwd?: string | undefined
  /** Called with the child and the stdout seen so far, each time stdout grows. */
  readonly onStdout?: ((text: string, interrupt: () => void) => void) | undefined
  readonly timeoutMs?: number | undefined
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** The script to run (default: the bin, {@link binPath}). */
  readonly script?: string | undefined
}

/**
 * Runs `node dist/bundle/speckit.js ...args` (or `options.script`) without a TTY and collects its output
 * and exit code.
 */
export const runCli = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.script ?? binPath, ...args], {
      cwd: options.cwd ?? os.tmpdir(),
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    const interrupt = () => void child.kill("SIGINT")
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000)
    child.stdout.setEncoding("utf8")
    child.stderr.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk
      options.onStdout?.(stdout, interrupt)
    })
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })

/** Every file under `dir` (relative path → contents), to compare a tree before and after a run. */
export const snapshot = (dir: string): Record<string, string> => {
  const files: Record<string, string> = {}
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name)
      if (entry.isDirectory()) walk(full)
      else files[path.relative(dir, full)] = fs.readFileSync(full).toString("base64")
    }
  }
  walk(dir)
  return files
}

/** Writes a file, creating its directory. */
export const writeFile = (file: string, content: string): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content)
}

/** A workspace with one spec (`specs/<specId>/spec.md`) and, if given, a `speckit.config.json`. */
export const makeWorkspace = (options: {
  readonly specId?: string | undefined
  readonly spec?: string | undefined
  /** An object is written as JSON, a string as is. */
  readonly config?: unknown
}): string => {
  const dir = tempDir()
  writeFile(
    path.join(dir, "specs", options.specId ?? "SPEC-1", "spec.md"),
    options.spec ?? "# Greeting\n\nPrint a friendly greeting.\n\n## Acceptance criteria\n\n- It greets\n"
  )
  if (options.config !== undefined) {
    writeFile(
      path.join(dir, "speckit.config.json"),
      typeof options.config === "string" ? options.config : `${JSON.stringify(options.config, null, 2)}\n`
    )
  }
  return dir
}

/**
 * A declared price of zero, for local test agents: an exec agent needs a price (or a priced `model`),
 * or `speckit auto` refuses it at start.
 */
export const freePrice = { inputPerMTok: 0, outputPerMTok: 0 } as const

/**
 * An exec agent running the scripted fixture agent with the given arguments, declared free
 * ({@link freePrice}); {@link unpricedExecAgent} is the same agent without a price.
 */
export const execAgent = (...args: ReadonlyArray<string>) => ({
  ...unpricedExecAgent(...args),
  price: freePrice
})

/** The scripted fixture agent as an exec agent without `model` or `price`, which has no known price. */
export const unpricedExecAgent = (...args: ReadonlyArray<string>) => ({
  provider: "exec",
  command: ["node", agentScript, ...args],
  timeoutMs: 15_000
})

/** Reads and parses a JSON file. */
export const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"))

/** The run directories under `<workspace>/.speckit/runs`. */
export const runDirs = (workspace: string): Array<string> => {
  const root = path.join(workspace, ".speckit", "runs")
  return fs.existsSync(root) ? fs.readdirSync(root).map((name) => path.join(root, name)) : []
}

/** A `speckit` process started by {@link startCli}, still running or not. */
export interface StartedCli {
  readonly child: ReturnType<typeof spawn>
  /** Settles when the process has exited and its output is closed; `finishedAt` is `Date.now()` then. */
  readonly done: Promise<CliResult & { readonly finishedAt: number }>
  /** The stderr seen so far. */
  readonly stderr: () => string
}

/**
 * Starts `node dist/bundle/speckit.js ...args` without waiting for it, to signal it (e.g. SIGKILL it) or run
 * another command meanwhile. Killed with SIGKILL after `timeoutMs` (default 60 s).
 */
export const startCli = (args: ReadonlyArray<string>, options: RunOptions = {}): StartedCli => {
  const child = spawn(process.execPath, [binPath, ...args], {
    cwd: options.cwd ?? os.tmpdir(),
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  const done = new Promise<CliResult & { readonly finishedAt: number }>((resolve, reject) => {
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, finishedAt: Date.now() })
    })
  })
  return { child, done, stderr: () => stderr }
}

/** Runs git in `cwd` with a fixed author (tests make repositories of their own); returns its trimmed stdout. */
export const git = (cwd: string, ...args: Array<string>): string =>
  execFileSync("git", args, {
    cwd,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@t",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@t"
    }
  })
    .toString()
    .trim()

/**
 * An OpenAI-compatible Chat Completions server on 127.0.0.1 for `openai` agents: records every prompt
 * it receives (the last message) and answers with `reply(prompt, prompts)` as the message content
 * (JSON-encoded), non-streaming. Close it when done.
 */
export const startChatServer = async (reply: (prompt: string, prompts: ReadonlyArray<string>) => unknown) => {
  const prompts: Array<string> = []
  const server = createServer((request, response) => {
    let body = ""
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8")
    })
    request.on("end", () => {
      const prompt = (JSON.parse(body) as { messages: Array<{ content: string }> }).messages.at(-1)?.content ?? ""
      prompts.push(prompt)
      const content = reply(prompt, prompts)
      response.setHeader("content-type", "application/json")
      response.end(
        JSON.stringify({
          choices: [{ message: { role: "assistant", content: JSON.stringify(content) }, finish_reason: "stop" }],
          usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 }
        })
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return { baseUrl: `http://127.0.0.1:${port}/v1`, prompts, close: () => server.close() }
}

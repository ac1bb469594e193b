/**
 * The sample workspace `speckit demo` creates: a realistic spec and a configuration of three
 * simulated agents.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path } from "effect"

/**
 * The id of the sample spec.
 *
 * @since 0.1.0
 */
export const specId = "SPEC-001-password-reset"

/**
 * The sample spec's Markdown.
 *
 * @since 0.1.0
 */
export const specText = `# Password reset by email

Users who forget their password can reset it themselves through a time-limited link sent by email,
without contacting support.

## Requirements

- Add a "Forgot password?" link on the sign-in page that opens a reset request form
- Accept an email address and always answer with the same neutral message, whether or not an account exists
- Generate a single-use reset token with 256 bits of entropy, stored only as a SHA-256 hash
- Expire reset tokens after 30 minutes and invalidate them once used
- Send the reset email through the existing mail queue with a link to the reset form
- Require the new password to meet the current password policy
- Invalidate all active sessions of the account after a successful reset
- Rate-limit reset requests to 5 per hour per email address and 20 per hour per IP address

## Acceptance criteria

- A user with an account receives a reset email within one minute of requesting it
- A reset link works once and fails with a clear message after it is used or has expired
- Requests for unknown addresses are indistinguishable from requests for known ones
- After a reset, existing sessions are signed out and the new password works
- The sixth request for one address within an hour is refused

## Out of scope

- SMS or authenticator-based recovery
- Changing the account's email address
`

/**
 * The sample configuration: three simulated agents of different sizes and latencies.
 *
 * @since 0.1.0
 */
export const config = {
  agents: {
    alpha: { provider: "sim", model: "sim-large", latencyMs: 120, seed: 1 },
    beta: { provider: "sim", model: "sim-medium", latencyMs: 160, seed: 2 },
    gamma: { provider: "sim", model: "sim-small", latencyMs: 90, seed: 3 }
  },
  defaults: { agents: ["alpha", "beta", "gamma"], quorum: "majority", onConflict: "halt" },
  stages: { validate: { quorum: "all" } },
  budget: { usd: 1 }
}

/**
 * Creates the sample workspace in `directory` (created if needed). Existing files are kept, never
 * overwritten.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Demo } from "@speckit/cli"
 *
 * const program = Demo.create("/tmp/speckit-demo").pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 0.1.0
 */
export const create = Effect.fn("Demo.create")(function* (directory: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const specDir = path.join(directory, "specs", specId)
  yield* fs.makeDirectory(specDir, { recursive: true })
  const writeIfMissing = (file: string, content: string) =>
    fs.exists(file).pipe(Effect.flatMap((exists) => (exists ? Effect.void : fs.writeFileString(file, content))))
  yield* writeIfMissing(path.join(specDir, "spec.md"), specText)
  yield* writeIfMissing(path.join(directory, "speckit.config.json"), `${JSON.stringify(config, null, 2)}\n`)
  return directory
})

/** Runs git in `cwd` as a fixed test author; its trimmed output. */
import { execFileSync } from "node:child_process"

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

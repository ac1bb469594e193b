/**
 * speckit-provider-echo: an example provider plugin for speckit.
 *
 * An `echo` agent answers every stage either from a JSON file of canned answers (`options.answers`, a
 * path relative to the workspace, holding an object keyed by stage name) or, for stages the file does
 * not cover, with a deterministic valid result built from the spec's title. It needs no model, no
 * network and no API key, and reports usage estimated from text length (about four characters a token).
 *
 * The module's default export is the provider definition `{ name, make }` that speckit checks when
 * it loads `plugins`.
 */
import { readFile } from "node:fs/promises"
import { isAbsolute, resolve } from "node:path"
import { Effect } from "effect"

const estimate = (text) => Math.ceil(text.length / 4)

/** A minimal valid result for each stage. */
const deterministic = (request) => {
  const title = request.spec.title || request.spec.id
  const base = { stage: request.stage, agent: request.agent, summary: `echo: ${request.stage} for "${title}"` }
  switch (request.stage) {
    case "plan":
      return {
        ...base,
        work_breakdown: [{ id: "W1", title: `Implement ${title}`, detail: "one step, done test-first" }],
        acceptance_mapping: []
      }
    case "tasks":
      return {
        ...base,
        tasks: [{ id: "T1", title: `Implement ${title}`, depends_on: [], done_when: "its tests pass" }]
      }
    case "implement":
      return { ...base, changes: [{ path: "src/index.ts", action: "modify", description: `implement ${title}` }] }
    case "validate":
      return { ...base, test_strategy: ["run the test suite"], verdict: "pass" }
    case "audit":
      return { ...base, findings: [], verdict: "pass" }
    case "unlock":
      return { ...base, decision: "unlock" }
    default:
      return base
  }
}

/** Reads the canned answers file, if the agent has one: `{ "<stage>": <result object or text> }`. */
const loadAnswers = async (workspace, file) => {
  if (file === undefined) return {}
  if (typeof file !== "string") throw new Error(`options.answers must be a path, got ${JSON.stringify(file)}`)
  const path = isAbsolute(file) ? file : resolve(workspace, file)
  const answers = JSON.parse(await readFile(path, "utf8"))
  if (answers === null || typeof answers !== "object" || Array.isArray(answers)) {
    throw new Error(`${path}: expected an object keyed by stage name`)
  }
  return answers
}

/** @type {import("@speckit/core").Provider.ProviderDefinition} */
export default {
  name: "echo",
  make: (id, config, context) =>
    Effect.tryPromise({
      try: () => loadAnswers(context.workspace, context.options.answers),
      catch: (error) => (error instanceof Error ? error : new Error(String(error)))
    }).pipe(
      Effect.map((answers) => {
        const model = config.model ?? "echo-1"
        return {
          id,
          provider: "echo",
          model,
          call: (request) =>
            Effect.sync(() => {
              const canned = answers[request.stage]
              const answer = canned === undefined ? { ...deterministic(request), agent: id } : canned
              const text = typeof answer === "string" ? answer : JSON.stringify(answer)
              return {
                text,
                model,
                usage: { input: estimate(request.prompt), cachedInput: 0, output: estimate(text), reasoning: 0 }
              }
            })
        }
      })
    )
}

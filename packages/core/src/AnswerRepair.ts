/**
 * Tolerant reading of agents' answers: real models answer near the requested shape, not exactly on
 * it. Before a stage result is validated, its answer goes through these repairs, in this order, each
 * a pure function recorded by name when it changes something:
 *
 * 1. **extract** (always): the JSON object from the whole text, a fenced block, or the outermost
 *    `{…}` span of prose around it.
 * 2. **syntax**: broken JSON (trailing commas, comments, unquoted keys or single quotes, a cut-off end)
 *    repaired by `jsonrepair`.
 * 3. **fill**: a missing `agent` (always) or `stage` taken from the call.
 * 4. **coerce**, where the meaning is unambiguous: a string where a list is asked becomes a one-item
 *    list (`test_strategy`, `covered_by`, `depends_on`, `ranking`, and the item lists); a list where
 *    one string is asked (`summary`) is joined; string items of `work_breakdown`, `tasks` and
 *    `findings` become objects with the string as title (a finding's severity `medium`: reported,
 *    never blocking); literals in another case (`"High"`, `"PASS"`) are lower-cased; verdicts and
 *    decisions given as synonyms map through {@link verdictSynonyms} and {@link decisionSynonyms}.
 *
 * Anything else stays as it was, and schema validation then rejects it with a note naming the field.
 * No repair turns a failing verdict into a passing one, and an answer that is already valid is never
 * changed (both are property-tested). With `answers.strict: true` ({@link Strict}) only step 1 and the
`agent` fill run (the reading before these repairs existed).
 *
 * @since 0.3.0
 */
import { Context, Predicate } from "effect"
import { jsonrepair } from "jsonrepair"
import type { Stage } from "./Stage.ts"

/**
 * Whether answers are read strictly (only the JSON extraction, no syntax repair, no coercion):
 * `answers.strict` in `speckit.config.json`. Default `false`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AnswerRepair, AgentId, StageResult } from "@speckit/core"
 *
 * const strict = StageResult.parse("unlock", AgentId.make("a"), '{"decision":"yes"}').pipe(
 *   Effect.provideService(AnswerRepair.Strict, true)
 * ) // fails: "yes" is not "unlock" or "hold"
 * ```
 *
 * @since 0.3.0
 */
export const Strict = Context.Reference<boolean>("@speckit/core/AnswerRepair/Strict", { defaultValue: () => false })

/**
 * Where the repairs applied while reading an answer are collected, when a caller wants them (the
 * agent call records them with the answer and counts them); `undefined` by default.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AnswerRepair, AgentId, StageResult } from "@speckit/core"
 *
 * const applied: Array<string> = []
 * const program = StageResult.parse("unlock", AgentId.make("a"), '{"summary":"ok","decision":"yes"}').pipe(
 *   Effect.provideService(AnswerRepair.Applied, applied)
 * ) // applied: ['filled "stage" from the call', 'decision "yes" read as "unlock"']
 * ```
 *
 * @since 0.3.0
 */
export const Applied = Context.Reference<Array<string> | undefined>("@speckit/core/AnswerRepair/Applied", {
  defaultValue: () => undefined
})

/**
 * A value and the repairs that made it (empty when nothing changed).
 *
 * @since 0.3.0
 */
export interface Repaired<A> {
  readonly value: A
  readonly repairs: ReadonlyArray<string>
}

/**
 * Verdict synonyms (lower-cased, trimmed): each maps only to the verdict it means; anything not in the
 * table stays as it is (and is rejected).
 *
 * @example
 * ```ts
 * import { AnswerRepair } from "@speckit/core"
 *
 * AnswerRepair.verdictSynonyms.get("passed") // "pass"
 * ```
 *
 * @since 0.3.0
 */
export const verdictSynonyms: ReadonlyMap<string, "pass" | "fail"> = new Map([
  ...(
    [
      "pass",
      "passed",
      "passes",
      "passing",
      "ok",
      "okay",
      "success",
      "successful",
      "approve",
      "approved",
      "green"
    ] as const
  ).map((word) => [word, "pass"] as const),
  ...(["fail", "failed", "fails", "failing", "failure", "reject", "rejected", "red", "blocked"] as const).map(
    (word) => [word, "fail"] as const
  )
])

/**
 * Unlock-decision synonyms (lower-cased, trimmed), as {@link verdictSynonyms}.
 *
 * @example
 * ```ts
 * import { AnswerRepair } from "@speckit/core"
 *
 * AnswerRepair.decisionSynonyms.get("approve") // "unlock"
 * ```
 *
 * @since 0.3.0
 */
export const decisionSynonyms: ReadonlyMap<string, "unlock" | "hold"> = new Map([
  ...(["unlock", "unlocked", "approve", "approved", "yes", "go", "ship", "ship it", "release"] as const).map(
    (word) => [word, "unlock"] as const
  ),
  ...(["hold", "held", "no", "no-go", "block", "blocked", "wait", "reject", "rejected"] as const).map(
    (word) => [word, "hold"] as const
  )
])

// -------------------------------------------------------------------------------------------------
// 1-2. extraction and syntax
// -------------------------------------------------------------------------------------------------

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  Predicate.isObject(value) && !Array.isArray(value)

/**
 * The JSON object of an answer: the whole text, a fenced block, or the outermost `{…}` span; then,
 * unless `strict`, the same places (and a cut-off object from its first `{`) repaired by `jsonrepair`.
 * `undefined` when no object can be read.
 *
 * @example
 * ```ts
 * import { AnswerRepair } from "@speckit/core"
 *
 * AnswerRepair.extract('Sure! {"a": 1,} Hope it helps.', false)
 * // { value: { a: 1 }, repairs: ["took the JSON object out of the prose around it", "repaired JSON syntax"] }
 * ```
 *
 * @since 0.3.0
 */
export const extract = (text: string, strict: boolean): Repaired<Record<string, unknown>> | undefined => {
  const trimmed = text.trim()
  // The common case first: the answer is the object, nothing around it.
  const whole = parseJson(trimmed)
  if (isRecord(whole)) return { value: whole, repairs: [] }
  const fenced = /```[a-zA-Z]*\s*\n([\s\S]*?)\n?```/.exec(text)?.[1]
  const start = text.indexOf("{")
  const end = text.lastIndexOf("}")
  const places: Array<readonly [string, string | undefined]> = [
    [trimmed, undefined],
    ...(fenced === undefined ? [] : [[fenced, "took the JSON object out of a fenced block"] as const]),
    ...(start >= 0 && end > start
      ? [[text.slice(start, end + 1), "took the JSON object out of the prose around it"] as const]
      : [])
  ]
  for (const [candidate, repair] of places.slice(1)) {
    const value = parseJson(candidate)
    if (isRecord(value)) return { value, repairs: repair === undefined ? [] : [repair] }
  }
  if (strict) return undefined
  // From the first "{" to the end: an object cut off by the output limit, or followed by prose.
  const tail: ReadonlyArray<readonly [string, string | undefined]> =
    start >= 0 && text.slice(start).trim() !== trimmed
      ? [[text.slice(start), "took the JSON object out of the prose around it"]]
      : []
  for (const [candidate, repair] of [...places, ...tail]) {
    if (!candidate.trimStart().startsWith("{")) continue
    const value = repairSyntax(candidate)
    if (isRecord(value)) return { value, repairs: [...(repair === undefined ? [] : [repair]), "repaired JSON syntax"] }
  }
  return undefined
}

/** `jsonrepair` of a text, parsed; `undefined` when it cannot be repaired. */
const repairSyntax = (text: string): unknown => {
  try {
    return JSON.parse(jsonrepair(text))
  } catch {
    return undefined
  }
}

// -------------------------------------------------------------------------------------------------
// 3-4. filling and coercion
// -------------------------------------------------------------------------------------------------

/** What one coercion does to one field: the new value and what it did, or `undefined` to leave it. */
type Coercion = (value: unknown, field: string) => Change | undefined

/** A field's new value and the repairs that made it. */
type Change = readonly [unknown, ReadonlyArray<string>]

const oneItemList: Coercion = (value, field) =>
  Predicate.isString(value) ? [[value], [`"${field}" given as a string, read as a one-item list`]] : undefined

const joined: Coercion = (value, field) =>
  Array.isArray(value) && value.length > 0 && value.every(Predicate.isString)
    ? [value.join("\n"), [`"${field}" given as a list, joined into one string`]]
    : undefined

const lowerCase =
  (allowed: ReadonlyArray<string>): Coercion =>
  (value, field) => {
    if (!Predicate.isString(value) || allowed.includes(value)) return undefined
    const lower = value.trim().toLowerCase()
    return allowed.includes(lower) ? [lower, [`${field} "${value}" read as "${lower}"`]] : undefined
  }

const synonym =
  (table: ReadonlyMap<string, string>): Coercion =>
  (value, field) => {
    if (!Predicate.isString(value)) return undefined
    const mapped = table.get(value.trim().toLowerCase())
    return mapped === undefined || mapped === value ? undefined : [mapped, [`${field} "${value}" read as "${mapped}"`]]
  }

/** A coercion of a list's items (after reading a string as a one-item list). */
const items =
  (item: (value: unknown, index: number, field: string) => Change | undefined): Coercion =>
  (value, field) => {
    const listed = oneItemList(value, field)
    const list = listed === undefined ? value : listed[0]
    if (!Array.isArray(list)) return undefined
    const repairs: Array<string> = listed === undefined ? [] : [...listed[1]]
    const out = list.map((entry, index) => {
      const changed = item(entry, index, `${field}[${index}]`)
      if (changed === undefined) return entry
      repairs.push(...changed[1])
      return changed[0]
    })
    return repairs.length === 0 ? undefined : [out, repairs]
  }

/** The fields of an object item coerced as given (an item that is no object is left as it is). */
const fields =
  (coercions: Readonly<Record<string, Coercion>>) =>
  (value: unknown, _index: number, field: string): Change | undefined => {
    if (!isRecord(value)) return undefined
    const { value: out, repairs } = coerceFields(value, coercions, `${field}.`)
    return repairs.length === 0 ? undefined : [out, repairs]
  }

/** String items as objects with the string as title, else the object item's own fields coerced. */
const titled =
  (
    make: (title: string, index: number) => Record<string, unknown>,
    what: string,
    inner: Readonly<Record<string, Coercion>>
  ) =>
  (value: unknown, index: number, field: string): Change | undefined =>
    Predicate.isString(value) && value.trim().length > 0
      ? [make(value.trim(), index), [`${field} given as a string, read as ${what} with it as title`]]
      : fields(inner)(value, index, field)

const coerceFields = (
  record: Record<string, unknown>,
  coercions: Readonly<Record<string, Coercion>>,
  prefix = ""
): Repaired<Record<string, unknown>> => {
  const out: Record<string, unknown> = { ...record }
  const repairs: Array<string> = []
  for (const [key, coerce] of Object.entries(coercions)) {
    if (!(key in record)) continue
    const changed = coerce(record[key], `${prefix}${key}`)
    if (changed === undefined) continue
    out[key] = changed[0]
    repairs.push(...changed[1])
  }
  return { value: out, repairs }
}

const verdict = synonym(verdictSynonyms)

const findingFields = { severity: lowerCase(["info", "low", "medium", "high", "critical"]) }

/** Each stage's coercions, by field, made once per stage. */
const coercions = new Map<Stage, Readonly<Record<string, Coercion>>>()
const coercionsOf = (stage: Stage): Readonly<Record<string, Coercion>> => {
  let found = coercions.get(stage)
  if (found === undefined) {
    found = makeCoercions(stage)
    coercions.set(stage, found)
  }
  return found
}

const makeCoercions = (stage: Stage): Readonly<Record<string, Coercion>> => {
  const common = { summary: joined }
  switch (stage) {
    case "plan":
      return {
        ...common,
        work_breakdown: items(titled((title, i) => ({ id: `W${i + 1}`, title, detail: "" }), "a work item", {})),
        acceptance_mapping: items(fields({ covered_by: oneItemList }))
      }
    case "tasks":
      return {
        ...common,
        tasks: items(
          titled((title, i) => ({ id: `T${i + 1}`, title, depends_on: [], done_when: title }), "a task", {
            depends_on: oneItemList
          })
        )
      }
    case "implement":
      return { ...common, changes: items(fields({ action: lowerCase(["create", "modify", "delete"]) })) }
    case "validate":
      return {
        ...common,
        test_strategy: oneItemList,
        verdict,
        ranking: oneItemList,
        candidates: items(fields({ verdict }))
      }
    case "audit":
      return {
        ...common,
        verdict,
        findings: items(
          titled((title) => ({ severity: "medium", title, detail: "" }), "a finding of severity medium", findingFields)
        )
      }
    case "unlock":
      return { ...common, decision: synonym(decisionSynonyms) }
  }
}

/**
 * Fills a missing `stage` and `agent` from the call, and, unless `strict`, coerces the stage's fields
 * where the meaning is unambiguous (see the module).
 *
 * @example
 * ```ts
 * import { AnswerRepair } from "@speckit/core"
 *
 * AnswerRepair.coerce("validate", "alpha", { summary: "ok", test_strategy: "unit tests", verdict: "Passed" }, false)
 * // value: { stage: "validate", agent: "alpha", summary: "ok", test_strategy: ["unit tests"], verdict: "pass" }
 * ```
 *
 * @since 0.3.0
 */
export const coerce = (
  stage: Stage,
  agent: string,
  record: Record<string, unknown>,
  strict: boolean
): Repaired<Record<string, unknown>> => {
  const filled: Array<string> = []
  if (!("agent" in record)) filled.push(`filled "agent" from the call`)
  if (strict) return { value: { agent, ...record }, repairs: filled }
  if (!("stage" in record)) filled.push(`filled "stage" from the call`)
  const base = { stage, agent, ...record }
  const coerced = coerceFields(base, coercionsOf(stage))
  return { value: coerced.value, repairs: [...filled, ...coerced.repairs] }
}

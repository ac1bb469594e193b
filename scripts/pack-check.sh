#!/usr/bin/env bash
# Packaging check: packs every workspace package the way it is published (pnpm rewrites
# `workspace:^` and applies `publishConfig`), installs the tarballs into a scratch project outside
# the workspace and checks that they work there on their own:
#   (a) each package installs alone (with only the kernel and its peers) and imports from plain Node ESM
#       with its known exports
#   (b) internal modules are blocked by `exports`
#   (c) a TypeScript consumer (NodeNext, strict, skipLibCheck false) typechecks against them
#   (d) the installed `speckit` bin runs `--help`, a demo, and an estimate for a real model
# Prints one PASS/FAIL line per check and exits non-zero if any check fails.
#
# Usage: bash scripts/pack-check.sh        (KEEP_TMP=1 keeps the scratch directory)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
packages=(core agents sqlite postgres git consensus telemetry faults cli)
pnpm_version="12.4.2"
ts_version="7.0.2"
effect_version="4.1.0"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/speckit-pack-check.XXXXXX")"
cleanup() {
  if [[ "${KEEP_TMP:-}" == "1" ]]; then echo "scratch directory kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

failures=0
pass() { printf 'PASS %s\n' "$*"; }
fail() {
  printf 'FAIL %s\n' "$*"
  failures=$((failures + 1))
}
# check NAME CMD...: runs CMD with its output in a log; prints the log when it fails.
check() {
  local name="$1"
  shift
  local log="$tmp/logs/$(echo "$name" | tr -c 'A-Za-z0-9' '_').log"
  if "$@" >"$log" 2>&1; then
    pass "$name"
  else
    fail "$name"
    sed 's/^/    | /' "$log" | tail -n 40
  fi
}
mkdir -p "$tmp/logs" "$tmp/tarballs" "$tmp/project"

echo "== build"
# Safe to run standalone: an up-to-date build is a no-op.
if (cd "$root" && npx tsc -b $(printf 'packages/%s/tsconfig.json ' "${packages[@]}") && node packages/cli/scripts/bundle.mjs); then
  pass "build (tsc -b)"
else
  fail "build (tsc -b)"
  exit 1
fi

echo "== pack"
for pkg in "${packages[@]}"; do
  check "pack @speckit/$pkg" \
    bash -c "cd '$root/packages/$pkg' && npx -y pnpm@$pnpm_version pack --pack-destination '$tmp/tarballs'"
done
shopt -s nullglob
tarballs=("$tmp"/tarballs/*.tgz)
shopt -u nullglob
if [[ ${#tarballs[@]} -ne ${#packages[@]} ]]; then
  fail "expected ${#packages[@]} tarballs, got ${#tarballs[@]}"
  exit 1
fi

# The packed manifests: no workspace: ranges, no source condition, no sources shipped, dist present.
manifest_check() {
  local tarball="$1"
  local listing
  listing="$(tar -tzf "$tarball")"
  grep -q '^package/dist/index.js$' <<<"$listing" || { echo "no dist/index.js in $tarball"; return 1; }
  grep -q '^package/dist/index.d.ts$' <<<"$listing" || { echo "no dist/index.d.ts in $tarball"; return 1; }
  if grep -q '^package/src/' <<<"$listing"; then echo "src/ is shipped in $tarball"; return 1; fi
  if grep -q '^package/test/' <<<"$listing"; then echo "test/ is shipped in $tarball"; return 1; fi
  tar -xzOf "$tarball" package/package.json | node -e '
    let text = ""
    process.stdin.on("data", (c) => (text += c)).on("end", () => {
      const pkg = JSON.parse(text)
      const problems = []
      if (text.includes("workspace:")) problems.push("a workspace: range is left")
      if (text.includes("@speckit/source")) problems.push("the @speckit/source condition is left in exports")
      if (pkg.exports?.["./internal/*"] !== null) problems.push("./internal/* is not blocked")
      if (problems.length > 0) {
        console.error(`${pkg.name}: ${problems.join("; ")}`)
        process.exit(1)
      }
    })'
}
for tarball in "${tarballs[@]}"; do
  check "manifest and files of $(basename "$tarball")" manifest_check "$tarball"
done

import_check() {
  local pkg="$1"
  shift
  node --input-type=module -e '
    const [name, ...names] = process.argv.slice(1)
    const m = await import(name)
    const missing = names.filter((n) => m[n] === undefined || m[n] === null)
    if (missing.length > 0) {
      console.error(`${name} lacks ${missing.join(", ")}; it exports ${Object.keys(m).join(", ")}`)
      process.exit(1)
    }
    console.log(`${name}: ${Object.keys(m).join(", ")}`)
  ' "$pkg" "$@"
}

echo "== each library package installed alone (only the kernel and its peers beside it)"
tarball_of() { ls "$tmp"/tarballs/speckit-"$1"-*.tgz; }
alone_check() {
  local pkg="$1"
  shift
  local dir="$tmp/alone/$pkg"
  mkdir -p "$dir"
  (
    cd "$dir"
    npm init -y >/dev/null
    npm pkg set type=module
    local extra=()
    [[ "$pkg" != "core" ]] && extra+=("$(tarball_of core)")
    [[ "$pkg" == "sqlite" ]] && extra+=("better-sqlite3@12.11.1")
    [[ "$pkg" == "postgres" ]] && extra+=("@effect/sql-pg@4.0.5" "@effect/platform-node@$effect_version")
    npm install --no-audit --no-fund "$(tarball_of "$pkg")" "${extra[@]}" "effect@$effect_version" >install.log 2>&1 ||
      { tail -n 20 install.log; exit 1; }
    local installed
    installed="$(ls node_modules/@speckit)"
    local expected="$pkg"
    [[ "$pkg" != "core" ]] && expected="$(printf '%s\n' core "$pkg" | sort | tr '\n' ' ' | sed 's/ $//')"
    [[ "$(echo $installed)" == "$expected" ]] || { echo "installed @speckit packages: $installed (expected $expected)"; exit 1; }
    import_check "@speckit/$pkg" "$@"
  )
}
check "@speckit/core alone" alone_check core Pipeline Stage
check "@speckit/agents alone" alone_check agents AgentProviders ExecAgent
check "@speckit/sqlite alone" alone_check sqlite SqliteClient StateDatabase
check "@speckit/postgres alone" alone_check postgres PgStore Runner Retention FleetRuns PgRunStore
check "@speckit/git alone" alone_check git Git GitWorktrees Clones
check "@speckit/consensus alone" alone_check consensus QuorumConsensus MemorySequencer
check "@speckit/telemetry alone" alone_check telemetry Metrics Pricing
check "@speckit/faults alone" alone_check faults Faults FaultSpec

echo "== install into a scratch project ($tmp/project)"
cd "$tmp/project"
npm init -y >/dev/null
npm pkg set type=module
if npm install --no-audit --no-fund "${tarballs[@]}" "effect@$effect_version" \
  "@effect/platform-node@$effect_version" "@effect/sql-pg@4.0.5" >"$tmp/logs/install.log" 2>&1; then
  pass "npm install of the tarballs, effect@$effect_version and @effect/platform-node@$effect_version"
else
  fail "npm install"
  tail -n 40 "$tmp/logs/install.log"
  exit 1
fi
for pkg in "${packages[@]}"; do
  if [[ -L "node_modules/@speckit/$pkg" ]]; then fail "@speckit/$pkg is a link, not an installed copy"; fi
done

echo "== (a) import from plain Node ESM"
check "import @speckit/core (Pipeline, Stage)" import_check @speckit/core Pipeline Stage
check "import @speckit/agents (AgentProviders, ExecAgent)" import_check @speckit/agents AgentProviders ExecAgent
check "import @speckit/sqlite (SqliteClient, StateDatabase)" import_check @speckit/sqlite SqliteClient StateDatabase
check "import @speckit/postgres (PgStore, Runner, Retention, FleetRuns, PgRunStore)" import_check @speckit/postgres PgStore Runner Retention FleetRuns PgRunStore
check "import @speckit/git (Git, GitWorktrees, Clones)" import_check @speckit/git Git GitWorktrees Clones
check "import @speckit/consensus (QuorumConsensus, MemorySequencer)" \
  import_check @speckit/consensus QuorumConsensus MemorySequencer
check "import @speckit/telemetry (Metrics, Pricing)" import_check @speckit/telemetry Metrics Pricing
check "import @speckit/faults (Faults, FaultSpec)" import_check @speckit/faults Faults FaultSpec
check "import @speckit/cli (Cli)" import_check @speckit/cli Cli
check "import a public subpath (@speckit/core/Stage)" import_check @speckit/core/Stage all

echo "== (b) internal modules are blocked"
blocked_check() {
  node --input-type=module -e '
    const name = process.argv[1]
    try {
      await import(name)
    } catch (error) {
      if (error?.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") process.exit(0)
      console.error(`${name} failed, but not because it is not exported: ${error?.code} ${error?.message}`)
      process.exit(1)
    }
    console.error(`${name} can be imported`)
    process.exit(1)
  ' "$1"
}
# the files exist in the tarballs, so only `exports` keeps them out
check "internal file shipped (node_modules/@speckit/core/dist/internal/specText.js)" \
  test -f node_modules/@speckit/core/dist/internal/specText.js
check "@speckit/core/internal/specText is blocked" blocked_check @speckit/core/internal/specText
check "@speckit/faults/internal/prng is blocked" blocked_check @speckit/faults/internal/prng

echo "== (c) typecheck a TypeScript consumer (typescript@$ts_version)"
cat >check.ts <<'EOF'
import { Cli, Demo, SummaryText } from "@speckit/cli"
import { MemorySequencer, QuorumConsensus } from "@speckit/consensus"
import { type AgentId, type Consensus, Pipeline, type RunSummary, Stage, SpeckitConfig } from "@speckit/core"
import * as StageModule from "@speckit/core/Stage"
import * as Faults from "@speckit/faults"
import { AgentProviders } from "@speckit/agents"
import { GitWorktrees } from "@speckit/git"
import { StateDatabase } from "@speckit/sqlite"
import { PgStore } from "@speckit/postgres"
import { Metrics, Pricing } from "@speckit/telemetry"
import type { Effect, Layer } from "effect"

export const stages: ReadonlyArray<Stage.Stage> = Stage.all
export const sameStages: ReadonlyArray<StageModule.Stage> = stages
export const run: typeof Pipeline.run = Pipeline.run
export const consensus: Layer.Layer<Consensus.Consensus> = QuorumConsensus.layer
export const sequencer = MemorySequencer.layer
export const metrics = Metrics.layer
export const pricing = Pricing
export const faults: object = Faults
export const cli: (args: ReadonlyArray<string>) => Effect.Effect<void, unknown, unknown> = Cli.run
export const demoSpec: string = Demo.specId
export const summaryText: (summary: RunSummary.RunSummary) => string = SummaryText.format
export const policy: SpeckitConfig.StagePolicy = SpeckitConfig.policyFor(SpeckitConfig.defaultConfig, "plan")
export type Agent = AgentId.AgentId
export const providers = AgentProviders.builtins
export const worktrees = GitWorktrees.layer
export const stateDatabase = StateDatabase.layer
export const pgStore = PgStore.layer({ url: "postgres://speckit@127.0.0.1:5432/speckit" })
// @ts-expect-error internal modules are not part of the public types either
import type {} from "@speckit/core/internal/specText"
EOF
# effect's declarations name web globals (URL, ReadableStream, AbortSignal, CryptoKey, Storage...), so
# the consumer needs the DOM lib (or @types/node) for skipLibCheck false; `types: []` shows that our
# own declarations need no @types/node (@effect/sql-pg's, under @speckit/postgres, name node:stream and node:tls:
# like effect's, they are not ours).
tsc_check() {
  local skip="$1"
  cat >tsconfig.json <<EOF
{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "DOM"],
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": $skip,
    "types": [],
    "noEmit": true
  },
  "files": ["check.ts"]
}
EOF
  npx -y -p "typescript@$ts_version" tsc --noEmit -p tsconfig.json
}
if tsc_check false >"$tmp/logs/tsc-strict.log" 2>&1; then
  pass "tsc --noEmit (NodeNext, strict, skipLibCheck false)"
else
  echo "note: skipLibCheck false reports errors:"
  sed 's/^/    | /' "$tmp/logs/tsc-strict.log" | tail -n 40
  if grep -v '^npm warn' "$tmp/logs/tsc-strict.log" | grep 'error TS' | grep -Eqv 'node_modules/(effect|@effect/[^/]+)/'; then
    fail "tsc --noEmit (NodeNext, strict, skipLibCheck false): errors outside effect's own types"
  else
    echo "note: every error is in effect's own declarations (effect, @effect/*); checking with skipLibCheck true"
    check "tsc --noEmit (NodeNext, strict, skipLibCheck true)" tsc_check true
  fi
fi

echo "== (d) the installed speckit bin"
check "npx speckit --help exits 0" npx --no-install speckit --help
# The fleet's chunk (the PostgreSQL driver, the cluster runner) loads from the installed bundle: an
# unreachable store is one line and exit 2.
worker_check() {
  local code=0
  npx --no-install speckit worker --store postgres://speckit@127.0.0.1:1/none >"$tmp/worker.out" 2>&1 || code=$?
  [[ "$code" == "2" ]] || { echo "exit $code"; cat "$tmp/worker.out"; return 1; }
  grep -q "cannot use PostgreSQL store postgres://speckit@127.0.0.1:1/none" "$tmp/worker.out" || { cat "$tmp/worker.out"; return 1; }
}
check "npx speckit worker loads the fleet's chunk (an unreachable store: exit 2)" worker_check
demo_check() {
  local dir="$tmp/demo"
  npx --no-install speckit demo "$dir" --json >"$tmp/demo-summary.json"
  node -e '
    const fs = require("node:fs")
    const [dir, file] = process.argv.slice(1)
    const summary = JSON.parse(fs.readFileSync(file, "utf8"))
    const stages = ["plan", "tasks", "implement", "validate", "audit", "unlock"]
    const missing = stages.filter((s) => !fs.existsSync(`${dir}/specs/SPEC-001-slugify/${s}.md`))
    if (summary.status !== "completed" || missing.length > 0 || summary.delivery === undefined) {
      console.error(`status ${summary.status}, missing artifacts: ${missing.join(", ") || "none"}, delivery ${JSON.stringify(summary.delivery)}`)
      process.exit(1)
    }
  ' "$dir" "$tmp/demo-summary.json"
}
check "npx speckit demo completes the six stages and delivers a branch" demo_check
# A real model: the bundle loads the tokenizer and the price catalogue on first use, from node_modules.
estimate_check() {
  local dir="$tmp/estimate"
  mkdir -p "$dir/specs/SPEC-1"
  printf '# Greeting\n\nPrint a friendly greeting.\n' >"$dir/specs/SPEC-1/spec.md"
  printf '{ "agents": { "gpt": { "provider": "openai", "model": "gpt-4o", "baseUrl": "http://127.0.0.1:9/v1" } } }\n' \
    >"$dir/speckit.config.json"
  npx --no-install speckit estimate SPEC-1 -C "$dir" --json >"$tmp/estimate.json"
  node -e '
    const estimate = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
    const call = estimate.stages[0].calls[0]
    if (call.inputSource !== "counted" || !(call.costUsd.expected > 0)) {
      console.error(`plan call: ${JSON.stringify(call)}`)
      process.exit(1)
    }
  ' "$tmp/estimate.json"
}
check "npx speckit estimate counts and prices a real model (tokenizer and catalogue loaded on use)" estimate_check

echo
if [[ $failures -gt 0 ]]; then
  echo "pack-check: $failures check(s) FAILED"
  exit 1
fi
echo "pack-check: all checks PASSED"

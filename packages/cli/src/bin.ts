#!/usr/bin/env node
/**
 * The `speckit` executable.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Logger, References } from "effect"
import * as Cli from "./Cli.ts"
import * as Main from "./Main.ts"

Main.exitOnSecondSignal()

Cli.run(process.argv.slice(2)).pipe(
  Main.reportErrors,
  // stdout is for reports and --json; the engine's own log lines (e.g. a retried message delivery
  // while a resumed run registers) are noise below errors, and go to stderr.
  Effect.provideService(Logger.LogToStderr, true),
  Effect.provideService(References.MinimumLogLevel, "Error"),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: Main.teardown })
)

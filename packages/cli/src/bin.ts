#!/usr/bin/env node
/**
 * The `speckit` executable.
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as Cli from "./Cli.ts"
import * as Main from "./Main.ts"

Main.exitOnSecondSignal()

Cli.run(process.argv.slice(2)).pipe(
  Main.reportErrors,
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: Main.teardown })
)

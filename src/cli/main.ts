#!/usr/bin/env node
// procvision-cli: the list of its commands. Each definition is light; its handler's code loads when it runs.
import { runCli } from "../command-line/program.js";
import { desired } from "./definitions/desired.js";
import { fleet } from "./definitions/fleet.js";
import { init } from "./definitions/init.js";
import { keygen } from "./definitions/keygen.js";
import { packageCommand } from "./definitions/package.js";
import { publish } from "./definitions/publish.js";
import { run } from "./definitions/run.js";
import { sdk } from "./definitions/sdk.js";
import { validate } from "./definitions/validate.js";

await runCli({
  name: "procvision-cli",
  description: "Scaffold, validate, run and package ProcVision inspection algorithms for air-gapped stations.",
  // `init NAME --version 2.0.0` (contract §2) is init's --version, not the CLI's.
  positionalOptions: true,
  usageExitCode: 2,
  commands: [sdk, init, validate, run, packageCommand, publish, desired, fleet, keygen],
});

// procvision-runner: the list of its commands (imported by main.ts once V8's start-up flags are set). The client
// commands are light (an HTTP call and a table); `serve` loads the server, the store and the supervisor when it runs.
import { runCli } from "../command-line/program.js";
import { audit } from "./definitions/audit.js";
import { activate, deactivate, rollback, switchVersion } from "./definitions/bindings.js";
import { fleet } from "./definitions/fleet.js";
import { inspect } from "./definitions/inspect.js";
import { install } from "./definitions/install.js";
import { list } from "./definitions/list.js";
import { records } from "./definitions/records.js";
import { serve } from "./definitions/serve.js";
import { status } from "./definitions/status.js";
import { uninstall } from "./definitions/uninstall.js";
import { validate } from "./definitions/validate.js";
import { start, stop } from "./definitions/workers.js";

await runCli({
  name: "procvision-runner",
  usageExitCode: 1,
  description: "Install offline algorithm packages on an air-gapped station, bind them to product ids and run them.",
  commands: [serve, install, list, status, fleet, validate, activate, switchVersion, rollback, deactivate, uninstall, start, stop, inspect, records, audit],
});

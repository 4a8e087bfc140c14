import type { CommandDefinition } from "../../command-line/definition.js";
import type { ValidateOptions } from "../commands/validate.js";
import { entryOption, projectPython, tailLogsOption } from "./options.js";

export const validate: CommandDefinition<ValidateOptions, [string | undefined]> = {
  name: "validate",
  args: ["[project]"],
  summary: "check a project (or with --zip an offline package) by running it through the adapter",
  options: [
    { flags: "--manifest <path>", description: "manifest.json to use (default: <project>/manifest.json)" },
    { flags: "--zip <path>", description: "validate an offline package instead of a project" },
    projectPython,
    { flags: "--image <path>", description: "JPEG/PNG for the smoke run, as current and guide image (default: a synthetic image)" },
    { flags: "--pid <pid>", description: "PID for the smoke run (default: the first supported PID)" },
    entryOption,
    tailLogsOption,
    { flags: "--key <pem>", description: "with --zip: ed25519 public key to verify SIGNATURE with (repeatable)", repeatable: true },
    { flags: "--full", description: "with --zip: install the zip's wheels into a throw-away venv and smoke-run the code inside it (a project always runs through the adapter)" },
    { flags: "--legacy-validate", description: "accepted for the original CLI's scripts: validate has one path, the adapter subprocess" },
    { flags: "--json", description: "machine-readable report" },
  ],
  notes: "Algorithms of every generation validate: G1 (get_info/pre_execute/execute) and G3 (execute with cur_image,\n" +
    "guide_image; run for each manifest step, or step 1).",
  examples: [
    "procvision-cli validate ./screw-check",
    "procvision-cli validate ./screw-check --entry screw_check.main:ScrewCheck --tail-logs",
    "procvision-cli validate --zip screw-check-v1.2.0-offline.zip --full",
  ],
  handler: async ({ args: [project], options }) => (await import("../commands/validate.js")).validateCommand(project ?? ".", options),
};

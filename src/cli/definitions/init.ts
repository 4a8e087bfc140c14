import type { CommandDefinition } from "../../command-line/definition.js";
import type { InitOptions } from "../commands/init.js";
import { jsonOutput } from "./options.js";

export const init: CommandDefinition<InitOptions, [string]> = {
  name: "init",
  args: ["<name>"],
  summary: "create an algorithm project that passes validate as generated",
  options: [
    { flags: "-d, --dir <dir>", description: "target directory (default: ./<name>)" },
    { flags: "--pids <list>", description: "comma-separated supported PIDs", default: "p001,p002" },
    { flags: "-v, --version <version>", description: "algorithm version", default: "1.0.0" },
    { flags: "-e, --desc <text>", description: "description" },
    { flags: "--force", description: "overwrite existing files" },
    { flags: "--python <path>", description: "interpreter whose target goes into .procvision_env.json (default: python3)" },
    jsonOutput,
  ],
  examples: ["procvision-cli init screw-check --pids A01,A02 -v 1.2.0"],
  handler: async ({ args: [name], options }) => (await import("../commands/init.js")).initCommand(name, options),
};

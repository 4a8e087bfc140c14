import type { OptionSpec } from "../../command-line/definition.js";

/** Flags several procvision-cli commands share, word for word. */
export const jsonOutput: OptionSpec = { flags: "--json", description: "machine-readable output" };
export const projectPython: OptionSpec = { flags: "--python <path>", description: "interpreter (default: the project's .venv, else python3)" };
export const entryOption: OptionSpec = { flags: "--entry <module:Class>", description: "run this class instead of the manifest's entry_point" };
export const tailLogsOption: OptionSpec = { flags: "--tail-logs", description: "print the algorithm's log lines (its stderr) as they come, on stderr" };

import type { CommandDefinition } from "../../command-line/definition.js";
import { jsonOutput } from "./options.js";

export const sdk: CommandDefinition = {
  name: "sdk",
  summary: "print the path and version of the SDK wheel bundled with the CLI",
  options: [jsonOutput],
  examples: ["pip install \"$(procvision-cli sdk --json | jq -r .path)\""],
  handler: async () => (await import("../commands/sdk.js")).sdkCommand(),
};

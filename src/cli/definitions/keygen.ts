import type { CommandDefinition } from "../../command-line/definition.js";
import { jsonOutput } from "./options.js";

export const keygen: CommandDefinition<{ out: string; force?: boolean }, []> = {
  name: "keygen",
  summary: "create an ed25519 key pair for signing offline packages",
  options: [
    { flags: "-o, --out <prefix>", description: "write <prefix>.key (private, 0600) and <prefix>.pub", default: "procvision-signing" },
    { flags: "--force", description: "overwrite existing key files" },
    jsonOutput,
  ],
  handler: async ({ options }) => (await import("../commands/keygen.js")).keygenCommand(options),
};

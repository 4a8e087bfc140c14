import type { CommandDefinition } from "../../command-line/definition.js";
import type { PublishFlags } from "../commands/publish.js";
import { jsonOutput } from "./options.js";

export const publish: CommandDefinition<PublishFlags, [string, string]> = {
  name: "publish",
  args: ["<zip>", "<ref>"],
  summary: "push an offline package to an OCI registry as an artifact (oci://host[:port]/repository:tag); prints its digest",
  options: [
    { flags: "--username <user>", description: "registry user (the password or token comes from --password-stdin)" },
    { flags: "--password-stdin", description: "read the registry password or token from stdin" },
    { flags: "--plain-http", description: "talk HTTP without TLS (a registry on the plant network; loopback registries always may)" },
    jsonOutput,
  ],
  notes: "Credentials: --username with --password-stdin, else the Docker config file (docker login), else anonymous.",
  examples: [
    "procvision-cli publish screw-check-v1.2.0-offline.zip oci://registry.plant:5000/vision/screw-check:1.2.0",
    "cat token.txt | procvision-cli publish screw-check-v1.2.0-offline.zip oci://registry.plant/vision/screw-check:1.2.0 --username ci --password-stdin",
  ],
  handler: async ({ args: [zip, ref], options, progress }) => (await import("../commands/publish.js")).publishCommand(zip, ref, options, progress),
};

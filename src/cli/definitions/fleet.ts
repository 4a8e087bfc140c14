import type { CommandDefinition, CommandGroup } from "../../command-line/definition.js";
import type { FleetStatusFlags } from "../commands/fleet-status.js";
import { jsonOutput } from "./options.js";

const fleetStatus: CommandDefinition<FleetStatusFlags, []> = {
  name: "status",
  summary: "every station's last reported state from the telemetry bucket: station, desired, actual, last seen, error",
  options: [
    { flags: "--endpoint <url>", description: "S3-compatible endpoint, e.g. http://minio.plant:9000 (default: $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL)" },
    { flags: "--bucket <name>", description: "the telemetry bucket the stations upload to", required: true },
    { flags: "--prefix <prefix>", description: "the stations' telemetry prefix", default: "" },
    { flags: "--region <region>", description: "region (most on-prem servers ignore it)" },
    { flags: "--access-key-id-file <file>", description: "file holding the access key id (default: $AWS_ACCESS_KEY_ID)" },
    { flags: "--secret-access-key-file <file>", description: "file holding the secret key (default: $AWS_SECRET_ACCESS_KEY)" },
    jsonOutput,
  ],
  examples: ["AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… procvision-cli fleet status --endpoint http://minio.plant:9000 --bucket procvision"],
  handler: async ({ options }) => (await import("../commands/fleet-status.js")).fleetStatusCommand(options),
};

export const fleet: CommandGroup = {
  name: "fleet",
  summary: "the fleet as its stations report it",
  commands: [fleetStatus],
};

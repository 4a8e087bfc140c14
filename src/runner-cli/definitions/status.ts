import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, get, type ClientFlags } from "./connection.js";

export const status: CommandDefinition<ClientFlags, []> = {
  name: "status",
  summary: "runner health, PID bindings, workers and telemetry",
  options: connectionOptions,
  handler: async ({ options }) => {
    const conn = connection(options);
    return apiOutput("status", { ...(await get(conn, "/health") as object), telemetry: await get(conn, "/telemetry") });
  },
};

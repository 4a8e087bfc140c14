import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, enc, get, type ClientFlags } from "./connection.js";

export const audit: CommandDefinition<ClientFlags & { limit: string }, []> = {
  name: "audit",
  summary: "audit log, newest first",
  options: [{ flags: "--limit <n>", description: "rows", default: "50" }, ...connectionOptions],
  handler: async ({ options }) => apiOutput("audit", await get(connection(options), `/audit?limit=${enc(options.limit)}`)),
};

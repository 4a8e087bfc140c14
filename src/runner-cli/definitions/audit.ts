import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, get, queryOf, SINCE_OPTION, type ClientFlags } from "./connection.js";

export const audit: CommandDefinition<ClientFlags & { action?: string; since?: string; limit: string }, []> = {
  name: "audit",
  summary: "audit log, newest first",
  options: [{ flags: "--action <action>", description: "install, activate, switch, …" }, SINCE_OPTION, { flags: "--limit <n>", description: "rows", default: "50" }, ...connectionOptions],
  handler: async ({ options: o }) => apiOutput("audit", await get(connection(o), `/audit?${queryOf({ limit: o.limit, action: o.action, since: o.since })}`)),
};

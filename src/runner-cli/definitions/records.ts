import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, get, type ClientFlags } from "./connection.js";

export const records: CommandDefinition<ClientFlags & { pid?: string; limit: string }, []> = {
  name: "records",
  summary: "inspection records, newest first",
  options: [{ flags: "--pid <pid>" }, { flags: "--limit <n>", description: "rows", default: "50" }, ...connectionOptions],
  handler: async ({ options }) =>
    apiOutput("records", await get(connection(options), `/records?${new URLSearchParams({ limit: options.limit, ...(options.pid ? { pid: options.pid } : {}) }).toString()}`)),
};

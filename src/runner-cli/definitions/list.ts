import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, get, type ClientFlags } from "./connection.js";

export const list: CommandDefinition<ClientFlags & { state?: string; name?: string }, []> = {
  name: "list",
  summary: "installed packages",
  options: [{ flags: "--state <state>" }, { flags: "--name <name>" }, ...connectionOptions],
  handler: async ({ options }) => {
    const query = new URLSearchParams({ ...(options.state ? { state: options.state } : {}), ...(options.name ? { name: options.name } : {}) });
    return apiOutput("list", await get(connection(options), `/algorithms?${query.toString()}`));
  },
};

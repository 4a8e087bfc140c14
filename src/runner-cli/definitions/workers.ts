import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, enc, post, type ClientFlags } from "./connection.js";

function workers(action: "start" | "stop"): CommandDefinition<ClientFlags, [string, string]> {
  return {
    name: action,
    args: ["<name>", "<version>"],
    summary: `${action} the version's workers`,
    options: connectionOptions,
    handler: async ({ args: [name, version], options }) =>
      apiOutput(action, await post(connection(options), `/algorithms/${enc(name)}/${enc(version)}/${action}`, {}, options)),
  };
}

export const start = workers("start");
export const stop = workers("stop");

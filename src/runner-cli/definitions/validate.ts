import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, post, type ClientFlags } from "./connection.js";

export const validate: CommandDefinition<ClientFlags, [string, string]> = {
  name: "validate",
  args: ["<name>", "<version>"],
  summary: "run the smoke checks of an installed version again",
  options: connectionOptions,
  handler: async ({ args: [name, version], options }) =>
    apiOutput("validate", await post(connection(options), "/algorithms/validate", { name, version }, options)),
};

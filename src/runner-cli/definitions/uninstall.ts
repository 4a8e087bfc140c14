import type { CommandDefinition } from "../../command-line/definition.js";
import { call, connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, enc, operatorHeader, type ClientFlags } from "./connection.js";

export const uninstall: CommandDefinition<ClientFlags & { force?: boolean }, [string, string]> = {
  name: "uninstall",
  args: ["<name>", "<version>"],
  summary: "remove a version (refused while active or in use unless --force)",
  options: [{ flags: "--force" }, ...connectionOptions],
  handler: async ({ args: [name, version], options }) => {
    const route = `/algorithms/${enc(name)}/${enc(version)}${options.force ? "?force=true" : ""}`;
    return apiOutput("uninstall", (await call(connection(options), "DELETE", route, operatorHeader(options))).body);
  },
};

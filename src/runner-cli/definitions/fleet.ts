import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, get, post, type ClientFlags } from "./connection.js";

export const fleet: CommandDefinition<ClientFlags & { poll?: boolean }, []> = {
  name: "fleet",
  summary: "this station in the fleet: desired state, what it runs, the last convergence",
  options: [{ flags: "--poll", description: "poll the desired state now and converge to it" }, ...connectionOptions],
  handler: async ({ options }) => {
    const conn = connection(options);
    return apiOutput("fleet", options.poll ? await post(conn, "/fleet/poll", {}, options) : await get(conn, "/fleet"));
  },
};

import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, get, queryOf, SINCE_OPTION, type ClientFlags } from "./connection.js";

type RecordFlags = ClientFlags & { pid?: string; status?: string; resultStatus?: string; since?: string; limit: string };

export const records: CommandDefinition<RecordFlags, []> = {
  name: "records",
  summary: "inspection records, newest first",
  options: [
    { flags: "--pid <pid>" }, { flags: "--status <OK|ERROR>", description: "did the call succeed" },
    { flags: "--result-status <OK|NG>", description: "the verdict" }, SINCE_OPTION,
    { flags: "--limit <n>", description: "rows", default: "50" }, ...connectionOptions,
  ],
  examples: ["procvision-runner records --result-status NG --since 2026-12-03T08:00:00+01:00"],
  handler: async ({ options: o }) => apiOutput("records", await get(connection(o),
    `/records?${queryOf({ limit: o.limit, pid: o.pid, status: o.status, result_status: o.resultStatus, since: o.since })}`)),
};

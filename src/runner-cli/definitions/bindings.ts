import type { CommandDefinition } from "../../command-line/definition.js";
import { connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, pidList, post, type ClientFlags } from "./connection.js";

// The four commands that bind PIDs to versions differ only in their name, summary and whether they name a version.
type PidFlags = ClientFlags & { pids: string };
const pidsOption = { flags: "--pids <list>", description: "comma-separated PIDs", required: true };

function toVersion(action: "activate" | "switch", summary: string): CommandDefinition<PidFlags, [string, string]> {
  return {
    name: action,
    args: ["<name>", "<version>"],
    summary,
    options: [pidsOption, ...connectionOptions],
    handler: async ({ args: [name, version], options }) =>
      apiOutput(action, await post(connection(options), `/algorithms/${action}`, { name, version, pids: pidList(options.pids) }, options)),
  };
}

function ofPids(action: "rollback" | "deactivate", summary: string): CommandDefinition<PidFlags, []> {
  return {
    name: action,
    summary,
    options: [pidsOption, ...connectionOptions],
    handler: async ({ options }) => apiOutput(action, await post(connection(options), `/algorithms/${action}`, { pids: pidList(options.pids) }, options)),
  };
}

export const activate = toVersion("activate", "bind PIDs to a version");
export const switchVersion = toVersion("switch", "rebind PIDs to another version with zero downtime");
export const rollback = ofPids("rollback", "switch PIDs back to their previous version");
export const deactivate = ofPids("deactivate", "unbind PIDs");

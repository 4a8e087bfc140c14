import type { OptionSpec } from "../../command-line/definition.js";
import { call, type Connection } from "../client.js";

/** The flags of every command that talks to a running runner. */
export interface ClientFlags {
  root?: string;
  url?: string;
  token?: string;
  operator?: string;
  json?: boolean;
}

export const connectionOptions: readonly OptionSpec[] = [
  { flags: "--root <dir>", description: "runner root: finds runner.json and token", default: "procvision-runtime" },
  { flags: "--url <url>", description: "runner URL (default: from <root>/runner.json)" },
  { flags: "--token <token>", description: "API token (default: <root>/token)" },
  { flags: "--operator <name>", description: "name recorded in the audit log" },
  { flags: "--json", description: "print the API's JSON body" },
];

export const operatorHeader = (flags: ClientFlags): { operator?: string } => (flags.operator ? { operator: flags.operator } : {});

export async function get(conn: Connection, route: string): Promise<unknown> {
  return (await call(conn, "GET", route)).body;
}

/** A mutation: the operator goes into the audit log. */
export async function post(conn: Connection, route: string, json: unknown, flags: ClientFlags): Promise<unknown> {
  return (await call(conn, "POST", route, { json, ...operatorHeader(flags) })).body;
}

/** The query string of a read: the filters given, by their API names. */
export const queryOf = (filters: Record<string, string | undefined>): string =>
  new URLSearchParams(Object.entries(filters).filter((e): e is [string, string] => e[1] !== undefined)).toString();

export const SINCE_OPTION: OptionSpec = { flags: "--since <time>", description: "from this time on: ISO 8601 (UTC when no zone is given) or epoch ms" };

export const pidList = (value: string): string[] => value.split(",").map((p) => p.trim()).filter(Boolean);
export const enc = encodeURIComponent;

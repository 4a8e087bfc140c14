import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

export interface RegistryCredentials {
  username: string;
  password: string;
}

/**
 * The credentials `docker login` (or `oras login`) stored for a registry in the Docker config file
 * (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): `auths["host:port"].auth` = base64("user:password").
 * Credential helpers (`credsStore`, `credHelpers`) are not run: a station has none.
 */
export function dockerConfigCredentials(registry: string, configFile = defaultDockerConfig()): RegistryCredentials | undefined {
  let auths: Record<string, { auth?: unknown; username?: unknown; password?: unknown }>;
  try {
    const parsed = JSON.parse(readFileSync(configFile, "utf8")) as { auths?: typeof auths };
    auths = parsed.auths ?? {};
  } catch {
    return undefined; // no file, or not ours to judge: anonymous
  }
  const entry = Object.entries(auths).find(([key]) => hostOf(key) === registry)?.[1];
  if (!entry) return undefined;
  if (typeof entry.username === "string" && typeof entry.password === "string") return { username: entry.username, password: entry.password };
  if (typeof entry.auth !== "string") return undefined;
  const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon > 0 ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : undefined;
}

export function defaultDockerConfig(): string {
  return path.join(process.env.DOCKER_CONFIG ?? path.join(homedir(), ".docker"), "config.json");
}

/** `https://host:5000/v1/` and `host:5000` both name `host:5000`. */
function hostOf(key: string): string {
  return key.replace(/^[a-z]+:\/\//, "").split("/")[0]!;
}

export interface Challenge {
  scheme: "basic" | "bearer";
  params: Record<string, string>;
}

/** `WWW-Authenticate: Bearer realm="https://auth/token",service="registry",scope="repository:a/b:pull"`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== "basic" && scheme !== "bearer") return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g)) {
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
  }
  return { scheme, params };
}

export function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
}

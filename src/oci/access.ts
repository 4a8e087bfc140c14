import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { dockerConfigCredentials, type RegistryCredentials } from "./credentials.js";
import { isLoopbackRegistry, type OciReference } from "./reference.js";
import { RegistryClient } from "./registry.js";

/** How one registry is reached: what a command's flags or the runner's `fleet.registries` entry say. */
export interface RegistrySettings {
  /** HTTP without TLS; loopback registries are always allowed it. */
  plainHttp?: boolean;
  credentials?: RegistryCredentials;
  /** A file holding the password (or token) for `username`. */
  username?: string;
  passwordFile?: string;
  /** The Docker config file to read credentials from (default: $DOCKER_CONFIG or ~/.docker). */
  dockerConfig?: string;
  /** Where this user's credentials come from, for the hint of a refusal (default: the CLIs' flags). */
  loginHint?: string;
}

/**
 * A client for the reference's registry. Plain HTTP only on loopback or when asked for explicitly (never silently for a
 * plant-network host); credentials from the settings, else the Docker config file, else anonymous.
 */
export function registryClient(ref: OciReference, settings: RegistrySettings = {}): RegistryClient {
  const credentials = settings.credentials ?? fileCredentials(settings) ?? dockerConfigCredentials(ref.registry, settings.dockerConfig);
  const plainHttp = usesPlainHttp(ref.registry, settings);
  // The same client for the same registry and login: what it learnt (Basic wanted, Bearer tokens) carries over to the
  // next poll, which then costs one request instead of a refused one and its retry. Changed credentials: a new client.
  const key = createHash("sha256").update(JSON.stringify([ref.registry, plainHttp, credentials ?? null, settings.loginHint ?? null])).digest("hex");
  const known = clients.get(key);
  if (known !== undefined) return known;
  const client = new RegistryClient(ref.registry, {
    plainHttp,
    ...(credentials ? { credentials } : {}),
    ...(settings.loginHint === undefined ? {} : { loginHint: settings.loginHint }),
  });
  if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value!);
  clients.set(key, client);
  return client;
}

/** Clients by registry and login (a station talks to a few registries; the bound only guards against churn). */
const clients = new Map<string, RegistryClient>();
const MAX_CLIENTS = 32;

export function usesPlainHttp(registry: string, settings: Pick<RegistrySettings, "plainHttp">): boolean {
  return settings.plainHttp === true || isLoopbackRegistry(registry);
}

function fileCredentials(settings: RegistrySettings): RegistryCredentials | undefined {
  if (settings.username === undefined) return undefined;
  if (settings.passwordFile === undefined) {
    throw new ProcVisionError(ErrorCode.invalid_params, `a registry user name (${settings.username}) needs a password_file`, { hint: "put the password or token in a file readable only by the runner and name it in password_file" });
  }
  try {
    return { username: settings.username, password: readFileSync(settings.passwordFile, "utf8").trim() };
  } catch (err) {
    throw new ProcVisionError(ErrorCode.invalid_params, `the registry password file ${settings.passwordFile} cannot be read: ${(err as Error).message}`);
  }
}

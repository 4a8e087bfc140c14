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
  return new RegistryClient(ref.registry, {
    plainHttp: usesPlainHttp(ref.registry, settings),
    ...(credentials ? { credentials } : {}),
    ...(settings.loginHint === undefined ? {} : { loginHint: settings.loginHint }),
  });
}

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

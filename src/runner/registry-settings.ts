import type { RegistrySettings } from "../oci/access.js";
import type { RunnerConfig } from "./config.js";

/** How this station reaches a registry (install by `oci://` reference, fleet.desired): `fleet.registries` and `fleet.docker_config`. */
export function registrySettings(config: RunnerConfig, registry: string): RegistrySettings {
  const entry = config.fleet.registries[registry];
  return {
    ...(entry?.plain_http ? { plainHttp: true } : {}),
    ...(entry?.username !== undefined ? { username: entry.username } : {}),
    ...(entry?.password_file !== undefined ? { passwordFile: entry.password_file } : {}),
    ...(config.fleet.docker_config !== undefined ? { dockerConfig: config.fleet.docker_config } : {}),
    loginHint: `give the runner credentials for ${registry}: fleet.registries["${registry}"] in runner_config.json (username, password_file), or fleet.docker_config`,
  };
}

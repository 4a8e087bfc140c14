import { existsSync } from "node:fs";
import { ErrorCode } from "../../errors/index.js";
import { formatOciReference, isLoopbackRegistry } from "../../oci/reference.js";
import { publishPackage } from "../../oci/publish.js";
import type { AcceptanceTarget } from "../../offline-package/acceptance/acceptance.js";
import { resolveInterpreter } from "../../python/interpreter.js";
import { localTarget } from "../../python/local-target.js";
import { packageTarget } from "../../validate/zip-checks.js";
import type { SafeZip } from "../../zip/index.js";
import { tick, UsageError, type CommandOutput } from "../../command-line/reporter.js";
import { ociArgument, registryFlags, type RegistryFlags } from "./registry-flags.js";

export type PublishFlags = RegistryFlags;

/** `publish <zip> oci://host/repo:tag`: the package as an OCI artifact; prints the digest to install and pin. */
export async function publishCommand(zip: string, ref: string, flags: PublishFlags, progress?: (line: string) => void): Promise<CommandOutput> {
  if (!existsSync(zip)) throw new UsageError(`zip ${zip} not found`, "publish an offline package built by procvision-cli package", ErrorCode.invalid_zip);
  const parsed = ociArgument(ref);
  if (parsed.digest !== undefined) {
    throw new UsageError(`publish needs a tag, not a digest: ${ref}`, "publish to oci://host/repo:tag; the digest is what publish prints");
  }
  let shown = -1;
  const published = await publishPackage(zip, ref, await registryFlags(flags), progress ? (sent, size) => {
    const percent = Math.floor((100 * sent) / size);
    if (percent >= shown + 10 || sent === size) {
      shown = percent;
      progress(`  uploading ${(sent / 1e6).toFixed(1)} / ${(size / 1e6).toFixed(1)} MB`);
    }
  } : undefined, declaredTarget);
  return {
    exitCode: 0,
    json: published,
    human: [
      `${tick(true)} ${published.name} ${published.version} published to ${ref}${published.uploaded ? "" : " (the registry already had the zip)"}${!isLoopbackRegistry(parsed.registry) && flags.plainHttp ? " over plain HTTP" : ""}`,
      `  digest: ${published.digest}`,
      `  install: procvision-runner install ${formatOciReference({ registry: parsed.registry, repository: parsed.repository, digest: published.digest })}`,
    ],
  };
}

/**
 * Requirements and wheels are judged against the target the package declares, as `validate --zip` judges them: a
 * package no station of that target could install is not published. Without a Python here to complete a partial
 * env file, that part is left to the stations.
 */
async function declaredTarget(zip: SafeZip): Promise<AcceptanceTarget | undefined> {
  const local = await resolveInterpreter("python3").then((p) => localTarget(p.executable), () => undefined);
  return local === undefined ? undefined : packageTarget(zip, local);
}

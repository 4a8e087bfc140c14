import { existsSync } from "node:fs";
import { ErrorCode } from "../../errors/index.js";
import { formatOciReference, isLoopbackRegistry, parseOciReference } from "../../oci/reference.js";
import { publishPackage } from "../../oci/publish.js";
import { tick, UsageError, type CommandOutput } from "../output.js";

export interface PublishFlags {
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
}

/** `publish <zip> oci://host/repo:tag`: the package as an OCI artifact; prints the digest to install and pin. */
export async function publishCommand(zip: string, ref: string, flags: PublishFlags, progress?: (line: string) => void): Promise<CommandOutput> {
  if (!existsSync(zip)) throw new UsageError(`zip ${zip} not found`, "publish an offline package built by procvision-cli package", ErrorCode.invalid_zip);
  const parsed = parseOciReference(ref);
  if (flags.passwordStdin && flags.username === undefined) throw new UsageError("--password-stdin needs --username");
  if (flags.username !== undefined && !flags.passwordStdin) {
    throw new UsageError("--username needs --password-stdin (a password never goes on the command line)", `e.g. cat token.txt | procvision-cli publish ${zip} ${ref} --username ci --password-stdin`);
  }
  const password = flags.passwordStdin ? (await readStdin()).replace(/\r?\n$/, "") : undefined;
  let shown = -1;
  const published = await publishPackage(zip, ref, {
    ...(flags.plainHttp ? { plainHttp: true } : {}),
    ...(flags.username !== undefined && password !== undefined ? { credentials: { username: flags.username, password } } : {}),
  }, progress ? (sent, size) => {
    const percent = Math.floor((100 * sent) / size);
    if (percent >= shown + 10 || sent === size) {
      shown = percent;
      progress(`  uploading ${(sent / 1e6).toFixed(1)} / ${(size / 1e6).toFixed(1)} MB`);
    }
  } : undefined);
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

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

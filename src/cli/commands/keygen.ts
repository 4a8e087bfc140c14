import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { generateKeyPair, keyFingerprint, loadPublicKey } from "../../signing/index.js";
import { tick, UsageError, type CommandOutput } from "../../command-line/reporter.js";

export async function keygenCommand(options: { out: string; force?: boolean }): Promise<CommandOutput> {
  const privateFile = path.resolve(`${options.out}.key`);
  const publicFile = path.resolve(`${options.out}.pub`);
  const existing = [privateFile, publicFile].filter((f) => existsSync(f));
  if (existing.length > 0 && !options.force) throw new UsageError(`${existing.join(" and ")} already exist`, "pass --force to replace them, or choose another --out");
  const pair = generateKeyPair();
  await mkdir(path.dirname(privateFile), { recursive: true });
  // A mode only applies to a file being created: a replaced key file would keep whatever mode the old one had.
  await rm(privateFile, { force: true });
  await writeFile(privateFile, pair.privateKeyPem, { mode: 0o600 });
  await writeFile(publicFile, pair.publicKeyPem, { mode: 0o644 });
  const fingerprint = keyFingerprint(loadPublicKey(pair.publicKeyPem));
  return {
    exitCode: 0,
    json: { private_key: privateFile, public_key: publicFile, fingerprint },
    human: [
      `${tick(true)} ed25519 key pair ${fingerprint}`,
      `  private: ${privateFile} (keep it off the stations; sign with: procvision-cli package <project> --sign ${path.basename(privateFile)})`,
      `  public:  ${publicFile} (add it to the runner's trusted_keys)`,
    ],
  };
}

import { ErrorCode } from "../errors/codes.js";
import type { AcceptOptions } from "../offline-package/acceptance/acceptance.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { registryClient, type RegistrySettings } from "./access.js";
import { EMPTY_CONFIG, EMPTY_CONFIG_BYTES, fileBlob, packageFacts, packageManifest } from "./package-artifact.js";
import { formatOciReference, parseOciReference } from "./reference.js";

/** What `publish --json` prints. */
export interface Published {
  /** The reference pinned to what was pushed: `oci://host/repo:tag@sha256:…`. */
  ref: string;
  /** The manifest digest: what `install …@sha256:` and desired states name. */
  digest: string;
  name: string;
  version: string;
  target: string;
  file: string;
  size: number;
  zip_digest: string;
  signed: boolean;
  /** False when the registry already held the zip (re-publishing under another tag uploads nothing). */
  uploaded: boolean;
}

/** Pushes an offline package zip as an OCI artifact under `ref`'s tag (contract §9). */
export async function publishPackage(zipPath: string, refText: string, settings: RegistrySettings = {}, onProgress?: (sent: number, size: number) => void,
  target?: AcceptOptions["target"]): Promise<Published> {
  const ref = parseOciReference(refText);
  if (ref.digest !== undefined) {
    throw new ProcVisionError(ErrorCode.invalid_params, `publish needs a tag, not a digest: ${refText}`, { hint: "publish to oci://host/repo:tag; the digest is what publish prints" });
  }
  const tag = ref.tag ?? "latest";
  const facts = await packageFacts(zipPath, target);
  const zip = await fileBlob(zipPath);
  const client = registryClient(ref, settings);
  const uploaded = !(await client.blobExists(ref.repository, zip.digest));
  if (uploaded) await client.pushBlobFile(ref.repository, zipPath, zip.digest, zip.size, (sent) => onProgress?.(sent, zip.size));
  if (!(await client.blobExists(ref.repository, EMPTY_CONFIG.digest))) await client.pushBlobBytes(ref.repository, EMPTY_CONFIG_BYTES, EMPTY_CONFIG.digest);
  const digest = await client.putManifest(ref.repository, tag, packageManifest(zip, facts));
  return {
    ref: formatOciReference({ ...ref, tag, digest }), digest, name: facts.name, version: facts.version, target: facts.target,
    file: facts.fileName, size: zip.size, zip_digest: zip.digest, signed: facts.signature !== undefined, uploaded,
  };
}

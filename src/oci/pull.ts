import path from "node:path";
import { registryClient, type RegistrySettings } from "./access.js";
import { packageLayer } from "./package-artifact.js";
import { formatOciReference, manifestReference, parseOciReference } from "./reference.js";

export interface PulledPackage {
  /** The verified zip, in `dir`. */
  zipPath: string;
  /** `oci://host/repo@sha256:…` of the manifest that was pulled. */
  pinned: string;
  digest: string;
  zip_digest: string;
  annotations: Record<string, string>;
}

/**
 * Fetches a package artifact's zip into `dir`, streamed and checked against the manifest's digest (2008 and nothing
 * kept on a mismatch); a reference by digest also checks the manifest's own bytes.
 */
export async function pullPackage(refText: string, dir: string, settings: RegistrySettings = {}, onProgress?: (received: number, size: number) => void): Promise<PulledPackage> {
  const ref = parseOciReference(refText);
  const client = registryClient(ref, settings);
  const manifest = await client.getManifest(ref.repository, manifestReference(ref));
  const layer = packageLayer(manifest.bytes, formatOciReference(ref));
  const zipPath = path.join(dir, layer.fileName.endsWith(".zip") ? layer.fileName : `${layer.fileName}.zip`);
  await client.pullBlobToFile(ref.repository, layer.digest, layer.size, zipPath, (received) => onProgress?.(received, layer.size));
  return { zipPath, pinned: formatOciReference({ registry: ref.registry, repository: ref.repository, digest: manifest.digest }), digest: manifest.digest, zip_digest: layer.digest, annotations: layer.annotations };
}

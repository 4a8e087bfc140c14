import { ErrorCode } from "../errors/codes.js";
import { isProcVisionError, ProcVisionError } from "../errors/procvision-error.js";
import { registryClient, type RegistrySettings } from "../oci/access.js";
import { ANNOTATION, EMPTY_CONFIG, EMPTY_CONFIG_BYTES, packageLayer } from "../oci/package-artifact.js";
import { formatOciReference, manifestReference, parseOciReference } from "../oci/reference.js";
import { OCI_MANIFEST, sha256Digest } from "../oci/registry.js";
import { DESIRED_ARTIFACT_TYPE, EMPTY_DESIRED, parseDesired, type DesiredDocument, type DesiredEntry } from "./document.js";
import type { ResolvedEntry } from "./plan.js";

const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** The registry settings of a reference's host (flags, or the runner's `fleet.registries`). */
export type SettingsFor = (registry: string) => RegistrySettings;

/** The desired state's manifest digest, or undefined when nothing is published there yet: one HEAD request. */
export async function desiredDigest(refText: string, settingsFor: SettingsFor): Promise<string | undefined> {
  const ref = parseOciReference(refText);
  return registryClient(ref, settingsFor(ref.registry)).headManifest(ref.repository, manifestReference(ref));
}

/** The desired state at `ref` (empty when none is published yet) and its manifest digest. */
export async function readDesired(refText: string, settingsFor: SettingsFor): Promise<{ doc: DesiredDocument; digest: string | undefined }> {
  const ref = parseOciReference(refText);
  const client = registryClient(ref, settingsFor(ref.registry));
  const reference = manifestReference(ref);
  if (!ref.digest && (await client.headManifest(ref.repository, reference)) === undefined) return { doc: EMPTY_DESIRED, digest: undefined };
  const manifest = await client.getManifest(ref.repository, reference);
  const parsed = JSON.parse(manifest.bytes.toString("utf8")) as { artifactType?: unknown; layers?: { mediaType?: unknown; digest?: unknown }[] };
  const layer = parsed.layers?.find((l) => l.mediaType === DESIRED_ARTIFACT_TYPE);
  if (parsed.artifactType !== DESIRED_ARTIFACT_TYPE || typeof layer?.digest !== "string") {
    throw new ProcVisionError(ErrorCode.invalid_params, `${refText} is not a ProcVision desired state (artifact type ${String(parsed.artifactType)})`, {
      hint: `desired states are written by procvision-cli desired set (artifact type ${DESIRED_ARTIFACT_TYPE})`, details: UNUSABLE,
    });
  }
  const bytes = await client.getBlobBytes(ref.repository, layer.digest, MAX_DOCUMENT_BYTES);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new ProcVisionError(ErrorCode.invalid_params, `the desired state ${refText} is not JSON`, { hint: REWRITE, details: UNUSABLE });
  }
  try {
    return { doc: parseDesired(value, refText), digest: manifest.digest };
  } catch (err) {
    if (!isProcVisionError(err)) throw err;
    throw new ProcVisionError(err.code, err.message, { hint: REWRITE, details: UNUSABLE });
  }
}

/**
 * Marks a document that was read but cannot be used (not a desired state, not JSON, invalid): the same digest gives
 * the same answer, so a station waits for the next one instead of retrying it, and `desired set` writes a new one.
 */
const UNUSABLE = { unusable: true };
const REWRITE = "fix it, or write a new one with procvision-cli desired set --replace";

/** Whether `err` says the desired state document itself is unusable (see UNUSABLE). */
export function unusableDocument(err: unknown): err is ProcVisionError {
  return isProcVisionError(err) && err.details?.unusable === true;
}

/** Publishes the document under `ref`'s tag; returns the manifest digest. */
export async function writeDesired(refText: string, doc: DesiredDocument, settingsFor: SettingsFor): Promise<string> {
  const ref = parseOciReference(refText);
  if (ref.digest !== undefined) throw new ProcVisionError(ErrorCode.invalid_params, `a desired state is written under a tag, not a digest: ${refText}`);
  const client = registryClient(ref, settingsFor(ref.registry));
  const bytes = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
  const digest = sha256Digest(bytes);
  if (!(await client.blobExists(ref.repository, digest))) await client.pushBlobBytes(ref.repository, bytes, digest);
  if (!(await client.blobExists(ref.repository, EMPTY_CONFIG.digest))) await client.pushBlobBytes(ref.repository, EMPTY_CONFIG_BYTES, EMPTY_CONFIG.digest);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: DESIRED_ARTIFACT_TYPE, config: EMPTY_CONFIG,
    layers: [{ mediaType: DESIRED_ARTIFACT_TYPE, digest, size: bytes.length }],
  }));
  return client.putManifest(ref.repository, ref.tag ?? "latest", manifest);
}

/**
 * Applies `change` to the document under `ref`'s tag and writes it. A registry has no compare-and-swap on tags: two
 * `desired set` at once may each write a change made on what they read before the other wrote, and the later write
 * would drop the earlier change. So after a write, and a short random pause, the document is read again: when the
 * change is no longer in it (`change` of it differs from it), it is made again on what is there, until it holds. A
 * document no station can use is refused, or with `replaceUnusable` replaced (`replaced` says why): it may hold
 * entries someone wants to keep (one stray key makes the whole document unusable).
 */
export async function updateDesired(refText: string, change: (doc: DesiredDocument) => DesiredDocument, settingsFor: SettingsFor,
  options: { replaceUnusable?: boolean } = {}): Promise<{ doc: DesiredDocument; digest: string; replaced?: string }> {
  let replaced: string | undefined;
  let written: { doc: DesiredDocument; digest: string } | undefined;
  const result = (r: { doc: DesiredDocument; digest: string }) => ({ ...r, ...(replaced === undefined ? {} : { replaced }) });
  for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
    const current = await readDesired(refText, settingsFor).catch((err: unknown) => {
      if (!unusableDocument(err)) throw err;
      if (options.replaceUnusable !== true) {
        throw new ProcVisionError(err.code, err.message, {
          hint: "fix the document by hand (procvision-cli desired show prints what is wrong), or pass --replace to write a new one in its place",
        });
      }
      replaced ??= err.message;
      return { doc: EMPTY_DESIRED, digest: undefined };
    });
    const doc = change(current.doc);
    if (written !== undefined && current.digest !== undefined && canonical(doc) === canonical(current.doc)) {
      return result({ doc: current.doc, digest: current.digest });
    }
    written = { doc, digest: await writeDesired(refText, doc, settingsFor) };
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
  }
  return result(written!);
}

const MAX_UPDATE_ATTEMPTS = 5;

/** JSON with object keys sorted: two documents that say the same thing compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v !== null && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
}

/** A desired package as its artifact describes it, pinned to its manifest digest (a tag is resolved once, here). */
export async function resolveEntry(entry: DesiredEntry, settingsFor: SettingsFor): Promise<ResolvedEntry> {
  const ref = parseOciReference(entry.ref);
  const client = registryClient(ref, settingsFor(ref.registry));
  const manifest = await client.getManifest(ref.repository, manifestReference(ref));
  const layer = packageLayer(manifest.bytes, entry.ref);
  const name = layer.annotations[ANNOTATION.name];
  const version = layer.annotations[ANNOTATION.version];
  if (!name || !version) {
    throw new ProcVisionError(ErrorCode.invalid_zip, `${entry.ref} names no package name and version in its annotations`, { hint: "publish the package with procvision-cli publish" });
  }
  return {
    ref: formatOciReference({ registry: ref.registry, repository: ref.repository, digest: manifest.digest }),
    name, version, zipSha256: layer.digest.slice("sha256:".length), pids: entry.pids,
  };
}

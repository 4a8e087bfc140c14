import { createHash } from "node:crypto";
import path from "node:path";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { sha256File } from "../offline-package/digest.js";
import { SHA256SUMS, SIGNATURE, TARGET_ENV_FILE } from "../offline-package/layout.js";
import { acceptPackage, type AcceptOptions } from "../offline-package/acceptance/acceptance.js";
import { OCI_MANIFEST } from "./registry.js";

/** Contract §9: an offline package is an OCI artifact of this type with the zip as its one layer. */
export const PACKAGE_ARTIFACT_TYPE = "application/vnd.procvision.package.v1";
export const PACKAGE_LAYER_TYPE = "application/vnd.procvision.package.v1+zip";
/** The empty config of an artifact (OCI image-spec 1.1 guidance). */
export const EMPTY_CONFIG = { mediaType: "application/vnd.oci.empty.v1+json", digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2, data: "e30=" } as const;
export const EMPTY_CONFIG_BYTES = Buffer.from("{}");

export const ANNOTATION = {
  title: "org.opencontainers.image.title",
  name: "org.procvision.package.name",
  version: "org.procvision.package.version",
  target: "org.procvision.package.target",
  sums: "org.procvision.package.sha256sums",
  signature: "org.procvision.package.signature",
} as const;

export interface Blob {
  digest: string;
  size: number;
}

/** What the artifact's annotations say about the package: read from the zip itself, never from flags. */
export interface PackageFacts {
  fileName: string;
  name: string;
  version: string;
  /** The target the wheels were fetched for (`.procvision_env.json` of the package), or "any". */
  target: string;
  /** sha256 of the SHA256SUMS entry, when the package has one. */
  sums?: string;
  /** SIGNATURE (base64), when the package is signed. */
  signature?: string;
}

/** The OCI image manifest of a package artifact (pure: the same facts give the same bytes, so the same digest). */
export function packageManifest(zip: Blob, facts: PackageFacts): Buffer {
  const annotations: Record<string, string> = {
    [ANNOTATION.name]: facts.name,
    [ANNOTATION.version]: facts.version,
    [ANNOTATION.target]: facts.target,
    ...(facts.sums ? { [ANNOTATION.sums]: facts.sums } : {}),
    ...(facts.signature ? { [ANNOTATION.signature]: facts.signature } : {}),
  };
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: PACKAGE_ARTIFACT_TYPE,
    config: EMPTY_CONFIG,
    layers: [{ mediaType: PACKAGE_LAYER_TYPE, digest: zip.digest, size: zip.size, annotations: { [ANNOTATION.title]: facts.fileName } }],
    annotations,
  }));
}

/** The zip layer of a fetched manifest, or 2001 when the artifact is not a ProcVision package. */
export function packageLayer(manifestBytes: Buffer, where: string): Blob & { fileName: string; annotations: Record<string, string> } {
  let manifest: { artifactType?: unknown; config?: { mediaType?: unknown }; layers?: unknown; annotations?: unknown };
  try {
    manifest = JSON.parse(manifestBytes.toString("utf8")) as typeof manifest;
  } catch {
    throw notPackage(where, "its manifest is not JSON");
  }
  const layers = Array.isArray(manifest.layers) ? manifest.layers as { mediaType?: unknown; digest?: unknown; size?: unknown; annotations?: Record<string, unknown> }[] : [];
  const zip = layers.filter((l) => l.mediaType === PACKAGE_LAYER_TYPE);
  const type = manifest.artifactType ?? manifest.config?.mediaType;
  if (type !== PACKAGE_ARTIFACT_TYPE || zip.length !== 1) {
    throw notPackage(where, `it is a ${typeof type === "string" ? type : "artifact of no type"} with ${zip.length} package layer(s)`);
  }
  const layer = zip[0]!;
  if (typeof layer.digest !== "string" || !/^sha256:[a-f0-9]{64}$/.test(layer.digest) || typeof layer.size !== "number" || !Number.isSafeInteger(layer.size) || layer.size < 0) {
    throw notPackage(where, "its package layer has no valid sha256 digest and size");
  }
  const title = layer.annotations?.[ANNOTATION.title];
  const annotations = typeof manifest.annotations === "object" && manifest.annotations !== null ? manifest.annotations as Record<string, string> : {};
  // The title names the file in staging: a plain file name or nothing (it comes from the registry, not from us).
  const fileName = typeof title === "string" && /^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$/.test(title) ? title : "package.zip";
  return { digest: layer.digest, size: layer.size, fileName, annotations };
}

function notPackage(where: string, why: string): ProcVisionError {
  return new ProcVisionError(ErrorCode.invalid_zip, `${where} is not a ProcVision package: ${why}`, {
    hint: `publish offline packages with procvision-cli publish (artifact type ${PACKAGE_ARTIFACT_TYPE})`,
  });
}

/** The zip's sha256 and size, read once. */
export async function fileBlob(file: string): Promise<Blob> {
  const { sha256, size } = await sha256File(file);
  return { digest: `sha256:${sha256}`, size };
}

/**
 * The facts of a package zip, judged by the runner's own acceptance (safe open, manifest, checksums, wheels): what a
 * runner would refuse is not published. `target`: what to judge requirements and wheels against (the target the
 * package declares, from `procvision-cli publish`); without it they are not judged, stations decide for themselves.
 */
export async function packageFacts(zipPath: string, target: AcceptOptions["target"] = async () => undefined): Promise<PackageFacts> {
  const { zip, acceptance } = await acceptPackage(zipPath, { integrity: { trustedKeys: [], requireSignature: false }, target });
  try {
    const refused = acceptance.problems[0];
    if (refused) throw refused.error;
    if (!zip || !acceptance.manifest) throw new ProcVisionError(ErrorCode.invalid_zip, `${zipPath} cannot be read as a package`);
    const text = async (name: string) => (zip.entries.has(name) ? zip.readText(name, 1024 * 1024) : undefined);
    const sums = await text(SHA256SUMS);
    const signature = await text(SIGNATURE);
    const env = await text(TARGET_ENV_FILE);
    return {
      fileName: path.basename(zipPath), name: acceptance.manifest.name, version: acceptance.manifest.version, target: targetOf(env),
      ...(sums !== undefined ? { sums: createHash("sha256").update(sums).digest("hex") } : {}),
      ...(signature !== undefined ? { signature: signature.trim() } : {}),
    };
  } finally {
    zip?.close();
  }
}

function targetOf(envText: string | undefined): string {
  try {
    const env = JSON.parse(envText ?? "{}") as { wheels_platform?: unknown; python_version?: unknown; abi?: unknown };
    const platform = Array.isArray(env.wheels_platform) ? env.wheels_platform.join(",") : env.wheels_platform;
    const parts = [platform, env.python_version, env.abi].filter((p): p is string => typeof p === "string" && p !== "");
    return parts.length > 0 ? parts.join(" ") : "any";
  } catch {
    return "any";
  }
}

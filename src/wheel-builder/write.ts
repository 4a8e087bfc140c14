import { createHash } from "node:crypto";
import { writeDeterministicZip, type ZipEntry } from "../zip/write.js";
import { expandTag } from "../wheel-tags/filename.js";

export interface WheelSpec {
  /** Distribution name as written in METADATA, e.g. `procvision_algorithm_sdk`. */
  name: string;
  version: string;
  /** `py3-none-any`, `cp310-cp310-win_amd64`, … */
  tag: string;
  files: readonly { path: string; data: Buffer }[];
  requiresDist?: readonly string[];
  requiresPython?: string;
  summary?: string;
}

/** PEP 427 escaping of the name part of a wheel file name. */
export function wheelDistName(name: string): string {
  return name.replace(/[-_.]+/g, "_");
}

export function wheelFileName(spec: Pick<WheelSpec, "name" | "version" | "tag">): string {
  return `${wheelDistName(spec.name)}-${spec.version}-${spec.tag}.whl`;
}

function recordHash(data: Buffer): string {
  return `sha256=${createHash("sha256").update(data).digest("base64url")}`;
}

/**
 * A wheel is a zip with `*.dist-info/METADATA`, `WHEEL` and `RECORD`. Writing it directly is hermetic (no
 * setuptools, no network) and deterministic, which is what both the SDK build and the test wheels need.
 */
export function wheelEntries(spec: WheelSpec): ZipEntry[] {
  const distInfo = `${wheelDistName(spec.name)}-${spec.version}.dist-info`;
  const metadata = [
    "Metadata-Version: 2.1",
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
    ...(spec.summary ? [`Summary: ${spec.summary}`] : []),
    ...(spec.requiresPython ? [`Requires-Python: ${spec.requiresPython}`] : []),
    ...(spec.requiresDist ?? []).map((r) => `Requires-Dist: ${r}`),
    "",
  ].join("\n");
  const pure = spec.tag.endsWith("-none-any");
  const wheel = ["Wheel-Version: 1.0", "Generator: procvision", `Root-Is-Purelib: ${pure}`,
    ...expandTag(spec.tag).map((t) => `Tag: ${t}`), ""].join("\n");
  const files: ZipEntry[] = [
    ...spec.files.map((f) => ({ path: f.path, data: f.data })),
    { path: `${distInfo}/METADATA`, data: Buffer.from(metadata) },
    { path: `${distInfo}/WHEEL`, data: Buffer.from(wheel) },
  ];
  const record = [
    ...files.map((f) => `${f.path},${recordHash(f.data)},${f.data.length}`),
    `${distInfo}/RECORD,,`,
    "",
  ].join("\n");
  return [...files, { path: `${distInfo}/RECORD`, data: Buffer.from(record) }];
}

export async function writeWheel(outPath: string, spec: WheelSpec): Promise<void> {
  await writeDeterministicZip(outPath, wheelEntries(spec));
}

import path from "node:path";
import yauzl, { type Entry, type ZipFile } from "yauzl";
import { ErrorCode, ProcVisionError } from "../../errors/index.js";
import { normalizeName } from "../../requirements/index.js";
import type { SafeZip } from "../../zip/index.js";
import { bundledSdkWheel } from "../../sdk-bundle.js";
import { parseCoreMetadata } from "../../wheel-installer/index.js";
import { parseWheelFilename } from "../../wheel-tags/index.js";
import { SDK_NAME, type RunnerSdk } from "./sdk-replacement.js";

/** A file only this product's SDK has: the adapter runtime the runner's workers are started with. */
const OUR_ADAPTER = `${SDK_NAME}/adapter/runtime.py`;

async function hasEntry(zip: ZipFile, name: string): Promise<boolean> {
  for await (const entry of zip.eachEntry()) if (entry.fileName === name) return true;
  return false;
}

/** The SDK wheels in the package's wheels/ that are this product's, by file name (decided by content, not version). */
export async function ourSdkWheels(zip: SafeZip, wheelPaths: readonly string[]): Promise<Set<string>> {
  const ours = new Set<string>();
  for (const p of wheelPaths) {
    const parsed = parseWheelFilename(p);
    if (!parsed.ok || parsed.wheel.normalizedName !== normalizeName(SDK_NAME)) continue;
    let nested: ZipFile | undefined;
    try {
      nested = await zip.openNestedZip(p);
      if (await hasEntry(nested, OUR_ADAPTER)) ours.add(parsed.wheel.fileName);
    } catch {
      // Unreadable wheels are reported by the metadata check; such a wheel is not ours.
    } finally {
      nested?.close();
    }
  }
  return ours;
}

async function readMetadata(zip: ZipFile): Promise<string | undefined> {
  for await (const entry of zip.eachEntry()) {
    if (!/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) continue;
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.openReadStreamPromise(entry as Entry)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }
  return undefined;
}

export type RunnerSdkWheel = RunnerSdk & { path: string; metadata: string };

/** The SDK wheel bundled with the runner (what replaces the original SDK in a package), with its METADATA. */
export async function runnerSdkWheel(): Promise<RunnerSdkWheel> {
  const bundled = bundledSdkWheel().path;
  const zip = await yauzl.openPromise(bundled, { lazyEntries: true, autoClose: false });
  let metadata: string | undefined;
  try {
    metadata = await readMetadata(zip);
  } finally {
    zip.close();
  }
  const file = path.basename(bundled);
  const parsed = parseWheelFilename(file);
  if (metadata === undefined || !parsed.ok) {
    throw new ProcVisionError(ErrorCode.wheels_missing, `the runner's bundled SDK wheel ${bundled} is damaged (no METADATA)`, {
      hint: "reinstall procvision (npm run build rebuilds the wheel)",
    });
  }
  const core = parseCoreMetadata(metadata);
  return {
    file, path: bundled, metadata, version: parsed.wheel.version, requiresDist: core.requiresDist,
    ...(core.requiresPython !== undefined ? { requiresPython: core.requiresPython } : {}),
  };
}

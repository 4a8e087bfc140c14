import { ErrorCode, ProcVisionError } from "../errors/index.js";
import type { ChooseView } from "../zip/index.js";

// The offline package format (contract §1): every name it gives an entry, and where a package starts in a zip.

export const MANIFEST = "manifest.json";
/** A manifest is a few KiB; anything past this is refused (2002) before it is read or parsed. */
export const MANIFEST_MAX_BYTES = 1024 * 1024;

/** Why the package's manifest.json is too large to read, or null. Shared by install and `validate --zip`. */
export function manifestTooLarge(size: number): string | null {
  return size > MANIFEST_MAX_BYTES ? `manifest.json is ${size} bytes, more than the ${MANIFEST_MAX_BYTES} allowed (a manifest is a few KiB)` : null;
}
/** The sanitized requirements, every line pinned. */
export const REQUIREMENTS = "requirements.txt";
/** The target environment the wheels were chosen for. */
export const TARGET_ENV_FILE = ".procvision_env.json";
/** Where a package keeps its wheels: the directory, and the prefix of its entries. */
export const WHEELS_DIR = "wheels";
export const WHEELS = `${WHEELS_DIR}/`;
/** An embedded, relocatable Python runtime (`package --embed-python`), a directory at the package root. */
export const RUNTIME_DIR = "python_runtime";
/** What the original tool writes beside an embedded runtime (the runner finds the runtime by RUNTIME_DIR). */
export const RUNTIME_BOOTSTRAP = "deploy_bootstrap.json";
/** Names of the two generated entries: every other entry is listed in SHA256SUMS, SIGNATURE signs its bytes. */
export const SHA256SUMS = "SHA256SUMS";
export const SIGNATURE = "SIGNATURE";

/** The package's file name: `<name>-v<version>-offline.zip`. */
export function packageZipName(name: string, version: string): string {
  return `${name}-v${version}-offline.zip`;
}

/** The wheel file name of a `wheels/` entry path, or null for any other path (including files below a subfolder). */
export function wheelFileOf(entryPath: string): string | null {
  return entryPath.startsWith(WHEELS) && !entryPath.includes("/", WHEELS.length) && entryPath.length > WHEELS.length
    ? entryPath.slice(WHEELS.length) : null;
}

/**
 * Where the package starts inside the zip: "" when manifest.json is at the root; "<folder>/" for zips of the original
 * ProcVision tool, which put the package in one top-level folder (the only one holding a manifest.json).
 */
export function packageStart(fileNames: readonly string[]): string {
  if (fileNames.includes(MANIFEST)) return "";
  const folders = fileNames.filter((n) => /^[^/]+\/manifest\.json$/.test(n)).map((n) => n.slice(0, -MANIFEST.length));
  if (folders.length === 1) return folders[0]!;
  const hint = "an offline package has manifest.json at the root of the zip; build it with procvision-cli package";
  throw folders.length === 0
    ? new ProcVisionError(ErrorCode.manifest_missing, "the zip has no manifest.json at its root (nor in a single top-level folder)", { hint })
    : new ProcVisionError(ErrorCode.manifest_missing, `the zip has a manifest.json in several top-level folders (${folders.join(", ")}): which one is the package is ambiguous`, { hint });
}

/**
 * The path of a zip entry inside the package, or null when it lies outside it. With a top-level folder as the root,
 * `wheels/` may also sit at the zip root beside that folder.
 */
export function packagePath(zipName: string, root: string): string | null {
  if (zipName.startsWith(root)) return zipName.length > root.length ? zipName.slice(root.length) : null;
  return zipName.startsWith(WHEELS) ? zipName : null;
}

/** A zip seen as a package: entries under their path in the package, those outside it left out; no manifest → 2002. */
export const packageView: ChooseView = (fileNames) => {
  const rootPrefix = packageStart(fileNames);
  return { rootPrefix, pathOf: (zipName) => packagePath(zipName, rootPrefix) };
};

import type { Requirement } from "../requirements/index.js";
import type { FileSlice } from "../safe-zip/index.js";
import { rankWheels, type WheelTarget } from "../wheel-tags/index.js";
import { parseCoreMetadata } from "./metadata.js";
import { resolveWheels } from "./resolve.js";
import { probeScheme } from "./scheme.js";
import { unpackWheels, type UnpackTuning } from "./unpack.js";

export { parseCoreMetadata, parseEntryPoints, parseRecord, parseWheelInfo, formatRecord } from "./metadata.js";
export { resolveWheels, type ResolvedWheel } from "./resolve.js";
export { probeScheme, SCHEME_PROBE, type InstallScheme } from "./scheme.js";
export { INSTALLER_NAME, unpackWheels, DEFAULT_TUNING, type UnpackTuning, type WheelSource } from "./unpack.js";

export interface WheelsInstall {
  /** The venv to install into (created with --without-pip). */
  venvPython: string;
  /** requirements.txt of the package, sanitized. */
  requirements: readonly Requirement[];
  /** Every wheel of the package: its file name and where its bytes are. */
  wheels: readonly { file: string; slice: FileSlice }[];
  /** METADATA text of each wheel, by file name. */
  metadata: ReadonlyMap<string, string>;
  /** What the venv's interpreter accepts. */
  target: WheelTarget;
  /** Environment for the scheme probe (the hermetic install environment). */
  env: Record<string, string>;
  tuning?: UnpackTuning;
}

/**
 * The runner's own installer: resolve what requirements.txt needs from the package's wheels (as pip would with
 * `--no-index --find-links wheels`) and unpack them into the venv on every core. No pip, no network, no host
 * configuration can be involved. Returns the installed wheel files.
 */
export async function installWheels(install: WheelsInstall): Promise<{ wheels: string[]; files: number; bytes: number }> {
  const scheme = await probeScheme(install.venvPython, install.env);
  const metadata = new Map([...install.metadata].map(([file, text]) => [file, parseCoreMetadata(text)]));
  const resolved = resolveWheels({
    requirements: install.requirements, wheels: rankWheels(install.wheels.map((w) => w.file), install.target), metadata, markers: scheme.markers,
  });
  const byFile = new Map(install.wheels.map((w) => [w.file, w.slice]));
  const sources = resolved.map((r) => ({ file: r.file, slice: byFile.get(r.file)!, requested: r.requested }));
  const result = await unpackWheels(sources, scheme, install.tuning);
  return { wheels: resolved.map((r) => r.file), ...result };
}

import type { Requirement } from "../requirements/index.js";
import type { FileSlice } from "../zip/index.js";
import type { WheelTarget } from "../wheel-tags/index.js";

/**
 * What to install (in the spirit of pypa/installer's `install(source, destination)`): the package's wheels and what
 * its requirements.txt asks of them. Nothing else: no index, no network, no other wheel.
 */
export interface InstallSource {
  /** requirements.txt of the package, sanitized. */
  requirements: readonly Requirement[];
  /** Every wheel of the package: its file name and where its bytes are (a file, or a stored entry of the zip). */
  wheels: readonly { file: string; slice: FileSlice }[];
  /** METADATA text of each wheel, by file name. */
  metadata: ReadonlyMap<string, string>;
  /** What the destination's interpreter accepts. */
  target: WheelTarget;
}

/** Where to install: a venv made with `--without-pip`. */
export interface InstallDestination {
  venvPython: string;
  /** An interpreter that has pip: pip installs into the venv through `pip --python`. */
  basePython: string;
  /** What the venv's embedded runtime needs to start (every installer runs the venv's interpreter). */
  runtimeEnv?: Readonly<Record<string, string>>;
}

export type InstallerKind = "builtin" | "pip" | "uv";

/** One way to put a package's wheels into a venv; each gives the venv pip would give (the fidelity test holds them to it). */
export interface WheelInstaller {
  readonly kind: InstallerKind;
  install(source: InstallSource, destination: InstallDestination): Promise<void>;
}

/** Which installer an install uses: data, so the decision is testable and shown in the bench. */
export type InstallerChoice = { kind: "builtin" } | { kind: "uv"; uv: string } | { kind: "pip" };

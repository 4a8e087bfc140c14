import { createRequire } from "node:module";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";

/** The procvision_shm addon (native/shm/shm.c), built by node-gyp at install. Names are bare, without '/'. */
export interface ShmAddon {
  /** Maps the whole segment; creates it (mode 0600) and grows it to `size` when `create` is set. */
  open(name: string, size: number, create: boolean): ArrayBuffer;
  /** munmaps now and detaches the ArrayBuffer (every view drops to length 0); false if already unmapped. */
  unmap(mapping: ArrayBuffer): boolean;
  /** shm_unlink; false when the segment did not exist. */
  unlink(name: string): boolean;
}

type LoadResult = { addon: ShmAddon; error?: undefined } | { addon?: undefined; error: Error };

let loaded: LoadResult | undefined;

function isShmAddon(value: unknown): value is ShmAddon {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ["open", "unmap", "unlink"].every((fn) => typeof candidate[fn] === "function");
}

function load(): LoadResult {
  try {
    const file = join(packageRoot(), "build", "Release", "procvision_shm.node");
    const addon: unknown = createRequire(import.meta.url)(file);
    if (!isShmAddon(addon)) return { error: new Error(`${file} does not export open/unmap/unlink`) };
    return { addon };
  } catch (err) {
    return { error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** The addon, or undefined when it was not built (then segments fall back to file writes). Loaded once, lazily. */
export function nativeAddon(): ShmAddon | undefined {
  loaded ??= load();
  return loaded.addon;
}

export function nativeAvailable(): boolean {
  return nativeAddon() !== undefined;
}

/** Why the addon could not be loaded, for diagnostics; undefined when it is available. */
export function nativeLoadError(): Error | undefined {
  loaded ??= load();
  return loaded.error;
}

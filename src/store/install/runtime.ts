import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import path from "node:path";
import { RUNTIME_DIR } from "../../offline-package/layout.js";
import { probeRuntime, runtimeEnv, type ProbedRuntime } from "../../python/runtime.js";
import type { SafeZip } from "../../zip/index.js";

const PREFIX = `${RUNTIME_DIR}/`;

/** An embedded runtime extracted into staging/ and probed there, before the package is registered. */
export interface StagedRuntime {
  probed: ProbedRuntime;
  /** The interpreter inside the package, for messages: `python_runtime/bin/python3.12`. */
  interpreterPath: string;
  /** The entries that are the runtime: extracted here, not with the rest of the package. */
  isRuntimeEntry: (p: string) => boolean;
  /** Moves the runtime into the package directory (a rename: it is relocatable) and returns what runs there. */
  moveInto: (packageDir: string) => Promise<ProbedRuntime>;
  /** Removes what is left in staging/ (all of it when the runtime was not moved). */
  discard: () => Promise<void>;
}

export function hasRuntime(zip: SafeZip): boolean {
  return [...zip.entries.keys()].some((p) => p.startsWith(PREFIX));
}

/**
 * Install step 2 for a package with an embedded runtime: its wheels must match that runtime, which only the runtime
 * itself can say. It is extracted into `stagingDir` (the store's staging/, on the same file system as deployed/) and
 * probed with the environment it needs; a runtime that does not start here is 2003.
 */
export async function stageRuntime(zip: SafeZip, stagingDir: string): Promise<StagedRuntime> {
  await mkdir(stagingDir, { recursive: true });
  const scratch = await mkdtemp(path.join(stagingDir, "runtime-"));
  const discard = (): Promise<void> => rm(scratch, { recursive: true, force: true });
  try {
    const isRuntimeEntry = (p: string): boolean => p === RUNTIME_DIR || p.startsWith(PREFIX);
    const staged = path.join(scratch, RUNTIME_DIR);
    await zip.extractTo(scratch, (e) => isRuntimeEntry(e.path));
    const probed = await probeRuntime(staged, `the package's embedded runtime ${PREFIX}`);
    const moveInto = async (packageDir: string): Promise<ProbedRuntime> => {
      const dir = path.join(packageDir, RUNTIME_DIR);
      await rename(staged, dir);
      return { ...probed, executable: path.join(dir, path.relative(staged, probed.executable)), env: runtimeEnv(dir) };
    };
    const interpreterPath = `${PREFIX}${path.relative(staged, probed.executable).split(path.sep).join("/")}`;
    return { probed, interpreterPath, isRuntimeEntry, moveInto, discard };
  } catch (err) {
    await discard();
    throw err;
  }
}

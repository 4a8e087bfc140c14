import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import type { TargetEnvFile } from "../target-env/schema.js";
import { INTERPRETER_PROBE, interpreterTarget } from "../wheel-tags/probe.js";
import type { WheelTarget } from "../wheel-tags/supported.js";
import { memoizeProbe } from "./memo.js";
import { runProbe } from "./probe.js";

/** What wheels a real interpreter accepts, asked of the interpreter itself (never guessed from the host). */
export const localTarget = memoizeProbe(probeTarget);

async function probeTarget(python: string): Promise<WheelTarget> {
  let parsed: unknown;
  try {
    parsed = await runProbe(python, INTERPRETER_PROBE, { timeoutMs: 30_000 });
  } catch (err) {
    throw new ProcVisionError(ErrorCode.incompatible_python, `cannot probe Python interpreter ${python}: ${(err as Error).message}`, {
      hint: "pass --python with a working CPython 3 interpreter",
    });
  }
  return interpreterTarget(parsed);
}

/**
 * The `.procvision_env.json` that `init` writes: this interpreter as the target. The generic `linux_*` tag is left
 * out because no index serves such wheels; the manylinux tag stands for the whole family.
 */
export async function localTargetEnv(python: string): Promise<TargetEnvFile> {
  const target = await localTarget(python);
  const portable = target.platforms.filter((p) => !p.startsWith("linux_"));
  return {
    python_version: target.pythonVersion,
    implementation: target.implementation,
    abi: target.abi,
    wheels_platform: portable.length > 0 ? portable : [...target.platforms],
    // As the original init: package freezes a project that has no requirements.txt (contract §5a).
    auto_freeze: true,
    index_url: null,
    extra_index_urls: [],
    find_links: [],
  };
}

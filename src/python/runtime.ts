import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { INTERPRETER_PROBE, interpreterTarget } from "../wheel-tags/probe.js";
import type { WheelTarget } from "../wheel-tags/supported.js";
import { probeFailure, runProbe } from "./probe.js";

// An embedded Python runtime (contract §5a): a copied CPython installation shipped in a package as `python_runtime/`,
// on which the station installs and runs that package instead of its own interpreter. Everything the product knows
// about such a runtime is here: where its interpreter is and what environment it needs to start.

function isExecutableFile(file: string): boolean {
  try {
    const stats = statSync(file);
    return stats.isFile() && (process.platform === "win32" || (stats.mode & 0o111) !== 0);
  } catch {
    return false;
  }
}

/**
 * The interpreter of a runtime directory: `python.exe` at its root (Windows embeddable) or `bin/python3` / `bin/python`,
 * else the one `bin/python3.N` (a packaged runtime may carry only the versioned name). Undefined when there is none.
 */
export function runtimeInterpreter(runtimeDir: string): string | undefined {
  const dir = path.resolve(runtimeDir);
  if (process.platform === "win32") return [path.join(dir, "python.exe")].find(isExecutableFile);
  const bin = path.join(dir, "bin");
  const plain = ["python3", "python"].map((n) => path.join(bin, n)).find(isExecutableFile);
  if (plain !== undefined) return plain;
  let names: string[];
  try {
    names = readdirSync(bin);
  } catch {
    return undefined;
  }
  const versioned = names.filter((n) => /^python3\.\d+$/.test(n)).map((n) => path.join(bin, n)).filter(isExecutableFile);
  return versioned.length === 1 ? versioned[0] : undefined;
}

/**
 * What a runtime needs in its processes' environment: a copied CPython links `libpython3.X.so` through the absolute
 * path it was built at, so on a station without that path it finds its own copy only through LD_LIBRARY_PATH (which
 * wins over the binary's RUNPATH). The host's LD_LIBRARY_PATH (CUDA libraries) is kept after it. Windows finds the
 * DLLs beside python.exe by itself.
 */
export function runtimeEnv(runtimeDir: string, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (process.platform === "win32" || process.platform === "darwin") return {};
  const lib = path.join(path.resolve(runtimeDir), "lib");
  return { LD_LIBRARY_PATH: [lib, parent.LD_LIBRARY_PATH].filter((p) => p !== undefined && p !== "").join(path.delimiter) };
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface ProbedRuntime {
  /** Absolute path of the runtime's interpreter. */
  executable: string;
  /** What wheels it accepts, asked of the interpreter itself. */
  target: WheelTarget;
  /** Environment additions every process of this runtime needs. */
  env: Record<string, string>;
}

/**
 * Finds and probes a runtime's interpreter, launched with the runtime's environment. 2003 when the directory holds no
 * interpreter or it does not start here (another platform, a broken copy); `label` names the runtime in messages.
 */
export async function probeRuntime(runtimeDir: string, label = runtimeDir): Promise<ProbedRuntime> {
  const executable = runtimeInterpreter(runtimeDir);
  const hint = "an embedded runtime is a whole CPython installation (bin/python3.X, lib/python3.X/, lib/libpython3.X.so) copied into python_runtime/, for the station's platform";
  if (executable === undefined) {
    throw new ProcVisionError(ErrorCode.incompatible_python, `${label} holds no Python interpreter (looked for ${process.platform === "win32" ? "python.exe" : "bin/python3, bin/python or bin/python3.N"})`, { hint });
  }
  const env = runtimeEnv(runtimeDir);
  let probe: unknown;
  try {
    probe = await runProbe(executable, INTERPRETER_PROBE, { env: { ...definedEnv(process.env), ...env }, timeoutMs: 30_000 });
  } catch (err) {
    throw new ProcVisionError(ErrorCode.incompatible_python, `the interpreter of ${label} (${path.relative(runtimeDir, executable)}) does not start here: ${probeFailure(err)}`, { hint });
  }
  return { executable, target: interpreterTarget(probe), env };
}

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { validateManifest } from "../../manifest/index.js";
import { packageRoot } from "../../package-root.js";
import { resolveInterpreter } from "../../python/interpreter.js";
import { localTargetEnv } from "../../python/local-target.js";
import { className, invalidAlgorithmName, moduleName } from "../../scaffold/names.js";
import { scaffoldFiles } from "../../scaffold/templates.js";
import { bundledSdkWheel } from "../../sdk-bundle.js";
import { tick, UsageError, type CommandOutput } from "../../command-line/reporter.js";

const run = promisify(execFile);
/** Pinned when the local Python has no numpy: wheels exist for CPython 3.10–3.13 on Linux and Windows. */
const DEFAULT_NUMPY = "2.2.6";

export interface InitOptions {
  dir?: string;
  pids?: string;
  version?: string;
  desc?: string;
  force?: boolean;
  python?: string;
}

/**
 * What the author's Python has: its numpy version, and whether `module` is already importable there (a project
 * package of that name would hide it: `init queue` broke `import queue` for the SDK itself). Asked from a neutral
 * folder, so the current one does not count.
 */
async function probeLocal(python: string, module: string): Promise<{ numpy?: string; taken: boolean }> {
  const script = [
    "import importlib.util, sys",
    "try:\n    import numpy\n    print(numpy.__version__)\nexcept Exception:\n    print('')",
    "print(importlib.util.find_spec(sys.argv[1]) is not None)",
  ].join("\n");
  try {
    const { stdout } = await run(python, ["-c", script, module], { timeout: 30_000, cwd: tmpdir() });
    const [numpy = "", taken = ""] = stdout.split("\n"); // not trimmed first: the first line may be empty
    return { ...(numpy.trim() ? { numpy: numpy.trim() } : {}), taken: taken.trim() === "True" };
  } catch {
    return { taken: false };
  }
}

export async function initCommand(name: string, options: InitOptions): Promise<CommandOutput> {
  const problem = invalidAlgorithmName(name);
  if (problem) throw new UsageError(problem);
  const pids = (options.pids ?? "p001,p002").split(",").map((p) => p.trim()).filter(Boolean);
  if (pids.length === 0 || new Set(pids).size !== pids.length) throw new UsageError(`--pids needs distinct, non-empty ids, got "${options.pids}"`);
  const version = options.version ?? "1.0.0";
  // The manifest's own rule for versions (they name directories on stations): refused now, not at validate.
  const checked = validateManifest({ name, version, entry_point: "m:C", supported_pids: pids });
  const versionErrors = checked.ok ? [] : checked.errors.filter((e) => e.path === "version");
  if (versionErrors.length > 0) throw new UsageError(`-v/--version: ${versionErrors.map((e) => e.message).join("; ")}`, "e.g. -v 1.0.0");
  const dir = path.resolve(options.dir ?? name);
  const interpreter = await resolveInterpreter(options.python ?? "python3");
  const local = await probeLocal(interpreter.executable, moduleName(name));
  const module = local.taken ? `${moduleName(name)}_algo` : moduleName(name);
  const files = scaffoldFiles({
    name, module, className: className(module), version,
    description: options.desc ?? `${name} inspection algorithm`, pids,
    sdkVersion: bundledSdkWheel().version,
    numpyVersion: local.numpy ?? DEFAULT_NUMPY,
    env: await localTargetEnv(interpreter.executable),
  }, await readFile(path.join(packageRoot(), "examples", "algorithm-example", "sample.png")));

  const existing = files.filter((f) => existsSync(path.join(dir, f.path))).map((f) => f.path);
  if (existing.length > 0 && !options.force) {
    throw new UsageError(`${dir} already has ${existing.join(", ")}; nothing was written`, "pass --force to overwrite them");
  }
  for (const file of files) {
    const target = path.join(dir, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.content);
  }
  return {
    exitCode: 0,
    json: { path: dir, name, module, entry_point: `${module}.main:${className(module)}`, files: files.map((f) => f.path), overwritten: existing },
    human: [
      `${tick(true)} created ${name} in ${dir}`,
      ...files.map((f) => `  ${f.path}${existing.includes(f.path) ? " (overwritten)" : ""}`),
      "",
      "next:",
      `  procvision-cli validate ${path.relative(process.cwd(), dir) || "."}`,
      `  procvision-cli run ${path.relative(process.cwd(), dir) || "."} --pid ${pids[0]} --image ${path.join(path.relative(process.cwd(), dir) || ".", "sample.png")}`,
    ],
  };
}

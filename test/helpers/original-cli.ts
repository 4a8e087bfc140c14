// The ORIGINAL ProcVision tools (procvision_algorithm_sdk 0.0.5, 0.0.7, 0.3.2 from PyPI) and zips made by their
// `procvision-cli package`, for the tests that prove such zips install and run on our runner (contract §5a).
// Everything is cached: the wheels in .cache/wheels (downloaded once), one venv per release in .cache/original-cli.
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { serveIndex } from "./index-server.js";
import { repoRoot } from "./python.js";

const run = promisify(execFile);

export const ORIGINAL_RELEASES = ["0.0.5", "0.0.7", "0.3.2"] as const;
export type OriginalRelease = (typeof ORIGINAL_RELEASES)[number];

const WHEELS = path.join(repoRoot, ".cache", "wheels");
const VENVS = path.join(repoRoot, ".cache", "original-cli");
/** The cached numpy wheel's platform: what `-w` must say for the original `pip download` to find it. */
export const NUMPY_PLATFORM = "manylinux_2_17_x86_64";
/**
 * The original 0.0.x SDK depends on pillow>=10; the cached pillow 13 is manylinux_2_28 only, so one pillow with a
 * manylinux2014 (= manylinux_2_17) wheel is fetched for the original packer's `pip download`.
 */
const PILLOW = { pin: "pillow==10.4.0", prefix: "pillow-10.4.0-cp311-cp311-manylinux_2_17_x86_64" };

/** The machine's pip configuration (a find-links, a mirror) must not decide what these tests install. */
function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = ["PATH", "HOME", "LANG", "TMPDIR"];
  const env: Record<string, string> = { PIP_CONFIG_FILE: "/dev/null", PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1", PYTHONNOUSERSITE: "1" };
  for (const key of keep) if (process.env[key] !== undefined) env[key] = process.env[key]!;
  return { ...env, ...extra };
}

const hasWheel = (prefix: string): boolean => existsSync(WHEELS) && readdirSync(WHEELS).some((f) => f.startsWith(prefix) && f.endsWith(".whl"));

/** The original SDK wheels (and the pillow their packer needs) in .cache/wheels, downloaded from PyPI once. */
export async function originalWheels(): Promise<void> {
  mkdirSync(WHEELS, { recursive: true });
  const missing = ORIGINAL_RELEASES.filter((v) => !hasWheel(`procvision_algorithm_sdk-${v}-`));
  // One download per release: pip resolves the names of one command together, and one name at two versions conflicts.
  for (const v of missing) {
    await run("python3", ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", WHEELS, `procvision_algorithm_sdk==${v}`], { timeout: 300_000 });
  }
  if (!hasWheel(PILLOW.prefix)) {
    await run("python3", ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
      "--implementation", "cp", "--abi", "cp311", "-d", WHEELS, PILLOW.pin], { timeout: 300_000 });
  }
}

/** A venv with the original SDK of `release` (and its `procvision-cli`), installed from .cache/wheels only; cached. */
export async function originalVenv(release: OriginalRelease): Promise<string> {
  await originalWheels();
  const dir = path.join(VENVS, release);
  const python = path.join(dir, "bin", "python");
  const ready = path.join(dir, ".ready");
  if (existsSync(ready)) return python;
  rmSync(dir, { recursive: true, force: true });
  await run("python3", ["-m", "venv", dir], { env: isolatedEnv(), timeout: 300_000 });
  await run(python, ["-m", "pip", "install", "--no-index", "--find-links", WHEELS, "-q", `procvision_algorithm_sdk==${release}`], { env: isolatedEnv(), timeout: 300_000 });
  writeFileSync(ready, `${release}\n`);
  return python;
}

/** Runs the original `procvision-cli` of `release` in `cwd`, isolated from this machine's pip configuration. */
export async function originalCli(release: OriginalRelease, args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const python = await originalVenv(release);
  return run(path.join(path.dirname(python), "procvision-cli"), [...args], { cwd, env: isolatedEnv(), timeout: 300_000 });
}

/** G1 (0.0.x): get_info, pre_execute, execute over shared memory; the step is index 0 as the original `init` wrote it. */
function g1Project(name: string, version: string, pids: readonly string[]): Record<string, string> {
  const steps = [{ index: 0, name: "check", params: [{ key: "threshold", type: "float", default: 0.5, min: 0.0, max: 1.0 }] }];
  return {
    "manifest.json": JSON.stringify({ name, version, entry_point: "orig_algo.main:OrigAlgorithm", description: "made by the original init", supported_pids: pids, steps }, null, 2),
    "orig_algo/__init__.py": "",
    "orig_algo/main.py": `from typing import Any, Dict

from procvision_algorithm_sdk import BaseAlgorithm, Session, read_image_from_shared_memory


class OrigAlgorithm(BaseAlgorithm):
    def get_info(self) -> Dict[str, Any]:
        return {"name": ${JSON.stringify(name)}, "version": ${JSON.stringify(version)}, "supported_pids": ${JSON.stringify(pids)},
                "steps": ${JSON.stringify(steps).replaceAll("true", "True").replaceAll("false", "False")}}

    def pre_execute(self, step_index: int, pid: str, session: Session, user_params: Dict[str, Any], shared_mem_id: str, image_meta: Dict[str, Any]) -> Dict[str, Any]:
        return {"status": "OK", "message": "ready", "data": {"calibration_rects": []}}

    def execute(self, step_index: int, pid: str, session: Session, user_params: Dict[str, Any], shared_mem_id: str, image_meta: Dict[str, Any]) -> Dict[str, Any]:
        image = read_image_from_shared_memory(shared_mem_id, image_meta)
        height, width = int(image.shape[0]), int(image.shape[1])
        return {"status": "OK", "data": {"result_status": "OK", "defect_rects": [], "debug": {"width": width, "height": height, "pid": pid}}}
`,
  };
}

/** G3 (0.3.x): only execute with both images decoded; the minimal manifest. */
function g3Project(name: string, version: string): Record<string, string> {
  return {
    "manifest.json": JSON.stringify({ name, version, entry_point: "orig_algo.main:OrigAlgorithm" }, null, 2),
    "orig_algo/__init__.py": "",
    "orig_algo/main.py": `from procvision_algorithm_sdk import BaseAlgorithm


class OrigAlgorithm(BaseAlgorithm):
    def execute(self, step_index, step_desc, cur_image, guide_image, guide_info):
        height, width = int(cur_image.shape[0]), int(cur_image.shape[1])
        return {"status": "OK", "data": {"result_status": "OK", "defect_rects": [],
                "debug": {"width": width, "height": height, "guide": guide_image is not None, "step_desc": step_desc}}}
`,
  };
}

export interface OriginalZipOptions {
  name: string;
  version?: string;
  /** G1 only. */
  pids?: string[];
  /** requirements.txt of the project; default numpy and the original SDK pinned. */
  requirements?: string;
  /** `.procvision_env.json` of the project (the original packer copies it unchanged). */
  envFile?: Record<string, unknown>;
  /** Flags after `package <project>`; default a cp311 manylinux_2_17 target. */
  flags?: string[];
  /** Wheels from .cache/wheels (file names) put into the project's wheels/ and packed with `-s` (no pip download). */
  wheels?: string[];
}

/**
 * A zip made by the original `procvision-cli package` of `release` from a small project of its generation, its
 * `pip download` served by a PEP 503 index on 127.0.0.1 over .cache/wheels (offline). Returns the zip's path.
 */
export async function originalZip(release: OriginalRelease, workDir: string, o: OriginalZipOptions): Promise<string> {
  const python = await originalVenv(release);
  const version = o.version ?? "1.0.0";
  const project = path.join(workDir, `${o.name}-${release}`);
  rmSync(project, { recursive: true, force: true });
  const files = release.startsWith("0.0.") ? g1Project(o.name, version, o.pids ?? ["A01"]) : g3Project(o.name, version);
  files["requirements.txt"] = o.requirements ?? `numpy==2.2.6\nprocvision_algorithm_sdk==${release}\n`;
  if (o.envFile !== undefined) files[".procvision_env.json"] = JSON.stringify(o.envFile, null, 2);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
    writeFileSync(path.join(project, rel), text);
  }
  for (const wheel of o.wheels ?? []) {
    mkdirSync(path.join(project, "wheels"), { recursive: true });
    copyFileSync(path.join(WHEELS, wheel), path.join(project, "wheels", wheel));
  }
  const zip = path.join(workDir, `${o.name}-${release}-offline.zip`);
  rmSync(zip, { force: true });
  const flags = [...(o.flags ?? ["-w", NUMPY_PLATFORM, "-p", "3.11", "-i", "cp", "-b", "cp311"]), ...(o.wheels ? ["-s"] : [])];
  // 0.0.7 embeds a Python runtime unless told not to.
  const embed = release === "0.0.7" ? ["--no-embed-python"] : [];
  const index = await serveIndex([WHEELS]);
  try {
    const cli = path.join(path.dirname(python), "procvision-cli");
    await run(cli, ["package", project, "-o", zip, ...flags, ...embed], {
      cwd: workDir, env: isolatedEnv({ PIP_INDEX_URL: index.url }), timeout: 300_000,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`original procvision-cli ${release} package failed: ${err.stdout ?? ""}${err.stderr ?? err.message}`);
    });
  } finally {
    await index.close();
  }
  return zip;
}

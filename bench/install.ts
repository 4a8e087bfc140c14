// Install of an offline package holding numpy + pillow + opencv-python-headless (issue 4), end to end through the
// library (Runner.open → runner.install: open, integrity, compatibility, extract, venv, wheels, smoke check (which
// writes the bytecode of what a worker imports), archive → state `installed`, ready to activate), against the original approach measured in the same run:
// `python3 -m venv` with pip, then `pip install --no-index --find-links wheels -r requirements.txt`.
// A third pass calls the pipeline's own step functions one by one to say where the time goes.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { digestFile } from "../src/offline-package/index.js";
import { localTarget } from "../src/python/local-target.js";
import { resolveInterpreter } from "../src/python/interpreter.js";
import { Runner } from "../src/runner/runner.js";
import { acceptPackage } from "../src/offline-package/acceptance/acceptance.js";
import { packageWorkerLaunch } from "../src/store/layout.js";
import { BytecodeCompiler } from "../src/store/install/bytecode.js";
import { createPackageVenv, directorySize, extractPackage, storedWheels } from "../src/store/install/deploy.js";
import { chooseInstaller, findUv, installWheels } from "../src/wheel-installer/index.js";
import { smokeCheck } from "../src/store/install/smoke.js";
import { settle } from "./page-cache.js";
import { cachedWheel, numpyWheel, packageZip, sdkPin, sdkWheel } from "./zip.js";
import { cachedUv } from "../test/helpers/wheel-set.js";
import { fmt, stats, verdict, type Stats } from "./stats.js";

export const PILLOW = "13.0.0";
export const OPENCV = "4.12.0.88";

export interface InstallBench {
  wheels: string[];
  wheel_bytes: number;
  zip_bytes: number;
  installed_bytes: number;
  installer: string;
  runs: number;
  /** Runner.open on a fresh root (store layout, SQLite, recovery). */
  open_ms: Stats;
  /** runner.install(zip) until it resolves with state installed. */
  install_ms: Stats;
  /** open + install, per run. */
  total_ms: Stats;
  /** python3 -m venv (with pip) + pip install --no-index --find-links. */
  baseline_ms: Stats;
  baseline_venv_ms: Stats;
  baseline_pip_ms: Stats;
  /** From the install's return until the background bytecode compile of the rest of the venv is done. */
  bytecode_ms: Stats;
  /** The library with installer "pip" (pip --no-compile from the extracted wheels), the way before the builtin installer. */
  pip_ms: number;
  /** One pass through the pipeline's step functions, in its order (ms). */
  phases: Record<string, number>;
  /** The same library install with installer "uv", when a uv binary is at hand: cold cache, then warm. */
  uv: { version: string; cold_ms: number; warm_ms: number };
}

/** Library installs with `uv` put on PATH; HOME points at a fresh directory so the first one has a cold uv cache. */
async function uvInstalls(uv: string, zip: string, work: string, inputs: readonly string[]): Promise<InstallBench["uv"]> {
  const saved = { PATH: process.env.PATH, HOME: process.env.HOME };
  const home = path.join(work, "uv-home");
  mkdirSync(home, { recursive: true });
  process.env.PATH = `${path.dirname(uv)}${path.delimiter}${saved.PATH ?? ""}`;
  process.env.HOME = home;
  try {
    const times: number[] = [];
    for (const label of ["cold", "warm"]) {
      const storeRoot = path.join(work, `uv-root-${label}`);
      settle(inputs);
      const t0 = performance.now();
      const runner = await Runner.open({ root: storeRoot, log: () => undefined, config: { log_level: "warn", installer: "uv" } });
      const result = await runner.install(zip);
      times.push(performance.now() - t0);
      await runner.close();
      if (result.state !== "installed") throw new Error(`uv install ended ${result.state}`);
    }
    const version = execFileSync(uv, ["--version"]).toString().trim();
    return { version, cold_ms: times[0]!, warm_ms: times[1]! };
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.HOME === undefined) delete process.env.HOME;
    else process.env.HOME = saved.HOME;
  }
}

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const out = fn();
  return [out, performance.now() - t0];
}

async function timedAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, performance.now() - t0];
}

/** The environment of the baseline: this machine's pip configuration left out, like the runner does, so both read the same wheels. */
function baselineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PIP_")) env[k] = v;
  return { ...env, PIP_CONFIG_FILE: "/dev/null", PIP_DISABLE_PIP_VERSION_CHECK: "1" };
}

export async function benchInstall(root: string, quick: boolean): Promise<InstallBench> {
  const wheels = [
    sdkWheel(),
    numpyWheel(root),
    cachedWheel(root, `pillow-${PILLOW}-cp311-cp311-manylinux`, `pillow==${PILLOW}`),
    cachedWheel(root, `opencv_python_headless-${OPENCV}-`, `opencv-python-headless==${OPENCV}`),
  ];
  const requirements = `numpy==2.2.6\n${sdkPin()}\npillow==${PILLOW}\nopencv-python-headless==${OPENCV}\n`;
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-install-"));
  const runs = quick ? 1 : 3;
  try {
    const project = path.join(work, "project");
    cpSync(path.join(root, "examples", "algorithm-example"), project, { recursive: true });
    writeFileSync(path.join(project, "requirements.txt"), requirements);
    const zip = await packageZip({ projectDir: project, wheels, requirements, outPath: path.join(work, "vision-offline.zip") });
    const inputs = [zip, ...wheels];
    const { executable: python } = await resolveInterpreter("python3");
    const installer = chooseInstaller("auto", findUv()).kind;

    // The library, end to end. Each run on a fresh root (the interpreter probe is cached after the first run).
    const open: number[] = [];
    const install: number[] = [];
    const bytecode: number[] = [];
    let installedBytes = 0;
    for (let i = 0; i < runs; i++) {
      const storeRoot = path.join(work, `root-${i}`);
      const notes: string[] = [];
      settle(inputs);
      const t0 = performance.now();
      const runner = await Runner.open({ root: storeRoot, log: (l) => notes.push(l), config: { log_level: "warn" } });
      const t1 = performance.now();
      const result = await runner.install(zip);
      const t2 = performance.now();
      await runner.bytecodeSettled();
      bytecode.push(performance.now() - t2);
      await runner.close();
      if (result.state !== "installed") throw new Error(`bench install ended ${result.state}: ${JSON.stringify(result.validation.checks)}`);
      open.push(t1 - t0);
      install.push(t2 - t1);
      installedBytes = result.size_bytes;
    }

    // The library with pip as its installer: what the builtin installer replaced.
    const pipRoot = path.join(work, "root-pip");
    settle(inputs);
    const [pipResult, pipMs] = await timedAsync(async () => {
      const runner = await Runner.open({ root: pipRoot, log: () => undefined, config: { log_level: "warn", installer: "pip" } });
      try {
        return await runner.install(zip);
      } finally {
        await runner.close();
      }
    });
    if (pipResult.state !== "installed") throw new Error(`bench install with pip ended ${pipResult.state}`);

    // The original approach: a venv with pip, then pip from the extracted wheels (the extraction is not counted).
    const extracted = path.join(work, "extracted");
    mkdirSync(path.join(extracted, "wheels"), { recursive: true });
    for (const w of wheels) copyFileSync(w, path.join(extracted, "wheels", path.basename(w)));
    writeFileSync(path.join(extracted, "requirements.txt"), requirements);
    const env = baselineEnv();
    const venvTimes: number[] = [];
    const pipTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      const venv = path.join(extracted, `venv-${i}`);
      settle(wheels.map((w) => path.join(extracted, "wheels", path.basename(w))));
      const [, venvMs] = timed(() => execFileSync(python, ["-m", "venv", venv], { env, stdio: "ignore" }));
      const [, pipMs] = timed(() => execFileSync(path.join(venv, "bin", "python"), ["-m", "pip", "install", "-q", "--no-index", "--find-links",
        path.join(extracted, "wheels"), "-r", path.join(extracted, "requirements.txt")], { env, stdio: "ignore" }));
      venvTimes.push(venvMs);
      pipTimes.push(pipMs);
    }

    // Where the time goes: the pipeline's steps, called in its order.
    const phases: Record<string, number> = {};
    const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const [out, ms] = await timedAsync(fn);
      phases[name] = ms;
      return out;
    };
    const dir = path.join(work, "phases", "pkg");
    mkdirSync(path.dirname(dir), { recursive: true });
    settle(inputs);
    const target = await phase("interpreter probe (cached per process)", async () => localTarget((await resolveInterpreter("python3")).executable));
    const accepted = await phase("acceptance (open, manifest, SHA256SUMS, wheel METADATA, compatibility)", () => acceptPackage(zip, {
      integrity: { trustedKeys: [], requireSignature: false }, target: async () => ({ interpreter: target, path: python }),
    }));
    const { zip: opened, metadata } = accepted;
    const plan = accepted.acceptance.plan;
    if (opened === undefined || plan === undefined) throw new Error(`the bench package is refused: ${accepted.acceptance.problems.map((p) => p.error.message).join("; ")}`);
    try {
      await phase("zip digest (registry row)", () => digestFile(zip));
      const wheelPaths = wheels.map((w) => `wheels/${path.basename(w)}`);
      const inPlace = await storedWheels(opened, wheelPaths);
      const packageWheels = await phase("extract (sources; stored wheels stay in the zip)", () => extractPackage(opened, dir, inPlace));
      const venvPython = await phase("venv --without-pip", () => createPackageVenv(python, dir));
      await phase(`wheels (${installer} installer)`, () => installWheels(chooseInstaller("auto", findUv()),
        { requirements: plan.requirements, wheels: packageWheels, metadata, target }, { venvPython, basePython: python }));
      const report = await phase("smoke checks (adapter worker, example steps; writes the bytecode it imports)", () => smokeCheck(packageWorkerLaunch(dir)));
      if (report.summary.status !== "PASS") throw new Error("smoke checks failed in the phase pass");
      await phase("archive zip copy", async () => copyFileSync(zip, path.join(work, "phases", "archived.zip")));
      await phase("size of the installed tree", () => directorySize(dir));
      const compiler = new BytecodeCompiler();
      compiler.start(dir, venvPython);
      const [, compileMs] = await timedAsync(() => compiler.settled());
      phases["(after ready, in the background) compileall of the rest"] = compileMs;
    } finally {
      opened.close();
    }

    // uv from .cache/uv, else taken out of uv's PyPI wheel (cached like the other wheels).
    const uv = await uvInstalls(cachedUv(root), zip, work, inputs);

    const total = open.map((o, i) => o + (install[i] ?? 0));
    return {
      wheels: wheels.map((w) => path.basename(w)),
      wheel_bytes: wheels.reduce((s, w) => s + statSync(w).size, 0),
      zip_bytes: statSync(zip).size,
      installed_bytes: installedBytes,
      installer,
      runs,
      open_ms: stats(open),
      install_ms: stats(install),
      total_ms: stats(total),
      bytecode_ms: stats(bytecode),
      pip_ms: pipMs,
      baseline_ms: stats(venvTimes.map((v, i) => v + (pipTimes[i] ?? 0))),
      baseline_venv_ms: stats(venvTimes),
      baseline_pip_ms: stats(pipTimes),
      phases,
      uv,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function installLines(r: InstallBench): string[] {
  const s = (ms: number) => fmt(ms / 1000, 2);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
  const ratio = r.baseline_ms.p50 / r.total_ms.p50;
  const background = (name: string) => name.startsWith("(after ready");
  const phaseTotal = Object.entries(r.phases).filter(([name]) => !background(name)).reduce((a, [, b]) => a + b, 0);
  const ranked = Object.entries(r.phases).sort((a, b) => b[1] - a[1]);
  return [
    `## Install of numpy + pillow + opencv-python-headless (${mb(r.wheel_bytes)} of wheels → ${mb(r.installed_bytes)} installed, warm page cache)`,
    "",
    `Median of ${r.runs} run(s), each on a fresh store root. Wheels: ${r.wheels.map((w) => `\`${w.split("-").slice(0, 2).join(" ")}\``).join(", ")}; installer: ${r.installer}.`,
    "",
    "| | seconds | vs library |",
    "|---|---|---|",
    `| \`Runner.open\` + \`runner.install(zip)\` → installed, ready to activate (whole pipeline incl. smoke check) | ${s(r.total_ms.p50)} | 1.00× |`,
    `| … of which \`Runner.open\` (fresh root) | ${s(r.open_ms.p50)} | |`,
    `| then, in the background at low priority: bytecode of the rest of the venv (the smoke check already wrote what a worker imports) | +${s(r.bytecode_ms.p50)} | |`,
    `| the library with \`installer: "pip"\` (pip --no-compile from the extracted wheels; the way before the builtin installer) | ${s(r.pip_ms)} | ${fmt(r.pip_ms / r.total_ms.p50)}× |`,
    `| \`python3 -m venv\` with pip + \`pip install --no-index --find-links\` (baseline: the original way; no unzip, no checks) | ${s(r.baseline_ms.p50)} | ${fmt(ratio)}× |`,
    `| … of which \`python3 -m venv\` (ensurepip) | ${s(r.baseline_venv_ms.p50)} | |`,
    `| … of which \`pip install\` | ${s(r.baseline_pip_ms.p50)} | |`,
    `| the library with \`installer: "uv"\` (\`${r.uv.version}\`), cold uv cache / warm cache (same wheels installed before) | ${s(r.uv.cold_ms)} / ${s(r.uv.warm_ms)} | ${fmt(r.uv.cold_ms / r.total_ms.p50)}× / ${fmt(r.uv.warm_ms / r.total_ms.p50)}× |`,
    "",
    `Target ≤ 2 s: ${verdict(r.total_ms.p50 <= 2000)} (${s(r.total_ms.p50)} s, ${fmt(r.total_ms.p50 / 2000)}× the target). Ratio baseline / library: ${fmt(ratio)}×.`,
    "",
    `Where the time goes (one pass through the pipeline's step functions, total ${s(phaseTotal)} s):`,
    "",
    "| step | ms | share |",
    "|---|---|---|",
    ...ranked.map(([name, ms]) => `| ${name} | ${fmt(ms, 0)} | ${background(name) ? "not in the total" : `${fmt((100 * ms) / phaseTotal, 0)}%`} |`),
    "",
  ];
}

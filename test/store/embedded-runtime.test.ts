// An embedded Python runtime (contract §5a, package --embed-python --python-runtime DIR): packaged as python_runtime/,
// installed and run on it by a real runner. The runtime is a trimmed copy of pyenv's CPython 3.12 (the station's own
// python3 is 3.11), made to behave as on a station without the original build: its binary's RUNPATH (the absolute path
// it was built at) is overwritten with a dead one, so it starts only when LD_LIBRARY_PATH names its own lib/.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isProcVisionError, type ProcVisionError } from "../../src/errors/index.js";
import { runtimeEnv, runtimeInterpreter } from "../../src/python/runtime.js";
import { writeDeterministicZip, type ZipEntry } from "../../src/zip/write.js";
import { Runner } from "../../src/runner/runner.js";
import { openPackageZip } from "../../src/offline-package/index.js";
import { runCli } from "../helpers/cli.js";
import { serveIndex } from "../helpers/index-server.js";
import { repoRoot } from "../helpers/python.js";

const ORIGINAL = "/root/.pyenv/versions/3.12.1";
const work = mkdtempSync(path.join(tmpdir(), "pv-embedded-"));
const runtime = path.join(work, "cpython-3.12");
let index: { url: string; close: () => Promise<void> };

/** Left out of the copy to keep the test small (the runtime works without them): the test suite, IDLE, Tk, ensurepip,
 * lib2to3, the static libpython and build files, bytecode caches, and site-packages (pip and this machine's .pth). */
const LEFT_OUT = new Set(["test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "config-3.12-x86_64-linux-gnu", "__pycache__", "site-packages", "include", "share"]);

function copyRuntime(): void {
  cpSync(ORIGINAL, runtime, { recursive: true, verbatimSymlinks: true, filter: (src) => !LEFT_OUT.has(path.basename(src)) });
  mkdirSync(path.join(runtime, "lib", "python3.12", "site-packages"));
  // The station has no /root/.pyenv: a dead RUNPATH of the same length leaves LD_LIBRARY_PATH as the only way in.
  const binary = path.join(runtime, "bin", "python3.12");
  const bytes = readFileSync(binary);
  const built = Buffer.from(`${ORIGINAL}/lib`);
  const at = bytes.indexOf(built);
  expect(at).toBeGreaterThan(0);
  Buffer.from("/nonexistent/".padEnd(built.length, "x")).copy(bytes, at);
  writeFileSync(binary, bytes);
}

const PROBE_ALGO = String.raw`
import sys
import numpy
from procvision_algorithm_sdk import BaseAlgorithm


def libpython():
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "libpython" in line:
                return line.split()[-1]
    return None


class RuntimeProbe(BaseAlgorithm):
    def get_info(self):
        return {"name": "runtime-probe", "version": "1.0", "supported_pids": ["R01"],
                "steps": [{"index": 1, "name": "probe", "params": []}]}

    def pre_execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):
        return {"status": "OK", "message": "ready"}

    def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):
        return {"status": "OK", "message": "probed", "data": {"result_status": "OK"},
                "debug": {"python": list(sys.version_info[:2]), "prefix": sys.prefix, "base_prefix": sys.base_prefix,
                          "libpython": libpython(), "numpy": numpy.__version__}}
`;

function project(name: string): string {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, "runtime_probe"), { recursive: true });
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({
    name: "runtime-probe", version: "1.0", entry_point: "runtime_probe.main:RuntimeProbe", supported_pids: ["R01"],
    steps: [{ index: 1, name: "probe", params: [] }],
  }, null, 2));
  writeFileSync(path.join(dir, "runtime_probe", "__init__.py"), "");
  writeFileSync(path.join(dir, "runtime_probe", "main.py"), PROBE_ALGO);
  writeFileSync(path.join(dir, "requirements.txt"), "numpy==2.2.6\n");
  return dir;
}

const indexArgs = (): string[] => ["--isolated", "--index-url", index.url];

interface Packaged {
  path: string;
  target: { python_version: string; abi: string };
  target_sources: Record<string, string>;
  python_runtime: { python_version: string; files: number; links_copied: number } | null;
}

async function zipEntries(zip: string): Promise<Map<string, { executable: boolean }>> {
  const opened = await openPackageZip(zip);
  try {
    return new Map([...opened.entries].map(([p, e]) => [p, { executable: e.executable }]));
  } finally {
    opened.close();
  }
}

beforeAll(async () => {
  copyRuntime();
  // numpy 2.2.6 cp311 and cp312 manylinux wheels, cached once in .cache/wheels.
  index = await serveIndex([path.join(repoRoot, ".cache", "wheels")]);
}, 120_000);
afterAll(async () => {
  await index?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("the copied runtime behaves as on a station without the original build", () => {
  it("does not start without LD_LIBRARY_PATH; with runtimeEnv it runs from its new place", () => {
    const python = runtimeInterpreter(runtime)!;
    expect(python).toBe(path.join(runtime, "bin", "python3")); // the link, as copied
    const bare = spawnSync(python, ["-B", "-c", "print(1)"], { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8" });
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toMatch(/libpython3\.12/);
    const run = spawnSync(python, ["-B", "-c", "import sys; print(sys.prefix)"], { env: { PATH: process.env.PATH ?? "", ...runtimeEnv(runtime, {}) }, encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe(runtime);
  });

  it("runtimeEnv keeps the host's LD_LIBRARY_PATH after the runtime's lib/", () => {
    expect(runtimeEnv(runtime, { LD_LIBRARY_PATH: "/opt/cuda/lib64" })).toEqual({ LD_LIBRARY_PATH: `${runtime}/lib:/opt/cuda/lib64` });
  });
});

describe("package --embed-python, then a runner installs and runs the package on that runtime", () => {
  let packaged: Packaged;

  it("packages the runtime as python_runtime/ with cp312 wheels probed from it", async () => {
    const dir = project("probe-ok");
    // A runtime that has run has bytecode caches: never packed (contract §1).
    mkdirSync(path.join(runtime, "lib", "python3.12", "__pycache__"), { recursive: true });
    writeFileSync(path.join(runtime, "lib", "python3.12", "__pycache__", "os.cpython-312.pyc"), "stale");
    const out = await runCli(["package", dir, "--embed-python", "--python-runtime", runtime, ...indexArgs(), "--json"], { timeoutMs: 300_000 });
    expect(out.code, out.stderr + out.stdout).toBe(0);
    packaged = out.json as Packaged;
    expect(packaged.target).toMatchObject({ python_version: "3.12", abi: "cp312" });
    expect(packaged.target_sources).toMatchObject({ python_version: "runtime", abi: "runtime", wheels_platform: "runtime" });
    expect(packaged.python_runtime).toMatchObject({ python_version: "3.12" });
    const entries = await zipEntries(packaged.path);
    expect(entries.get("python_runtime/bin/python3.12")?.executable).toBe(true);
    // Links inside the runtime are stored as copies of their target (a zip entry can never be a link).
    expect(entries.get("python_runtime/bin/python3")?.executable).toBe(true);
    expect(entries.has("python_runtime/lib/libpython3.12.so.1.0")).toBe(true);
    expect(entries.has("python_runtime/lib/python3.12/os.py")).toBe(true);
    expect([...entries.keys()].filter((p) => p.includes("__pycache__") || p.endsWith(".pyc"))).toEqual([]);
    expect([...entries.keys()].some((p) => /^wheels\/numpy-2\.2\.6-cp312-cp312-manylinux.*\.whl$/.test(p))).toBe(true);
    const opened = await openPackageZip(packaged.path);
    try {
      const sums = await opened.readText("SHA256SUMS");
      expect(sums).toMatch(/ {2}python_runtime\/bin\/python3\.12\n/);
      expect(JSON.parse(await opened.readText("deploy_bootstrap.json"))).toMatchObject({ has_embedded_python: true, python_version: "3.12", abi: "cp312" });
    } finally {
      opened.close();
    }
    // validate --zip --full installs it as a station does: on the embedded runtime.
    const checked = await runCli(["validate", "--zip", packaged.path, "--full", "--json"], { timeoutMs: 300_000 });
    const report = checked.json as { summary: { status: string }; checks: { name: string; result: string; message: string }[] };
    expect(report.summary.status, checked.stdout).toBe("PASS");
    expect(report.checks.find((c) => c.name === "zip_install")?.message).toMatch(/embedded runtime/);
    expect(report.checks.find((c) => c.name === "zip_smoke")?.result).toBe("PASS");
    // Deterministic like every other entry: the same inputs give the same bytes.
    const again = await runCli(["package", dir, "--embed-python", "--python-runtime", runtime, "--skip-download", ...indexArgs(), "-o", path.join(work, "again.zip"), "--json"], { timeoutMs: 300_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(path.join(work, "again.zip")).equals(readFileSync(packaged.path))).toBe(true);
  }, 600_000);

  it("installs on the runtime (venv in place, executable bits kept) and the worker runs Python 3.12 from the deployed runtime", async () => {
    const root = path.join(work, "station");
    const runner = await Runner.open({ root, log: () => undefined });
    try {
      const result = await runner.install(packaged.path);
      expect(result.state, JSON.stringify(result.validation)).toBe("installed");
      const deployedRuntime = path.join(result.dir, "python_runtime");
      expect(statSync(path.join(deployedRuntime, "bin", "python3.12")).mode & 0o111).toBe(0o111);
      expect(readFileSync(path.join(result.dir, "venv", "pyvenv.cfg"), "utf8")).toContain(`home = ${path.join(deployedRuntime, "bin")}`);
      expect(readdirSync(path.join(root, "staging"))).toEqual([]);

      await runner.activate("runtime-probe", "1.0", ["R01"]);
      const answer = await runner.inspect({ pid: "R01", step_index: 1, image: { data: Buffer.alloc(8 * 8 * 3), width: 8, height: 8 } });
      expect(answer.execute?.status, JSON.stringify(answer.execute)).toBe("OK");
      expect(answer.execute?.debug).toMatchObject({
        python: [3, 12], numpy: "2.2.6",
        prefix: path.join(result.dir, "venv"), base_prefix: deployedRuntime,
        libpython: path.join(deployedRuntime, "lib", "libpython3.12.so.1.0"),
      });
    } finally {
      await runner.close();
    }
  }, 600_000);

  it("--embed-python alone takes the project's python_runtime/; without it that directory is left out, with a warning", async () => {
    const dir = project("probe-in-project");
    symlinkSync(runtime, path.join(dir, "python_runtime"));
    const embedded = await runCli(["package", dir, "--embed-python", "-o", path.join(work, "in-project.zip"), ...indexArgs(), "--json"], { timeoutMs: 300_000 });
    expect(embedded.code, embedded.stderr + embedded.stdout).toBe(0);
    expect((embedded.json as Packaged).target).toMatchObject({ python_version: "3.12", abi: "cp312" });
    expect((await zipEntries(path.join(work, "in-project.zip"))).has("python_runtime/bin/python3.12")).toBe(true);

    const plain = project("plain-with-runtime-dir");
    mkdirSync(path.join(plain, "python_runtime", "bin"), { recursive: true });
    writeFileSync(path.join(plain, "python_runtime", "bin", "python3"), "");
    const out = await runCli(["package", plain, "-o", path.join(work, "plain.zip"), ...indexArgs(), "--json"], { timeoutMs: 300_000 });
    expect(out.code, out.stderr + out.stdout).toBe(0);
    expect((out.json as { warnings: string[] }).warnings.join(" ")).toMatch(/left out python_runtime\/: pass --embed-python/);
    expect([...(await zipEntries(path.join(work, "plain.zip"))).keys()].some((p) => p.startsWith("python_runtime"))).toBe(false);
  }, 600_000);

  it("the original tool's layout (everything in one top-level folder, wheels/ at the root, no SHA256SUMS) installs on its runtime too", async () => {
    const opened = await openPackageZip(packaged.path);
    const entries: ZipEntry[] = [];
    try {
      for (const e of opened.entries.values()) {
        if (e.isDirectory || e.path === "SHA256SUMS") continue;
        const data = await opened.readBuffer(e.path, 64 * 1024 * 1024);
        entries.push(e.path.startsWith("wheels/") ? { path: e.path, data, store: true } : { path: `runtime-probe/${e.path}`, data, executable: e.executable });
      }
    } finally {
      opened.close();
    }
    const zip = path.join(work, "original-layout.zip");
    await writeDeterministicZip(zip, entries);
    const runner = await Runner.open({ root: path.join(work, "station-original"), log: () => undefined });
    try {
      const result = await runner.install(zip);
      expect(result.state, JSON.stringify(result.validation)).toBe("installed");
      expect(existsSync(path.join(result.dir, "python_runtime", "bin", "python3.12"))).toBe(true);
      await runner.activate("runtime-probe", "1.0", ["R01"]);
      const answer = await runner.inspect({ pid: "R01", step_index: 1, image: { data: Buffer.alloc(8 * 8 * 3), width: 8, height: 8 } });
      expect(answer.execute?.debug).toMatchObject({ python: [3, 12], base_prefix: path.join(result.dir, "python_runtime") });
    } finally {
      await runner.close();
    }
  }, 600_000);

  it("a runtime that does not start on this station (another platform, a broken copy) → 2003; nothing left behind", async () => {
    const opened = await openPackageZip(packaged.path);
    const entries: ZipEntry[] = [];
    try {
      for (const e of opened.entries.values()) {
        if (e.isDirectory || e.path === "SHA256SUMS" || e.path.startsWith("python_runtime/")) continue;
        entries.push({ path: e.path, data: await opened.readBuffer(e.path, 64 * 1024 * 1024), store: e.path.endsWith(".whl") });
      }
    } finally {
      opened.close();
    }
    entries.push({ path: "python_runtime/bin/python3", data: Buffer.from("#!/bin/sh\necho 'cannot execute binary file: Exec format error' >&2\nexit 126\n"), executable: true });
    const zip = path.join(work, "broken-runtime.zip");
    await writeDeterministicZip(zip, entries);
    const root = path.join(work, "station-broken");
    const runner = await Runner.open({ root, log: () => undefined });
    try {
      const err = await runner.install(zip).then(() => undefined, (e: unknown) => e);
      expect((err as ProcVisionError).code).toBe("2003");
      expect((err as ProcVisionError).message).toMatch(/the interpreter of the package's embedded runtime python_runtime\/ \(bin\/python3\) does not start here: .*Exec format error/);
      expect(await runner.list()).toEqual([]);
      expect(readdirSync(path.join(root, "staging"))).toEqual([]);
      expect(existsSync(path.join(root, "deployed", "runtime-probe"))).toBe(false);
    } finally {
      await runner.close();
    }
  }, 120_000);

  it("a runtime whose tags do not match the wheels (3.12 runtime, cp311 wheels) → 2003 naming both; nothing left behind", async () => {
    const dir = project("probe-mismatch");
    const out = await runCli(["package", dir, "--embed-python", "--python-runtime", runtime, "--runtime-python-version", "3.11",
      "-o", path.join(work, "mismatch.zip"), ...indexArgs(), "--json"], { timeoutMs: 300_000 });
    expect(out.code, out.stderr + out.stdout).toBe(0);
    expect((out.json as Packaged).target).toMatchObject({ python_version: "3.11", abi: "cp311" });

    const root = path.join(work, "station-mismatch");
    const runner = await Runner.open({ root, log: () => undefined });
    try {
      const err = await runner.install(path.join(work, "mismatch.zip")).then(() => undefined, (e: unknown) => e);
      expect(isProcVisionError(err)).toBe(true);
      const e = err as ProcVisionError;
      expect(e.code).toBe("2003");
      expect(e.message).toMatch(/numpy-2\.2\.6-cp311-cp311-/);
      expect(e.message).toMatch(/installs on the package's embedded runtime/);
      expect(e.message).toMatch(/python_runtime\/bin\/python3 \(Python 3\.12 cp\/cp312/);
      expect(e.hint).toMatch(/--embed-python --python-runtime DIR and no --runtime-python-version/);
      expect(await runner.list()).toEqual([]);
      expect(existsSync(path.join(root, "deployed", "runtime-probe"))).toBe(false);
      expect(readdirSync(path.join(root, "staging"))).toEqual([]);
    } finally {
      await runner.close();
    }
  }, 600_000);
});

describe("a crash while a runtime is staged", () => {
  it("leaves staging/ behind; the next start empties it", async () => {
    const root = path.join(work, "station-crashed");
    const leftover = path.join(root, "staging", "runtime-x1", "python_runtime", "bin");
    mkdirSync(leftover, { recursive: true });
    writeFileSync(path.join(leftover, "python3.12"), "");
    const runner = await Runner.open({ root, log: () => undefined });
    await runner.close();
    expect(existsSync(path.join(root, "staging"))).toBe(false);
  });
});

describe("package --embed-python usage errors (exit 2 with a hint)", () => {
  it.each([
    ["no runtime directory", ["--embed-python"], /--embed-python needs --python-runtime DIR \(or PROC_PYTHON_RUNTIME, or python_runtime\/ in the project\)/],
    ["a missing directory", ["--embed-python", "--python-runtime", "/nonexistent/runtime"], /is not a directory/],
    ["a directory without an interpreter", ["--embed-python", "--python-runtime", "EMPTY"], /holds no Python interpreter/],
    ["a venv (links outside itself)", ["--embed-python", "--python-runtime", "VENV"], /outside the runtime/],
    ["-p contradicting the runtime", ["--embed-python", "--python-runtime", "RUNTIME", "-p", "3.11"], /--python-version 3\.11 contradict the embedded runtime \(Python 3\.12/],
  ])("%s", async (_title, flags, message) => {
    const dir = project(`usage-${_title.replace(/\W+/g, "-")}`);
    const empty = path.join(work, "empty-runtime");
    mkdirSync(empty, { recursive: true });
    const venv = path.join(work, "a-venv");
    if (!existsSync(venv)) {
      mkdirSync(path.join(venv, "bin"), { recursive: true });
      symlinkSync(ORIGINAL + "/bin/python3.12", path.join(venv, "bin", "python3"));
    }
    const args = flags.map((f) => ({ EMPTY: empty, VENV: venv, RUNTIME: runtime })[f] ?? f);
    const out = await runCli(["package", dir, ...args, "--skip-download"], { timeoutMs: 120_000 });
    expect(out.code, out.stdout + out.stderr).toBe(2);
    expect(out.stderr).toMatch(message);
    expect(out.stderr).toMatch(/CPython installation|--runtime-python-version|self-contained|pyvenv|station's platform/);
  }, 120_000);
});

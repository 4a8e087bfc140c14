// Bytecode after an install: the smoke check writes what a worker imports, the rest compiles in the background at
// low priority; uninstall and runner stop end that compile first (no process left writing into a removed tree).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/index.js";
import { exampleZip } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-bytecode-"));
let zip: string;

beforeAll(async () => {
  zip = await exampleZip(work, { version: "1.0" });
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Live processes whose command line mentions `text` (the compileall of a package names its directory). */
function processesMentioning(text: string): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      return cmdline.includes(text) && state !== "Z" ? [Number(pid)] : [];
    } catch {
      return []; // exited while we looked
    }
  });
}

const pyc = (dir: string, module: string): boolean => {
  const cache = path.join(dir, "venv", "lib", "python3.11", "site-packages", ...module.split("/").slice(0, -1), "__pycache__");
  const stem = module.split("/").pop()!;
  return existsSync(cache) && readdirSync(cache).some((f) => f.startsWith(`${stem}.cpython-`));
};

describe("bytecode of an installed package", () => {
  it("what the worker imports is compiled when install returns; the rest once the background compile settles", async () => {
    const runner = await Runner.open({ root: path.join(work, "root-settle"), log: () => undefined });
    try {
      const result = await runner.install(zip);
      expect(result.state).toBe("installed");
      // Imported by the smoke check: numpy's own package and the example's module.
      expect(pyc(result.dir, "numpy/__init__")).toBe(true);
      expect(readdirSync(path.join(result.dir, "algorithm_example", "__pycache__")).some((f) => f.startsWith("main.cpython-"))).toBe(true);
      await runner.bytecodeSettled();
      // Never imported by the example: numpy.f2py.
      expect(pyc(result.dir, "numpy/f2py/__init__")).toBe(true);
      expect(processesMentioning(result.dir)).toEqual([]);
    } finally {
      await runner.close();
    }
  }, 180_000);

  it("an uninstall right after the install stops the compile and removes the whole tree", async () => {
    const runner = await Runner.open({ root: path.join(work, "root-uninstall"), log: () => undefined });
    try {
      const result = await runner.install(zip);
      expect(processesMentioning(result.dir).length).toBeGreaterThan(0); // the compile runs (it takes ~1 s)
      await runner.uninstall(result.name, result.version);
      expect(existsSync(result.dir)).toBe(false);
      expect(processesMentioning(result.dir)).toEqual([]);
      // And the same version installs again cleanly.
      expect((await runner.install(zip)).state).toBe("installed");
    } finally {
      await runner.close();
    }
  }, 180_000);

  it("closing the runner stops a running compile (no process outlives it)", async () => {
    const runner = await Runner.open({ root: path.join(work, "root-close"), log: () => undefined });
    const result = await runner.install(zip);
    expect(processesMentioning(result.dir).length).toBeGreaterThan(0);
    await runner.close();
    expect(processesMentioning(result.dir)).toEqual([]);
  }, 180_000);

  it("installer \"pip\" still installs the package the same way (bytecode included)", async () => {
    const runner = await Runner.open({ root: path.join(work, "root-pip"), log: () => undefined, config: { installer: "pip" } });
    try {
      const result = await runner.install(zip);
      expect(result.state).toBe("installed");
      await runner.bytecodeSettled();
      expect(pyc(result.dir, "numpy/f2py/__init__")).toBe(true);
      const site = path.join(result.dir, "venv", "lib", "python3.11", "site-packages");
      const installer = readdirSync(site).filter((d) => d.startsWith("numpy-") && d.endsWith(".dist-info")).map((d) => readFileSync(path.join(site, d, "INSTALLER"), "utf8"));
      expect(installer).toEqual(["pip\n"]);
      const out = execFileSync(path.join(result.dir, "venv", "bin", "python"), ["-c", "import numpy; print(numpy.__version__)"], { encoding: "utf8" });
      expect(out.trim()).toBe("2.2.6");
    } finally {
      await runner.close();
    }
  }, 180_000);
});

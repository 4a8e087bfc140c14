// validate and run spawn the algorithm's adapter before loading their own modules (src/local/head-start.ts); the
// harness must take that very process over (one process, one import of the algorithm), and a command that fails
// before its harness starts must not leave it behind.
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discardHeadStart, headStart } from "../../src/local/head-start.js";
import { LocalHarness } from "../../src/local/run-local.js";
import { projectPython } from "../../src/python/project-python.js";
import { runCli } from "../helpers/cli.js";
import { repoRoot, testPython } from "../helpers/python.js";

let project: string;
let pids: string;

/** The pids of the processes that imported the algorithm, in order. */
const imports = (): number[] => (existsSync(pids) ? readFileSync(pids, "utf8").trim().split("\n").filter(Boolean).map(Number) : []);
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(() => {
  project = mkdtempSync(path.join(tmpdir(), "pv-head-start-"));
  pids = path.join(project, "imports.txt");
  mkdirSync(path.join(project, "head_algo"));
  writeFileSync(path.join(project, "manifest.json"), JSON.stringify({ name: "head-algo", version: "1.0.0", entry_point: "head_algo.main:HeadAlgo" }));
  writeFileSync(path.join(project, "head_algo", "__init__.py"), "");
  writeFileSync(path.join(project, "head_algo", "main.py"), [
    "import os",
    "from procvision_algorithm_sdk import BaseAlgorithm",
    `with open(${JSON.stringify(pids)}, "a") as f:`,
    "    f.write(f'{os.getpid()}\\n')",
    "",
    "class HeadAlgo(BaseAlgorithm):",
    "    def execute(self, step_index, step_desc, cur_image, guide_image, guide_info):",
    "        return {'status': 'OK', 'data': {'result_status': 'OK'}}",
    "",
  ].join("\n"));
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

async function importedOnce(): Promise<number> {
  await expect.poll(imports, { timeout: 60_000, interval: 20 }).toHaveLength(1);
  return imports()[0]!;
}

async function harnessFor(entryPoint: string): Promise<LocalHarness> {
  const python = await projectPython(project, path.relative(process.cwd(), testPython()));
  return LocalHarness.start({ projectDir: project, entryPoint, python: python.interpreter.executable, command: python.command, pythonPath: python.pythonPath });
}

describe("head start of the adapter", () => {
  it("the harness takes over the process the command spawned: one process, one import", async () => {
    rmSync(pids, { force: true });
    // A relative --python, as an author types it: both sides must name the same interpreter.
    headStart({ projectDir: project, python: path.relative(process.cwd(), testPython()) });
    const early = await importedOnce();
    const harness = await harnessFor("head_algo.main:HeadAlgo");
    try {
      expect(harness.worker.pid).toBe(early);
      expect(imports()).toEqual([early]);
    } finally {
      await harness.close();
    }
  });

  it("another launch is not taken over: the early process ends and the harness starts its own", async () => {
    rmSync(pids, { force: true });
    writeFileSync(path.join(project, "head_algo", "other.py"), "from head_algo.main import HeadAlgo as Other\n");
    headStart({ projectDir: project, python: testPython() });
    const early = await importedOnce();
    const harness = await harnessFor("head_algo.other:Other");
    try {
      expect(harness.worker.pid).not.toBe(early);
      await expect.poll(() => alive(early), { timeout: 30_000, interval: 20 }).toBe(false);
    } finally {
      await harness.close();
      discardHeadStart();
    }
  });

  it("a run that fails after the head start (guide image missing) exits 2 and leaves no algorithm process", async () => {
    rmSync(pids, { force: true });
    const image = path.join(repoRoot, "examples", "algorithm-example", "sample.png");
    const out = await runCli(["run", project, "--python", testPython(), "--cur-image", image, "--guide-image", path.join(project, "missing.png")]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("missing.png");
    for (const pid of imports()) await expect.poll(() => alive(pid), { timeout: 30_000, interval: 20 }).toBe(false);
  });

  it("validate and run import the algorithm once per command", async () => {
    const image = path.join(repoRoot, "examples", "algorithm-example", "sample.png");
    rmSync(pids, { force: true });
    expect((await runCli(["validate", project, "--python", testPython()])).code).toBe(0);
    expect(imports()).toHaveLength(1);
    rmSync(pids, { force: true });
    expect((await runCli(["run", project, "--python", testPython(), "--image", image])).code).toBe(0);
    expect(imports()).toHaveLength(1);
  });
});

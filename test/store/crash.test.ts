// Crash consistency (contract §7): a runner SIGKILLed at any phase of an install, or of a removal, restarts with the
// package either absent or complete, and its recovery says which. The child stops at an injected pause point, so
// each phase is hit exactly, not by timing luck.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/index.js";
import { integrityCheck } from "../../src/store/db.js";
import { INSTALL_PHASES, type InstallPhase } from "../../src/store/install/pause.js";
import { exampleZip } from "../helpers/store.js";
import { fixture, repoRoot } from "../helpers/python.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-store-crash-"));
let zip: string;
beforeAll(async () => {
  zip = await exampleZip(work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the child until it prints `paused <phase>`, then SIGKILLs it. */
function killAt(phase: InstallPhase, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture("store-child.ts"), ...args], {
      cwd: repoRoot, env: { ...process.env, PROCVISION_TEST_PAUSE: phase }, stdio: ["ignore", "pipe", "pipe"],
    });
    const output: string[] = [];
    let paused = false;
    createInterface({ input: child.stdout }).on("line", (line) => {
      output.push(line);
      if (line === `paused ${phase}`) {
        paused = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (d: Buffer) => output.push(d.toString()));
    child.on("exit", (code, signal) => {
      if (paused && signal === "SIGKILL") resolve();
      else reject(new Error(`child ended (${code ?? signal}) without pausing at ${phase}:\n${output.join("\n")}`));
    });
  });
}

async function reopen(root: string): Promise<{ runner: Runner; logged: string[] }> {
  const logged: string[] = [];
  const runner = await Runner.open({ root, log: (line) => logged.push(line) });
  expect(integrityCheck(runner.repository.db)).toBe("ok");
  expect(existsSync(path.join(root, "install.lock"))).toBe(false); // the dead child's lock was taken over
  return { runner, logged };
}

const installPhases = INSTALL_PHASES.filter((p) => p !== "removing" && p !== "finished");
let completeRoot = "";

describe("a runner killed during an install", () => {
  it.each(installPhases)("at %s restarts with the package absent and says so", async (phase) => {
    const root = path.join(work, `root-${phase}`);
    await killAt(phase, ["install", root, zip]);
    const { runner, logged } = await reopen(root);
    try {
      expect(runner.recovery.removed).toEqual([{ name: "algorithm-example", version: "1.0", kind: "installing", message: "removed half-done install of algorithm-example 1.0" }]);
      expect(logged).toEqual(["removed half-done install of algorithm-example 1.0"]);
      expect(await runner.list()).toEqual([]);
      expect(readdirSync(path.join(root, "deployed"))).toEqual([]);
      expect(readdirSync(path.join(root, "zips"))).toEqual([]);
      expect((await runner.audit({ action: "recover" }))[0]).toMatchObject({ target: "algorithm-example 1.0", outcome: "ok" });
    } finally {
      await runner.close();
    }
  }, 120_000);

  it("after the final commit restarts with the package complete", async () => {
    completeRoot = path.join(work, "root-finished");
    await killAt("finished", ["install", completeRoot, zip]);
    const { runner, logged } = await reopen(completeRoot);
    try {
      expect(runner.recovery.removed).toEqual([]);
      expect(logged).toEqual([]);
      const [pkg] = await runner.list();
      expect(pkg).toMatchObject({ name: "algorithm-example", version: "1.0", state: "installed", validation: { summary: { status: "PASS" } } });
      const out = execFileSync(path.join(pkg!.dir, "venv", "bin", "python"), ["-c", "import algorithm_example.main, numpy; print('ok')"], { cwd: pkg!.dir, encoding: "utf8" });
      expect(out.trim()).toBe("ok");
      expect(existsSync(pkg!.zip_path!)).toBe(true);
    } finally {
      await runner.close();
    }
  }, 120_000);

  it("during a removal restarts with the removal finished", async () => {
    await killAt("removing", ["uninstall", completeRoot, "algorithm-example", "1.0"]);
    const { runner } = await reopen(completeRoot);
    try {
      expect(runner.recovery.removed).toEqual([{ name: "algorithm-example", version: "1.0", kind: "removing", message: "finished interrupted removal of algorithm-example 1.0" }]);
      expect(await runner.list()).toEqual([]);
      expect(readdirSync(path.join(completeRoot, "deployed"))).toEqual([]);
      expect(readdirSync(path.join(completeRoot, "zips"))).toEqual([]);
    } finally {
      await runner.close();
    }
  }, 60_000);

  it("removes directories under deployed/ that no registry row claims", async () => {
    const root = path.join(work, "root-orphan");
    await (await Runner.open({ root, log: () => undefined })).close();
    const orphan = path.join(root, "deployed", "ghost", "0.1", "venv");
    execFileSync("mkdir", ["-p", orphan]);
    const { runner } = await reopen(root);
    try {
      expect(runner.recovery.removed).toEqual([{ name: "ghost", version: "0.1", kind: "orphan", message: "removed deployed/ghost/0.1: no registry row claims it" }]);
      expect(readdirSync(path.join(root, "deployed"))).toEqual([]);
    } finally {
      await runner.close();
    }
  });
});

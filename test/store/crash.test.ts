// Crash consistency (contract §7): a runner SIGKILLed at any phase of an install, or of a removal, restarts with the
// package either absent or complete, and its recovery says which. The child stops at an injected pause point, so
// each phase is hit exactly, not by timing luck.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/index.js";
import { integrityCheck } from "../../src/store/db.js";
import { INSTALL_PHASES, type BindingPhase, type InstallPhase } from "../../src/store/install/pause.js";
import { exampleZip } from "../helpers/store.js";
import { fixture, repoRoot } from "../helpers/python.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-store-crash-"));
let zip: string;
beforeAll(async () => {
  zip = await exampleZip(work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the child until it prints `paused <phase>`, then SIGKILLs it. */
function killAt(phase: InstallPhase | BindingPhase, args: string[]): Promise<void> {
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
      // Other test files kill runners too: a sweep of their segments may be logged beside the recovery.
      expect(logged.filter((l) => !l.includes("shared-memory segment"))).toEqual(["removed half-done install of algorithm-example 1.0"]);
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
      expect(logged.filter((l) => !l.includes("shared-memory segment"))).toEqual([]);
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

  it("removes directories under deployed/ that no registry row claims, and uploads a killed runner was installing", async () => {
    const root = path.join(work, "root-orphan");
    await (await Runner.open({ root, log: () => undefined })).close();
    const orphan = path.join(root, "deployed", "ghost", "0.1", "venv");
    execFileSync("mkdir", ["-p", orphan, path.join(root, "zips", ".uploads")]);
    writeFileSync(path.join(root, "zips", ".uploads", "upload-1-abcd.zip"), "half an upload");
    const { runner } = await reopen(root);
    try {
      expect(runner.recovery.removed).toEqual([{ name: "ghost", version: "0.1", kind: "orphan", message: "removed deployed/ghost/0.1: no registry row claims it" }]);
      expect(readdirSync(path.join(root, "deployed"))).toEqual([]);
      expect(existsSync(path.join(root, "zips", ".uploads"))).toBe(false);
    } finally {
      await runner.close();
    }
  });

  it("leaves the store alone while a live runner holds the install lock: waits a moment, then skips and says so", async () => {
    const root = path.join(work, "root-held");
    await (await Runner.open({ root, log: () => undefined })).close();
    const orphan = path.join(root, "deployed", "busy", "0.1");
    execFileSync("mkdir", ["-p", orphan]);
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      writeFileSync(path.join(root, "install.lock"), `${holder.pid}\n`);
      const logged: string[] = [];
      const runner = await Runner.open({ root, log: (line) => logged.push(line) });
      try {
        expect(runner.recovery).toEqual({ removed: [], skipped: `recovery skipped: runner process ${holder.pid} holds the install lock` });
        expect(logged).toContain(runner.recovery.skipped);
        expect(existsSync(orphan)).toBe(true);
      } finally {
        await runner.close();
      }
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

/** Processes whose working directory is inside `dir`: workers of a runner that died must not outlive it. */
function processesIn(dir: string): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      return readlinkSync(`/proc/${d}/cwd`).startsWith(dir);
    } catch {
      return false;
    }
  }).map(Number);
}

describe("a runner killed during a binding change", () => {
  let root = "";
  beforeAll(async () => {
    root = path.join(work, "root-bindings");
    const runner = await Runner.open({ root, log: () => undefined });
    try {
      await runner.install(zip);
      await runner.install(await exampleZip(work, { version: "1.1" }));
    } finally {
      await runner.close();
    }
  }, 120_000);

  async function state(): Promise<{ bindings: string[]; audited: string[]; history: number }> {
    const { runner } = await reopen(root);
    try {
      return {
        bindings: (await runner.active()).map((b) => `${b.pid}=${b.version}`),
        audited: (await runner.audit()).filter((a) => a.action === "activate" || a.action === "switch").map((a) => `${a.action}:${a.outcome}`),
        history: (await runner.history()).length,
      };
    } finally {
      await runner.close();
    }
  }

  it("before the rebind: nothing bound, nothing audited, no worker left running", async () => {
    await killAt("binding-started", ["activate", root, "algorithm-example", "1.0", "p001,p002"]);
    expect(await state()).toEqual({ bindings: [], audited: [], history: 0 });
    await expect.poll(() => processesIn(path.join(root, "deployed")), { timeout: 10_000 }).toEqual([]);
  }, 60_000);

  it("after the rebind: bound, audited and in the history together", async () => {
    await killAt("bound", ["activate", root, "algorithm-example", "1.0", "p001,p002"]);
    expect(await state()).toEqual({ bindings: ["p001=1.0", "p002=1.0"], audited: ["activate:ok"], history: 2 });
  }, 60_000);

  it("a switch killed before the rebind keeps the old version; after it, the new one with its audit", async () => {
    await killAt("binding-started", ["switch", root, "algorithm-example", "1.1", "p001"]);
    expect((await state()).bindings).toEqual(["p001=1.0", "p002=1.0"]);
    await killAt("bound", ["switch", root, "algorithm-example", "1.1", "p001"]);
    expect(await state()).toEqual({ bindings: ["p001=1.1", "p002=1.0"], audited: ["switch:ok", "activate:ok"], history: 3 });
    await expect.poll(() => processesIn(path.join(root, "deployed")), { timeout: 10_000 }).toEqual([]);
  }, 60_000);
});

// The README's first command: `npm start` packages the example, serves it and activates it. This runs the same
// script (after the build npm test already did) on a scratch root and a free port.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./helpers/python.js";

describe("npm start", () => {
  it("serves the example, installed and active for p001/p002, with the console at /", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "pv-start-"));
    const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "start.ts")], {
      cwd: repoRoot, env: { ...process.env, PROCVISION_ROOT: root, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await expect.poll(() => out, { timeout: 120_000, interval: 200 }).toMatch(/console: +http:\/\/127\.0\.0\.1:\d+\//);
      expect(out).toMatch(/algorithm-example 1\.0 is active for p001, p002/);
      const url = /console: +(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)![1]!;
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<title>ProcVision runner<\/title>/);
      const active = (await (await fetch(`${url}/algorithms/active`)).json()) as { pid: string; version: string }[];
      expect(active.map((b) => `${b.pid}=${b.version}`).sort()).toEqual(["p001=1.0", "p002=1.0"]);
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("close", r));
      rmSync(root, { recursive: true, force: true });
    }
  }, 180_000);
});

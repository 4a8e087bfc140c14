import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/runner/runner.js";
import { settledNewZips } from "../../src/runner/zip-watcher.js";
import { noopHost } from "../../src/store/host.js";
import { exampleZip } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-watch-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("settledNewZips", () => {
  const f = (name: string, size = 10, mtimeMs = 1) => ({ name, size, mtimeMs });
  const none = new Map<string, number>();
  it("takes zips unchanged for the quiet time and not handled; a file that changes starts its time over", () => {
    const first = settledNewZips(none, [f("a.zip"), f("b.zip", 5)], new Set(), 1000, 5000);
    expect(first.ready).toEqual([]);
    // 4 s later: not yet. 5 s later: a.zip is ready, b.zip grew at 4 s and waits 5 s from then.
    const grown = settledNewZips(first.firstSeen, [f("a.zip"), f("b.zip", 9)], new Set(), 5000, 5000);
    expect(grown.ready).toEqual([]);
    expect(settledNewZips(grown.firstSeen, [f("a.zip"), f("b.zip", 9)], new Set(), 6000, 5000).ready).toEqual([f("a.zip")]);
    expect(settledNewZips(grown.firstSeen, [f("a.zip"), f("b.zip", 9)], new Set(), 10_000, 5000).ready).toEqual([f("a.zip"), f("b.zip", 9)]);
  });
  it("skips handled files, hidden files and non-zips, but looks again at a rewritten file", () => {
    const handled = new Set([`a.zip\u000010\u00001`]);
    const scan = [f("a.zip"), f(".partial.zip"), f("notes.txt")];
    const seen = settledNewZips(none, scan, handled, 0, 10).firstSeen;
    expect(settledNewZips(seen, scan, handled, 100, 10).ready).toEqual([]);
    const rewritten = settledNewZips(none, [f("a.zip", 11, 2)], handled, 0, 10).firstSeen;
    expect(settledNewZips(rewritten, [f("a.zip", 11, 2)], handled, 100, 10).ready).toEqual([f("a.zip", 11, 2)]);
  });
});

describe("watch_zips", () => {
  it("installs a zip dropped into zips/ once, audits it as watch:zips, and ignores archived copies and bad zips", async () => {
    const root = path.join(work, "root");
    const runner = await Runner.open({ root, host: noopHost, config: { watch_zips: true }, log: () => undefined });
    try {
      const zip = await exampleZip(work, { version: "3.0" });
      writeFileSync(path.join(root, "zips", "broken.zip"), "not a zip");
      copyFileSync(zip, path.join(root, "zips", "dropped.zip"));
      await expect.poll(async () => (await runner.list()).map((p) => `${p.version}:${p.state}`), { timeout: 60_000, interval: 250 }).toEqual(["3.0:installed"]);
      const audit = await runner.audit({ action: "install" });
      await expect.poll(async () => (await runner.audit({ action: "install" })).length, { timeout: 10_000 }).toBe(2);
      expect(audit.find((a) => a.outcome === "ok")?.operator).toBe("watch:zips");
      expect((await runner.audit({ action: "install" })).some((a) => a.outcome === "failed" && a.error_code === "2001")).toBe(true);
      // Refused for what it is: renamed out of the watch (not retried at every start), kept for the operator.
      await expect.poll(() => readdirSync(path.join(root, "zips")).includes("broken.zip.rejected"), { timeout: 10_000 }).toBe(true);
      // Another build of the installed version (2005 without force) is refused for good too.
      const rebuilt = await exampleZip(work, { version: "3.0", mutate: (dir) => writeFileSync(path.join(dir, "notes.txt"), "rebuilt") });
      copyFileSync(rebuilt, path.join(root, "zips", "rebuilt.zip"));
      await expect.poll(() => readdirSync(path.join(root, "zips")).includes("rebuilt.zip.rejected"), { timeout: 60_000 }).toBe(true);
      expect((await runner.audit({ action: "install" })).some((a) => a.outcome === "failed" && a.error_code === "2005")).toBe(true);
    } finally {
      await runner.close();
    }
    // The archived copy (algorithm-example-v3.0-offline.zip) has the installed zip's hash: never installed twice.
    const lines: string[] = [];
    const again = await Runner.open({ root, host: noopHost, config: { watch_zips: true }, log: (line) => lines.push(line) });
    try {
      // Waits for the watcher's decision on the archived copy itself, not for a guess at how long scans take.
      await expect.poll(() => lines, { timeout: 60_000 }).toContain("zips/: algorithm-example-v3.0-offline.zip is already installed (same sha256): skipped");
      expect((await again.audit({ action: "install" })).filter((a) => a.outcome === "ok")).toHaveLength(1);
      // Uninstalled, the version's dropped zip goes with its archive: the next start does not install it again.
      await again.uninstall("algorithm-example", "3.0");
      expect(readdirSync(path.join(root, "zips")).filter((f) => f.endsWith(".zip"))).toEqual([]);
    } finally {
      await again.close();
    }
  }, 120_000);
});

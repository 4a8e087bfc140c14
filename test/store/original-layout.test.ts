// Zips made by the original ProcVision tool (contract §7 Install step 1): the sources under one top-level folder,
// wheels/ at the root or inside that folder, no SHA256SUMS and no .procvision_env.json. They install as if the
// folder were the root, with a warning about the missing checksums, and run.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeDeterministicZip, type ZipEntry } from "../../src/zip/write.js";
import { Runner } from "../../src/runner/runner.js";
import { EXAMPLE, realWheels } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-original-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The example's files (no caches), as zip entries under `prefix`. */
function exampleEntries(prefix: string): ZipEntry[] {
  const out: ZipEntry[] = [];
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir)) {
      if (name === "__pycache__" || name === "tools") continue;
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full, `${rel}${name}/`);
      else out.push({ path: `${prefix}${rel}${name}`, data: readFileSync(full) });
    }
  };
  walk(EXAMPLE, "");
  return out;
}

function wheelEntries(prefix: string, store: boolean): ZipEntry[] {
  return Object.values(realWheels()).map((w) => ({ path: `${prefix}wheels/${path.basename(w)}`, data: readFileSync(w), store }));
}

describe("zips of the original ProcVision tool", () => {
  it.each([
    ["wheels/ at the zip root", "algorithm-example/", "", true],
    ["wheels/ inside the top-level folder", "algorithm-example/", "algorithm-example/", true],
    // Python's zipfile deflates everything: such wheels cannot be read in place and are extracted first.
    ["deflated wheels", "algorithm-example/", "", false],
  ])("install with %s, warn about the missing SHA256SUMS, and inspect", async (title, sources, wheels, store) => {
    const label = title.replace(/\W+/g, "-");
    const zip = path.join(work, `${label}.zip`);
    await writeDeterministicZip(zip, [...exampleEntries(sources), ...wheelEntries(wheels, store)]);
    const runner = await Runner.open({ root: path.join(work, `root-${label}`), log: () => undefined });
    try {
      const result = await runner.install(zip);
      expect(result).toMatchObject({ name: "algorithm-example", version: "1.0", state: "installed", signed: "unsigned" });
      expect(result.warnings.join(" ")).toMatch(/SHA256SUMS/);
      await runner.activate("algorithm-example", "1.0", ["p001"]);
      const answer = await runner.inspect({ pid: "p001", step_index: 1, image: { path: path.join(EXAMPLE, "sample.png") } });
      expect(answer.pre_execute?.status).toBe("OK");
      expect(answer.execute?.status).toBe("OK");
    } finally {
      await runner.close();
    }
  }, 120_000);
});

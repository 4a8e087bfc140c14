import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { fixture, repoRoot } from "../helpers/python.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-cli-usage-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const sample = path.join(repoRoot, "examples", "algorithm-example", "sample.png");

describe("usage errors with --json (contract §6: every error carries a code)", () => {
  const noManifest = path.join(work, "no-manifest");
  mkdirSync(noManifest, { recursive: true });
  const cases: [string, string[], string][] = [
    ["init without its name (a parse error)", ["init", "--json"], "1006"],
    ["an unknown option", ["package", work, "--bogus", "--json"], "1006"],
    ["init with a bad name", ["init", "../evil", "--json"], "1006"],
    ["run on a missing project", ["run", path.join(work, "nothere"), "--json"], "1006"],
    ["run on a folder without manifest.json", ["run", noManifest, "--pid", "A", "--image", "x.png", "--json"], "2002"],
    ["package of a folder without manifest.json", ["package", noManifest, "--json"], "2002"],
    ["validate --zip of a missing zip", ["validate", "--zip", path.join(work, "missing.zip"), "--json"], "2001"],
    ["run with --params that are not JSON", ["run", fixture("cli-algo"), "--image", sample, "--params", "{oops", "--json"], "1006"],
  ];
  it.each(cases)("%s", async (_label, args, code) => {
    const run = await runCli(args, { cwd: work });
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.json, run.stdout).toMatchObject({ error_code: code, message: expect.stringMatching(/\S/) as unknown });
  });

  it("keygen refusing to overwrite carries 1006", async () => {
    const prefix = path.join(work, "key");
    writeFileSync(`${prefix}.key`, "x");
    const run = await runCli(["keygen", "-o", prefix, "--json"]);
    expect(run.code).toBe(2);
    expect(run.json).toMatchObject({ error_code: "1006", hint: expect.stringMatching(/--force/) as unknown });
  });
});

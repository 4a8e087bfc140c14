import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeDeterministicZip } from "../../src/zip/write.js";
import { openPackageZip } from "../../src/offline-package/index.js";
import { failedChecks, runCli, type Report } from "../helpers/cli.js";
import { serveIndex } from "../helpers/index-server.js";
import { fixture, repoRoot } from "../helpers/python.js";
import { fakeWheel } from "../helpers/wheels.js";
import { SDK_VERSION } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-cli-package-"));
const fakes = path.join(work, "fake-wheels");
let index: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  mkdirSync(fakes);
  for (const tag of ["cp310-cp310-win_amd64", "cp310-cp310-manylinux_2_17_x86_64", "cp311-cp311-manylinux_2_17_x86_64"]) {
    await fakeWheel(fakes, { name: "fakepkg", version: "1.0", tag });
  }
  await fakeWheel(fakes, { name: "m28pkg", version: "1.0", tag: "py3-none-manylinux_2_28_x86_64" });
  await fakeWheel(fakes, { name: "loose", version: "1.4.2", tag: "py3-none-any" });
  // The real numpy wheel the example pins, cached once by scripts/test-python.ts.
  index = await serveIndex([path.join(repoRoot, ".cache", "wheels"), fakes]);
});
afterAll(async () => {
  await index.close();
  rmSync(work, { recursive: true, force: true });
});

const isolated = () => ["--isolated", "--index-url", index.url];
// Every test runs pip (and some a throw-away venv with numpy) in real subprocesses: on a loaded 2-core machine one
// took over 30 s. Sized so that a CLI run is cut by runCli's own 120 s limit before the test's.
const SLOW = { timeout: 300_000 };

/** The cli-algo fixture (no numpy needed) with the given requirements. */
function project(requirements: string | null): string {
  const dir = mkdtempSync(path.join(work, "proj-"));
  cpSync(fixture("cli-algo"), dir, { recursive: true });
  if (requirements === null) rmSync(path.join(dir, "requirements.txt"));
  else writeFileSync(path.join(dir, "requirements.txt"), requirements);
  return dir;
}

interface Packaged {
  path: string;
  size: number;
  wheel_count: number;
  signed: boolean;
  target: { wheels_platform: string[]; abi: string; python_version: string };
  requirements: string[];
  pinned: string[];
  dropped: { line: string; reason: string }[];
}

async function zipNames(zip: string): Promise<string[]> {
  const opened = await openPackageZip(zip);
  try {
    return [...opened.entries.keys()].sort();
  } finally {
    opened.close();
  }
}

describe("procvision-cli package", SLOW, () => {
  it("a generated project: init → package → validate --zip --full passes; packaging twice gives the same bytes", async () => {
    expect((await runCli(["init", "gen-algo", "--pids", "P1"], { cwd: work })).code).toBe(0);
    const dir = path.join(work, "gen-algo");
    const first = await runCli(["package", dir, ...isolated(), "--json"]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const out = first.json as Packaged;
    expect(out.path).toBe(path.join(dir, "gen-algo-v1.0.0-offline.zip"));
    expect(out.wheel_count).toBe(2);
    expect(out.requirements).toEqual([`procvision_algorithm_sdk==${SDK_VERSION}`, "numpy==2.2.6"]);
    const names = await zipNames(out.path);
    expect(names).toEqual(expect.arrayContaining(["manifest.json", "requirements.txt", ".procvision_env.json", "SHA256SUMS", "gen_algo/main.py",
      `wheels/procvision_algorithm_sdk-${SDK_VERSION}-py3-none-any.whl`]));
    expect(names.some((n) => /^wheels\/numpy-2\.2\.6-.*\.whl$/.test(n))).toBe(true);
    expect(names.some((n) => n.endsWith("-offline.zip"))).toBe(false);

    const checked = await runCli(["validate", "--zip", out.path, "--full", "--json"]);
    expect((checked.json as Report).summary, checked.stdout).toMatchObject({ status: "PASS", failed: 0 });
    expect((checked.json as Report).checks.map((c) => c.name)).toEqual(["zip_open", "zip_paths_safe", "zip_manifest", "zip_requirements",
      "zip_wheels", "requirements_pinned", "wheels_cover_requirements", "wheels_match_target", "checksums_valid", "zip_install", "zip_smoke"]);

    const bytes = readFileSync(out.path);
    const second = await runCli(["package", dir, ...isolated(), "--json"]);
    expect(second.code).toBe(0);
    expect(readFileSync(out.path).equals(bytes)).toBe(true);
    const epoch = await runCli(["package", dir, "-s", "-o", path.join(work, "epoch.zip")], { env: { SOURCE_DATE_EPOCH: "1700000000" } });
    expect(epoch.code).toBe(0);
    expect(readFileSync(path.join(work, "epoch.zip")).equals(bytes)).toBe(false);
  });

  it("the bundled example packages and passes validate --zip --full", async () => {
    const dir = path.join(work, "example");
    cpSync(path.join(repoRoot, "examples", "algorithm-example"), dir, { recursive: true, filter: (src) => !src.includes("__pycache__") });
    const out = path.join(work, "example.zip");
    const run = await runCli(["package", dir, "-o", out, ...isolated()]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/✓ .*example\.zip\n {2}[\d.]+ MB, 2 wheel\(s\), target /);
    const checked = await runCli(["validate", "--zip", out, "--full", "--json"]);
    expect((checked.json as Report).summary, checked.stdout).toMatchObject({ status: "PASS" });
  });

  it("cross-target: win_amd64 / cp310 from Linux takes only the matching wheel, and validate --zip agrees", async () => {
    // Markers are the target's, not this Linux machine's: the win32 line is packed, the linux one is not.
    const dir = project('fakepkg==1.0 ; sys_platform == "win32"\nloose==1.4.2 ; sys_platform == "linux"\n');
    const run = await runCli(["package", dir, "-w", "win_amd64", "-p", "3.10", "-b", "cp310", "-i", "cp", ...isolated(), "--json"]);
    expect(run.code, run.stdout).toBe(0);
    const out = run.json as Packaged;
    expect(out.target).toMatchObject({ wheels_platform: ["win_amd64"], abi: "cp310", python_version: "3.10" });
    expect(readdirSync(path.join(dir, "wheels")).sort()).toEqual([
      "fakepkg-1.0-cp310-cp310-win_amd64.whl", "numpy-2.2.6-cp310-cp310-win_amd64.whl", `procvision_algorithm_sdk-${SDK_VERSION}-py3-none-any.whl`,
    ]);
    const env = JSON.parse((await (async () => {
      const z = await openPackageZip(out.path);
      try { return await z.readText(".procvision_env.json"); } finally { z.close(); }
    })())) as Record<string, unknown>;
    expect(env).toMatchObject({ python_version: "3.10", abi: "cp310", wheels_platform: ["win_amd64"] });
    expect(out.requirements).toEqual(expect.arrayContaining(['fakepkg==1.0 ; sys_platform == "win32"', 'loose==1.4.2 ; sys_platform == "linux"']));
    const checked = await runCli(["validate", "--zip", out.path, "--json"]);
    expect((checked.json as Report).summary.status, checked.stdout).toBe("PASS");
  });

  it("the packaged .procvision_env.json carries no index credential and no local find_links path", async () => {
    const dir = project("fakepkg==1.0\n");
    const secretIndex = index.url.replace("://", "://builder:s3cr3t-t0ken@");
    const run = await runCli(["package", dir, "--isolated", "--index-url", secretIndex, "--find-links", fakes, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const zip = await openPackageZip((run.json as Packaged).path);
    let env: string, requirements: string;
    try {
      [env, requirements] = [await zip.readText(".procvision_env.json"), await zip.readText("requirements.txt")];
    } finally {
      zip.close();
    }
    for (const text of [env, requirements, run.stdout]) {
      expect(text).not.toContain("s3cr3t-t0ken");
      expect(text).not.toContain(fakes);
    }
    expect(JSON.parse(env)).toMatchObject({ index_url: index.url, extra_index_urls: [], find_links: [] });
  });

  it("a manylinux target finds manylinux_2_28-only wheels through the family, and says so when the target is too old", async () => {
    const dir = project("m28pkg==1.0\n");
    const newer = await runCli(["package", dir, "-w", "manylinux_2_31_x86_64", ...isolated(), "--json"]);
    expect(newer.code, newer.stderr).toBe(0);
    expect(readdirSync(path.join(dir, "wheels"))).toContain("m28pkg-1.0-py3-none-manylinux_2_28_x86_64.whl");

    const older = await runCli(["package", dir, "-w", "manylinux_2_17_x86_64", "-o", path.join(work, "old.zip"), ...isolated()]);
    expect(older.code).toBe(1);
    expect(older.stderr).toMatch(/No wheel of m28pkg==1\.0 for Python 3\.\d+ \(cp, ABI cp3\d+\) on manylinux_2_17_x86_64\..*What to do/s);
    expect(existsSync(path.join(work, "old.zip"))).toBe(false);
    // The failed download left the previous wheels/ as it was.
    expect(readdirSync(path.join(dir, "wheels"))).toContain("m28pkg-1.0-py3-none-manylinux_2_28_x86_64.whl");
  });

  it("an index that cannot be reached is said to be unreachable, not to lack the wheel", async () => {
    const dir = project("fakepkg==1.0\n");
    const run = await runCli(["package", dir, "--isolated", "--index-url", "http://builder:s3cr3t@127.0.0.1:1/simple", "--json"]);
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ error_code: "2004", message: expect.stringMatching(/^pip could not reach the package index: .*Connection refused.*looked in: http:\/\/127\.0\.0\.1:1\/simple/) });
    expect(JSON.stringify(run.json)).not.toContain("s3cr3t");
  });

  it("a requirement with no wheel for the target: exit 1, one paragraph, no zip", async () => {
    const dir = project("nowheel==1.0\n");
    // An index URL with a credential: the message (which ends up in CI logs) names the index without it.
    const run = await runCli(["package", dir, "--isolated", "--index-url", index.url.replace("://", "://builder:s3cr3t-t0ken@"), "--json"]);
    expect(run.code).toBe(1);
    const error = run.json as { message: string; error_code: string };
    expect(error.message).toMatch(/^No wheel of nowheel==1\.0 for Python .* The index has no wheel of it at all .*looked in: http:\/\/127\.0\.0\.1.*What to do: /);
    expect(error.message).not.toContain("s3cr3t-t0ken");
    expect(error.error_code).toBe("2004");
    expect(readdirSync(dir).some((f) => f.endsWith(".zip"))).toBe(false);
    expect(readdirSync(dir).some((f) => f.startsWith(".procvision-download-"))).toBe(false);
  });

  it("missing requirements.txt with --no-auto-freeze: exit 1 with a hint", async () => {
    const run = await runCli(["package", project(null), "--no-auto-freeze", ...isolated()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/requirements\.txt not found/);
    expect(run.stderr).toMatch(/hint: .*--auto-freeze/);
  });

  it("without requirements.txt it freezes by default (as the original packer), without editable, file: and local-path lines", async () => {
    const dir = project(null);
    // A Python whose pip freeze lists what a real development venv shows; everything else goes to the real python3.
    const fakePython = path.join(work, "freeze-python");
    writeFileSync(fakePython, [
      "#!/bin/sh",
      'if [ "$1 $2 $3" = "-m pip freeze" ]; then',
      "  printf '%s\\n' '-e git+https://example.invalid/x.git@abc#egg=x' 'mylib @ file:///home/me/mylib' './vendored/pkg' 'fakepkg==1.0' 'loose==1.4.2'",
      "  exit 0",
      "fi",
      'exec python3 "$@"',
    ].join("\n"));
    chmodSync(fakePython, 0o755);
    const run = await runCli(["package", dir, "--python", fakePython, ...isolated()]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(readFileSync(path.join(dir, "requirements.txt"), "utf8")).toBe("fakepkg==1.0\nloose==1.4.2\n");
    expect(run.stderr).toMatch(/requirements\.txt not found: writing it from pip freeze of .*freeze-python/);
    expect(run.stdout).toMatch(/wrote requirements\.txt from pip freeze \(2 line\(s\)\): fakepkg==1\.0, loose==1\.4\.2/);
    expect(run.stdout).toMatch(/dropped from requirements: mylib @ file:\/\/\/home\/me\/mylib/);

    rmSync(path.join(dir, "requirements.txt"));
    const json = await runCli(["package", dir, "-a", "--python", fakePython, ...isolated(), "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const out = json.json as Packaged & { frozen: string[] };
    expect(out.frozen).toEqual(["fakepkg==1.0", "loose==1.4.2"]);
    expect(out.dropped.map((d) => d.line)).toEqual(["-e git+https://example.invalid/x.git@abc#egg=x", "mylib @ file:///home/me/mylib", "./vendored/pkg"]);
    expect(out.requirements).toEqual(["fakepkg==1.0", "loose==1.4.2", `procvision_algorithm_sdk==${SDK_VERSION}`]);

    // auto_freeze false in the env file turns it off too; the flag wins over the file.
    rmSync(path.join(dir, "requirements.txt"));
    writeFileSync(path.join(dir, ".procvision_env.json"), JSON.stringify({ auto_freeze: false }));
    const off = await runCli(["package", dir, "--python", fakePython, ...isolated()]);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/hint: \.procvision_env\.json sets "auto_freeze": false; write requirements\.txt/);
    expect((await runCli(["package", dir, "--auto-freeze", "--python", fakePython, ...isolated()])).code).toBe(0);
  });

  it("accepts the original runtime flags (they do nothing without --embed-python); --embed-python needs a usable runtime (exit 2)", async () => {
    const dir = project("fakepkg==1.0\n");
    const off = await runCli(["package", dir, "--no-embed-python", "--runtime-python-version", "3.10", "--runtime-abi", "cp310", ...isolated()]);
    expect(off.code, off.stderr).toBe(0);
    const runtime = mkdtempSync(path.join(work, "runtime-"));
    const on = await runCli(["package", dir, "--embed-python", "--python-runtime", runtime, "--runtime-python-version", "3.10", "-o", path.join(work, "embed.zip"), ...isolated()]);
    expect(on.code).toBe(2);
    expect(on.stderr).toMatch(/holds no Python interpreter/);
    expect(existsSync(path.join(work, "embed.zip"))).toBe(false);
    const noDir = await runCli(["package", dir, "--embed-python", ...isolated()]);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/--embed-python needs --python-runtime DIR/);
    // The original tool also read the runtime's place from .procvision_env.json: so do we (relative to the project).
    writeFileSync(path.join(dir, ".procvision_env.json"), JSON.stringify({ python_runtime: "runtime/python" }));
    const fromEnv = await runCli(["package", dir, "--embed-python", ...isolated()]);
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain(`python runtime ${path.join(dir, "runtime", "python")} is not a directory`);
  });

  it("sanitizes requirements (hashes, options, comments) and pins unpinned ones to the downloaded wheel", async () => {
    // loose comes from a file the requirements include (-r), as pip reads it.
    const dir = project("# deps\n--index-url http://example.invalid/simple\nfakepkg==1.0 --hash=sha256:abc\n\n-r base.txt\n");
    writeFileSync(path.join(dir, "base.txt"), "loose>=1.0\n");
    const run = await runCli(["package", dir, ...isolated(), "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const out = run.json as Packaged;
    expect(out.requirements).toEqual(["fakepkg==1.0", "loose==1.4.2", `procvision_algorithm_sdk==${SDK_VERSION}`]);
    expect(out.pinned).toEqual(["loose>=1.0 → loose==1.4.2"]);
    expect(out.dropped.map((d) => d.line)).toEqual(["--index-url http://example.invalid/simple"]);
    // Written by PowerShell's `pip freeze > requirements.txt`: UTF-16 with a BOM, read as pip reads it.
    writeFileSync(path.join(dir, "requirements.txt"), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("fakepkg==1.0\r\nloose==1.4.2\r\n", "utf16le")]));
    const utf16 = await runCli(["package", dir, ...isolated(), "--json"]);
    expect(utf16.code, utf16.stderr).toBe(0);
    expect((utf16.json as Packaged).requirements).toEqual(["fakepkg==1.0", "loose==1.4.2", `procvision_algorithm_sdk==${SDK_VERSION}`]);
    // A typo is not a line to drop: the package would ship without that dependency.
    // A constraints file changes nothing when every line is pinned: dropped and said, as pip options are.
    writeFileSync(path.join(dir, "constraints.txt"), "fakepkg==1.0\n");
    writeFileSync(path.join(dir, "requirements.txt"), "-c constraints.txt\nfakepkg==1.0\n");
    const constrained = await runCli(["package", dir, ...isolated(), "--json"]);
    expect(constrained.code, constrained.stderr).toBe(0);
    expect((constrained.json as Packaged).dropped.map((d) => d.line)).toEqual(["-c constraints.txt"]);
    writeFileSync(path.join(dir, "requirements.txt"), "fakepkg==1.0\nsix 1.16.0\niniconfig=2.0.0\ngit+https://example.invalid/x.git\n");
    const typos = await runCli(["package", dir, ...isolated(), "--json"]);
    expect(typos.code).toBe(1);
    expect(typos.json).toMatchObject({
      error_code: "1006",
      message: expect.stringMatching(/not requirements a wheel can satisfy: line 2 "six 1\.16\.0" .*; line 3 "iniconfig=2\.0\.0" .*; line 4 "git\+https:\/\/example\.invalid\/x\.git"/),
    });
    writeFileSync(path.join(dir, "requirements.txt"), "-r nope.txt\n");
    const missing = await runCli(["package", dir, ...isolated(), "--json"]);
    expect(missing.code).toBe(1);
    expect(missing.json).toMatchObject({ error_code: "1006", message: expect.stringMatching(/^requirements\.txt line 1: -r nope\.txt: .*nope\.txt not found$/) });
  });

  it("honours the author's pip configuration unless --isolated; flags win over it", async () => {
    const dir = project("fakepkg==1.0\n");
    const viaConfig = await runCli(["package", dir, "--json"], { env: { PIP_INDEX_URL: index.url, PIP_FIND_LINKS: "" } });
    expect(viaConfig.code, viaConfig.stderr).toBe(0);
    const flagWins = await runCli(["package", dir, "--index-url", index.url, "--json"], { env: { PIP_INDEX_URL: "http://127.0.0.1:9/simple" } });
    expect(flagWins.code, flagWins.stderr).toBe(0);
  });

  it("--skip-download packs wheels/ as is and checks it covers the requirements", async () => {
    const dir = project("fakepkg==1.0\n");
    const none = await runCli(["package", dir, "-s"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/wheels not found/);
    mkdirSync(path.join(dir, "wheels"));
    cpSync(path.join(fakes, "fakepkg-1.0-cp310-cp310-win_amd64.whl"), path.join(dir, "wheels", "fakepkg-1.0-cp310-cp310-win_amd64.whl"));
    const wrong = await runCli(["package", dir, "-s"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/fakepkg==1\.0 only has wheels for other targets \(fakepkg-1\.0-cp310-cp310-win_amd64\.whl\)/);
  });

  it("refuses to pack a project whose .procvisionignore leaves out the entry point's module (2002)", async () => {
    const dir = project("loose==1.4.2\n");
    mkdirSync(path.join(dir, "wheels"));
    cpSync(path.join(fakes, "loose-1.4.2-py3-none-any.whl"), path.join(dir, "wheels", "loose-1.4.2-py3-none-any.whl"));
    const entry = (JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as { entry_point: string }).entry_point;
    const file = `${entry.split(":")[0]!.split(".").join("/")}.py`;
    writeFileSync(path.join(dir, ".procvisionignore"), `${file}\n`);
    const refused = await runCli(["package", dir, "-s", "--json"]);
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ error_code: "2002", message: `the entry point ${entry} is in ${file}, which the package would leave out` });
  });

  it("-p that is no Python version is a usage error (exit 2)", async () => {
    const bad = await runCli(["package", project("fakepkg==1.0\n"), "-p", "banana", "--json"]);
    expect(bad.code).toBe(2);
    expect(bad.json).toMatchObject({ error_code: "1006", message: '-p/--python-version must be a Python version like 3.10, got "banana"' });
  });

  it("refuses to leave a zip that a station would refuse (here a zip-bomb ratio), naming the rule; the previous build stays", async () => {
    const dir = project("loose==1.4.2\n");
    mkdirSync(path.join(dir, "wheels"));
    cpSync(path.join(fakes, "loose-1.4.2-py3-none-any.whl"), path.join(dir, "wheels", "loose-1.4.2-py3-none-any.whl"));
    const good = await runCli(["package", dir, "-s", "--json"]);
    expect(good.code).toBe(0);
    const zipPath = (good.json as { path: string }).path;
    const before = readFileSync(zipPath);
    mkdirSync(path.join(dir, "assets"));
    writeFileSync(path.join(dir, "assets", "mask.bin"), Buffer.alloc(20 * 1024 * 1024));
    const refused = await runCli(["package", dir, "-s", "--json"]);
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ error_code: "2001", message: expect.stringMatching(/^a station would refuse this package: .*assets\/mask\.bin.*zip bomb/) });
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(readFileSync(zipPath).equals(before)).toBe(true);
  });

  it("--sign writes SIGNATURE; validate --zip --key verifies it and rejects another key", async () => {
    // keygen and package -o create the folders they write into.
    const keys = path.join(work, "keys");
    expect((await runCli(["keygen", "-o", path.join(keys, "team")])).code).toBe(0);
    expect((await runCli(["keygen", "-o", path.join(keys, "other")])).code).toBe(0);
    expect((await runCli(["keygen", "-o", path.join(keys, "team")])).code).toBe(2);
    // Replaced with --force, a private key is 0600 again whatever mode the old file had.
    chmodSync(path.join(keys, "other.key"), 0o644);
    expect((await runCli(["keygen", "-o", path.join(keys, "other"), "--force"])).code).toBe(0);
    expect(statSync(path.join(keys, "other.key")).mode & 0o777).toBe(0o600);
    const dir = project("fakepkg==1.0\n");
    const run = await runCli(["package", dir, "--sign", path.join(keys, "team.key"), "-o", path.join(work, "release", "1", "signed.zip"), ...isolated(), "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const zip = (run.json as Packaged).path;
    expect(zip).toBe(path.join(work, "release", "1", "signed.zip"));
    expect((run.json as Packaged).signed).toBe(true);
    expect(await zipNames(zip)).toContain("SIGNATURE");
    const good = await runCli(["validate", "--zip", zip, "--key", path.join(keys, "team.pub"), "--json"]);
    expect((good.json as Report).checks.find((c) => c.name === "checksums_valid")?.message).toMatch(/SIGNATURE verified/);
    const bad = await runCli(["validate", "--zip", zip, "--key", path.join(keys, "other.pub"), "--json"]);
    expect(failedChecks(bad.json)).toEqual(["checksums_valid"]);
    expect(bad.code).toBe(1);
    // A SIGNATURE nobody checked is a warning, never a silent PASS.
    const unchecked = await runCli(["validate", "--zip", zip, "--json"]);
    const check = (unchecked.json as Report).checks.find((c) => c.name === "checksums_valid") as { result: string; message: string; warnings?: string[] };
    expect(check.result).toBe("PASS");
    expect(check.message).toMatch(/SIGNATURE not verified \(pass --key\)/);
    expect(check.warnings).toEqual([expect.stringMatching(/SIGNATURE present but not verified/)]);
    expect((unchecked.json as { warnings?: string[] }).warnings).toEqual(check.warnings);
    // …and so is an unsigned zip checked with a key.
    const unsigned = path.join(work, "unsigned.zip");
    expect((await runCli(["package", dir, "-s", "-o", unsigned])).code).toBe(0);
    const keyed = await runCli(["validate", "--zip", unsigned, "--key", path.join(keys, "team.pub"), "--json"]);
    expect((keyed.json as { warnings?: string[] }).warnings, keyed.stdout).toEqual(["the package is not signed"]);
    const noKey = await runCli(["package", dir, "--sign", path.join(keys, "missing.key")]);
    expect(noKey.code).toBe(2);
  });

  it("a broken manifest aborts with the validate messages", async () => {
    const dir = project("fakepkg==1.0\n");
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ name: "x", version: "1", entry_point: "nocolon", supported_pids: [] }));
    const run = await runCli(["package", dir, ...isolated(), "--json"]);
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ error_code: "2002" });
    expect((run.json as { message: string }).message).toMatch(/entry_point/);
    expect((run.json as { message: string }).message).toMatch(/supported_pids/);
  });
});

describe("procvision-cli validate --zip on bad packages", SLOW, () => {
  let good: string;
  beforeAll(async () => {
    const dir = project("fakepkg==1.0\n");
    const run = await runCli(["package", dir, "-w", "win_amd64", "-p", "3.10", ...isolated(), "--json"]);
    good = (run.json as Packaged).path;
  }, SLOW.timeout);

  /** The good package's entries, changed by `edit`, zipped again (SHA256SUMS kept as it was unless edited). */
  async function variant(name: string, edit: (entries: Map<string, Buffer>) => void): Promise<string> {
    const zip = await openPackageZip(good);
    const entries = new Map<string, Buffer>();
    try {
      for (const p of zip.entries.keys()) entries.set(p, await zip.readBuffer(p, 1 << 30));
    } finally {
      zip.close();
    }
    edit(entries);
    const out = path.join(work, `${name}.zip`);
    await writeDeterministicZip(out, [...entries].map(([p, data]) => ({ path: p, data, store: p.endsWith(".whl") })));
    return out;
  }

  async function failures(zip: string): Promise<{ code: number | null; failed: string[]; report: Report }> {
    const run = await runCli(["validate", "--zip", zip, "--json"]);
    return { code: run.code, failed: failedChecks(run.json), report: run.json as Report };
  }

  it("the untouched package passes", async () => {
    expect((await failures(good)).failed).toEqual([]);
  });

  it("not a zip, and a truncated zip → zip_open", async () => {
    const text = path.join(work, "text.zip");
    writeFileSync(text, "this is not a zip\n");
    const truncated = path.join(work, "truncated.zip");
    const bytes = readFileSync(good);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    for (const zip of [text, truncated]) {
      const result = await failures(zip);
      expect(result.failed).toEqual(["zip_open"]);
      expect(result.code).toBe(1);
    }
  });

  it("../ and absolute entries → zip_paths_safe", async () => {
    for (const [name, entry] of [["slip", "../evil.py"], ["absolute", "/etc/evil.py"]] as const) {
      const result = await failures(await variant(name, (e) => e.set(entry, Buffer.from("x = 1\n"))));
      expect(result.failed).toEqual(["zip_paths_safe"]);
      expect(result.report.checks.find((c) => c.name === "zip_paths_safe")?.message).toContain(entry);
    }
  });

  it("no wheels → zip_wheels (and the requirements lose their wheels)", async () => {
    const result = await failures(await variant("nowheels", (e) => {
      for (const p of [...e.keys()]) if (p.startsWith("wheels/")) e.delete(p);
    }));
    expect(result.failed).toEqual(expect.arrayContaining(["zip_wheels", "wheels_cover_requirements"]));
  });

  it("a tampered file → checksums_valid names it", async () => {
    const result = await failures(await variant("tampered", (e) => e.set("cli_algo/main.py", Buffer.from("print('owned')\n"))));
    expect(result.failed).toEqual(["checksums_valid"]);
    expect(result.report.checks.find((c) => c.name === "checksums_valid")?.message).toMatch(/cli_algo\/main\.py \(mismatch\)/);
  });

  it("a garbage SIGNATURE → checksums_valid", async () => {
    const result = await failures(await variant("badsig", (e) => e.set("SIGNATURE", Buffer.from("not-a-signature\n"))));
    expect(result.failed).toEqual(["checksums_valid"]);
  });

  it("a missing zip is a usage error", async () => {
    expect((await runCli(["validate", "--zip", path.join(work, "absent.zip")])).code).toBe(2);
  });
});

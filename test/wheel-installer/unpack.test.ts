import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { createVenv, hermeticInstallEnv } from "../../src/python/venv.js";
import { resolveInterpreter } from "../../src/python/interpreter.js";
import { parseRequirementLine } from "../../src/requirements/index.js";
import {
  DEFAULT_TUNING, INSTALLER_NAME, installWheels, parseRecord, probeScheme, unpackWheels, type InstallScheme, type WheelSource,
} from "../../src/wheel-installer/index.js";
import type { WheelTarget } from "../../src/wheel-tags/index.js";
import { localTarget } from "../../src/python/local-target.js";
import { deflated, forgeZip, stored, type Forged, type ForgeOptions } from "../helpers/forge-zip.js";
import { repoRoot } from "../helpers/python.js";
import { wheelMetadata } from "../helpers/wheel-set.js";

const run = promisify(execFile);
const cache = path.join(repoRoot, ".cache", "wheels");
let work: string;
let basePython: string;
let target: WheelTarget;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "pv-wheel-install-"));
  basePython = (await resolveInterpreter("python3")).executable;
  target = await localTarget(basePython);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The newest cached wheel whose file name starts with `prefix`. */
function cached(prefix: string): string {
  const found = readdirSync(cache).filter((f) => f.startsWith(prefix) && f.endsWith(".whl")).sort().pop();
  if (found === undefined) throw new Error(`no ${prefix}* wheel in ${cache}: run \`npx tsx scripts/test-python.ts\``);
  return found;
}

const sliceOf = (file: string) => ({ file, start: 0, size: statSync(file).size });

async function venv(name: string): Promise<{ python: string; dir: string; scheme: InstallScheme }> {
  const dir = path.join(work, name);
  const python = await createVenv(basePython, dir);
  return { python, dir, scheme: await probeScheme(python, hermeticInstallEnv()) };
}

/** Files under `dir` (relative, `/`-separated), without bytecode and the files installers write differently. */
function tree(dir: string): string[] {
  const skip = /(^|\/)__pycache__\/|\.pyc$|\.dist-info\/(RECORD|INSTALLER|REQUESTED|direct_url\.json)$/;
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .filter((p) => !skip.test(p))
    .sort();
}

/** Files the venv itself has (interpreter links, activation scripts), which no installer records. */
const venvOwn = (p: string): boolean => p.startsWith("bin/python") || /^bin\/(activate|Activate)/.test(p) || p === "pyvenv.cfg" || p.startsWith("lib64");

const sha = (file: string) => `sha256=${createHash("sha256").update(readFileSync(file)).digest("base64url")}`;

function codeOf(err: unknown): string | undefined {
  return err instanceof ProcVisionError ? err.code : undefined;
}

describe("the builtin wheel installer against pip, with real wheels", () => {
  it("installs the files pip installs, a RECORD pip can uninstall with, and working scripts and imports", async () => {
    const names = [cached("pytest-"), cached("iniconfig-"), cached("packaging-"), cached("pluggy-"), cached("pygments-"), cached("numpy-2.2.6-cp311-cp311-manylinux")];
    const files = names.map((n) => path.join(cache, n));
    const pytestVersion = names[0]!.split("-")[1]!;
    const requirementLines = [`pytest==${pytestVersion}`, "numpy==2.2.6"];
    const requirements = requirementLines.map((l) => {
      const parsed = parseRequirementLine(l);
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.requirement;
    });
    const metadata = new Map(await Promise.all(files.map(async (f) => [path.basename(f), await wheelMetadata(f)] as const)));

    const ours = await venv("builtin");
    await installWheels({ kind: "builtin" }, { requirements, wheels: files.map((f) => ({ file: path.basename(f), slice: sliceOf(f) })), metadata, target },
      { venvPython: ours.python, basePython });
    // pytest's dependencies found through Requires-Dist
    const distInfos = readdirSync(ours.scheme.paths.purelib).filter((d) => d.endsWith(".dist-info")).map((d) => d.slice(0, -".dist-info".length).toLowerCase());
    expect(distInfos.sort()).toEqual(names.map((n) => n.split("-").slice(0, 2).join("-").toLowerCase()).sort());

    const theirs = await venv("pip");
    await run(basePython, ["-m", "pip", "--python", theirs.python, "install", "--isolated", "--no-index", "--find-links", cache, "--no-compile", "-q", ...requirementLines],
      { env: hermeticInstallEnv() });
    expect(tree(ours.dir)).toEqual(tree(theirs.dir));

    // Every RECORD lists exactly its distribution's files, with hashes that match what is on disk.
    const site = ours.scheme.paths.purelib;
    const recorded = new Set<string>();
    for (const distInfo of readdirSync(site).filter((d) => d.endsWith(".dist-info"))) {
      expect(readFileSync(path.join(site, distInfo, "INSTALLER"), "utf8")).toBe(`${INSTALLER_NAME}\n`);
      for (const row of parseRecord(readFileSync(path.join(site, distInfo, "RECORD"), "utf8"))) {
        const file = path.resolve(site, row.path);
        expect(existsSync(file), row.path).toBe(true);
        if (row.hash !== "") expect(sha(file), row.path).toBe(row.hash);
        recorded.add(path.relative(ours.dir, file).split(path.sep).join("/"));
      }
    }
    const installed = tree(ours.dir).filter((p) => !venvOwn(p));
    expect(installed.filter((p) => !recorded.has(p))).toEqual([]);
    expect(existsSync(path.join(site, `pytest-${pytestVersion}.dist-info`, "REQUESTED"))).toBe(true);
    expect(existsSync(path.join(site, names[1]!.split("-").slice(0, 2).join("-") + ".dist-info", "REQUESTED"))).toBe(false);

    const pytest = path.join(ours.dir, "bin", "pytest");
    expect(statSync(pytest).mode & 0o777).toBe(0o755);
    expect((await run(pytest, ["--version"], { env: hermeticInstallEnv() })).stdout + "").toContain(pytestVersion);
    const probe = await run(ours.python, ["-c", "import numpy, importlib.metadata as m; print(int(numpy.arange(5).sum()), m.version('pluggy'))"], { env: hermeticInstallEnv() });
    expect(probe.stdout.trim()).toMatch(/^10 \d/);

    await run(basePython, ["-m", "pip", "--python", ours.python, "uninstall", "-y", "-q", "iniconfig"], { env: hermeticInstallEnv() });
    expect(readdirSync(site).filter((d) => d.startsWith("iniconfig"))).toEqual([]);
  }, 240_000);
});

/** A hand-made wheel with every part the format has: .data dirs, a #!python script, entry points, modes. */
function demoWheel(extra: Forged[] = [], overrides: Record<string, string | null> = {}, options: ForgeOptions = {}): Buffer {
  const files: Record<string, string | null> = {
    "demo/__init__.py": "def main():\n    print('demo main')\n\ndef gui():\n    print('demo gui')\n",
    "demo/big.txt": "0123456789abcdef".repeat(20_000) + Array.from({ length: 3000 }, (_, i) => `${i * 7919}`).join(","),
    "demo-1.0.data/scripts/demo-tool": "#!python\nimport demo\nprint('tool', demo.__name__)\n",
    "demo-1.0.data/scripts/plain.sh": "#!/bin/sh\necho plain\n",
    "demo-1.0.data/headers/demo.h": "#define DEMO 1\n",
    "demo-1.0.data/data/share/demo/readme.txt": "data file\n",
    "demo-1.0.data/purelib/demo_extra.py": "X = 1\n",
    "demo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    "demo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: py3-none-any\n",
    "demo-1.0.dist-info/entry_points.txt": "[console_scripts]\ndemo-cli = demo:main\n[gui_scripts]\ndemo-gui = demo:gui\n",
    ...overrides,
  };
  const entries: Forged[] = Object.entries(files).filter(([, v]) => v !== null).map(([name, content]) =>
    deflated(name, content!, { mode: name.endsWith("plain.sh") ? 0o100755 : 0o100644 }));
  const record = Object.entries(files).filter(([, v]) => v !== null)
    .map(([name, content]) => `${name},sha256=${createHash("sha256").update(content!).digest("base64url")},${Buffer.byteLength(content!)}`);
  entries.push(deflated("demo-1.0.dist-info/RECORD", [...record, "demo-1.0.dist-info/RECORD,,"].join("\n") + "\n"), ...extra);
  return forgeZip(entries, options);
}

function writeWheel(name: string, data: Buffer): WheelSource {
  const file = path.join(work, name);
  writeFileSync(file, data);
  return { file: "demo-1.0-py3-none-any.whl", slice: sliceOf(file), requested: true, name: "demo" };
}

describe("the builtin wheel installer places every part of a wheel", () => {
  it("root to platlib, .data/<key> to its scheme path, #!python rewritten, launchers generated, modes kept", async () => {
    const v = await venv("demo");
    await unpackWheels([writeWheel("demo.whl", demoWheel())], v.scheme);
    const { purelib, platlib, scripts, data, headers } = v.scheme.paths;
    expect(readFileSync(path.join(platlib, "demo", "__init__.py"), "utf8")).toContain("demo main");
    expect(readFileSync(path.join(purelib, "demo_extra.py"), "utf8")).toBe("X = 1\n");
    expect(readFileSync(path.join(headers, "demo", "demo.h"), "utf8")).toBe("#define DEMO 1\n");
    expect(readFileSync(path.join(data, "share", "demo", "readme.txt"), "utf8")).toBe("data file\n");

    const tool = path.join(scripts, "demo-tool");
    expect(readFileSync(tool, "utf8").split("\n")[0]).toBe(`#!${v.scheme.executable}`);
    expect(statSync(tool).mode & 0o777).toBe(0o755);
    expect((await run(tool, [], { env: hermeticInstallEnv() })).stdout).toBe("tool demo\n");
    expect(readFileSync(path.join(scripts, "plain.sh"), "utf8")).toBe("#!/bin/sh\necho plain\n");
    expect(statSync(path.join(scripts, "plain.sh")).mode & 0o777).toBe(0o755);
    expect(statSync(path.join(platlib, "demo", "__init__.py")).mode & 0o777).toBe(0o644);
    expect((await run(path.join(scripts, "demo-cli"), [], { env: hermeticInstallEnv() })).stdout).toBe("demo main\n");
    expect((await run(path.join(scripts, "demo-gui"), [], { env: hermeticInstallEnv() })).stdout).toBe("demo gui\n");

    const record = parseRecord(readFileSync(path.join(platlib, "demo-1.0.dist-info", "RECORD"), "utf8"));
    const toolRow = record.find((r) => r.path.endsWith("/bin/demo-tool"))!;
    expect(toolRow.hash).toBe(sha(tool)); // the rewritten script's own hash, not the wheel's
    expect(path.resolve(platlib, toolRow.path)).toBe(tool);
    expect(record.map((r) => r.path)).toEqual(expect.arrayContaining(["demo/__init__.py", "demo-1.0.dist-info/INSTALLER", "demo-1.0.dist-info/REQUESTED", "demo-1.0.dist-info/RECORD"]));
  });

  it("a wheel that ships its own INSTALLER gets ours, listed once in RECORD", async () => {
    const v = await venv("own-installer");
    await unpackWheels([writeWheel("own.whl", demoWheel([], { "demo-1.0.dist-info/INSTALLER": "someone-else\n" }))], v.scheme);
    const distInfo = path.join(v.scheme.paths.platlib, "demo-1.0.dist-info");
    expect(readFileSync(path.join(distInfo, "INSTALLER"), "utf8")).toBe(`${INSTALLER_NAME}\n`);
    const rows = parseRecord(readFileSync(path.join(distInfo, "RECORD"), "utf8")).filter((r) => r.path === "demo-1.0.dist-info/INSTALLER");
    expect(rows).toEqual([{ path: "demo-1.0.dist-info/INSTALLER", hash: sha(path.join(distInfo, "INSTALLER")), size: "11" }]);
  });

  it.runIf(process.platform === "linux")("names that differ only in letter case are two files, as pip installs them on Linux", async () => {
    const v = await venv("case");
    await unpackWheels([writeWheel("case.whl", demoWheel([deflated("demo/Data.txt", "upper\n"), deflated("demo/data.txt", "lower\n")]))], v.scheme);
    const dir = path.join(v.scheme.paths.platlib, "demo");
    expect([readFileSync(path.join(dir, "Data.txt"), "utf8"), readFileSync(path.join(dir, "data.txt"), "utf8")]).toEqual(["upper\n", "lower\n"]);
  });

  it("writes the same bytes whichever way an entry goes (main thread, thread pool, stream)", async () => {
    const a = await venv("tuning-default");
    const b = await venv("tuning-small");
    await unpackWheels([writeWheel("t1.whl", demoWheel())], a.scheme, DEFAULT_TUNING);
    // Everything above 64 bytes leaves the main thread and everything above 1 KiB is streamed.
    await unpackWheels([writeWheel("t2.whl", demoWheel())], b.scheme, { inlineBytes: 64, streamBytes: 1024 });
    const files = tree(a.dir).filter((p) => !venvOwn(p));
    expect(files).toContain("lib/python3.11/site-packages/demo/big.txt");
    for (const p of files) {
      const [x, y] = [readFileSync(path.join(a.dir, p)), readFileSync(path.join(b.dir, p))];
      // Launchers and rewritten scripts name their own venv's interpreter.
      if (p.startsWith("bin/demo")) expect(y.toString().replace(b.dir, a.dir), p).toBe(x.toString());
      else expect(y.equals(x), p).toBe(true);
    }
  });
});

/** A minimal wheel `<name>-1.0` holding `files` (deflated), with METADATA, WHEEL and RECORD. */
function plainWheel(name: string, files: Record<string, Buffer>): WheelSource {
  const all: Record<string, Buffer> = {
    ...files,
    [`${name}-1.0.dist-info/METADATA`]: Buffer.from(`Metadata-Version: 2.1\nName: ${name}\nVersion: 1.0\n`),
    [`${name}-1.0.dist-info/WHEEL`]: Buffer.from("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
  };
  const record = Object.entries(all).map(([p, data]) => `${p},sha256=${createHash("sha256").update(data).digest("base64url")},${data.length}`);
  const file = path.join(work, `${name}-1.0-py3-none-any.whl`);
  writeFileSync(file, forgeZip([...Object.entries(all).map(([p, data]) => deflated(p, data)), deflated(`${name}-1.0.dist-info/RECORD`, `${record.join("\n")}\n${name}-1.0.dist-info/RECORD,,\n`)]));
  return { file: path.basename(file), slice: sliceOf(file), requested: true, name };
}

describe("two wheels that ship the same path", () => {
  it("the later one in install order wins, whole, every time, whichever lane writes it", async () => {
    const noise = (seed: number) => Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 2654435761 + seed * 40503) >>> 24));
    const first = plainWheel("first", { "shared/lib.bin": noise(1), "shared/small.py": Buffer.from("FROM = 'first'\n") });
    const second = plainWheel("second", { "shared/lib.bin": noise(2), "shared/small.py": Buffer.from("FROM = 'second'\n") });
    for (let round = 0; round < 3; round++) {
      const v = await venv(`overlap-${round}`);
      // Small inline and stream thresholds too: the big entry goes through a lane, then through a stream.
      await unpackWheels([first, second], v.scheme, round === 2 ? { inlineBytes: 64, streamBytes: 1024 } : DEFAULT_TUNING);
      const shared = path.join(v.scheme.paths.purelib, "shared");
      expect(readFileSync(path.join(shared, "lib.bin")).equals(noise(2)), `round ${round}`).toBe(true);
      expect(readFileSync(path.join(shared, "small.py"), "utf8")).toBe("FROM = 'second'\n");
      // Each RECORD still lists the path with its own wheel's hash, as pip leaves it.
      const firstRecord = parseRecord(readFileSync(path.join(v.scheme.paths.purelib, "first-1.0.dist-info", "RECORD"), "utf8"));
      expect(firstRecord.find((r) => r.path === "shared/lib.bin")?.hash).toBe(`sha256=${createHash("sha256").update(noise(1)).digest("base64url")}`);
    }
  });
});

describe("the builtin wheel installer decides modes and names as pip does", () => {
  it.runIf(process.platform === "linux")("any execute bit of a regular file makes it 0755, no file type bits make it 0644; ':' is an ordinary character", async () => {
    const edge = demoWheel([
      stored("demo/group-only-x.sh", "#!/bin/sh\n", { mode: 0o100654 }),
      stored("demo/other-only-x.sh", "#!/bin/sh\n", { mode: 0o100645 }),
      stored("demo/no-type-bits.sh", "#!/bin/sh\n", { mode: 0o000755 }),
      stored("demo/time:12:00.txt", "colon\n"),
    ]);
    const source = writeWheel("edge.whl", edge);
    const ours = await venv("edge-builtin");
    await unpackWheels([source], ours.scheme);
    const theirs = await venv("edge-pip");
    const named = path.join(work, "edge-pip", "demo-1.0-py3-none-any.whl");
    writeFileSync(named, edge);
    await run(basePython, ["-m", "pip", "--python", theirs.python, "install", "--isolated", "--no-index", "--no-compile", "-q", named], { env: hermeticInstallEnv() });
    const modes = (dir: string) => ["group-only-x.sh", "other-only-x.sh", "no-type-bits.sh", "time:12:00.txt"]
      .map((f) => `${f} ${(statSync(path.join(dir, "demo", f)).mode & 0o777).toString(8)}`);
    expect(modes(ours.scheme.paths.platlib)).toEqual(modes(theirs.scheme.paths.platlib));
    expect(modes(ours.scheme.paths.platlib)).toEqual(["group-only-x.sh 755", "other-only-x.sh 755", "no-type-bits.sh 644", "time:12:00.txt 644"]);
  });
});

describe("the builtin wheel installer refuses broken wheels with 2001 naming the wheel", () => {
  const cases: [string, () => Buffer, RegExp][] = [
    ["damaged data (CRC mismatch)", () => demoWheel([stored("demo/damaged.py", "x = 1\n", { crc: 1234 })]), /demo\/damaged\.py.*CRC-32/],
    ["an entry outside the install (../)", () => demoWheel([stored("../evil.py", "import os\n")]), /evil\.py/],
    ["an unknown .data directory", () => demoWheel([stored("demo-1.0.data/elsewhere/x.txt", "x")]), /unknown \.data directory "elsewhere"/],
    ["no METADATA", () => demoWheel([], { "demo-1.0.dist-info/METADATA": null }), /has 0 \*\.dist-info\/METADATA/],
    ["two dist-info directories", () => demoWheel([stored("other-2.0.dist-info/METADATA", "Name: other\n")]), /has 2 \*\.dist-info\/METADATA/],
    ["wheel format 2", () => demoWheel([], { "demo-1.0.dist-info/WHEEL": "Wheel-Version: 2.0\n" }), /Wheel-Version 2\.0 is not supported/],
    ["an entry point that is not module:attribute", () => demoWheel([], { "demo-1.0.dist-info/entry_points.txt": "[console_scripts]\nx = demo\n" }), /invalid script/],
    ["a symlink", () => demoWheel([stored("demo/link", "/etc/passwd", { mode: 0o120777 })]), /symbolic link/],
    ["the same name twice", () => demoWheel([stored("demo/twice.py", "a = 1\n"), stored("demo/twice.py", "a = 2\n")]), /duplicate name/],
    ["more than 100,000 entries (a bomb by count; real wheels hold up to ~21,500)",
      () => demoWheel(Array.from({ length: 100_000 }, (_, i) => stored(`demo/e${i}`)), {}, { zip64End: {} }), /entries, more than the limit of 100000/],
  ];
  for (const [name, wheel, message] of cases) {
    it(name, async () => {
      const v = await venv(`bad-${name.replace(/\W+/g, "-")}`);
      const err = await unpackWheels([writeWheel(`${name.replace(/\W+/g, "-")}.whl`, wheel())], v.scheme).then(() => undefined, (e: unknown) => e);
      expect(codeOf(err), String(err)).toBe("2001");
      expect((err as Error).message).toMatch(/^wheel demo-1\.0-py3-none-any\.whl: /);
      expect((err as Error).message).toMatch(message);
      expect(existsSync(path.join(work, "evil.py"))).toBe(false);
      expect(existsSync(path.join(v.scheme.paths.purelib, "..", "evil.py"))).toBe(false);
    });
  }
});

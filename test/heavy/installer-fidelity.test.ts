// The wheel installers held against pip on real wheels from PyPI: builtin and pip (through the runner's interface)
// install the same set into a fresh venv, and the venv must be the one pip makes — the same files, bytes, modes and
// RECORDs, the same answers from importlib.metadata, console scripts that run — including two wheels that ship the
// same files (opencv-python + opencv-python-headless) installed again and again, and a wheel of more than 20,000
// entries (ansible). uv (taken from its PyPI wheel) is held to the same and its known deviations are pinned down.
// Heavy: ~1 GB written per install.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVenv, hermeticInstallEnv } from "../../src/python/venv.js";
import { localTarget } from "../../src/python/local-target.js";
import { resolveInterpreter } from "../../src/python/interpreter.js";
import { parseRequirementLine, type Requirement } from "../../src/requirements/index.js";
import { installWheels, parseRecord, type InstallerChoice, type InstallSource } from "../../src/wheel-installer/index.js";
import { repoRoot } from "../helpers/python.js";
import { cachedUv, FIDELITY_SET, wheelMetadata, wheelSet } from "../helpers/wheel-set.js";

const run = promisify(execFile);
let work: string;
let basePython: string;
let uv: string;

/** requirements.txt of the install: the top of the set; the rest comes in as dependencies. `Greenlet` as a user may write it. */
const TOP = ["pytest==9.2.0", "opencv-python==5.1.0.95", "opencv-python-headless==5.1.0.95", "ansible==12.3.0", "pip==25.3", "Greenlet==3.5.6", "numba==0.68.1"];
const OVERLAP = ["opencv-python==5.1.0.95", "opencv-python-headless==5.1.0.95"];

function requirements(lines: readonly string[]): Requirement[] {
  return lines.map((line) => {
    const parsed = parseRequirementLine(line);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.requirement;
  });
}

async function sourceOf(files: readonly string[], lines: readonly string[]): Promise<InstallSource> {
  const python = (await resolveInterpreter("python3")).executable;
  return {
    requirements: requirements(lines),
    wheels: files.map((file) => ({ file: path.basename(file), slice: { file, start: 0, size: lstatSync(file).size } })),
    metadata: new Map(await Promise.all(files.map(async (f) => [path.basename(f), await wheelMetadata(f)] as const))),
    target: await localTarget(python),
  };
}

/** pip itself, as a user runs it (not through the runner's code): the reference. Only the set's wheels are offered. */
async function pipReference(dir: string, files: readonly string[], lines: readonly string[]): Promise<string> {
  const links = path.join(work, `links-${path.basename(dir)}`);
  mkdirSync(links);
  for (const file of files) symlinkSync(file, path.join(links, path.basename(file)));
  writeFileSync(path.join(links, "requirements.txt"), lines.join("\n") + "\n");
  const python = await createVenv(basePython, dir);
  await run(basePython, ["-m", "pip", "--python", python, "install", "--isolated", "--no-index", "--find-links", links, "--only-binary=:all:", "--no-compile",
    "-q", "-r", path.join(links, "requirements.txt")], { env: hermeticInstallEnv(), maxBuffer: 64 * 1024 * 1024 });
  return python;
}

async function installWith(choice: InstallerChoice, dir: string, source: InstallSource): Promise<string> {
  const python = await createVenv(basePython, dir);
  await installWheels(choice, source, { venvPython: python, basePython });
  return python;
}

interface FileState { mode: number; sha256: string }

/**
 * Every file an installer wrote (bytecode and the venv's own files left out), by path relative to the venv. Files in
 * bin/ name their venv's interpreter: that path is replaced by `<venv>` before hashing.
 */
function snapshot(dir: string): Map<string, FileState> {
  const files = new Map<string, FileState>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, full).split(path.sep).join("/");
    if (/(^|\/)__pycache__\//.test(rel) || /^bin\/(python|activate|Activate)/.test(rel) || rel === "pyvenv.cfg" || rel.startsWith("lib64")) continue;
    let data = readFileSync(full);
    if (rel.startsWith("bin/")) data = Buffer.from(data.toString("latin1").replaceAll(dir, "<venv>"), "latin1");
    files.set(rel, { mode: lstatSync(full).mode & 0o7777, sha256: createHash("sha256").update(data).digest("hex") });
  }
  return files;
}

/** bin/<name> of every entry point of pip's venv: generated text whose wording is each installer's own. */
let launchers = new Set<string>();
/** Launchers must exist, have pip's mode and run; their bytes are not compared. */
const isLauncher = (rel: string): boolean => launchers.has(rel) || /^bin\/pip[\d.]*$/.test(rel); // pip3.X: written for the venv
/** What each installer writes its own name into. */
const isInstallerMark = (rel: string): boolean => /\.dist-info\/INSTALLER$/.test(rel);

/** Differences between two venvs, as lines (empty when they are the same venv). */
function differences(reference: Map<string, FileState>, ours: Map<string, FileState>): string[] {
  const out: string[] = [];
  for (const rel of reference.keys()) if (!ours.has(rel)) out.push(`missing ${rel}`);
  for (const rel of ours.keys()) if (!reference.has(rel)) out.push(`extra ${rel}`);
  for (const [rel, theirs] of reference) {
    const mine = ours.get(rel);
    if (mine === undefined) continue;
    if (mine.mode !== theirs.mode) out.push(`mode ${rel}: ${mine.mode.toString(8)} instead of pip's ${theirs.mode.toString(8)}`);
    if (mine.sha256 !== theirs.sha256 && !isInstallerMark(rel) && !/\.dist-info\/RECORD$/.test(rel) && !isLauncher(rel)) out.push(`bytes ${rel}`);
  }
  return out;
}

/** RECORD rows that differ from pip's, launchers and INSTALLER aside (their bytes are each installer's own). */
function recordDifferences(referenceDir: string, dir: string): string[] {
  const site = "lib/python3.11/site-packages";
  const out: string[] = [];
  for (const distInfo of readdirSync(path.join(referenceDir, site)).filter((d) => d.endsWith(".dist-info"))) {
    const rows = (root: string) => new Map(parseRecord(readFileSync(path.join(root, site, distInfo, "RECORD"), "utf8")).map((r) => [r.path, r]));
    const [theirs, mine] = [rows(referenceDir), rows(dir)];
    for (const p of theirs.keys()) if (!mine.has(p)) out.push(`${distInfo}/RECORD lacks ${p}`);
    for (const p of mine.keys()) if (!theirs.has(p)) out.push(`${distInfo}/RECORD has ${p}, pip's has not`);
    for (const [p, row] of theirs) {
      const rel = path.posix.normalize(path.posix.join(site, p));
      const other = mine.get(p);
      if (other === undefined || isInstallerMark(rel) || isLauncher(rel)) continue;
      if (rel.startsWith("bin/")) {
        // A rewritten `#!python` script names its own venv: its row must be the file's own hash and size.
        const data = readFileSync(path.join(dir, rel));
        const own = `sha256=${createHash("sha256").update(data).digest("base64url")}`;
        if (other.hash !== own || other.size !== String(data.length)) out.push(`${distInfo}/RECORD row ${p}: ${other.hash},${other.size} is not the file's ${own},${data.length}`);
        continue;
      }
      if (other.hash !== row.hash || other.size !== row.size) out.push(`${distInfo}/RECORD row ${p}: ${other.hash},${other.size} instead of pip's ${row.hash},${row.size}`);
    }
  }
  return out;
}

const METADATA_PROBE = String.raw`
import json, importlib.metadata as m
out = {}
for d in m.distributions():
    out[d.metadata["Name"]] = {
        "version": d.version,
        "requires": sorted(d.requires or []),
        "entry_points": sorted("%s:%s=%s" % (e.group, e.name, e.value) for e in d.entry_points),
        "files": sorted(str(f) for f in (d.files or [])),
    }
print(json.dumps(out, sort_keys=True))
`;

async function metadataAnswers(python: string): Promise<unknown> {
  const { stdout } = await run(python, ["-c", METADATA_PROBE], { env: hermeticInstallEnv(), maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as unknown;
}

/** The first line each console script prints for --version. */
async function scriptsRun(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const script of ["pytest", "pip", "pip3", "pip3.11", "ansible-galaxy"]) {
    const { stdout, stderr } = await run(path.join(dir, "bin", script), ["--version"], { env: hermeticInstallEnv(), timeout: 120_000 });
    out.push(`${script}: ${(stdout || stderr).split("\n")[0]!.replace(dir, "<venv>")}`);
  }
  return out;
}

/** Hashes of everything under site-packages/cv2 (the files both opencv wheels ship). */
function cv2Files(dir: string): Map<string, FileState> {
  return new Map([...snapshot(dir)].filter(([rel]) => rel.startsWith("lib/python3.11/site-packages/cv2/")));
}

async function importCv2(python: string): Promise<string> {
  return (await run(python, ["-c", "import cv2, numpy; print(cv2.__version__, cv2.cvtColor(numpy.zeros((2, 2, 3), numpy.uint8), cv2.COLOR_BGR2GRAY).shape)"],
    { env: hermeticInstallEnv() })).stdout.trim();
}

/** The installers that give pip's venv. */
const FAITHFUL: [string, () => InstallerChoice][] = [
  ["builtin", () => ({ kind: "builtin" })],
  ["pip", () => ({ kind: "pip" })],
];

/**
 * How uv's venv differs from pip's (uv 0.13.9), which is why uv is not the default however fast it is. Besides these,
 * uv writes files two wheels share from parallel threads: which wheel's cv2/cv2.abi3.so came out changed from run to
 * run (1 in 5 installs of opencv-python + opencv-python-headless here), so cv2/ is left out of its comparison.
 */
const UV_DEVIATIONS: [string, RegExp][] = [
  ["a .lock file in the venv", /^extra \.lock$/],
  ["uv_cache.json in every .dist-info", /^extra .*\.dist-info\/uv_cache\.json$/],
  ["REQUESTED for dependencies too (pip: only for what requirements.txt names)", /^extra .*\.dist-info\/REQUESTED$/],
  ["headers under the normalized name (pip: the name as requirements.txt writes it)", /^(missing|extra) include\/site\/python3\.11\/(Greenlet|greenlet)\/greenlet\.h$/],
];

describe("every wheel installer gives the venv pip gives, on real wheels", () => {
  let files: string[];
  let reference: { dir: string; python: string; files: Map<string, FileState>; metadata: unknown; scripts: string[] };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "pv-fidelity-"));
    basePython = (await resolveInterpreter("python3")).executable;
    files = wheelSet(repoRoot, FIDELITY_SET);
    uv = cachedUv(repoRoot);
    const dir = path.join(work, "reference");
    const python = await pipReference(dir, files, TOP);
    const metadata = await metadataAnswers(python) as Record<string, { entry_points: string[] }>;
    launchers = new Set(Object.values(metadata).flatMap((d) => d.entry_points)
      .filter((e) => /^(console|gui)_scripts:/.test(e)).map((e) => `bin/${e.slice(e.indexOf(":") + 1, e.indexOf("="))}`));
    reference = { dir, python, files: snapshot(dir), metadata, scripts: await scriptsRun(dir) };
  }, 900_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }), 600_000);

  it("the set holds a wheel of more than 20,000 entries", async () => {
    const ansible = files.find((f) => path.basename(f).startsWith("ansible-12"))!;
    const { stdout } = await run("python3", ["-c", "import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).infolist()))", ansible]);
    expect(Number(stdout)).toBeGreaterThan(20_000);
    expect([...reference.files.keys()].filter((rel) => rel.includes("/site-packages/ansible_collections/")).length).toBeGreaterThan(20_000);
  });

  for (const [name, choice] of FAITHFUL) {
    it(`${name}: same files, bytes, modes, RECORDs, importlib.metadata answers; console scripts run`, async () => {
      const dir = path.join(work, name);
      const python = await installWith(choice(), dir, await sourceOf(files, TOP));
      const ours = snapshot(dir);
      expect(differences(reference.files, ours)).toEqual([]);
      expect(recordDifferences(reference.dir, dir)).toEqual([]);
      expect(await metadataAnswers(python)).toEqual(reference.metadata);
      expect(await scriptsRun(dir)).toEqual(reference.scripts);
      // pip writes include/site/python3.11/<the name as requirements.txt writes it>/ for .data/headers/.
      expect(ours.has("include/site/python3.11/Greenlet/greenlet.h")).toBe(true);
      rmSync(dir, { recursive: true, force: true });
    }, 900_000);
  }

  it("uv: pip's files, bytes and modes but for known deviations; console scripts run", async () => {
    const dir = path.join(work, "uv");
    await installWith({ kind: "uv", uv }, dir, await sourceOf(files, TOP));
    const found = differences(reference.files, snapshot(dir)).filter((d) => !d.includes("/site-packages/cv2/"));
    expect(found.filter((d) => !UV_DEVIATIONS.some(([, re]) => re.test(d)))).toEqual([]);
    // Each deviation still there: when uv changes, this says so and the choice of the default is made again.
    expect(UV_DEVIATIONS.map(([what, re]) => (found.some((d) => re.test(d)) ? what : `no longer: ${what}`))).toEqual(UV_DEVIATIONS.map(([what]) => what));
    expect(await scriptsRun(dir)).toEqual(reference.scripts);
    rmSync(dir, { recursive: true, force: true });
  }, 900_000);

  it("opencv-python + opencv-python-headless, installed again and again: the same bytes as pip every time, and cv2 imports", async () => {
    const overlap = files.filter((f) => /^(opencv_python|opencv_python_headless|numpy)-/.test(path.basename(f)));
    const pipDir = path.join(work, "overlap-pip");
    const pipPython = await pipReference(pipDir, overlap, OVERLAP);
    const expected = cv2Files(pipDir);
    const imported = await importCv2(pipPython);
    expect(imported).toMatch(/^5\.1\.0 \(2, 2\)$/);
    const source = await sourceOf(overlap, OVERLAP);
    for (const [name, choice] of FAITHFUL) {
      for (let round = 0; round < (name === "builtin" ? 4 : 2); round++) {
        const dir = path.join(work, `overlap-${name}-${round}`);
        const python = await installWith(choice(), dir, source);
        const got = cv2Files(dir);
        expect(differences(expected, got), `${name}, round ${round}`).toEqual([]);
        expect(await importCv2(python), `${name}, round ${round}`).toBe(imported);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 1_800_000);
});

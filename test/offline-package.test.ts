import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import yauzl from "yauzl";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildOfflineZip, collectProjectFiles, deflatesWell, formatSha256Sums, openPackageZip, parseSha256Sums, verifyChecksums, type OfflineZipInput,
} from "../src/offline-package/index.js";
import { writeDeterministicZip, writeZip, zipTimestamp } from "../src/zip/write.js";
import { generateKeyPair, loadPublicKey, verify } from "../src/signing/index.js";
import { testPython } from "./helpers/python.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-offline-zip-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function write(root: string, rel: string, content: string | Buffer, mode = 0o644): void {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  chmodSync(file, mode);
}

interface ReadEntry {
  name: string;
  method: number;
  mode: number;
  date: number;
  time: number;
  data: Buffer;
}

async function readZip(file: string): Promise<ReadEntry[]> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, strictFileNames: true, validateEntrySizes: true });
  const out: ReadEntry[] = [];
  for await (const entry of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
    out.push({
      name: entry.fileName, method: entry.compressionMethod, mode: entry.externalFileAttributes >>> 16,
      date: entry.lastModFileDate, time: entry.lastModFileTime, data: Buffer.concat(chunks),
    });
  }
  zip.close();
  return out;
}

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

/** A small project with everything the packer must leave out. */
function makeProject(): string {
  const root = mkdtempSync(path.join(work, "project-"));
  write(root, "algo/__init__.py", "");
  write(root, "algo/main.py", "class Algo: pass\n".repeat(50));
  write(root, "algo/build/__init__.py", "# a sub-package named build is source\n");
  write(root, "run.sh", "#!/bin/sh\necho hi\n", 0o755);
  write(root, "manifest.json", '{"name": "from-disk"}');
  write(root, "README.md", "# readme\n");
  write(root, "assets/model.onnx", Buffer.alloc(4096, 7));
  write(root, "assets/local.tmp", "scratch");
  write(root, "secrets/token.txt", "s3cr3t");
  write(root, ".procvisionignore", "secrets/\n*.tmp\n!venv/\n");
  for (const never of [
    ".venv/lib/x.py", "venv/bin/python", "__pycache__/a.cpython-311.pyc", "algo/__pycache__/m.cpython-311.pyc", "algo/stale.pyc",
    ".git/HEAD", "node_modules/x/index.js", "algo-v0.9-offline.zip", "wheels/old-1.0-py3-none-any.whl", "build/lib/algo.py",
    "dist/algo-1.0.tar.gz", "algo.egg-info/PKG-INFO", "src/algo.egg-info/PKG-INFO", ".pytest_cache/v", ".mypy_cache/x",
  ]) write(root, never, "never packed");
  symlinkSync(path.join(root, "README.md"), path.join(root, "link.md"));
  return root;
}

function makeWheels(count: number, bytes: number): { path: string; absPath: string }[] {
  const dir = mkdtempSync(path.join(work, "wheels-"));
  return Array.from({ length: count }, (_, i) => {
    const name = `pkg${i}-1.0-py3-none-any.whl`;
    const absPath = path.join(dir, name);
    writeFileSync(absPath, Buffer.alloc(bytes, i + 1));
    return { path: `wheels/${name}`, absPath };
  });
}

describe("collectProjectFiles", () => {
  it("leaves out environments, caches, build leftovers, old packages, wheels/ and .procvisionignore matches", async () => {
    const root = makeProject();
    const { files, warnings } = await collectProjectFiles(root);
    expect(files.map((f) => f.path)).toEqual([
      ".procvisionignore", "README.md", "algo/__init__.py", "algo/build/__init__.py", "algo/main.py",
      "assets/model.onnx", "manifest.json", "run.sh",
    ]);
    expect(warnings).toEqual([expect.stringContaining("symbolic link link.md")]);
    const run = files.find((f) => f.path === "run.sh");
    expect(run).toMatchObject({ absPath: path.join(root, "run.sh"), size: 18, mode: 0o755 });
  });

  it("never packs a zip still being written (or left by a killed build), nor the output being rebuilt, wherever -o puts it", async () => {
    const root = makeProject();
    write(root, ".algo-v1.0-offline.zip.4242-7b8093c1.tmp", "half a zip");
    write(root, "out/.build.zip.4242-00ff00ff.tmp", "half a zip");
    write(root, "out/build.zip", "the previous build");
    const { files } = await collectProjectFiles(root, [path.join(root, "out", "build.zip")]);
    expect(files.map((f) => f.path).filter((p) => p.includes("zip"))).toEqual([]);
    expect((await collectProjectFiles(root)).files.map((f) => f.path)).toContain("out/build.zip"); // any other zip is a project file
  });

  it("refuses names the runner would refuse, before packing them", async () => {
    const root = mkdtempSync(path.join(work, "badnames-"));
    write(root, "manifest.json", "{}");
    write(root, "a\\b.py", "");
    write(root, "Pkg/x.py", "");
    write(root, "pkg/X.py", "");
    await expect(collectProjectFiles(root)).rejects.toMatchObject({
      code: "2001", message: expect.stringMatching(/"a\\\\b\.py": backslash.*"pkg\/X\.py" and "Pkg\/x\.py" differ only in letter case/), hint: expect.stringContaining(".procvisionignore"),
    });
  });
});

describe("SHA256SUMS format", () => {
  it("formats sorted sha256sum lines and parses them back", () => {
    const text = formatSha256Sums([{ path: "wheels/b.whl", sha256: "b".repeat(64) }, { path: "SHA", sha256: "a".repeat(64) }, { path: ".env", sha256: "c".repeat(64) }]);
    expect(text).toBe(`${"c".repeat(64)}  .env\n${"a".repeat(64)}  SHA\n${"b".repeat(64)}  wheels/b.whl\n`);
    const parsed = parseSha256Sums(text);
    expect(parsed.ok && [...parsed.sums]).toEqual([[".env", "c".repeat(64)], ["SHA", "a".repeat(64)], ["wheels/b.whl", "b".repeat(64)]]);
  });

  it("reports malformed and repeated lines", () => {
    const parsed = parseSha256Sums(`${"a".repeat(64)}  x\nnot a line\n${"b".repeat(64)}  x\n`);
    expect(parsed).toEqual({ ok: false, errors: [expect.stringMatching(/^line 2: expected/), "line 3: x is listed twice"] });
  });
});

describe("buildOfflineZip", () => {
  const manifest = Buffer.from('{"name": "generated"}\n');
  const project = makeProject();
  const wheels = makeWheels(3, 50_000);

  async function build(name: string, extra: Partial<OfflineZipInput> = {}) {
    const { files } = await collectProjectFiles(project);
    const outDir = mkdtempSync(path.join(work, "out-"));
    const outPath = path.join(outDir, name);
    const result = await buildOfflineZip({
      outPath, projectFiles: files, wheelFiles: wheels, env: {},
      extraEntries: [{ path: "manifest.json", data: manifest }, { path: "requirements.txt", data: Buffer.from("numpy==2.0.0\n") }],
      ...extra,
    });
    return { outDir, outPath, result };
  }

  it("writes sorted entries with fixed times and modes, stores wheels and deflates the rest", async () => {
    const { outPath, result } = await build("algo-v1.0-offline.zip");
    const entries = await readZip(outPath);
    const names = entries.map((e) => e.name);
    expect(names).toEqual([
      ".procvisionignore", "README.md", "SHA256SUMS", "algo/__init__.py", "algo/build/__init__.py", "algo/main.py",
      "assets/model.onnx", "manifest.json", "requirements.txt", "run.sh", ...wheels.map((w) => w.path),
    ]);
    expect(result).toMatchObject({ path: outPath, entries: names.length, wheelCount: 3 });
    expect(result.size).toBe(readFileSync(outPath).length);
    for (const e of entries) {
      expect([e.name, e.method]).toEqual([e.name, e.name.endsWith(".whl") ? 0 : 8]);
      expect([e.name, e.mode]).toEqual([e.name, e.name === "run.sh" ? 0o100755 : 0o100644]);
      expect([e.date, e.time]).toEqual([(0 << 9) | (1 << 5) | 1, 0]); // 1980-01-01 00:00
    }
    expect(entries.find((e) => e.name === "manifest.json")?.data).toEqual(manifest);
  });

  it("stores a big file that does not compress (model weights) and deflates one that does; both read back exactly", async () => {
    const dir = mkdtempSync(path.join(work, "weights-"));
    const random = randomBytes(1024 * 1024);
    // Under 1 MiB: above it, a text this repetitive deflates past the zip-bomb ratio stations refuse (200:1).
    const text = Buffer.from("defect threshold 0.5\n".repeat(40_000));
    writeFileSync(path.join(dir, "weights.bin"), random);
    writeFileSync(path.join(dir, "labels.txt"), text);
    const { files } = await collectProjectFiles(dir);
    const outPath = path.join(dir, "w-v1.0-offline.zip");
    await buildOfflineZip({ outPath, projectFiles: files, wheelFiles: [], env: {}, extraEntries: [{ path: "manifest.json", data: manifest }] });
    const entries = await readZip(outPath);
    expect(entries.find((e) => e.name === "weights.bin")).toMatchObject({ method: 0, data: random });
    expect(entries.find((e) => e.name === "labels.txt")).toMatchObject({ method: 8, data: text });
    expect(deflatesWell(random.subarray(0, 256 * 1024))).toBe(false);
    expect(deflatesWell(text.subarray(0, 256 * 1024))).toBe(true);
  });

  it("lists every other entry in SHA256SUMS with its real hash", async () => {
    const { outPath, result } = await build("sums-offline.zip");
    const entries = await readZip(outPath);
    const sums = entries.find((e) => e.name === "SHA256SUMS")!.data.toString();
    expect(sums).toBe(result.sha256sums);
    expect(sums).toBe(formatSha256Sums(entries.filter((e) => e.name !== "SHA256SUMS").map((e) => ({ path: e.name, sha256: sha256(e.data) }))));
  });

  it("is byte-identical across builds and time zones; SOURCE_DATE_EPOCH changes the bytes", async () => {
    const tz = process.env.TZ;
    try {
      process.env.TZ = "Asia/Tokyo";
      const a = readFileSync((await build("a-offline.zip")).outPath);
      process.env.TZ = "America/Los_Angeles";
      const b = readFileSync((await build("b-offline.zip")).outPath);
      expect(a.equals(b)).toBe(true);
      const c = readFileSync((await build("c-offline.zip", { env: { SOURCE_DATE_EPOCH: "1700000000" } })).outPath);
      expect(c.equals(a)).toBe(false);
      expect(c.length).toBe(a.length);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it("takes entry times from SOURCE_DATE_EPOCH in UTC, clamped to the DOS range", () => {
    // 2023-11-14T22:13:20Z
    expect(zipTimestamp({ SOURCE_DATE_EPOCH: "1700000000" })).toEqual({ date: (43 << 9) | (11 << 5) | 14, time: (22 << 11) | (13 << 5) | 10 });
    expect(zipTimestamp({})).toEqual({ date: (1 << 5) | 1, time: 0 });
    expect(zipTimestamp({ SOURCE_DATE_EPOCH: "0" })).toEqual({ date: (1 << 5) | 1, time: 0 });
    expect(zipTimestamp({ SOURCE_DATE_EPOCH: "yesterday" })).toEqual({ date: (1 << 5) | 1, time: 0 });
  });

  it("signs SHA256SUMS with SIGNATURE when given a key", async () => {
    const pair = generateKeyPair();
    const { outPath, result } = await build("signed-offline.zip", { signingKey: createPrivateKey(pair.privateKeyPem) });
    const entries = await readZip(outPath);
    expect(entries.map((e) => e.name).slice(2, 4)).toEqual(["SHA256SUMS", "SIGNATURE"]);
    const signature = entries.find((e) => e.name === "SIGNATURE")!.data.toString();
    const key = loadPublicKey(pair.publicKeyPem);
    expect(verify(Buffer.from(result.sha256sums), signature, [key])).toBe(true);
    expect(verify(Buffer.from(result.sha256sums.replace(/^./, "0")), signature, [key])).toBe(false);
  });

  it("leaves neither a zip nor a temporary file behind when an input is missing", async () => {
    const outDir = mkdtempSync(path.join(work, "fail-"));
    const input = {
      outPath: path.join(outDir, "x-offline.zip"), projectFiles: [], extraEntries: [],
      wheelFiles: [...wheels, { path: "wheels/gone-1.0-py3-none-any.whl", absPath: path.join(work, "gone.whl") }],
    };
    await expect(buildOfflineZip(input)).rejects.toThrow(/ENOENT/);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it("removes the temporary file when writing fails after it started", async () => {
    const outDir = mkdtempSync(path.join(work, "fail-late-"));
    mkdirSync(path.join(outDir, "x-offline.zip", "occupied"), { recursive: true }); // rename onto a directory fails
    const { files } = await collectProjectFiles(project);
    await expect(buildOfflineZip({ outPath: path.join(outDir, "x-offline.zip"), projectFiles: files, wheelFiles: wheels, extraEntries: [] }))
      .rejects.toThrow();
    expect(readdirSync(outDir)).toEqual(["x-offline.zip"]);
  });
});

describe("writeDeterministicZip", () => {
  it("refuses a file whose size is not what the directory walk saw, and cleans up", async () => {
    const dir = mkdtempSync(path.join(work, "changed-"));
    const file = path.join(dir, "data.bin");
    writeFileSync(file, "before");
    const entry = { path: "data.bin", absPath: file, size: 6 };
    writeFileSync(file, "after, longer");
    await expect(writeDeterministicZip(path.join(dir, "out.zip"), [entry])).rejects.toThrow(/data\.bin changed while it was being zipped/);
    expect(readdirSync(dir)).toEqual(["data.bin"]);
  });

  it("refuses duplicate paths", async () => {
    const dir = mkdtempSync(path.join(work, "dup-"));
    await expect(writeDeterministicZip(path.join(dir, "out.zip"), [{ path: "a", data: Buffer.from("1") }, { path: "a", data: Buffer.from("2") }]))
      .rejects.toThrow(/duplicate zip entry a/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a trailer entry that repeats a path", async () => {
    const dir = mkdtempSync(path.join(work, "dup-trailer-"));
    await expect(writeZip(path.join(dir, "out.zip"), [{ path: "a", data: Buffer.from("1") }], { trailer: () => [{ path: "a", data: Buffer.from("2") }] }))
      .rejects.toThrow(/duplicate zip entry a/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

// ---- the one-read layout: local records in path order except the trailer, central directory sorted -------------

interface LocalRecord {
  name: string;
  offset: number;
  zip64: boolean;
}

/** The local records in file order, found by walking the archive from its first byte (sizes are in the headers). */
function localRecords(zip: Buffer): LocalRecord[] {
  const out: LocalRecord[] = [];
  let at = 0;
  while (zip.readUInt32LE(at) === 0x04034b50) {
    const nameLength = zip.readUInt16LE(at + 26);
    const extraLength = zip.readUInt16LE(at + 28);
    const name = zip.subarray(at + 30, at + 30 + nameLength).toString();
    let compressed = zip.readUInt32LE(at + 18);
    const zip64 = compressed === 0xffffffff;
    if (zip64) {
      const extra = at + 30 + nameLength;
      expect(zip.readUInt16LE(extra)).toBe(0x0001);
      compressed = Number(zip.readBigUInt64LE(extra + 12));
    }
    out.push({ name, offset: at, zip64 });
    at += 30 + nameLength + extraLength + compressed;
  }
  expect(zip.readUInt32LE(at)).toBe(0x02014b50); // the central directory follows the last local record
  return out;
}

/** Central directory records in order, with the local header offsets they point at. */
async function centralRecords(file: string): Promise<{ name: string; offset: number }[]> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  const out: { name: string; offset: number }[] = [];
  for await (const entry of zip.eachEntry()) out.push({ name: entry.fileName, offset: entry.relativeOffsetOfLocalHeader });
  zip.close();
  return out;
}

/** What `unzip -t` and Python's zipfile say of the archive (both must accept it). */
function externalReadersAccept(file: string): void {
  expect(execFileSync(testPython(), ["-m", "zipfile", "-t", file]).toString()).toMatch(/Done testing/);
  expect(execFileSync("unzip", ["-tq", file]).toString()).toMatch(/No errors detected/);
}

const sorted = (names: readonly string[]): string[] => [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe("offline package layout (one read per file)", () => {
  const dir = mkdtempSync(path.join(work, "layout-"));
  // Large files take the chunked path: wheels STORED through the ring (not chunk multiples, more chunks than the
  // ring has slots), a large asset DEFLATEd in a stream; the small ones are read whole.
  // Pseudo-random bytes, or with `compressible` bytes deflate shrinks (a big project file that does not is stored).
  const big = (name: string, bytes: number, seed: number, compressible = false): string => {
    const file = path.join(dir, name);
    const data = Buffer.alloc(bytes);
    for (let i = 0; i + 4 <= bytes; i += 4) data.writeUInt32LE(((Math.imul(i + seed, 2654435761) >>> 0) & (compressible ? 0x0f0f0f0f : 0xffffffff)) >>> 0, i);
    writeFileSync(file, data);
    return file;
  };
  const wheelFiles = [
    { path: "wheels/alpha-1.0-py3-none-any.whl", absPath: big("alpha.whl", 5 * 1024 * 1024 + 12345, 1) },
    { path: "wheels/beta-2.0-py3-none-any.whl", absPath: big("beta.whl", 3 * 1024 * 1024, 2) },
    { path: "wheels/gamma-3.0-py3-none-any.whl", absPath: big("gamma.whl", 1024 * 1024 + 1, 3) },
    { path: "wheels/tiny-1.0-py3-none-any.whl", absPath: big("tiny.whl", 1000, 4) },
  ];
  const projectFiles = [
    { path: "Assets/UPPER.txt", absPath: big("upper.txt", 64, 5), size: 64, mode: 0o644 },
    { path: "algo/main.py", absPath: big("main.py", 4000, 6), size: 4000, mode: 0o755 },
    { path: "assets/model.bin", absPath: big("model.bin", 2 * 1024 * 1024 + 7, 7, true), size: 2 * 1024 * 1024 + 7, mode: 0o644 },
  ];
  const extraEntries = [{ path: "manifest.json", data: Buffer.from('{"name": "x"}') }];
  const pair = generateKeyPair();
  const signingKey = createPrivateKey(pair.privateKeyPem);
  const build = (name: string) => buildOfflineZip({ outPath: path.join(dir, name), projectFiles, wheelFiles, extraEntries, signingKey, env: {} });

  it("writes SHA256SUMS and SIGNATURE last, keeps the central directory sorted, and every reader accepts it", async () => {
    const result = await build("layout-offline.zip");
    const bytes = readFileSync(result.path);
    const all = ["Assets/UPPER.txt", "SHA256SUMS", "SIGNATURE", "algo/main.py", "assets/model.bin", "manifest.json", ...wheelFiles.map((w) => w.path)];
    expect(sorted(all)).toEqual(all);

    const central = await centralRecords(result.path);
    expect(central.map((c) => c.name)).toEqual(all);
    const local = localRecords(bytes);
    expect(local.map((l) => l.name)).toEqual([...all.filter((n) => n !== "SHA256SUMS" && n !== "SIGNATURE"), "SHA256SUMS", "SIGNATURE"]);
    // Each central record points at its own local record.
    for (const c of central) expect(local.find((l) => l.offset === c.offset)?.name).toBe(c.name);
    expect(local.some((l) => l.zip64)).toBe(false);

    const entries = await readZip(result.path);
    for (const e of entries) expect([e.name, e.method]).toEqual([e.name, e.name.endsWith(".whl") ? 0 : 8]);
    expect(entries.find((e) => e.name === "assets/model.bin")!.data.equals(readFileSync(projectFiles[2]!.absPath))).toBe(true);
    expect(entries.find((e) => e.name === "wheels/alpha-1.0-py3-none-any.whl")!.data.equals(readFileSync(wheelFiles[0]!.absPath))).toBe(true);
    expect(result.sha256sums).toBe(formatSha256Sums(entries.filter((e) => e.name !== "SHA256SUMS" && e.name !== "SIGNATURE")
      .map((e) => ({ path: e.name, sha256: sha256(e.data) }))));
    expect(verify(Buffer.from(result.sha256sums), entries.find((e) => e.name === "SIGNATURE")!.data.toString(), [loadPublicKey(pair.publicKeyPem)])).toBe(true);

    const safe = await openPackageZip(result.path);
    try {
      expect(await verifyChecksums(safe)).toEqual({ ok: true, sha256sums: result.sha256sums });
    } finally {
      safe.close();
    }
    externalReadersAccept(result.path);
  });

  it("is byte-identical from build to build with large files too", async () => {
    const a = readFileSync((await build("a-offline.zip")).path);
    const b = readFileSync((await build("b-offline.zip")).path);
    expect(a.equals(b)).toBe(true);
  });

  it("writes ZIP64 records that every reader accepts (threshold lowered so that every entry and offset needs them)", async () => {
    const out = path.join(dir, "zip64.zip");
    const result = await writeZip(out, [
      ...wheelFiles.map((w) => ({ ...w, store: true })),
      ...projectFiles.map((f) => ({ path: f.path, absPath: f.absPath })),
      { path: "empty.txt", data: Buffer.alloc(0) },
      ...extraEntries,
    ], { env: {}, zip64Threshold: 0, trailer: (digests) => [{ path: "SHA256SUMS", data: Buffer.from(formatSha256Sums(digests)) }] });
    const bytes = readFileSync(out);
    expect(result.size).toBe(bytes.length);
    expect(localRecords(bytes).every((l) => l.zip64)).toBe(true);
    expect(bytes.indexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]), bytes.length - 98)).toBeGreaterThan(0); // ZIP64 end record
    const entries = await readZip(out);
    expect(entries.map((e) => e.name)).toEqual(sorted(["SHA256SUMS", "empty.txt", "manifest.json", ...wheelFiles.map((w) => w.path), ...projectFiles.map((f) => f.path)]));
    expect(entries.find((e) => e.name === "wheels/beta-2.0-py3-none-any.whl")!.data.equals(readFileSync(wheelFiles[1]!.absPath))).toBe(true);
    expect(entries.find((e) => e.name === "SHA256SUMS")!.data.toString())
      .toBe(formatSha256Sums(entries.filter((e) => e.name !== "SHA256SUMS").map((e) => ({ path: e.name, sha256: sha256(e.data) }))));
    const safe = await openPackageZip(out);
    try {
      expect(await verifyChecksums(safe)).toMatchObject({ ok: true });
    } finally {
      safe.close();
    }
    externalReadersAccept(out);
  });

  it("leaves no zip and no worker behind when a large file is missing", async () => {
    const outDir = mkdtempSync(path.join(work, "fail-large-"));
    const input = {
      outPath: path.join(outDir, "x-offline.zip"), projectFiles: [], extraEntries: [],
      wheelFiles: [...wheelFiles, { path: "wheels/zz-gone-1.0-py3-none-any.whl", absPath: path.join(dir, "gone.whl") }],
    };
    await expect(buildOfflineZip(input)).rejects.toThrow(/ENOENT/);
    expect(readdirSync(outDir)).toEqual([]);
  });
});

import { createHash, createPrivateKey } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import yauzl from "yauzl";
import { afterAll, describe, expect, it } from "vitest";
import { buildOfflineZip, collectProjectFiles, formatSha256Sums, parseSha256Sums, type OfflineZipInput } from "../src/offline-zip/index.js";
import { writeDeterministicZip, zipTimestamp } from "../src/packaging/deterministic-zip.js";
import { generateKeyPair, loadPublicKey, verify } from "../src/signing/index.js";

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

  it("refuses names the runner would refuse, before packing them", async () => {
    const root = mkdtempSync(path.join(work, "badnames-"));
    write(root, "manifest.json", "{}");
    write(root, "a\\b.py", "");
    write(root, "Pkg/x.py", "");
    write(root, "pkg/X.py", "");
    await expect(collectProjectFiles(root)).rejects.toThrow(/"a\\\\b\.py": backslash.*"pkg\/X\.py" and "Pkg\/x\.py" differ only in letter case.*\.procvisionignore/);
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
  it("refuses a file that changed since it was hashed, and cleans up", async () => {
    const dir = mkdtempSync(path.join(work, "changed-"));
    const file = path.join(dir, "data.bin");
    writeFileSync(file, "before");
    const entry = { path: "data.bin", absPath: file, size: 6, crc32: crc32(Buffer.from("before")) };
    writeFileSync(file, "after!");
    await expect(writeDeterministicZip(path.join(dir, "out.zip"), [entry])).rejects.toThrow(/changed while it was being zipped/);
    expect(readdirSync(dir)).toEqual(["data.bin"]);
  });

  it("refuses duplicate paths", async () => {
    const dir = mkdtempSync(path.join(work, "dup-"));
    await expect(writeDeterministicZip(path.join(dir, "out.zip"), [{ path: "a", data: Buffer.from("1") }, { path: "a", data: Buffer.from("2") }]))
      .rejects.toThrow(/duplicate zip entry a/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

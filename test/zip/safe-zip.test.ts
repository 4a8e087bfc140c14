import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { openSafeZip, type SafeZipLimits } from "../../src/zip/index.js";
import { deflated, forgeZip, stored, zipFiles } from "../helpers/forge-zip.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-safe-zip-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const zipFile = zipFiles(work);

const manifest = stored("manifest.json", '{"name": "x"}');

/** Opens and extracts into parent/target; returns the error and what the parent holds afterwards. */
async function attempt(bytes: Buffer, limits: Partial<SafeZipLimits> = {}): Promise<{ error: unknown; parent: string[]; target: string[] }> {
  const parent = mkdtempSync(path.join(work, "parent-"));
  const target = path.join(parent, "target");
  mkdirSync(target);
  let error: unknown;
  try {
    const zip = await openSafeZip(zipFile(bytes), limits);
    try {
      await zip.extractTo(target);
    } finally {
      zip.close();
    }
  } catch (err) {
    error = err;
  }
  return { error, parent: readdirSync(parent), target: readdirSync(target, { recursive: true }) as string[] };
}

// ---- the hostile corpus -------------------------------------------------------------------------------------------

const zeros5M = Buffer.alloc(5 * 1024 * 1024);
const text5M = Buffer.from("inspection results, line 42: OK\n".repeat(160_000));
const valid = forgeZip([manifest, stored("a.py", "print(1)\n")]);

interface HostileCase {
  title: string;
  bytes: Buffer;
  limits?: Partial<SafeZipLimits>;
  code: string;
  message: RegExp;
}

const hostile: HostileCase[] = [
  { title: "parent traversal", bytes: forgeZip([manifest, stored("../evil", "x")]), code: "2001", message: /"\.\.\/evil": '\.\.' segment/ },
  { title: "nested traversal", bytes: forgeZip([manifest, stored("a/../../b", "x")]), code: "2001", message: /"a\/\.\.\/\.\.\/b": '\.\.' segment/ },
  { title: "absolute path", bytes: forgeZip([manifest, stored("/abs", "x")]), code: "2001", message: /"\/abs": absolute path/ },
  { title: "drive letter", bytes: forgeZip([manifest, stored("C:/x", "x")]), code: "2001", message: /"C:\/x": drive letter/ },
  { title: "drive letter with backslash", bytes: forgeZip([manifest, stored("C:\\x", "x")]), code: "2001", message: /"C:\\\\x": backslash/ },
  { title: "backslash", bytes: forgeZip([manifest, stored("a\\b", "x")]), code: "2001", message: /"a\\\\b": backslash/ },
  { title: "colon (stream)", bytes: forgeZip([manifest, stored("a.py:hidden", "x")]), code: "2001", message: /"a\.py:hidden": colon/ },
  { title: "dot segment", bytes: forgeZip([stored("./manifest.json", "{}")]), code: "2001", message: /"\.\/manifest\.json": '\.' segment/ },
  { title: "empty segment", bytes: forgeZip([manifest, stored("a//b", "x")]), code: "2001", message: /"a\/\/b": empty path segment/ },
  { title: "NUL byte in a name", bytes: forgeZip([manifest, stored("a\u0000.py", "x")]), code: "2001", message: /"a\\u0000\.py": control character/ },
  { title: "symlink", bytes: forgeZip([manifest, stored("link", "/etc/passwd", { mode: 0o120777 })]), code: "2001", message: /"link": symbolic link/ },
  { title: "fifo", bytes: forgeZip([manifest, stored("pipe", "", { mode: 0o010644 })]), code: "2001", message: /"pipe": special file/ },
  { title: "duplicate name", bytes: forgeZip([manifest, stored("manifest.json", "{}")]), code: "2001", message: /"manifest\.json": duplicate name/ },
  { title: "case-insensitive duplicate", bytes: forgeZip([manifest, stored("pkg/A.py"), stored("pkg/a.py")]), code: "2001", message: /"pkg\/a\.py": differs only in letter case from "pkg\/A\.py"/ },
  { title: "file used as a directory", bytes: forgeZip([manifest, stored("a", "x"), stored("a/b", "y")]), code: "2001", message: /"a\/b": lies inside "a", which is a file/ },
  { title: "file and directory of one name", bytes: forgeZip([manifest, stored("a", "x"), stored("a/")]), code: "2001", message: /"a\/": is both a file and a directory/ },
  { title: "too many entries", bytes: forgeZip([manifest, ...Array.from({ length: 9 }, (_, i) => stored(`f${i}`))]), limits: { maxEntries: 5 }, code: "2001", message: /10 entries, more than the limit of 5/ },
  { title: "too many bytes", bytes: forgeZip([manifest, stored("big", Buffer.alloc(3000))]), limits: { maxTotalBytes: 2048 }, code: "2001", message: /"big": the entries add up to more than the limit of 2048 bytes/ },
  { title: "zip bomb (default ratio limit)", bytes: forgeZip([manifest, deflated("zeros.bin", zeros5M)]), code: "2001", message: /"zeros\.bin": compression ratio \d+:1 above the limit of 200:1 \(zip bomb\)/ },
  { title: "zip bomb (lowered ratio limit)", bytes: forgeZip([manifest, deflated("log.txt", text5M)]), limits: { maxRatio: 20 }, code: "2001", message: /"log\.txt": compression ratio \d+:1 above the limit of 20:1/ },
  { title: "overlapping entries", bytes: forgeZip([manifest, deflated("a.bin", "aaaa"), { ...deflated("b.bin", "aaaa"), sharesLocalOf: 1 }]), code: "2001", message: /"b\.bin": overlaps the data of "a\.bin"/ },
  { title: "stored entry whose sizes disagree", bytes: forgeZip([manifest, stored("a.py", "print(1)", { size: 100 })]), code: "2001", message: /central directory entry 2: compressed\/uncompressed size mismatch/ },
  { title: "encrypted entry", bytes: forgeZip([manifest, stored("a.py", Buffer.alloc(13), { flags: 0x0801, size: 1 })]), code: "2001", message: /"a\.py": encrypted entry/ },
  { title: "strong encryption", bytes: forgeZip([manifest, stored("a.py", "x", { flags: 0x0841 })]), code: "2001", message: /central directory entry 2: strong encryption/ },
  { title: "unsupported compression", bytes: forgeZip([manifest, stored("a.py", "x", { method: 12 })]), code: "2001", message: /"a\.py": unsupported compression method 12/ },
  { title: "directory entry with data", bytes: forgeZip([manifest, stored("d/", "data")]), code: "2001", message: /"d\/": directory entry with data/ },
  { title: "non-UTF-8 name", bytes: forgeZip([manifest, stored(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x70, 0x79]), "x", { flags: 0 })]), code: "2001", message: /"café\.py": non-UTF-8 name/ },
  { title: "invalid UTF-8 under the UTF-8 flag", bytes: forgeZip([manifest, stored(Buffer.from([0x61, 0xff, 0xfe]), "x")]), code: "2001", message: /name is not valid UTF-8/ },
  { title: "not a zip", bytes: Buffer.from("this is not a zip file at all, just some text\n".repeat(20)), code: "2001", message: /is not a readable zip: End of central directory record signature not found/ },
  { title: "empty file", bytes: Buffer.alloc(0), code: "2001", message: /is not a readable zip/ },
  { title: "truncated zip", bytes: valid.subarray(0, valid.length - 30), code: "2001", message: /is not a readable zip/ },
  { title: "central directory cut short", bytes: Buffer.concat([valid.subarray(0, valid.length - 22 - 40), valid.subarray(valid.length - 22)]), code: "2001", message: /not a readable zip|central directory entry/ },
  { title: "declared size smaller than the data", bytes: forgeZip([manifest, deflated("a.py", "print('hello')\n".repeat(100), { size: 10 })]), code: "2001", message: /"a\.py": damaged data \(too many bytes/ },
  { title: "declared size larger than the data", bytes: forgeZip([manifest, deflated("a.py", "print('hello')\n", { size: 500 })]), code: "2001", message: /"a\.py": damaged data \(not enough bytes/ },
  { title: "CRC mismatch", bytes: forgeZip([manifest, stored("a.py", "print(1)", { crc: 1234 })]), code: "2001", message: /"a\.py": CRC-32 mismatch/ },
];

describe("openSafeZip rejects hostile zips", () => {
  it("has a corpus of at least 20 cases", () => expect(hostile.length).toBeGreaterThanOrEqual(20));

  it.each(hostile)("$title → $code", async ({ bytes, limits, code, message }) => {
    const { error, parent, target } = await attempt(bytes, limits);
    expect(error).toBeInstanceOf(ProcVisionError);
    expect((error as ProcVisionError).code).toBe(code);
    expect((error as ProcVisionError).message).toMatch(message);
    expect((error as ProcVisionError).hint).toBeTruthy();
    expect(parent).toEqual(["target"]); // nothing written beside the target
    expect(target.every((p) => !p.includes(".."))).toBe(true);
  });
});

describe("openSafeZip on good zips", () => {
  it("reads entries, text and buffers, and extracts with normalized modes", async () => {
    const zip = await openSafeZip(zipFile(forgeZip([
      manifest, stored("pkg/"), stored("pkg/__init__.py", ""), deflated("pkg/main.py", "x = 1\n".repeat(100)),
      stored("run.sh", "#!/bin/sh\n", { mode: 0o100777 }), stored("wheels/a-1.0-py3-none-any.whl", "wheel"),
    ])));
    try {
      expect(zip.rootPrefix).toBe("");
      expect([...zip.entries.keys()]).toEqual(["manifest.json", "pkg", "pkg/__init__.py", "pkg/main.py", "run.sh", "wheels/a-1.0-py3-none-any.whl"]);
      expect(zip.entries.get("pkg")).toMatchObject({ isDirectory: true, zipPath: "pkg/" });
      expect(await zip.readText("manifest.json")).toBe('{"name": "x"}');
      expect((await zip.readBuffer("pkg/main.py", 600)).toString()).toBe("x = 1\n".repeat(100));
      await expect(zip.readBuffer("pkg/main.py", 599)).rejects.toMatchObject({ code: "2001", message: /600 bytes, more than the 599 allowed/ });
      await expect(zip.readText("missing.txt")).rejects.toMatchObject({ code: "2001", message: /no file "missing\.txt"/ });
      await expect(zip.readText("pkg")).rejects.toMatchObject({ code: "2001" });

      const parent = mkdtempSync(path.join(work, "extract-"));
      const target = path.join(parent, "pkg-1.0");
      await zip.extractTo(target);
      expect(readdirSync(parent)).toEqual(["pkg-1.0"]);
      expect((readdirSync(target, { recursive: true }) as string[]).sort()).toEqual([
        "manifest.json", "pkg", "pkg/__init__.py", "pkg/main.py", "run.sh", "wheels", "wheels/a-1.0-py3-none-any.whl",
      ]);
      expect(readFileSync(path.join(target, "pkg/main.py"), "utf8")).toBe("x = 1\n".repeat(100));
      expect(statSync(path.join(target, "run.sh")).mode & 0o777).toBe(0o755);
      expect(statSync(path.join(target, "pkg/main.py")).mode & 0o777).toBe(0o644);
      await expect(zip.extractTo(target)).rejects.toThrow(/needs an empty directory/);
    } finally {
      zip.close();
    }
  });

  it("reads every entry under its own name: no manifest.json needed, a top-level folder stays a folder", async () => {
    const zip = await openSafeZip(zipFile(forgeZip([stored("algo/"), stored("algo/manifest.json", "{}"), stored("wheels/x.whl", "w"), stored("README.txt", "r")])));
    try {
      expect(zip.rootPrefix).toBe("");
      expect([...zip.entries.keys()]).toEqual(["algo", "algo/manifest.json", "wheels/x.whl", "README.txt"]);
      expect(await zip.readText("README.txt")).toBe("r");
    } finally {
      zip.close();
    }
  });
});


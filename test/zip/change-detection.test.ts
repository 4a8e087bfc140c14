// Files are read once while zipping; a file that changes during that read must fail the build (no zip left behind)
// rather than ship torn data. The changes are made from inside the writer's own reads (fs/promises `open` wrapped),
// so each case hits the exact moment it names, every time.
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";

/** Called after the n-th read (1-based) of a file whose path ends with `suffix`. */
const trap: { suffix: string; afterRead: number; change: (file: string) => void } = { suffix: "\0", afterRead: 0, change: () => undefined };

vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  const open = async (...args: Parameters<typeof actual.open>): Promise<FileHandle> => {
    const handle = await actual.open(...args);
    const file = String(args[0]);
    if (!file.endsWith(trap.suffix)) return handle;
    const read = handle.read.bind(handle) as (...a: unknown[]) => Promise<{ bytesRead: number; buffer: Buffer }>;
    let reads = 0;
    (handle as unknown as { read: (...a: unknown[]) => Promise<unknown> }).read = async (...a: unknown[]) => {
      const result = await read(...a);
      if (++reads === trap.afterRead) trap.change(file);
      return result;
    };
    return handle;
  };
  return { ...actual, open, default: { ...actual, open } };
});

const { buildOfflineZip } = await import("../../src/offline-package/index.js");

const work = mkdtempSync(path.join(tmpdir(), "pv-zip-change-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => {
  trap.suffix = "\0";
});

/** A file last modified long ago, so that any change now moves its modification time whatever the clock's grain. */
function oldFile(dir: string, name: string, bytes: number): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.alloc(bytes, 0x5a));
  utimesSync(file, new Date("2001-01-01T00:00:00Z"), new Date("2001-01-01T00:00:00Z"));
  return file;
}

/** Overwrites the first bytes in place: same size, new modification time. */
const rewriteInPlace = (file: string): void => {
  writeFileSync(file, Buffer.alloc(16, 0x41), { flag: "r+" });
};
const grow = (file: string): void => appendFileSync(file, "more");

async function buildWith(name: string, bytes: number, entryPath: string) {
  const dir = mkdtempSync(path.join(work, "case-"));
  const changing = oldFile(dir, name, bytes);
  const other = oldFile(dir, "other-1.0-py3-none-any.whl", 3 * 1024 * 1024);
  const outDir = path.join(dir, "out");
  mkdirSync(outDir);
  const isWheel = entryPath.endsWith(".whl");
  const build = buildOfflineZip({
    outPath: path.join(outDir, "x-v1-offline.zip"),
    projectFiles: isWheel ? [] : [{ path: entryPath, absPath: changing, size: bytes, mode: 0o644 }],
    wheelFiles: [{ path: "wheels/other-1.0-py3-none-any.whl", absPath: other }, ...(isWheel ? [{ path: entryPath, absPath: changing }] : [])],
    extraEntries: [{ path: "manifest.json", data: Buffer.from("{}") }],
  });
  return { build, outDir };
}

describe("a file that changes while it is being zipped", () => {
  const cases = [
    { title: "a large wheel (STORED in chunks) grows after its first chunk", name: "big-1.0-py3-none-any.whl", bytes: 5 * 1024 * 1024 + 3, afterRead: 1, change: grow },
    { title: "a large wheel is rewritten in place (same size) after its first chunk", name: "big-1.0-py3-none-any.whl", bytes: 5 * 1024 * 1024 + 3, afterRead: 1, change: rewriteInPlace },
    { title: "a large wheel is rewritten in place after its last chunk", name: "big-1.0-py3-none-any.whl", bytes: 3 * 1024 * 1024, afterRead: 3, change: rewriteInPlace },
    { title: "a large asset (DEFLATEd in a stream) is rewritten in place mid-read", name: "assets/model.bin", bytes: 3 * 1024 * 1024, afterRead: 1, change: rewriteInPlace },
    { title: "a small source file is rewritten in place as it is read whole", name: "algo/main.py", bytes: 4000, afterRead: 1, change: rewriteInPlace },
  ];
  for (const c of cases) {
    it(`fails the build and leaves nothing behind: ${c.title}`, async () => {
      Object.assign(trap, { suffix: c.name, afterRead: c.afterRead, change: c.change });
      const entryPath = c.name.endsWith(".whl") ? `wheels/${c.name}` : c.name;
      const { build, outDir } = await buildWith(c.name, c.bytes, entryPath);
      await expect(build).rejects.toThrow(new RegExp(`${c.name.replace(/\./g, "\\.")} changed while it was being zipped; run the packaging again`));
      expect(readdirSync(outDir)).toEqual([]);
    });
  }

  it("builds normally when nothing changes (the trap itself is harmless)", async () => {
    Object.assign(trap, { suffix: "big-1.0-py3-none-any.whl", afterRead: 99, change: grow });
    const { build, outDir } = await buildWith("big-1.0-py3-none-any.whl", 5 * 1024 * 1024 + 3, "wheels/big-1.0-py3-none-any.whl");
    await expect(build).resolves.toMatchObject({ wheelCount: 2 });
    expect(readdirSync(outDir)).toEqual(["x-v1-offline.zip"]);
  });
});

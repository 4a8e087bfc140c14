// File digests (the install's zip digest, a published blob's digest, a dropped zip's identity) read a file through two
// reused 1 MiB buffers, the next read in flight while the current chunk is hashed: every byte exactly once, in order,
// at every size around the chunk boundary, and the descriptor closed even when the consumer throws.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { digestFile, eachChunk, sha256File } from "../../src/offline-package/digest.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-digest-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const MiB = 1 << 20;

describe("file digests", () => {
  it.each([0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 5])("hashes a %i-byte file as its bytes hash", async (size) => {
    const bytes = randomBytes(size);
    const file = path.join(work, `f-${size}`);
    writeFileSync(file, bytes);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    expect(await sha256File(file)).toEqual({ sha256, size });
    expect(await digestFile(file)).toEqual({ sha256, crc32: crc32(bytes), size });
    const chunks: Buffer[] = [];
    expect(await eachChunk(file, (c) => chunks.push(Buffer.from(c)))).toBe(size);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(chunks.every((c) => c.length > 0 && c.length <= MiB)).toBe(true);
  });

  it("closes the file when the consumer throws, and names a missing file", async () => {
    const file = path.join(work, "big");
    writeFileSync(file, randomBytes(4 * MiB));
    const fds = () => readdirSync("/proc/self/fd").length;
    const before = fds();
    let seen = 0;
    await expect(eachChunk(file, () => {
      if (++seen === 2) throw new Error("consumer failed");
    })).rejects.toThrow("consumer failed");
    expect(fds()).toBe(before);
    await expect(sha256File(path.join(work, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { crc32 } from "node:zlib";

export interface Digest {
  sha256: string;
  /** CRC-32 of the same bytes (cheap next to sha256). */
  crc32: number;
  size: number;
}

/** Files up to this size are read in one call: a stream costs more to set up than they take to read. */
const WHOLE = 1 << 20;

export async function digestStream(chunks: AsyncIterable<Buffer>): Promise<Digest> {
  const hash = createHash("sha256");
  let crc = 0;
  let size = 0;
  for await (const chunk of chunks) {
    hash.update(chunk);
    crc = crc32(chunk, crc);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), crc32: crc, size };
}

export async function digestFile(absPath: string): Promise<Digest> {
  if ((await stat(absPath)).size > WHOLE) return digestStream(createReadStream(absPath, { highWaterMark: WHOLE }));
  const data = await readFile(absPath);
  return { sha256: createHash("sha256").update(data).digest("hex"), crc32: crc32(data), size: data.length };
}

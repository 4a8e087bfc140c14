import { createHash } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import { crc32 } from "node:zlib";

export interface Digest {
  sha256: string;
  /** CRC-32 of the same bytes (cheap next to sha256). */
  crc32: number;
  size: number;
}

/** Files up to this size are read in one call; bigger ones in chunks of this size. */
const CHUNK = 1 << 20;

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

/**
 * Hands `each` a file's bytes in order, 1 MiB at a time, through two buffers reused throughout: the next read runs on
 * the thread pool while `each` takes the current chunk (a read stream allocates every chunk anew and reads only once
 * the consumer is done: a 331 MB sha256 took 0.46 s that way, 0.32 s this way; pure hashing is 0.2 s).
 */
export async function eachChunk(file: string, each: (chunk: Buffer) => void): Promise<number> {
  const handle = await open(file, "r");
  let [reading, spare] = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  let position = 0;
  let pending: Promise<{ bytesRead: number }> = handle.read(reading, 0, CHUNK, 0);
  try {
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) return position;
      const chunk = reading.subarray(0, bytesRead);
      position += bytesRead;
      [reading, spare] = [spare, reading];
      pending = handle.read(reading, 0, CHUNK, position);
      each(chunk);
    }
  } finally {
    // A failing `each` leaves a read in flight: it finishes before the descriptor closes.
    await pending.catch(() => undefined);
    await handle.close();
  }
}

/** sha256 and CRC-32 of a file. */
export async function digestFile(absPath: string): Promise<Digest> {
  if ((await stat(absPath)).size > CHUNK) {
    const hash = createHash("sha256");
    let crc = 0;
    const size = await eachChunk(absPath, (chunk) => {
      hash.update(chunk);
      crc = crc32(chunk, crc);
    });
    return { sha256: hash.digest("hex"), crc32: crc, size };
  }
  const data = await readFile(absPath);
  return { sha256: createHash("sha256").update(data).digest("hex"), crc32: crc32(data), size: data.length };
}

/** sha256 (hex) and size of a file: a published blob's digest, a dropped zip's identity. */
export async function sha256File(absPath: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  const size = await eachChunk(absPath, (chunk) => hash.update(chunk));
  return { sha256: hash.digest("hex"), size };
}

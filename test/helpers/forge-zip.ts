// A raw zip writer that can forge anything (hostile corpus). Same writer as test/safe-zip.test.ts, shared here so
// the runner's install tests can run a corpus of their own.
import { crc32, deflateRawSync } from "node:zlib";

export interface Forged {
  name: string | Buffer;
  /** Bytes as stored in the archive (already deflated when method is 8). */
  data?: Buffer;
  method?: number;
  /** Declared sizes and CRC; default to the truth. */
  size?: number;
  compressedSize?: number;
  crc?: number;
  flags?: number;
  /** Unix mode in the high half of the external attributes. */
  mode?: number;
  /** Point the central record at an earlier entry's local header instead of writing one. */
  sharesLocalOf?: number;
}

export function stored(name: string | Buffer, content: string | Buffer = "", extra: Partial<Forged> = {}): Forged {
  const data = Buffer.from(content);
  return { name, data, crc: crc32(data), size: data.length, ...extra };
}

export function deflated(name: string, content: string | Buffer, extra: Partial<Forged> = {}): Forged {
  const raw = Buffer.from(content);
  return { name, data: deflateRawSync(raw), method: 8, crc: crc32(raw), size: raw.length, ...extra };
}

export function forgeZip(entries: readonly Forged[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? 0;
    const flags = e.flags ?? 0x0800;
    const crc = e.crc ?? crc32(data);
    const compressedSize = e.compressedSize ?? data.length;
    const size = e.size ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressedSize, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const localOffset = e.sharesLocalOf === undefined ? offset : offsets[e.sharesLocalOf]!;
    offsets.push(localOffset);
    if (e.sharesLocalOf === undefined) {
      locals.push(local, name, data);
      offset += 30 + name.length + data.length;
    }
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressedSize, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(localOffset, 42);
    centrals.push(central, name);
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

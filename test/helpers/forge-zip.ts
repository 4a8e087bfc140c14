// A raw zip writer that can forge anything (hostile corpus). Same writer as test/zip/safe-zip.test.ts, shared here so
// the runner's install tests can run a corpus of their own.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
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
  /** ZIP64: the central record says 0xFFFFFFFF and a ZIP64 extra field carries these (they may lie). */
  zip64?: { size: number; compressedSize: number; offset?: number };
}

/** Lies in the end records (for corpus cases about the directory itself rather than its entries). */
export interface ForgeOptions {
  /** Entry count written in the end of central directory record (default: the truth). */
  eocdEntries?: number;
  /** Central directory offset written in the end record (default: the truth). */
  eocdOffset?: number;
  /** Writes a ZIP64 end record + locator (the EOCD then says 0xFFFF/0xFFFFFFFF) with these values. */
  zip64End?: { entries?: number; cdOffset?: number; locatorOffset?: number };
}

export function stored(name: string | Buffer, content: string | Buffer = "", extra: Partial<Forged> = {}): Forged {
  const data = Buffer.from(content);
  return { name, data, crc: crc32(data), size: data.length, ...extra };
}

export function deflated(name: string, content: string | Buffer, extra: Partial<Forged> = {}): Forged {
  const raw = Buffer.from(content);
  return { name, data: deflateRawSync(raw), method: 8, crc: crc32(raw), size: raw.length, ...extra };
}

export function forgeZip(entries: readonly Forged[], options: ForgeOptions = {}): Buffer {
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
    let extra = Buffer.alloc(0);
    if (e.zip64 !== undefined) {
      extra = Buffer.alloc(4 + 24);
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.zip64.size), 4);
      extra.writeBigUInt64LE(BigInt(e.zip64.compressedSize), 12);
      extra.writeBigUInt64LE(BigInt(e.zip64.offset ?? localOffset), 20);
    }
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.zip64 ? 0xffffffff : compressedSize, 20);
    central.writeUInt32LE(e.zip64 ? 0xffffffff : size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(e.zip64 ? 0xffffffff : localOffset, 42);
    centrals.push(central, name, extra);
  }
  const cd = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  if (options.zip64End !== undefined) {
    const z = options.zip64End;
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE((3 << 8) | 45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(z.entries ?? entries.length), 24);
    record.writeBigUInt64LE(BigInt(z.entries ?? entries.length), 32);
    record.writeBigUInt64LE(BigInt(cd.length), 40);
    record.writeBigUInt64LE(BigInt(z.cdOffset ?? offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(z.locatorOffset ?? offset + cd.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(record, locator);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(0xffffffff, 12);
    end.writeUInt32LE(0xffffffff, 16);
  } else {
    end.writeUInt16LE(options.eocdEntries ?? entries.length, 8);
    end.writeUInt16LE(options.eocdEntries ?? entries.length, 10);
    end.writeUInt32LE(cd.length, 12);
    end.writeUInt32LE(options.eocdOffset ?? offset, 16);
  }
  return Buffer.concat([...locals, cd, ...tail, end]);
}

/**
 * An offline package laid out as `procvision-cli package` lays it out: the given files (`.whl` stored, others
 * deflated, in the order given) and, unless `sums` is false, a SHA256SUMS over their true contents. `extra` entries
 * (forged ones) go after the files and are not summed.
 */
export function forgePackage(files: Record<string, string | Buffer>, o: { sums?: boolean; extra?: readonly Forged[] } = {}): Buffer {
  const entries: Forged[] = Object.entries(files).map(([p, content]) => (p.endsWith(".whl") || p.endsWith("/") ? stored(p, content) : deflated(p, content)));
  if (o.sums !== false) {
    const lines = Object.entries(files).filter(([p]) => !p.endsWith("/")).sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([p, content]) => `${createHash("sha256").update(content).digest("hex")}  ${p}\n`);
    entries.push(stored("SHA256SUMS", lines.join("")));
  }
  return forgeZip([...entries, ...(o.extra ?? [])]);
}

/** Writes forged zips into `dir` under fresh names: `const zipFile = zipFiles(work); openSafeZip(zipFile(bytes))`. */
export function zipFiles(dir: string): (bytes: Buffer) => string {
  let counter = 0;
  return (bytes) => {
    const file = path.join(dir, `z${counter++}.zip`);
    writeFileSync(file, bytes);
    return file;
  };
}

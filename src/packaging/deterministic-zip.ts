import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import yazl from "yazl";

export interface ZipEntry {
  /** Forward-slash path inside the archive. */
  path: string;
  data: Buffer;
  /** STORE instead of DEFLATE (wheels are already compressed). */
  store?: boolean;
  executable?: boolean;
}

/**
 * The fixed timestamp of every entry: SOURCE_DATE_EPOCH if set, else 1980-01-01. DOS times carry no zone and yazl
 * reads local fields, so the UTC fields are rebuilt as a local Date to get the same bytes in every time zone.
 */
export function zipTimestamp(env: NodeJS.ProcessEnv = process.env): Date {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch.trim())) {
    const utc = new Date(Number(epoch.trim()) * 1000);
    return new Date(utc.getUTCFullYear(), utc.getUTCMonth(), utc.getUTCDate(), utc.getUTCHours(), utc.getUTCMinutes(), utc.getUTCSeconds());
  }
  return new Date(1980, 0, 1, 0, 0, 0);
}

/**
 * Writes entries sorted by path with fixed timestamps and normalized modes, so the same inputs give the same bytes;
 * written to a temporary file and renamed, so no partial zip is left behind on failure.
 */
export async function writeDeterministicZip(outPath: string, entries: readonly ZipEntry[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const mtime = zipTimestamp(env);
  const zip = new yazl.ZipFile();
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const entry of sorted) {
    zip.addBuffer(entry.data, entry.path, {
      mtime,
      mode: entry.executable ? 0o100755 : 0o100644,
      compress: !entry.store,
      forceDosTimestamp: true,
    });
  }
  zip.end();
  const tmp = path.join(path.dirname(outPath), `.${path.basename(outPath)}.${process.pid}.tmp`);
  try {
    await pipeline(zip.outputStream, createWriteStream(tmp));
    await rename(tmp, outPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { entryNameProblem, foldCase } from "./entry-name.js";

export interface SafeZipLimits {
  maxEntries: number;
  /** Sum of the declared uncompressed sizes. */
  maxTotalBytes: number;
  /** Uncompressed : compressed, per entry, for entries above 1 MiB. */
  maxRatio: number;
}

export const DEFAULT_SAFE_ZIP_LIMITS: SafeZipLimits = { maxEntries: 20_000, maxTotalBytes: 8 * 1024 ** 3, maxRatio: 200 };

/** What the file system that receives the entries accepts beyond the portable rules. */
export interface TargetFileSystem {
  /** Names that differ only in letter case are distinct files. */
  caseSensitive: boolean;
  /** `:` is an ordinary character (POSIX), not a drive or stream separator (Windows). */
  colonAllowed: boolean;
}

/** Portable: what extracts the same on Linux, macOS and Windows. */
export const PORTABLE_FILE_SYSTEM: TargetFileSystem = { caseSensitive: false, colonAllowed: false };

/** Small files may compress very well (zeros, sparse tables) without being a bomb. */
const RATIO_MIN_SIZE = 1024 * 1024;

/** What the central directory says about one entry. */
export interface CentralEntry {
  nameRaw: Buffer;
  flags: number;
  method: number;
  externalAttributes: number;
  size: number;
  compressedSize: number;
  offset: number;
}

export interface CheckedEntry {
  /** Decoded name; directories end with "/". */
  name: string;
  isDirectory: boolean;
  executable: boolean;
  size: number;
  compressedSize: number;
}

const HINT = "the zip is damaged, forged, or not the kind of zip expected here; rebuild it and copy it again";

export function zipError(message: string, details?: Record<string, unknown>): ProcVisionError {
  return new ProcVisionError(ErrorCode.invalid_zip, message, { hint: HINT, details });
}

export function entryError(name: string, rule: string): ProcVisionError {
  return zipError(`zip entry ${JSON.stringify(name)}: ${rule}`, { entry: name, rule });
}

const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeName(e: CentralEntry): string {
  const shown = e.nameRaw.toString("latin1");
  // Without the UTF-8 flag the name is CP437 by the spec and whatever the zipping machine used in practice.
  if ((e.flags & FLAG_UTF8) === 0 && e.nameRaw.some((byte) => byte >= 0x80)) {
    throw entryError(shown, "non-UTF-8 name (not ASCII and the UTF-8 flag is not set)");
  }
  try {
    return utf8.decode(e.nameRaw);
  } catch {
    throw entryError(shown, "name is not valid UTF-8");
  }
}

function checkEntry(e: CentralEntry, limits: SafeZipLimits, fs: TargetFileSystem): CheckedEntry {
  const name = decodeName(e);
  const rule = entryNameProblem(name, fs.colonAllowed);
  if (rule !== null) throw entryError(name, rule);
  const unixMode = e.externalAttributes >>> 16;
  const type = unixMode & S_IFMT;
  if (type === S_IFLNK) throw entryError(name, "symbolic link");
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) throw entryError(name, `special file (type ${type.toString(8)})`);
  if ((e.flags & FLAG_ENCRYPTED) !== 0) throw entryError(name, "encrypted entry");
  if (e.method !== 0 && e.method !== 8) throw entryError(name, `unsupported compression method ${e.method} (only stored and deflate)`);
  const isDirectory = name.endsWith("/");
  if (isDirectory && e.size > 0) throw entryError(name, "directory entry with data");
  const ratio = e.size / Math.max(e.compressedSize, 1);
  if (e.size > RATIO_MIN_SIZE && ratio > limits.maxRatio) {
    throw entryError(name, `compression ratio ${Math.round(ratio)}:1 above the limit of ${limits.maxRatio}:1 (zip bomb)`);
  }
  // pip's rule (zip_item_is_executable): a regular file with any execute bit (user, group or other).
  return { name, isDirectory, executable: type === S_IFREG && (unixMode & 0o111) !== 0, size: e.size, compressedSize: e.compressedSize };
}

export function checkEntryCount(count: number, limits: SafeZipLimits): void {
  if (count > limits.maxEntries) throw zipError(`the zip has ${count} entries, more than the limit of ${limits.maxEntries}`);
}

/** Entries whose data ranges overlap share compressed bytes: the trick of overlapping zip bombs. */
function checkOverlaps(entries: readonly { raw: CentralEntry; entry: CheckedEntry }[]): void {
  const sorted = [...entries].sort((a, b) => a.raw.offset - b.raw.offset);
  sorted.forEach((next, k) => {
    const prev = sorted[k - 1];
    // A local header takes at least 30 bytes plus the name before the data.
    if (prev !== undefined && prev.raw.offset + 30 + prev.raw.nameRaw.length + prev.raw.compressedSize > next.raw.offset) {
      throw entryError(next.entry.name, `overlaps the data of ${JSON.stringify(prev.entry.name)} (zip bomb or forged zip)`);
    }
  });
}

/** Checks each entry, the total size and overlaps (the entry count is checked before reading them); throws 2001
 * naming the entry and the rule. */
export function checkEntries(entries: readonly CentralEntry[], limits: SafeZipLimits, fs: TargetFileSystem = PORTABLE_FILE_SYSTEM): CheckedEntry[] {
  let total = 0;
  let compressed = 0;
  const checked = entries.map((raw) => {
    const entry = checkEntry(raw, limits, fs);
    total += entry.size;
    compressed += entry.compressedSize;
    if (total > limits.maxTotalBytes) {
      throw entryError(entry.name, `the entries add up to more than the limit of ${limits.maxTotalBytes} bytes uncompressed`);
    }
    return { raw, entry };
  });
  // Many entries just under the per-entry threshold (1 MiB of zeros each) make a bomb by count: judge the whole too.
  const overall = total / Math.max(compressed, 1);
  if (total > RATIO_MIN_SIZE && overall > limits.maxRatio) {
    throw zipError(`the ${entries.length} entries expand to ${total} bytes from ${compressed} compressed: ratio ${Math.round(overall)}:1 above the limit of ${limits.maxRatio}:1 (zip bomb)`,
      { rule: "zip bomb (overall ratio)" });
  }
  checkOverlaps(checked);
  return checked.map((c) => c.entry);
}

export interface PlacedEntry {
  /** Path as the zip's view places it, without a trailing slash. */
  path: string;
  zipPath: string;
  isDirectory: boolean;
}

/** Duplicates (exact or by letter case) and files that are also used as directories. A directory listed twice is
 * harmless (a view may place two folders of the zip at one path). */
export function checkCollisions(entries: readonly PlacedEntry[], caseSensitive = false): void {
  const byKey = new Map<string, PlacedEntry>();
  const keyOf = caseSensitive ? (p: string) => p : foldCase;
  for (const entry of entries) {
    const key = keyOf(entry.path);
    const other = byKey.get(key);
    if (other !== undefined && !(other.isDirectory && entry.isDirectory)) {
      const rule = other.path !== entry.path ? `differs only in letter case from ${JSON.stringify(other.zipPath)} (case-insensitive duplicate)`
        : other.isDirectory !== entry.isDirectory ? `is both a file and a directory (duplicate name)`
        : other.zipPath === entry.zipPath ? "duplicate name" : `duplicate of ${JSON.stringify(other.zipPath)}`;
      throw entryError(entry.zipPath, rule);
    }
    byKey.set(key, entry);
  }
  for (const entry of entries) {
    for (let i = entry.path.indexOf("/"); i !== -1; i = entry.path.indexOf("/", i + 1)) {
      const parent = byKey.get(keyOf(entry.path.slice(0, i)));
      if (parent !== undefined && !parent.isDirectory) throw entryError(entry.zipPath, `lies inside ${JSON.stringify(parent.zipPath)}, which is a file`);
    }
  }
}

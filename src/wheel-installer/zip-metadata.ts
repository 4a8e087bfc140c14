import { eq } from "@renovatebot/pep440";
import type { Entry, ZipFile } from "yauzl";
import { normalizeName } from "../requirements/parse.js";
import { parseWheelFilename } from "../wheel-tags/filename.js";
import { parseHeaders } from "./metadata.js";
import type { SafeZip } from "../zip/open.js";

const METADATA = /^([^/]+)\.dist-info\/METADATA$/;
const METADATA_LIMIT = 1024 * 1024;

async function readEntry(zip: ZipFile, entry: Entry): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** `Name` and `Version` from the header block of a METADATA file (RFC 822 style, ends at the first blank line). */
export function metadataIdentity(text: string): { name?: string; version?: string } {
  const fields = parseHeaders(text);
  const [name] = fields.get("name") ?? [];
  const [version] = fields.get("version") ?? [];
  return { ...(name !== undefined ? { name } : {}), ...(version !== undefined ? { version } : {}) };
}

/**
 * A wheel's METADATA text, or why it is not the distribution its file name says; `unreadable` when the wheel is not a
 * readable zip at all (a damaged package, 2001) rather than a readable wheel of something else (2004).
 */
export type WheelMetadataRead = { ok: true; text: string } | { ok: false; problem: string; unreadable: boolean };

/**
 * Reads `wheels/<file>`'s METADATA and checks it is the distribution its file name says: a readable zip with exactly
 * one `*.dist-info/METADATA` whose Name and Version match the file name. pip and uv refuse such a wheel only deep
 * inside the install; a wheel named `numpy-…` that installs something else is a forged package. Null for a file
 * name that is not a wheel's (reported elsewhere).
 */
export async function readWheelMetadata(zip: SafeZip, wheelPath: string): Promise<WheelMetadataRead | null> {
  const parsed = parseWheelFilename(wheelPath);
  if (!parsed.ok) return null;
  const problem = (text: string, unreadable = false): WheelMetadataRead => ({ ok: false, problem: text, unreadable });
  const file = parsed.wheel.fileName;
  let nested: ZipFile;
  try {
    nested = await zip.openNestedZip(wheelPath);
  } catch (err) {
    return problem(`${file} is not a readable wheel (${(err as Error).message})`, true);
  }
  try {
    const found: Entry[] = [];
    try {
      for await (const entry of nested.eachEntry()) if (METADATA.test(entry.fileName)) found.push(entry);
    } catch (err) {
      return problem(`${file} is not a readable wheel (${(err as Error).message})`, true);
    }
    if (found.length !== 1) return problem(`${file} has ${found.length === 0 ? "no" : found.length} *.dist-info/METADATA (a wheel has exactly one)`);
    const meta = found[0]!;
    if (meta.uncompressedSize > METADATA_LIMIT) return problem(`${file}: ${meta.fileName} is ${meta.uncompressedSize} bytes, more than ${METADATA_LIMIT} allowed`);
    let text: string;
    try {
      text = await readEntry(nested, meta);
    } catch (err) {
      return problem(`${file}: ${meta.fileName} cannot be read (${(err as Error).message})`, true);
    }
    const { name, version } = metadataIdentity(text);
    const sameName = name !== undefined && normalizeName(name) === parsed.wheel.normalizedName;
    let sameVersion = false;
    try {
      sameVersion = version !== undefined && (version === parsed.wheel.version || eq(version, parsed.wheel.version));
    } catch {
      sameVersion = false;
    }
    if (!sameName || !sameVersion) {
      return problem(`${file} is named ${parsed.wheel.distribution} ${parsed.wheel.version} but its METADATA says ${name ?? "(no Name)"} ${version ?? "(no Version)"}`);
    }
    return { ok: true, text };
  } finally {
    nested.close();
  }
}

/**
 * Every wheel's METADATA (by wheel file name) and the problems, in order (empty when all agree with their names);
 * `unreadable` lists the problems of wheels that are not readable zips.
 */
export async function readWheelsMetadata(zip: SafeZip, wheelPaths: readonly string[]): Promise<{ problems: string[]; unreadable: string[]; metadata: Map<string, string> }> {
  const problems: string[] = [];
  const unreadable: string[] = [];
  const metadata = new Map<string, string>();
  for (const p of wheelPaths) {
    const read = await readWheelMetadata(zip, p);
    if (read === null) continue;
    if (read.ok) metadata.set(p.slice(p.lastIndexOf("/") + 1), read.text);
    else {
      problems.push(read.problem);
      if (read.unreadable) unreadable.push(read.problem);
    }
  }
  return { problems, unreadable, metadata };
}

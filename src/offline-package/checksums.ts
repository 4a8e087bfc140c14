import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { digestStream } from "./digest.js";
import { SHA256SUMS, SIGNATURE } from "./layout.js";
import { parseSha256Sums } from "./sha256sums.js";
import type { SafeZip } from "../zip/index.js";

export interface ChecksumProblem {
  path: string;
  problem: "mismatch" | "missing_from_sums" | "listed_but_absent";
}

export type ChecksumResult =
  | { ok: true; /** The SHA256SUMS text (what SIGNATURE signs), null when the zip has none. */ sha256sums: string | null }
  | { ok: false; problems: ChecksumProblem[] };

/**
 * Hashes every file of the package (streaming) against SHA256SUMS. A zip without SHA256SUMS is `ok` with
 * `sha256sums: null`: whether that is acceptable is the installer's policy. A malformed SHA256SUMS throws 2008.
 */
export async function verifyChecksums(zip: SafeZip): Promise<ChecksumResult> {
  if (!zip.entries.has(SHA256SUMS)) return { ok: true, sha256sums: null };
  const text = await zip.readText(SHA256SUMS);
  const parsed = parseSha256Sums(text);
  if (!parsed.ok) {
    throw new ProcVisionError(ErrorCode.integrity_failed, `SHA256SUMS is malformed: ${parsed.errors.slice(0, 3).join("; ")}`, {
      hint: "rebuild the package with procvision-cli package",
    });
  }
  const generated = (p: string): boolean => p === SHA256SUMS || p === SIGNATURE;
  const unseen = new Set([...parsed.sums.keys()].filter((p) => !generated(p)));
  const problems: ChecksumProblem[] = [];
  for (const entry of zip.entries.values()) {
    if (entry.isDirectory || generated(entry.path)) continue;
    unseen.delete(entry.path);
    const expected = parsed.sums.get(entry.path);
    if (expected === undefined) problems.push({ path: entry.path, problem: "missing_from_sums" });
    else if ((await digestStream(await zip.openReadStream(entry.path))).sha256 !== expected) problems.push({ path: entry.path, problem: "mismatch" });
  }
  for (const p of unseen) problems.push({ path: p, problem: "listed_but_absent" });
  return problems.length === 0 ? { ok: true, sha256sums: text } : { ok: false, problems };
}

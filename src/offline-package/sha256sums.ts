import { compareZipPaths } from "../zip/write.js";

export interface Sha256Entry {
  path: string;
  /** Lower-case hex. */
  sha256: string;
}

/** `sha256sum` format: "<hex>  <path>\n" per entry, sorted by path. */
export function formatSha256Sums(entries: readonly Sha256Entry[]): string {
  return [...entries]
    .sort((a, b) => compareZipPaths(a.path, b.path))
    .map((e) => `${e.sha256}  ${e.path}\n`)
    .join("");
}

export type ParsedSha256Sums = { ok: true; sums: Map<string, string> } | { ok: false; errors: string[] };

/** Reads what `formatSha256Sums` (or `sha256sum`, text or binary mode) writes; blank lines are ignored. */
export function parseSha256Sums(text: string): ParsedSha256Sums {
  const sums = new Map<string, string>();
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!match) errors.push(`line ${i + 1}: expected "<64 hex digits>  <path>", got ${JSON.stringify(line.slice(0, 100))}`);
    else if (sums.has(match[2]!)) errors.push(`line ${i + 1}: ${match[2]} is listed twice`);
    else sums.set(match[2]!, match[1]!.toLowerCase());
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, sums };
}

import { ErrorCode, ProcVisionError } from "../errors/index.js";

// The `since` filter of records and audit. Rows store their time as Date.toISOString() (UTC, milliseconds, fixed
// width), so the filter is turned into that same form and SQLite's text comparison then compares instants. Compared
// as typed, `2026-12-03T19:29:18Z` sorted after `…19:29:18.500Z` ('Z' > '.') and an offset time compared digits of
// another zone.

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

const HINT = "an ISO 8601 time such as 2026-12-03T19:29:18Z, 2026-12-03T20:29:18+01:00 or 2026-12-03 (UTC when no zone is given), or milliseconds since 1970";

/** A `since` value (ISO 8601 date or date-time, or epoch milliseconds) → the stored time form; anything else → 1006. */
export function sinceInstant(value: string): string {
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) : isoMillis(text);
  const date = ms === undefined ? undefined : new Date(ms);
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new ProcVisionError(ErrorCode.invalid_params, `since must be a time, got ${JSON.stringify(value)}`, { hint: HINT });
  }
  return date.toISOString();
}

function isoMillis(text: string): number | undefined {
  const m = ISO.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((part) => (part === undefined ? undefined : Number(part)));
  const fields = [year!, month! - 1, day!, hour, minute, second] as const;
  const local = Date.UTC(...fields);
  const back = new Date(local);
  // Date.UTC rolls 2026-02-30 over into March: a field out of range shows as a field that changed.
  const same = [back.getUTCFullYear(), back.getUTCMonth(), back.getUTCDate(), back.getUTCHours(), back.getUTCMinutes(), back.getUTCSeconds()]
    .every((v, i) => v === fields[i]);
  if (!same) return undefined;
  // Beyond the stored millisecond, round up: `since` is inclusive, so 18.5004 must not take in a row at 18.500.
  const fraction = m[7] ?? "";
  const millis = Math.ceil(Number(`0.${fraction || "0"}`) * 1000 - 1e-9);
  return local + millis - offsetMillis(m[8]);
}

function offsetMillis(zone: string | undefined): number {
  if (zone === undefined || zone.toUpperCase() === "Z") return 0;
  const digits = zone.slice(1).replace(":", "");
  const [hours, minutes] = [Number(digits.slice(0, 2)), Number(digits.slice(2))];
  if (hours > 23 || minutes > 59) return Number.NaN;
  return (zone.startsWith("-") ? -1 : 1) * (hours * 60 + minutes) * 60_000;
}

// Shared by the bench sections: percentiles and small formatting helpers.
export interface Stats { p50: number; p99: number; mean: number; n: number }

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length, n: samples.length };
}

export const fmt = (n: number | undefined, d = 2): string => (n === undefined || Number.isNaN(n) ? "n/a" : n.toFixed(d));
export const verdict = (ok: boolean): string => (ok ? "met" : "**missed**");

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

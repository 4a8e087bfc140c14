import type { default as Sharp } from "sharp";

let loading: Promise<typeof Sharp> | undefined;

/**
 * sharp, loaded on first use: it costs ~25 MB of resident memory, and a runner that only receives raw pixels never
 * needs it.
 */
export function loadSharp(): Promise<typeof Sharp> {
  loading ??= import("sharp").then((m) => m.default);
  return loading;
}

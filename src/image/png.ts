import { PNG } from "pngjs";
import type { RawImage } from "./decode.js";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Offset of the bit depth in a PNG: signature (8), IHDR length and type (8), width and height (8). */
const BIT_DEPTH_AT = 24;

export const isPng = (bytes: Uint8Array): boolean => bytes.length > BIT_DEPTH_AT && SIGNATURE.equals(bytes.subarray(0, 8));

/**
 * 8-bit PNGs (gray, RGB, palette, with or without alpha, interlaced or not) decoded to packed RGB with pngjs, so `run`
 * and `validate --image` need not load sharp (~100 ms of CPU) for them. Alpha is dropped, as sharp's removeAlpha does.
 * Anything else (16-bit: the two libraries round differently; damaged input) gives undefined: the caller uses sharp.
 */
export function decodeSimplePng(bytes: Uint8Array): RawImage | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isPng(buf) || buf[BIT_DEPTH_AT] !== 8) return undefined;
  let rgba: { data: Buffer; width: number; height: number };
  try {
    rgba = PNG.sync.read(buf);
  } catch {
    return undefined;
  }
  const { data, width, height } = rgba;
  const out = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0, o = 0; o < out.length; i += 4, o += 3) {
    out[o] = data[i]!;
    out[o + 1] = data[i + 1]!;
    out[o + 2] = data[i + 2]!;
  }
  return { data: out, width, height, channels: 3, colorSpace: "RGB" };
}

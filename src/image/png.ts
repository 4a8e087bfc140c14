import { inflateSync } from "node:zlib";
import type { RawImage } from "./decode.js";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Samples per pixel by PNG colour type: gray, RGB, palette, gray+alpha, RGBA. */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export const isPng = (bytes: Uint8Array): boolean => bytes.length > 8 && SIGNATURE.equals(bytes.subarray(0, 8));

/**
 * The common PNGs (8-bit, not interlaced: gray, RGB, palette, with or without alpha) decoded to packed RGB with zlib
 * alone, so `run` and `validate --image` need not load sharp (~100 ms of CPU) for them. Alpha is dropped, as sharp's
 * removeAlpha does. Anything else (16-bit, interlaced, damaged) gives undefined: the caller decodes it with sharp.
 */
export function decodeSimplePng(bytes: Uint8Array): RawImage | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isPng(buf)) return undefined;
  let width = 0;
  let height = 0;
  let colorType = -1;
  let palette: Buffer | undefined;
  const idat: Buffer[] = [];
  for (let at = 8; at + 12 <= buf.length;) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    if (data.length !== length) return undefined;
    if (type === "IHDR") {
      if (length < 13 || data[8] !== 8 || data[10] !== 0 || data[11] !== 0 || data[12] !== 0) return undefined; // 8-bit, deflate, filter 0, no interlace
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      colorType = data[9]!;
    } else if (type === "PLTE") {
      palette = data;
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      break;
    }
    at += 12 + length;
  }
  const samples = SAMPLES[colorType];
  if (samples === undefined || width === 0 || height === 0 || (colorType === 3 && !palette)) return undefined;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    return undefined;
  }
  const stride = width * samples;
  if (raw.length < height * (stride + 1)) return undefined;
  const lines = unfilter(raw, height, stride, samples);
  if (!lines) return undefined;
  const out = Buffer.allocUnsafe(width * height * 3);
  for (let p = 0, o = 0; p < width * height; p++, o += 3) {
    const s = p * samples;
    if (colorType === 2 || colorType === 6) {
      out[o] = lines[s]!;
      out[o + 1] = lines[s + 1]!;
      out[o + 2] = lines[s + 2]!;
    } else if (colorType === 3) {
      const entry = lines[s]! * 3;
      if (entry + 2 >= palette!.length) return undefined;
      out[o] = palette![entry]!;
      out[o + 1] = palette![entry + 1]!;
      out[o + 2] = palette![entry + 2]!;
    } else {
      out[o] = out[o + 1] = out[o + 2] = lines[s]!;
    }
  }
  return { data: out, width, height, channels: 3, colorSpace: "RGB" };
}

/** Reverses the per-line PNG filters (none, sub, up, average, Paeth) into packed samples. */
function unfilter(raw: Buffer, height: number, stride: number, bpp: number): Buffer | undefined {
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    const prev = row - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp]! : 0;
      const b = y > 0 ? out[prev + x]! : 0;
      const c = x >= bpp && y > 0 ? out[prev + x - bpp]! : 0;
      let predicted: number;
      switch (filter) {
        case 0: predicted = 0; break;
        case 1: predicted = a; break;
        case 2: predicted = b; break;
        case 3: predicted = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: return undefined;
      }
      out[row + x] = (line[x]! + predicted) & 0xff;
    }
  }
  return out;
}

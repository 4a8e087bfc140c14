import { readFile } from "node:fs/promises";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { decodeSimplePng, isPng } from "./png.js";
import { loadSharp } from "./sharp.js";

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
  colorSpace: "RGB" | "BGR" | "GRAY";
}

/**
 * The most pixels an encoded image may decode to: above the largest industrial sensors (~151 MP), below what lets a
 * few hundred KB of PNG (a decompression bomb) take gigabytes of memory and shared memory.
 */
export const MAX_DECODED_PIXELS = 160_000_000;

/** Width × height from a PNG's IHDR (fixed offsets), to refuse a bomb before decoding it. */
function pngPixels(bytes: Uint8Array): number | undefined {
  if (!isPng(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(16) * view.getUint32(20);
}

/**
 * Decodes a JPEG/PNG (file path or bytes) to packed 8-bit RGB, the layout workers read zero-copy. 8-bit PNGs are
 * decoded with pngjs; everything else goes through sharp, loaded on first use.
 */
export async function decodeImage(input: { path: string } | { bytes: Uint8Array }): Promise<RawImage> {
  const what = "path" in input ? input.path : `${input.bytes.byteLength} bytes`;
  try {
    const bytes = "path" in input ? await readFile(input.path) : input.bytes;
    const pixels = pngPixels(bytes);
    if (pixels !== undefined && pixels > MAX_DECODED_PIXELS) throw new Error(tooLarge(pixels));
    const png = decodeSimplePng(bytes);
    if (png) return png;
    const sharp = await loadSharp();
    const { data, info } = await sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { limitInputPixels: MAX_DECODED_PIXELS }).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: 3, colorSpace: "RGB" };
  } catch (err) {
    const message = (err as Error).message;
    throw new ProcVisionError(ErrorCode.image_load_failed, `cannot decode image ${what}: ${message}`, {
      hint: message.includes("pixels") ? `send a smaller image (at most ${MAX_DECODED_PIXELS} pixels)` : "pass a readable JPEG or PNG file",
    });
  }
}

const tooLarge = (pixels: number): string => `it would decode to ${pixels} pixels, more than the ${MAX_DECODED_PIXELS} allowed`;

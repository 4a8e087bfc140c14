import { readFile } from "node:fs/promises";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { decodeSimplePng } from "./png.js";
import { loadSharp } from "./sharp.js";

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
  colorSpace: "RGB" | "BGR" | "GRAY";
}

/**
 * Decodes a JPEG/PNG (file path or bytes) to packed 8-bit RGB, the layout workers read zero-copy. 8-bit PNGs are
 * decoded with pngjs; everything else goes through sharp, loaded on first use.
 */
export async function decodeImage(input: { path: string } | { bytes: Uint8Array }): Promise<RawImage> {
  const what = "path" in input ? input.path : `${input.bytes.byteLength} bytes`;
  try {
    const bytes = "path" in input ? await readFile(input.path) : input.bytes;
    const png = decodeSimplePng(bytes);
    if (png) return png;
    const sharp = await loadSharp();
    const { data, info } = await sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: 3, colorSpace: "RGB" };
  } catch (err) {
    throw new ProcVisionError(ErrorCode.image_load_failed, `cannot decode image ${what}: ${(err as Error).message}`, {
      hint: "pass a readable JPEG or PNG file",
    });
  }
}

import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { loadSharp } from "./sharp.js";

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
  colorSpace: "RGB" | "BGR" | "GRAY";
}

/** Decodes a JPEG/PNG (file path or bytes) to packed 8-bit RGB, the layout workers read zero-copy. */
export async function decodeImage(input: { path: string } | { bytes: Uint8Array }): Promise<RawImage> {
  const source = "path" in input ? input.path : Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(source).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: 3, colorSpace: "RGB" };
  } catch (err) {
    const what = "path" in input ? input.path : `${input.bytes.byteLength} bytes`;
    throw new ProcVisionError(ErrorCode.image_load_failed, `cannot decode image ${what}: ${(err as Error).message}`, {
      hint: "pass a readable JPEG or PNG file",
    });
  }
}

import { loadSharp } from "../image/sharp.js";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { decodeImage } from "../image/decode.js";
import type { ImageMeta } from "../protocol/messages.js";
import { ColorSpace, Encoding } from "../shm/segment-format.js";
import type { Segment } from "../shm/segment.js";
import type { InspectImage } from "./types.js";

export type FrameEncoding = "raw" | "jpeg" | "png";

/** Pixels the caller writes into the segment itself (see `FilledPixels`). */
export interface InPlacePayload {
  byteLength: number;
  fill: (target: Buffer) => void;
}

/** An image ready for a segment: decoded once per request, written into whichever worker's slot runs the call. */
export interface PreparedImage {
  payload: Buffer | InPlacePayload;
  width: number;
  height: number;
  channels: 1 | 3;
  colorSpace: "RGB" | "BGR" | "GRAY";
  encoding: FrameEncoding;
  cameraId: string;
}

function imageError(message: string): ProcVisionError {
  return new ProcVisionError(ErrorCode.image_load_failed, message, {
    hint: "send raw pixels with width × height × channels bytes, or a readable JPEG/PNG",
  });
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw imageError(`image width and height must be positive integers, got ${width}×${height}`);
  }
}

function checkRaw(data: Uint8Array, width: number, height: number, channels: 1 | 3 | undefined): 1 | 3 {
  checkSize(width, height);
  const inferred = channels ?? (data.byteLength === width * height ? 1 : 3);
  if (inferred !== 1 && inferred !== 3) throw imageError(`image channels must be 1 or 3, got ${String(channels)}`);
  const expected = width * height * inferred;
  if (data.byteLength !== expected) {
    throw imageError(`raw ${width}×${height}×${inferred} image needs ${expected} bytes, got ${data.byteLength}`);
  }
  return inferred;
}

/**
 * Turns an inspect image into segment payload (contract §4, `image_encoding`): raw pixels pass through without a
 * copy; JPEG/PNG inputs are decoded to RGB. With `jpeg`/`png` encoding the frame is (re-)encoded for algorithms that
 * want file bytes; an input file already in that format is passed as is. Failures are 1002 request errors.
 */
export async function prepareImage(input: InspectImage, encoding: FrameEncoding, cameraId = "cam-0"): Promise<PreparedImage> {
  if ("fill" in input) {
    const channels = input.channels ?? 3;
    if (channels !== 1 && channels !== 3) throw imageError(`image channels must be 1 or 3, got ${String(channels)}`);
    checkSize(input.width, input.height);
    const colorSpace = input.color_space ?? (channels === 1 ? "GRAY" : "RGB");
    const payload = { byteLength: input.width * input.height * channels, fill: input.fill };
    if (encoding === "raw") return { payload, width: input.width, height: input.height, channels, colorSpace, encoding, cameraId };
    // Encoders need the pixels in hand: fill a buffer once, then encode it.
    const pixels = Buffer.alloc(payload.byteLength);
    input.fill(pixels);
    return encodeRaw({ payload: pixels, width: input.width, height: input.height, channels, colorSpace, cameraId }, encoding);
  }
  if ("data" in input) {
    const channels = checkRaw(input.data, input.width, input.height, input.channels);
    const colorSpace = input.color_space ?? (channels === 1 ? "GRAY" : "RGB");
    // A literal per case, not `{ ...raw, encoding }`: adding keys after a spread is V8's slow path (~1 µs per call).
    const payload = asBuffer(input.data);
    return encoding === "raw"
      ? { payload, width: input.width, height: input.height, channels, colorSpace, encoding, cameraId }
      : encodeRaw({ payload, width: input.width, height: input.height, channels, colorSpace, cameraId }, encoding);
  }
  const decoded = await decodeImage(input);
  const base = { width: decoded.width, height: decoded.height, channels: decoded.channels, colorSpace: decoded.colorSpace, cameraId };
  if (encoding === "raw") return { ...base, payload: decoded.data, encoding };
  const original = "path" in input ? undefined : asBuffer(input.bytes);
  if (original !== undefined) {
    const format = (await (await loadSharp())(original).metadata()).format;
    if (format === encoding) return { ...base, payload: original, encoding };
  }
  return encodeRaw({ ...base, payload: decoded.data }, encoding);
}

async function encodeRaw(image: Omit<PreparedImage, "encoding" | "payload"> & { payload: Buffer }, encoding: "jpeg" | "png"): Promise<PreparedImage> {
  let pixels = image.payload;
  if (image.colorSpace === "BGR") {
    // Encoders take RGB; the encoded frame is always RGB.
    pixels = Buffer.from(pixels);
    for (let i = 0; i + 2 < pixels.length; i += 3) {
      const b = pixels[i] ?? 0;
      pixels[i] = pixels[i + 2] ?? 0;
      pixels[i + 2] = b;
    }
  }
  const sharp = await loadSharp();
  const s = sharp(pixels, { raw: { width: image.width, height: image.height, channels: image.channels } });
  const payload = await (encoding === "jpeg" ? s.jpeg({ quality: 95 }) : s.png({ compressionLevel: 1 })).toBuffer();
  return { ...image, payload, colorSpace: image.channels === 1 ? "GRAY" : "RGB", encoding };
}

/** Publishes `image` in `segment` and returns the image_meta that names exactly this frame. */
export function writeImage(segment: Segment, image: PreparedImage): ImageMeta {
  const timestampMs = Date.now();
  const frame = {
    width: image.width,
    height: image.height,
    channels: image.channels,
    colorSpace: ColorSpace[image.colorSpace],
    encoding: Encoding[image.encoding],
    timestampMs,
  };
  const { payload } = image;
  let sequence: number;
  if (Buffer.isBuffer(payload)) {
    ({ sequence } = segment.write(payload, frame));
  } else {
    if (payload.byteLength > segment.capacity) throw imageError(`a ${payload.byteLength}-byte frame does not fit the ${segment.capacity}-byte segment`);
    try {
      payload.fill(segment.payload().subarray(0, payload.byteLength));
    } catch (err) {
      throw imageError(`the image's fill callback failed: ${(err as Error).message}`);
    }
    ({ sequence } = segment.commit(frame, payload.byteLength));
  }
  return {
    width: image.width,
    height: image.height,
    timestamp_ms: timestampMs,
    camera_id: image.cameraId,
    channels: image.channels,
    color_space: image.colorSpace,
    encoding: image.encoding,
    sequence,
  };
}

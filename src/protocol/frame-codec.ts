import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";

/** Frame = u32 big-endian length + that many bytes of UTF-8 JSON holding one object (docs/PROTOCOL.md). */
export const HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export type FrameObject = Record<string, unknown>;

export function encodeFrame(message: object): Buffer {
  const json = JSON.stringify(message);
  const length = Buffer.byteLength(json, "utf8");
  const out = Buffer.allocUnsafe(HEADER_BYTES + length);
  out.writeUInt32BE(length, 0);
  out.write(json, HEADER_BYTES, "utf8");
  return out;
}

export function protocolError(message: string): ProcVisionError {
  return new ProcVisionError(ErrorCode.protocol_error, message, {
    hint: "the worker's stdout must carry protocol frames only; see docs/PROTOCOL.md",
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseBody(body: Uint8Array): FrameObject {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch (err) {
    throw protocolError(`frame body is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw protocolError(`frame body must be a JSON object, got ${Array.isArray(value) ? "an array" : typeof value}`);
  }
  return value as FrameObject;
}

/**
 * Incremental decoder: feed it stream chunks of any size, get whole frames back.
 * A protocol error poisons it, because after a bad length the stream cannot be resynchronised.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private failure: ProcVisionError | null = null;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes of a frame started but not finished: non-zero at end of stream means a truncated frame. */
  get pendingBytes(): number {
    return this.headerFill + this.bodyFill;
  }

  push(chunk: Uint8Array): FrameObject[] {
    if (this.failure) throw this.failure;
    try {
      return this.consume(chunk);
    } catch (err) {
      this.failure = err as ProcVisionError;
      throw err;
    }
  }

  private checkedLength(length: number): number {
    if (length === 0) throw protocolError("frame length 0 is not allowed");
    if (length > this.maxFrameBytes) {
      throw protocolError(`frame length ${length} exceeds the limit of ${this.maxFrameBytes} bytes`);
    }
    return length;
  }

  private consume(chunk: Uint8Array): FrameObject[] {
    const frames: FrameObject[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.body === null) {
        // Fast path: a whole frame inside this chunk is decoded in place, without copying.
        if (this.headerFill === 0 && chunk.length - offset >= HEADER_BYTES) {
          const view = Buffer.from(chunk.buffer, chunk.byteOffset + offset, chunk.length - offset);
          const length = this.checkedLength(view.readUInt32BE(0));
          if (view.length >= HEADER_BYTES + length) {
            frames.push(parseBody(view.subarray(HEADER_BYTES, HEADER_BYTES + length)));
            offset += HEADER_BYTES + length;
            continue;
          }
        }
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - offset);
        this.header.set(chunk.subarray(offset, offset + take), this.headerFill);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < HEADER_BYTES) break;
        this.body = Buffer.allocUnsafe(this.checkedLength(this.header.readUInt32BE(0)));
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - offset);
      this.body.set(chunk.subarray(offset, offset + take), this.bodyFill);
      this.bodyFill += take;
      offset += take;
      if (this.bodyFill === this.body.length) {
        frames.push(parseBody(this.body));
        this.body = null;
        this.bodyFill = 0;
        this.headerFill = 0;
      }
    }
    return frames;
  }
}

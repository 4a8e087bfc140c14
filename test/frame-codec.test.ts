import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder } from "../src/protocol/frame-codec.js";
import { parseWorkerMessage } from "../src/protocol/messages.js";
import { chunked } from "./helpers/chunked.js";

const jsonObject = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 });

function rawFrame(body: Buffer, length = body.length): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(length, 0);
  return Buffer.concat([head, body]);
}

describe("frame codec", () => {
  it("decodes any sequence of frames, however the stream is chunked", () => {
    fc.assert(
      fc.property(fc.array(jsonObject, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => encodeFrame(m)));
        const decoder = new FrameDecoder();
        const decoded = chunked(stream, cuts).flatMap((c) => decoder.push(c));
        expect(decoded).toEqual(messages.map((m) => JSON.parse(JSON.stringify(m))));
        expect(decoder.pendingBytes).toBe(0);
      }),
    );
  });

  it("reports a truncated stream as pending bytes rather than a frame", () => {
    fc.assert(
      fc.property(jsonObject, fc.integer({ min: 1, max: 1000 }), (message, cut) => {
        const frame = encodeFrame(message);
        const decoder = new FrameDecoder();
        const frames = decoder.push(frame.subarray(0, Math.max(0, frame.length - 1 - (cut % frame.length))));
        expect(frames).toEqual([]);
        expect(decoder.pendingBytes).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it("never accepts junk silently: random bytes either decode to objects or raise 3002", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), (junk) => {
        const decoder = new FrameDecoder(1024);
        try {
          for (const frame of decoder.push(junk)) expect(typeof frame).toBe("object");
        } catch (err) {
          expect((err as { code?: string }).code).toBe("3002");
        }
      }),
    );
  });

  it("rejects an oversized length before buffering the body", () => {
    const decoder = new FrameDecoder(1024);
    expect(() => decoder.push(rawFrame(Buffer.alloc(0), 1025))).toThrow(/exceeds the limit of 1024/);
    // Poisoned: the stream is out of sync for good.
    expect(() => decoder.push(encodeFrame({ type: "pong" }))).toThrow(/exceeds/);
  });

  it("rejects zero length, invalid JSON, invalid UTF-8 and non-objects with 3002", () => {
    const cases: [Buffer, RegExp][] = [
      [rawFrame(Buffer.alloc(0)), /length 0/],
      [rawFrame(Buffer.from("{not json")), /not valid UTF-8 JSON/],
      [rawFrame(Buffer.from([0x7b, 0xff, 0x7d])), /not valid UTF-8 JSON/],
      [rawFrame(Buffer.from("[1,2]")), /must be a JSON object, got an array/],
      [rawFrame(Buffer.from("42")), /got number/],
      [rawFrame(Buffer.from("null")), /got object|JSON object/],
    ];
    for (const [bytes, message] of cases) {
      const decoder = new FrameDecoder();
      let caught: unknown;
      try {
        decoder.push(bytes);
      } catch (err) {
        caught = err;
      }
      expect(caught, String(message)).toMatchObject({ code: "3002" });
      expect((caught as Error).message).toMatch(message);
    }
  });

  it("round-trips multi-byte UTF-8 split inside a character", () => {
    const message = { type: "result", message: "标定完成 ✓ ünïcödé" };
    const frame = encodeFrame(message);
    const decoder = new FrameDecoder();
    const out = [...decoder.push(frame.subarray(0, 10)), ...decoder.push(frame.subarray(10))];
    expect(out).toEqual([message]);
  });
});

describe("worker message validation", () => {
  it("fills result defaults and normalizes numeric error codes", () => {
    const msg = parseWorkerMessage({ type: "result", request_id: "r1", status: "ERROR", error_code: 1001 });
    expect(msg).toMatchObject({ type: "result", message: "", error_code: "1001", data: {}, debug: {}, session_state: {}, stdout_bytes: 0 });
  });

  it("names the field that is wrong", () => {
    expect(() => parseWorkerMessage({ type: "result", status: "OK" })).toThrow(/request_id/);
    expect(() => parseWorkerMessage({ type: "bogus" })).toThrow(/3002|invalid "bogus" frame/);
    expect(() => parseWorkerMessage({ type: "ready" })).toThrow(/info/);
  });
});

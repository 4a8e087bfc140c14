import { randomBytes } from "node:crypto";
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../../src/image/decode.js";
import { decodeSimplePng } from "../../src/image/png.js";

/** A noisy picture (every PNG filter gets used) with a gradient, 61×37 so rows are not word-aligned. */
function picture(channels: 1 | 2 | 3 | 4): { data: Buffer; width: number; height: number } {
  const width = 61;
  const height = 37;
  const data = randomBytes(width * height * channels);
  for (let i = 0; i < data.length; i += 7) data[i] = (i / 7) % 256;
  return { data, width, height };
}

async function png(channels: 1 | 2 | 3 | 4, options: Parameters<ReturnType<typeof sharp>["png"]>[0] = {}): Promise<Buffer> {
  const { data, width, height } = picture(channels);
  return sharp(data, { raw: { width, height, channels } }).png({ adaptiveFiltering: true, ...options }).toBuffer();
}

/** What sharp makes of it: the reference decodeImage used before the fast path. */
async function viaSharp(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

describe("decodeSimplePng", () => {
  const cases: [string, () => Promise<Buffer>][] = [
    ["RGB", () => png(3)],
    ["RGBA (alpha dropped)", () => png(4)],
    ["gray", () => png(1)],
    ["gray + alpha", () => png(2)],
    ["palette", () => png(3, { palette: true, colours: 64, dither: 0 })],
    ["no compression", () => png(3, { compressionLevel: 0 })],
    ["interlaced", () => png(3, { progressive: true })],
  ];
  for (const [name, make] of cases) {
    it(`decodes ${name} exactly as sharp does`, async () => {
      const bytes = await make();
      const fast = decodeSimplePng(bytes);
      const reference = await viaSharp(bytes);
      expect(fast).toBeDefined();
      expect([fast!.width, fast!.height, fast!.channels]).toEqual([reference.width, reference.height, 3]);
      expect(fast!.data.equals(reference.data)).toBe(true);
    });
  }

  it("leaves 16-bit, damaged and non-PNG input to sharp", async () => {
    const { data, width, height } = picture(3);
    const sixteen = await sharp(data, { raw: { width, height, channels: 3 } }).toColourspace("rgb16").png().toBuffer();
    const damaged = Buffer.from(await png(3));
    damaged.fill(0, damaged.length - 40, damaged.length - 12);
    const jpeg = await sharp(data, { raw: { width, height, channels: 3 } }).jpeg().toBuffer();
    for (const bytes of [sixteen, damaged, jpeg]) expect(decodeSimplePng(bytes)).toBeUndefined();
    // decodeImage still decodes the valid ones, through sharp.
    for (const bytes of [sixteen, jpeg]) expect((await decodeImage({ bytes })).width).toBe(width);
    await expect(decodeImage({ bytes: damaged })).rejects.toMatchObject({ code: "1002" });
  });

  it("refuses a decompression bomb before decoding it: a few hundred KB of PNG that would decode to 169 MP → 1002", async () => {
    const [width, height] = [13_000, 13_000];
    const chunk = (type: string, body: Buffer): Buffer => {
      const head = Buffer.alloc(8);
      head.writeUInt32BE(body.length, 0);
      head.write(type, 4, "latin1");
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
      return Buffer.concat([head, body, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 8; // bit depth 8, colour type 0 (gray)
    const rows = deflateSync(Buffer.alloc((width + 1) * height), { level: 9 }); // filter byte 0 + black pixels per row
    const bomb = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", rows), chunk("IEND", Buffer.alloc(0))]);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    await expect(decodeImage({ bytes: bomb })).rejects.toMatchObject({ code: "1002", message: expect.stringMatching(/169000000 pixels, more than the 160000000 allowed/), hint: "send a smaller image (at most 160000000 pixels)" });
  });
});

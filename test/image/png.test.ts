import { randomBytes } from "node:crypto";
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
});

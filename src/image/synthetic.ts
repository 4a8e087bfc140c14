import type { RawImage } from "./decode.js";

/**
 * A deterministic test card for smoke runs without --image: a gradient board with a few dark blobs, so algorithms
 * that threshold or look for features have something to find and none divides by a flat image's zero variance.
 */
export function syntheticImage(width = 640, height = 480): RawImage {
  const data = Buffer.alloc(width * height * 3);
  const blobs = [[0.25, 0.3], [0.7, 0.35], [0.5, 0.75]].map(([fx, fy]) => [fx! * width, fy! * height] as const);
  const radius2 = (Math.min(width, height) * 0.05) ** 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const dark = blobs.some(([bx, by]) => (x - bx) ** 2 + (y - by) ** 2 < radius2);
      data[i] = dark ? 20 : 60 + Math.round((120 * x) / width);
      data[i + 1] = dark ? 20 : 140 + Math.round((60 * y) / height);
      data[i + 2] = dark ? 20 : 70;
    }
  }
  return { data, width, height, channels: 3, colorSpace: "RGB" };
}

import type { RawImage } from "./decode.js";

/**
 * A deterministic test card for smoke runs without --image: a gradient board with a few dark blobs, so algorithms
 * that threshold or look for features have something to find and none divides by a flat image's zero variance.
 */
export function syntheticImage(width = 640, height = 480): RawImage {
  const data = Buffer.allocUnsafe(width * height * 3);
  const red = Uint8Array.from({ length: width }, (_, x) => 60 + Math.round((120 * x) / width));
  for (let y = 0; y < height; y++) {
    const green = 140 + Math.round((60 * y) / height);
    for (let x = 0, i = y * width * 3; x < width; x++, i += 3) {
      data[i] = red[x]!;
      data[i + 1] = green;
      data[i + 2] = 70;
    }
  }
  // The blobs are painted over their bounding boxes only: the image is made on every validate run.
  const radius = Math.min(width, height) * 0.05;
  for (const [fx, fy] of [[0.25, 0.3], [0.7, 0.35], [0.5, 0.75]] as const) {
    const bx = fx * width;
    const by = fy * height;
    for (let y = Math.max(0, Math.floor(by - radius)); y <= Math.min(height - 1, Math.ceil(by + radius)); y++) {
      for (let x = Math.max(0, Math.floor(bx - radius)); x <= Math.min(width - 1, Math.ceil(bx + radius)); x++) {
        if ((x - bx) ** 2 + (y - by) ** 2 < radius ** 2) data.fill(20, (y * width + x) * 3, (y * width + x) * 3 + 3);
      }
    }
  }
  return { data, width, height, channels: 3, colorSpace: "RGB" };
}

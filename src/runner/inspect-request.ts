import { ErrorCode, ProcVisionError } from "../errors/index.js";
import type { InspectImage, InspectRequest } from "../supervisor/types.js";

/** Raw pixels as callers describe them: channels and color space as plain values, checked here (1002). */
interface LooseRaw {
  width: number;
  height: number;
  channels?: number;
  color_space?: string;
}

/**
 * Library input of inspect: raw pixels (`data`), pixels written straight into the worker's shared memory by a
 * `fill(target)` callback (no intermediate copy; it may run again for a retry), or a JPEG/PNG by `path` or `bytes`.
 */
export type RunnerInspectImage = (LooseRaw & { data: Uint8Array }) | (LooseRaw & { fill: (target: Buffer) => void }) | { path: string } | { bytes: Uint8Array };

export type RunnerInspectRequest = Omit<InspectRequest, "image" | "guide_image" | "camera_id"> & {
  image: RunnerInspectImage;
  /** The guide (reference) image of a G3 inspection, in a second segment; G1 algorithms ignore it. */
  guide_image?: RunnerInspectImage;
};

function checkedRaw(image: LooseRaw): { channels?: 1 | 3; color_space?: "RGB" | "BGR" | "GRAY" } {
  const { channels, color_space: colorSpace } = image;
  if (channels !== undefined && channels !== 1 && channels !== 3) {
    throw new ProcVisionError(ErrorCode.image_load_failed, `channels must be 1 or 3, got ${channels}`, { hint: "send GRAY (1) or RGB/BGR (3) pixels" });
  }
  if (colorSpace !== undefined && colorSpace !== "RGB" && colorSpace !== "BGR" && colorSpace !== "GRAY") {
    throw new ProcVisionError(ErrorCode.image_load_failed, `color_space must be RGB, BGR or GRAY, got ${colorSpace}`, { hint: "RGB is the default for 3 channels" });
  }
  return { ...(channels ? { channels } : {}), ...(colorSpace ? { color_space: colorSpace } : {}) };
}

function toInspectImage(image: RunnerInspectImage): InspectImage {
  if ("data" in image) return { data: image.data, width: image.width, height: image.height, ...checkedRaw(image) };
  if ("fill" in image) return { fill: image.fill, width: image.width, height: image.height, ...checkedRaw(image) };
  return image;
}

/** The library's request as the supervisor takes it: images checked (1002) and typed. */
export function toSupervisorRequest(r: RunnerInspectRequest): InspectRequest {
  // One literal per case, no rest/spread pairs: this runs on every inspection.
  return { ...r, image: toInspectImage(r.image), guide_image: r.guide_image === undefined ? undefined : toInspectImage(r.guide_image) };
}

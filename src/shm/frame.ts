import type { RawImage } from "../image/decode.js";
import type { ImageMeta } from "../protocol/messages.js";
import { ColorSpace, Encoding } from "./segment-format.js";
import type { Segment } from "./segment.js";

/** Publishes a raw image in `segment` and returns the `image_meta` that lets the worker find exactly this frame. */
export function writeFrame(segment: Segment, image: RawImage, cameraId = "cam-0", timestampMs = Date.now()): ImageMeta {
  const { sequence } = segment.write(image.data, {
    width: image.width,
    height: image.height,
    channels: image.channels,
    colorSpace: ColorSpace[image.colorSpace],
    encoding: Encoding.raw,
    timestampMs,
  });
  return {
    width: image.width,
    height: image.height,
    timestamp_ms: timestampMs,
    camera_id: cameraId,
    channels: image.channels,
    color_space: image.colorSpace,
    encoding: "raw",
    sequence,
  };
}

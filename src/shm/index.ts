export {
  ColorSpace,
  Encoding,
  HEADER_SIZE,
  HeaderOffset,
  LAYOUT_VERSION,
  MAGIC,
  SegmentState,
  encodeHeader,
  payloadSize,
  readHeader,
  writeHeader,
  type Channels,
  type HeaderFields,
  type SegmentHeader,
} from "./segment-format.js";
export { nativeAddon, nativeAvailable, nativeLoadError, type ShmAddon } from "./native.js";
export {
  DEFAULT_SEGMENT_DIR,
  FileSegment,
  MappedSegment,
  createSegment,
  segmentDir,
  type FrameMeta,
  type Segment,
  type SegmentBackend,
  type SegmentOptions,
} from "./segment.js";
export { CAPACITY_STEP, MIN_CAPACITY, SegmentPool, roundCapacity, type SegmentFactory, type SegmentPoolOptions } from "./pool.js";
export { sweepStaleSegments } from "./sweep.js";
export { writeFrame } from "./frame.js";

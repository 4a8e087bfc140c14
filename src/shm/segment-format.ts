/** Binary layout of a shared-memory segment (docs/PROTOCOL.md "Shared-memory segments"): 64-byte header + payload. */

export const MAGIC = "PVIS";
export const LAYOUT_VERSION = 1;
export const HEADER_SIZE = 64;

/** Byte offsets of the header fields; all integers little-endian. */
export const HeaderOffset = {
  magic: 0,
  layoutVersion: 4,
  headerSize: 6,
  sequence: 8,
  payloadLength: 16,
  width: 24,
  height: 28,
  channels: 32,
  encoding: 33,
  colorSpace: 34,
  state: 35,
  reserved36: 36,
  timestampMs: 40,
  capacity: 48,
  reserved56: 56,
} as const;

// Member names are the contract's image_meta strings, so `Encoding[code]` and `Encoding[name]` convert both ways.
export enum Encoding {
  raw = 0,
  jpeg = 1,
  png = 2,
}

export enum ColorSpace {
  RGB = 0,
  BGR = 1,
  GRAY = 2,
}

export enum SegmentState {
  writing = 0,
  ready = 1,
}

export type Channels = 1 | 3;

/** Every header field the writer controls; magic, layout version and header size are constants. */
export interface HeaderFields {
  sequence: number;
  payloadLength: number;
  width: number;
  height: number;
  channels: number;
  encoding: Encoding;
  colorSpace: ColorSpace;
  state: SegmentState;
  timestampMs: number;
  capacity: number;
}

/** A header as stored; `readHeader` does not validate, so enum fields may hold foreign values. */
export interface SegmentHeader extends HeaderFields {
  magic: string;
  layoutVersion: number;
  headerSize: number;
}

const TWO_32 = 2 ** 32;

// u64 fields hold JS-safe integers (sequence, lengths, epoch ms); two u32 halves avoid a BigInt per frame.
function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * TWO_32 + view.getUint32(offset, true);
}

function viewOf(buf: Uint8Array): DataView {
  if (buf.byteLength < HEADER_SIZE) throw new RangeError(`segment header needs ${HEADER_SIZE} bytes, got ${buf.byteLength}`);
  return new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
}

/** Writes the full 64-byte header (reserved bytes zeroed) at the start of `buf`. */
export function writeHeader(buf: Uint8Array, fields: HeaderFields): void {
  const view = viewOf(buf);
  for (let i = 0; i < MAGIC.length; i++) view.setUint8(HeaderOffset.magic + i, MAGIC.charCodeAt(i));
  view.setUint16(HeaderOffset.layoutVersion, LAYOUT_VERSION, true);
  view.setUint16(HeaderOffset.headerSize, HEADER_SIZE, true);
  setU64(view, HeaderOffset.sequence, fields.sequence);
  setU64(view, HeaderOffset.payloadLength, fields.payloadLength);
  view.setUint32(HeaderOffset.width, fields.width, true);
  view.setUint32(HeaderOffset.height, fields.height, true);
  view.setUint8(HeaderOffset.channels, fields.channels);
  view.setUint8(HeaderOffset.encoding, fields.encoding);
  view.setUint8(HeaderOffset.colorSpace, fields.colorSpace);
  view.setUint8(HeaderOffset.state, fields.state);
  view.setUint32(HeaderOffset.reserved36, 0, true);
  setU64(view, HeaderOffset.timestampMs, fields.timestampMs);
  setU64(view, HeaderOffset.capacity, fields.capacity);
  setU64(view, HeaderOffset.reserved56, 0);
}

export function encodeHeader(fields: HeaderFields): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  writeHeader(buf, fields);
  return buf;
}

export function readHeader(buf: Uint8Array): SegmentHeader {
  const view = viewOf(buf);
  return {
    magic: String.fromCharCode(...buf.subarray(HeaderOffset.magic, HeaderOffset.magic + MAGIC.length)),
    layoutVersion: view.getUint16(HeaderOffset.layoutVersion, true),
    headerSize: view.getUint16(HeaderOffset.headerSize, true),
    sequence: getU64(view, HeaderOffset.sequence),
    payloadLength: getU64(view, HeaderOffset.payloadLength),
    width: view.getUint32(HeaderOffset.width, true),
    height: view.getUint32(HeaderOffset.height, true),
    channels: view.getUint8(HeaderOffset.channels),
    encoding: view.getUint8(HeaderOffset.encoding),
    colorSpace: view.getUint8(HeaderOffset.colorSpace),
    state: view.getUint8(HeaderOffset.state),
    timestampMs: getU64(view, HeaderOffset.timestampMs),
    capacity: getU64(view, HeaderOffset.capacity),
  };
}

/** Bytes of a raw frame. */
export function payloadSize(width: number, height: number, channels: number): number {
  return width * height * channels;
}

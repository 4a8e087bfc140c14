"""Images in shared-memory segments: the byte layout of docs/PROTOCOL.md, read with plain ``mmap``.

``multiprocessing.shared_memory`` is deliberately not used: its resource tracker unlinks segments this process
did not create when it exits.
"""
from __future__ import annotations

import functools
import io
import mmap
import os
import re
import struct
import threading
import time
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Set, Tuple, Union

import numpy as np
import numpy.typing as npt

from .errors import ImageLoadError

MAGIC = b"PVIS"
LAYOUT_VERSION = 1
HEADER_SIZE = 64
STATE_READY = 1
_STATE_OFFSET = 35
_SEQUENCE = struct.Struct("<Q")
_SEQUENCE_OFFSET = 8
# magic, layout_version, header_size, sequence, payload_length, width, height, channels, encoding, color_space,
# state, reserved, timestamp_ms, capacity, reserved
_HEADER = struct.Struct("<4sHHQQIIBBBBIQQQ")
ENCODINGS = ("raw", "jpeg", "png")
COLOR_SPACES = ("RGB", "BGR", "GRAY")
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

ImageArray = npt.NDArray[np.uint8]
Decoder = Callable[[bytes], ImageArray]


class _Header(NamedTuple):
    magic: bytes
    layout_version: int
    header_size: int
    sequence: int
    payload_length: int
    width: int
    height: int
    channels: int
    encoding: int
    color_space: int
    state: int
    reserved: int
    timestamp_ms: int
    capacity: int
    reserved2: int


class _Mapping(NamedTuple):
    mm: mmap.mmap
    identity: Tuple[int, int, int]  # st_dev, st_ino, st_size: a change means the segment was replaced or resized


_maps: Dict[str, _Mapping] = {}
_created: Set[str] = set()  # segment files this process created (write_image_array_to_shared_memory, dev writes)
_maps_lock = threading.Lock()


def read_image_from_shared_memory(shared_mem_id: str, image_meta: Mapping[str, Any]) -> ImageArray:
    """Return the image of ``shared_mem_id`` as an ``H×W×3 uint8`` array, RGB.

    Raw frames come back as a zero-copy, read-only view of the segment, valid until the call that received
    ``image_meta`` returns: ``img.copy()`` to keep it. Gray is broadcast to 3 channels and BGR reversed to RGB
    without copying. JPEG/PNG payloads are decoded with Pillow, else OpenCV. Every mismatch raises
    ``ImageLoadError`` (error code 1002) saying what did not match.
    """
    return _read(shared_mem_id, image_meta, writable=False)


def read_image_copy_on_write(shared_mem_id: str, image_meta: Mapping[str, Any]) -> ImageArray:
    """As ``read_image_from_shared_memory``, but the array is writable, as the decoded images of G3 always were.

    A raw frame is mapped privately for the call: reading it copies nothing, and the pages the algorithm draws on
    are copied on their first write (by the kernel), so the runner's segment never changes. Gray frames are expanded
    into a new array.
    """
    return _read(shared_mem_id, image_meta, writable=True)


def _read(shared_mem_id: str, image_meta: Mapping[str, Any], writable: bool) -> ImageArray:
    if not isinstance(image_meta, Mapping):
        raise ImageLoadError(f"image_meta must be a dict, got {type(image_meta).__name__}")
    width = _positive_int(image_meta, "width")
    height = _positive_int(image_meta, "height")
    # A private mapping is made for each call (a write to it must not linger into the next frame); the shared
    # read-only one is made once.
    mm = _map_file(_segment_path(shared_mem_id), shared_mem_id, private=True).mm if writable else _mapping(shared_mem_id)
    header = _checked_header(mm, shared_mem_id, image_meta, width, height)
    color_space = _color_space(image_meta, header)
    if ENCODINGS[header.encoding] == "raw":
        return _raw_view(mm, header, color_space, writable)
    payload = mm[header.header_size : header.header_size + header.payload_length]
    image = _decode(payload, ENCODINGS[header.encoding], shared_mem_id)
    if image.shape[:2] != (height, width):
        raise ImageLoadError(
            f"segment {shared_mem_id!r}: decoded image is {image.shape[1]}x{image.shape[0]}, "
            f"image_meta says {width}x{height}"
        )
    return image


def write_image_array_to_shared_memory(
    shared_mem_id: str, image_array: npt.ArrayLike, color_space: str = "RGB"
) -> Dict[str, Any]:
    """Write an ``H×W``, ``H×W×1`` or ``H×W×3`` array as a raw frame; return the ``image_meta`` to read it.

    Other dtypes than uint8 are cast to it (``astype``: floats truncate, wider integers wrap), as the original SDK
    handed them back.
    """
    array = np.asarray(image_array).astype(np.uint8, copy=False)
    if array.ndim == 3 and array.shape[2] in (1, 3):
        channels = array.shape[2]
    elif array.ndim == 2:
        channels = 1
    else:
        raise ValueError(f"image_array must be HxW, HxWx1 or HxWx3, got shape {array.shape}")
    height, width = array.shape[:2]
    if width == 0 or height == 0:
        raise ValueError(f"image_array is empty (shape {array.shape})")
    color_space = str(color_space).strip().upper()
    if channels == 1:
        color_space = "GRAY"
    elif color_space not in ("RGB", "BGR"):
        raise ValueError(f"color_space of a 3-channel array must be RGB or BGR, got {color_space!r}")
    payload = np.ascontiguousarray(array).data.cast("B")
    sequence, timestamp_ms = _write_segment(shared_mem_id, payload, width, height, channels, "raw", color_space)
    return _meta(width, height, channels, color_space, "raw", sequence, timestamp_ms)


def dev_write_image_to_shared_memory(shared_mem_id: str, image_bytes: bytes) -> Dict[str, Any]:
    """Write image file bytes (for local development); return the ``image_meta`` to read them.

    PNG and JPEG stay encoded (the reader decodes them); any other format Pillow opens (BMP, TIFF, ...) is decoded
    here and written as a raw frame, as the original SDK took whatever Pillow could read.
    """
    data = bytes(image_bytes)
    try:
        encoding, width, height, channels = _encoded_image_info(data)
    except ImageLoadError:
        return write_image_array_to_shared_memory(shared_mem_id, _decode_other(data))
    color_space = "GRAY" if channels == 1 else "RGB"
    sequence, timestamp_ms = _write_segment(shared_mem_id, data, width, height, channels, encoding, color_space)
    return _meta(width, height, channels, color_space, encoding, sequence, timestamp_ms)


def dev_clear_shared_memory(shared_mem_id: str) -> None:
    """Remove the segment and forget its mapping."""
    path = _segment_path(shared_mem_id)
    with _maps_lock:
        cached = _maps.pop(shared_mem_id, None)
    if cached is not None:
        _release(cached.mm)
    _created.discard(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_created_segments() -> None:
    """Unlink the segments this process created. The adapter calls it as the worker ends: segments an algorithm
    writes for itself (crops, masks) live in RAM under /dev/shm and must not outlive it (contract §7)."""
    for path in list(_created):
        try:
            os.unlink(path)
        except OSError:
            pass
    _created.clear()


def _segment_path(shared_mem_id: str) -> str:
    """The segment file of an id. Any other character than ``[A-Za-z0-9._-]`` becomes ``_``, as the original SDK named
    its files (``dev-shm:<session>:cur``, ``crop:s-1`` and ``roi 1`` stay usable): an id never leaves the directory."""
    name = _UNSAFE.sub("_", shared_mem_id) if isinstance(shared_mem_id, str) else None
    if name is None or not _NAME.fullmatch(name) or name in (".", ".."):
        raise ImageLoadError(f"invalid shared_mem_id {shared_mem_id!r}: expected a non-empty name other than '.' and '..'")
    return os.path.join(os.environ.get("PROC_SHM_DIR") or "/dev/shm", name)


def _mapping(shared_mem_id: str) -> mmap.mmap:
    """The segment's mapping, made once and reused; remapped only when the file was replaced or resized."""
    path = _segment_path(shared_mem_id)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageLoadError(f"shared memory segment {shared_mem_id!r} does not exist ({path})") from None
    except OSError as exc:
        raise ImageLoadError(f"cannot open shared memory segment {shared_mem_id!r}: {exc}") from None
    with _maps_lock:
        cached = _maps.get(shared_mem_id)
        if cached is not None and cached.identity == (st.st_dev, st.st_ino, st.st_size):
            return cached.mm
        mapping = _map_file(path, shared_mem_id)
        if cached is not None:
            _release(cached.mm)
        _maps[shared_mem_id] = mapping
        return mapping.mm


def _map_file(path: str, shared_mem_id: str, private: bool = False) -> _Mapping:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ImageLoadError(f"shared memory segment {shared_mem_id!r} does not exist ({path})") from None
    except OSError as exc:
        raise ImageLoadError(f"cannot open shared memory segment {shared_mem_id!r}: {exc}") from None
    try:
        st = os.fstat(fd)
        if st.st_size < HEADER_SIZE:
            raise ImageLoadError(
                f"shared memory segment {shared_mem_id!r} is {st.st_size} bytes, smaller than its {HEADER_SIZE}-byte header"
            )
        access = mmap.ACCESS_COPY if private else mmap.ACCESS_READ
        return _Mapping(mmap.mmap(fd, st.st_size, access=access), (st.st_dev, st.st_ino, st.st_size))
    finally:
        os.close(fd)


def _release(mm: mmap.mmap) -> None:
    # Views handed to the algorithm may still be alive; the mapping then goes away with the last of them.
    try:
        mm.close()
    except BufferError:
        pass


def _checked_header(
    mm: mmap.mmap, shared_mem_id: str, image_meta: Mapping[str, Any], width: int, height: int
) -> _Header:
    """The reader checks of docs/PROTOCOL.md, in order."""
    h = _Header._make(_HEADER.unpack_from(mm, 0))
    where = f"shared memory segment {shared_mem_id!r}"
    if h.magic != MAGIC:
        raise ImageLoadError(f"{where} has magic {h.magic!r}, expected {MAGIC!r}: not a ProcVision image segment")
    if h.layout_version != LAYOUT_VERSION:
        raise ImageLoadError(f"{where} has layout version {h.layout_version}, this SDK reads {LAYOUT_VERSION}")
    if h.state != STATE_READY:
        raise ImageLoadError(f"{where} is not ready (state {h.state}): no complete frame has been written")
    expected_sequence = _optional_int(image_meta, "sequence")
    if expected_sequence is not None and expected_sequence != h.sequence:
        raise ImageLoadError(
            f"stale frame: {where} holds sequence {h.sequence}, image_meta expects sequence {expected_sequence}"
        )
    if (h.width, h.height) != (width, height):
        raise ImageLoadError(f"size mismatch: {where} holds {h.width}x{h.height}, image_meta says {width}x{height}")
    expected_channels = _optional_int(image_meta, "channels")
    if h.channels not in (1, 3):
        raise ImageLoadError(f"{where} has {h.channels} channels, expected 1 or 3")
    if expected_channels is not None and expected_channels != h.channels:
        raise ImageLoadError(
            f"channels mismatch: {where} holds {h.channels} channels, image_meta says {expected_channels}"
        )
    if h.encoding >= len(ENCODINGS):
        raise ImageLoadError(f"{where} has unknown encoding code {h.encoding}")
    expected_encoding = image_meta.get("encoding")
    if expected_encoding is not None and expected_encoding != ENCODINGS[h.encoding]:
        raise ImageLoadError(
            f"encoding mismatch: {where} holds {ENCODINGS[h.encoding]}, image_meta says {expected_encoding!r}"
        )
    if h.header_size < HEADER_SIZE or h.header_size + h.payload_length > len(mm):
        raise ImageLoadError(
            f"{where} is corrupt: header size {h.header_size} + payload length {h.payload_length} "
            f"does not fit in its {len(mm)} bytes"
        )
    if ENCODINGS[h.encoding] == "raw" and h.payload_length != width * height * h.channels:
        raise ImageLoadError(
            f"payload length mismatch: {where} holds {h.payload_length} bytes, "
            f"{width}x{height}x{h.channels} needs {width * height * h.channels}"
        )
    return h


def _color_space(image_meta: Mapping[str, Any], header: _Header) -> str:
    """image_meta's color space when given (the runner's word), else the header's."""
    value = image_meta.get("color_space")
    if value is None:
        return COLOR_SPACES[header.color_space] if header.color_space < len(COLOR_SPACES) else "RGB"
    # Any case, as the original SDK read it ("bgr" is BGR).
    normalized = str(value).strip().upper()
    if normalized not in COLOR_SPACES:
        raise ImageLoadError(f"image_meta color_space {value!r} is not one of {', '.join(COLOR_SPACES)}")
    return normalized


def _raw_view(mm: mmap.mmap, header: _Header, color_space: str, writable: bool = False) -> ImageArray:
    flat = np.frombuffer(mm, dtype=np.uint8, count=header.payload_length, offset=header.header_size)
    view = flat.reshape(header.height, header.width, header.channels)
    if header.channels == 1:
        shape = (header.height, header.width, 3)
        return np.repeat(view, 3, axis=2) if writable else np.broadcast_to(view, shape)
    rgb = view[:, :, ::-1] if color_space == "BGR" else view
    rgb.flags.writeable = writable
    return rgb


def _decode(payload: bytes, encoding: str, shared_mem_id: str) -> ImageArray:
    decoder = _load_decoder()
    if decoder is None:
        raise ImageLoadError(
            f"cannot decode the {encoding} image in segment {shared_mem_id!r}: neither Pillow (PIL) nor OpenCV (cv2) "
            "is installed; install pillow or opencv-python-headless"
        )
    try:
        return decoder(payload)
    except Exception as exc:
        raise ImageLoadError(f"cannot decode the {encoding} image in segment {shared_mem_id!r}: {exc}") from None


def _decode_other(data: bytes) -> ImageArray:
    """Bytes of an image format other than PNG/JPEG, decoded with Pillow (gray stays one channel)."""
    try:
        from PIL import Image
    except ImportError:
        message = "image_bytes is neither a PNG nor a JPEG file, and Pillow is not installed to read other formats"
        raise ImageLoadError(message) from None
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("L" if img.mode in ("1", "L", "I", "I;16", "F") else "RGB"))
    except Exception as exc:
        raise ImageLoadError(f"image_bytes is neither a PNG nor a JPEG file, and Pillow cannot read it: {exc}") from None


@functools.lru_cache(maxsize=1)
def _load_decoder() -> Optional[Decoder]:
    try:
        from PIL import Image
    except ImportError:
        pass
    else:

        def decode_with_pillow(data: bytes) -> ImageArray:
            with Image.open(io.BytesIO(data)) as img:
                return np.asarray(img.convert("RGB"))

        return decode_with_pillow
    try:
        import cv2  # type: ignore[import-not-found]
    except ImportError:
        return None

    def decode_with_opencv(data: bytes) -> ImageArray:
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError("OpenCV could not decode the payload")
        return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    return decode_with_opencv


def _write_segment(
    shared_mem_id: str,
    payload: Union[bytes, memoryview],
    width: int,
    height: int,
    channels: int,
    encoding: str,
    color_space: str,
) -> Tuple[int, int]:
    """Write one frame in the writer order of docs/PROTOCOL.md; return (sequence, timestamp_ms)."""
    path = _segment_path(shared_mem_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    length = len(payload)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        _created.add(path)
    except FileExistsError:  # the runner's segment, or one written before: never removed by this process
        fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if size < HEADER_SIZE + length:
            size = HEADER_SIZE + length
            os.ftruncate(fd, size)
        mm = mmap.mmap(fd, size)
    finally:
        os.close(fd)
    try:
        previous = _SEQUENCE.unpack_from(mm, _SEQUENCE_OFFSET)[0] if mm[:4] == MAGIC else 0
        sequence = previous + 1
        timestamp_ms = int(time.time() * 1000)
        mm[_STATE_OFFSET] = 0
        mm[HEADER_SIZE : HEADER_SIZE + length] = payload
        mm[:HEADER_SIZE] = _HEADER.pack(
            MAGIC, LAYOUT_VERSION, HEADER_SIZE, previous, length, width, height, channels,
            ENCODINGS.index(encoding), COLOR_SPACES.index(color_space), 0, 0, timestamp_ms, size - HEADER_SIZE, 0,
        )
        _SEQUENCE.pack_into(mm, _SEQUENCE_OFFSET, sequence)
        mm[_STATE_OFFSET] = STATE_READY
    finally:
        mm.close()
    return sequence, timestamp_ms


def _encoded_image_info(data: bytes) -> Tuple[str, int, int, int]:
    """(encoding, width, height, channels) read from a PNG IHDR or a JPEG SOF marker."""
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 26:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height, 1 if data[25] in (0, 4) else 3
    if data.startswith(b"\xff\xd8"):
        width, height, components = _jpeg_size(data)
        return "jpeg", width, height, 1 if components == 1 else 3
    raise ImageLoadError("image_bytes is neither a PNG nor a JPEG file")


def _jpeg_size(data: bytes) -> Tuple[int, int, int]:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            break
        elif marker in _JPEG_SOF and i + 10 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height, data[i + 9]
        else:
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    raise ImageLoadError("JPEG data has no readable frame header (SOF marker)")


def _meta(
    width: int, height: int, channels: int, color_space: str, encoding: str, sequence: int, timestamp_ms: int
) -> Dict[str, Any]:
    return {
        "width": width,
        "height": height,
        "channels": channels,
        "color_space": color_space,
        "encoding": encoding,
        "sequence": sequence,
        "timestamp_ms": timestamp_ms,
        "camera_id": "dev",
    }


def _positive_int(image_meta: Mapping[str, Any], key: str) -> int:
    value = _optional_int(image_meta, key)
    if value is None or value <= 0:
        raise ImageLoadError(f"image_meta {key} must be a positive integer, got {image_meta.get(key)!r}")
    return value


def _optional_int(image_meta: Mapping[str, Any], key: str) -> Optional[int]:
    value = image_meta.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ImageLoadError(f"image_meta {key} must be an integer, got {value!r}") from None

"""Protocol frames: a u32 big-endian length, then that many bytes of UTF-8 JSON holding one object.

Stdlib only and free of numpy imports, so the adapter can say ``hello`` before anything heavy is loaded.
"""
from __future__ import annotations

import json
import math
import os
import struct
import threading
from typing import Any, BinaryIO, Dict, Optional

DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024
_LENGTH = struct.Struct(">I")
FRAME_LENGTH_BYTES = _LENGTH.size


class FrameError(Exception):
    """A protocol error (code 3002). ``resync`` is False when the stream cannot be trusted any more."""

    def __init__(self, message: str, resync: bool = True) -> None:
        super().__init__(message)
        self.resync = resync


def encode_frame(message: Dict[str, Any]) -> bytes:
    """Frame bytes for ``message``. numpy values become plain JSON; NaN and infinities become null
    (the runner's JSON parser rejects them). Anything else json cannot encode raises ``TypeError``."""
    try:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_to_json)
    except ValueError:
        body = json.dumps(_finite(message), ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_to_json)
    try:
        data = body.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a host may send "\udc00" escapes) has no UTF-8 form: escaped, it is still valid JSON.
        data = json.dumps(json.loads(body), ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return _LENGTH.pack(len(data)) + data


def read_frame(stream: BinaryIO, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Optional[Dict[str, Any]]:
    """The next frame, or None at end of stream (a frame cut short counts as end of stream)."""
    header = _read_exact(stream, _LENGTH.size)
    if header is None:
        return None
    (length,) = _LENGTH.unpack(header)
    if length == 0:
        # Delimited all the same (no body follows): the stream is still in step.
        raise FrameError("frame length 0: a frame holds one JSON object")
    if length > max_frame_bytes:
        raise FrameError(f"frame length {length} is outside 1..{max_frame_bytes}", resync=False)
    body = _read_exact(stream, length)
    if body is None:
        return None
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"frame body is not valid UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise FrameError("frame body nests JSON deeper than this worker can read") from None
    if not isinstance(value, dict):
        raise FrameError(f"frame body must be a JSON object, got {type(value).__name__}")
    return value


class FrameWriter:
    """Writes whole frames to a file descriptor; the lock keeps frames from two threads from interleaving.

    Once the reading side is gone (broken pipe) frames are dropped: stdin EOF follows and ends the worker.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._broken = False

    def send(self, message: Dict[str, Any]) -> None:
        self.write(encode_frame(message))

    def write(self, frame: bytes) -> None:
        data = memoryview(frame)
        with self._lock:
            try:
                while data and not self._broken:
                    data = data[os.write(self._fd, data) :]
            except BrokenPipeError:
                self._broken = True


def _read_exact(stream: BinaryIO, size: int) -> Optional[bytes]:
    chunks = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _to_json(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy here
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "tolist"):
        return _finite(value.tolist())
    return value

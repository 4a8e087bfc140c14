"""Protocol frames: a u32 big-endian length, then that many bytes of UTF-8 JSON holding one object.

Stdlib only and free of numpy imports, so the adapter can say ``hello`` before anything heavy is loaded.
"""
from __future__ import annotations

import json
import math
import os
import struct
import threading
from typing import Any, Callable, Dict, List, Optional

DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024
_LENGTH = struct.Struct(">I")
_READ_CHUNK = 65536


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
    data = body.encode("utf-8")
    return _LENGTH.pack(len(data)) + data


class FrameReader:
    """Frames from a byte source (``read(n)`` returning up to n bytes, b"" at the end), buffered here so the adapter
    can tell whether another frame is already waiting (``has_frame``) without a system call."""

    def __init__(self, read: Callable[[int], bytes], max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._read = read
        self._max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0
        #: Called before a read that may block (the adapter sends what it held back).
        self.before_wait: Optional[Callable[[], None]] = None

    def has_frame(self) -> bool:
        """Whether a whole frame is buffered: ``next()`` would return without waiting."""
        available = len(self._buf) - self._pos
        if available < _LENGTH.size:
            return False
        (length,) = _LENGTH.unpack_from(self._buf, self._pos)
        return available >= _LENGTH.size + length

    def next(self) -> Optional[Dict[str, Any]]:
        """The next frame, or None at the end of the stream (a frame cut short counts as the end)."""
        if not self._fill(_LENGTH.size):
            return None
        (length,) = _LENGTH.unpack_from(self._buf, self._pos)
        if length == 0 or length > self._max_frame_bytes:
            raise FrameError(f"frame length {length} is outside 1..{self._max_frame_bytes}", resync=False)
        if not self._fill(_LENGTH.size + length):
            return None
        start = self._pos + _LENGTH.size
        body = bytes(self._buf[start : start + length])
        self._pos = start + length
        if self._pos == len(self._buf):
            del self._buf[:]
            self._pos = 0
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise FrameError(f"frame body is not valid UTF-8 JSON: {exc}") from None
        if not isinstance(value, dict):
            raise FrameError(f"frame body must be a JSON object, got {type(value).__name__}")
        return value

    def _fill(self, size: int) -> bool:
        """Buffers at least ``size`` bytes past the read position; False at the end of the stream."""
        while len(self._buf) - self._pos < size:
            if self._pos:
                del self._buf[: self._pos]
                self._pos = 0
            if self.before_wait is not None:
                self.before_wait()
            chunk = self._read(max(_READ_CHUNK, size - len(self._buf)))
            if not chunk:
                return False
            self._buf += chunk
        return True


class FrameWriter:
    """Writes whole frames to a file descriptor; the lock keeps frames from two threads from interleaving.

    ``hold`` keeps a frame back to leave with the next write: answers to calls that were already waiting go out
    together, one write (and one wake-up of the runner) for several. Whoever holds must ``flush`` before waiting.
    Once the reading side is gone (broken pipe) frames are dropped: stdin EOF follows and ends the worker.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._broken = False
        self._held: List[bytes] = []

    def send(self, message: Dict[str, Any]) -> None:
        self.write(encode_frame(message))

    @property
    def held(self) -> int:
        return len(self._held)

    def hold(self, frame: bytes) -> None:
        with self._lock:
            self._held.append(frame)

    def flush(self) -> None:
        if self._held:
            self.write(b"")

    def write(self, frame: bytes) -> None:
        with self._lock:
            if self._held:
                self._held.append(frame)
                frame = b"".join(self._held)
                self._held.clear()
            data = memoryview(frame)
            try:
                while data and not self._broken:
                    data = data[os.write(self._fd, data) :]
            except BrokenPipeError:
                self._broken = True


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

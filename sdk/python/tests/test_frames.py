import io
import json
import struct

import numpy as np
import pytest

from procvision_algorithm_sdk.frames import FrameError, encode_frame, read_frame


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def test_encode_is_length_prefixed_utf8_json() -> None:
    data = encode_frame({"type": "x", "text": "螺丝"})
    (length,) = struct.unpack(">I", data[:4])
    assert length == len(data) - 4
    assert json.loads(data[4:].decode("utf-8")) == {"type": "x", "text": "螺丝"}


def test_encode_converts_numpy_and_non_finite_floats() -> None:
    data = encode_frame({"n": np.int64(2), "a": np.arange(3), "f": float("nan"), "g": [np.float32(0.5)]})
    assert json.loads(data[4:]) == {"n": 2, "a": [0, 1, 2], "f": None, "g": [0.5]}


def test_encode_rejects_other_objects() -> None:
    with pytest.raises(TypeError):
        encode_frame({"o": object()})


def test_read_frames_until_eof() -> None:
    stream = io.BytesIO(frame(b'{"type":"a"}') + frame(b'{"type":"b"}'))
    assert read_frame(stream) == {"type": "a"}
    assert read_frame(stream) == {"type": "b"}
    assert read_frame(stream) is None


def test_truncated_frame_is_eof() -> None:
    assert read_frame(io.BytesIO(frame(b'{"type":"a"}')[:-2])) is None
    assert read_frame(io.BytesIO(b"\x00\x00")) is None


@pytest.mark.parametrize("body", [b"nope", b"[1]", b"\xff", b'"text"'])
def test_bad_bodies_are_resyncable_errors(body: bytes) -> None:
    stream = io.BytesIO(frame(body) + frame(b'{"type":"next"}'))
    with pytest.raises(FrameError) as info:
        read_frame(stream)
    assert info.value.resync
    assert read_frame(stream) == {"type": "next"}


def test_an_oversized_length_is_fatal() -> None:
    with pytest.raises(FrameError) as info:
        read_frame(io.BytesIO(struct.pack(">I", 1025) + b"{}"), max_frame_bytes=1024)
    assert not info.value.resync


def test_a_zero_length_is_an_error_the_stream_survives() -> None:
    stream = io.BytesIO(struct.pack(">I", 0) + struct.pack(">I", 2) + b"{}")
    with pytest.raises(FrameError, match="length 0") as info:
        read_frame(stream)
    assert info.value.resync
    assert read_frame(stream) == {}


def test_json_nested_deeper_than_the_parser_goes_is_an_error_the_stream_survives() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    stream = io.BytesIO(struct.pack(">I", len(body)) + body + struct.pack(">I", 2) + b"{}")
    with pytest.raises(FrameError, match="deeper") as info:
        read_frame(stream)
    assert info.value.resync
    assert read_frame(stream) == {}

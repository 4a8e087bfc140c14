import io
import json
import os
import select
import struct

import numpy as np
import pytest

from procvision_algorithm_sdk.frames import FrameError, FrameReader, FrameWriter, encode_frame


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


def reader(data: bytes, max_frame_bytes: int = 1024, chunk: int = 1 << 16) -> FrameReader:
    stream = io.BytesIO(data)
    return FrameReader(lambda n: stream.read(min(n, chunk)), max_frame_bytes)


@pytest.mark.parametrize("chunk", [1, 3, 1 << 16])
def test_read_frames_until_eof(chunk: int) -> None:
    frames = reader(frame(b'{"type":"a"}') + frame(b'{"type":"b"}'), chunk=chunk)
    assert frames.next() == {"type": "a"}
    assert frames.next() == {"type": "b"}
    assert frames.next() is None


def test_truncated_frame_is_eof() -> None:
    assert reader(frame(b'{"type":"a"}')[:-2]).next() is None
    assert reader(b"\x00\x00").next() is None


def test_tells_whether_a_whole_frame_is_buffered_without_reading() -> None:
    reads = []
    source = io.BytesIO(frame(b'{"type":"a"}') + frame(b'{"type":"b"}') + frame(b'{"type":"c"}')[:-1])

    def read(n: int) -> bytes:
        reads.append(n)
        return source.read(n)

    frames = FrameReader(read)
    assert not frames.has_frame()
    assert reads == []
    assert frames.next() == {"type": "a"}
    assert frames.has_frame()  # b arrived in the same read
    assert frames.next() == {"type": "b"}
    assert not frames.has_frame()  # c is cut short
    assert frames.next() is None


def test_calls_before_wait_only_when_it_must_read() -> None:
    waits = []
    frames = reader(frame(b'{"type":"a"}') + frame(b'{"type":"b"}'))
    frames.before_wait = lambda: waits.append(1)
    frames.next()
    frames.next()
    assert waits == [1]
    frames.next()
    assert waits == [1, 1]


def test_held_frames_leave_with_the_next_write_in_order() -> None:
    read_fd, write_fd = os.pipe()
    try:
        out = FrameWriter(write_fd)
        out.hold(b"1")
        out.hold(b"2")
        assert select.select([read_fd], [], [], 0)[0] == []
        out.write(b"3")
        assert os.read(read_fd, 16) == b"123"
        out.hold(b"4")
        out.flush()
        out.flush()
        assert os.read(read_fd, 16) == b"4"
    finally:
        os.close(read_fd)
        os.close(write_fd)


@pytest.mark.parametrize("body", [b"nope", b"[1]", b"\xff", b'"text"'])
def test_bad_bodies_are_resyncable_errors(body: bytes) -> None:
    frames = reader(frame(body) + frame(b'{"type":"next"}'))
    with pytest.raises(FrameError) as info:
        frames.next()
    assert info.value.resync
    assert frames.next() == {"type": "next"}


@pytest.mark.parametrize("length", [0, 1025])
def test_bad_lengths_are_fatal(length: int) -> None:
    with pytest.raises(FrameError) as info:
        reader(struct.pack(">I", length) + b"{}", max_frame_bytes=1024).next()
    assert not info.value.resync

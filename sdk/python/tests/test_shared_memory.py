import io
import mmap
import os
import struct
import sys
import uuid
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

from procvision_algorithm_sdk import (
    ImageLoadError,
    dev_clear_shared_memory,
    dev_write_image_to_shared_memory,
    read_image_from_shared_memory,
    write_image_array_to_shared_memory,
)
from procvision_algorithm_sdk import shared_memory

try:
    from PIL import Image as PILImage
except ImportError:  # pragma: no cover - Pillow is installed in the test environment
    PILImage = None
try:
    import cv2  # type: ignore[import-not-found]
except ImportError:
    cv2 = None

needs_decoder = pytest.mark.skipif(PILImage is None and cv2 is None, reason="neither Pillow nor OpenCV is installed")


def gradient(height: int = 6, width: int = 8) -> np.ndarray:
    values = np.arange(height * width * 3, dtype=np.uint32) % 251
    return values.astype(np.uint8).reshape(height, width, 3)


def mapped_by_mmap(array: np.ndarray) -> bool:
    base: Any = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None) if isinstance(base, np.ndarray) else getattr(base, "obj", None)
    return False


def patch_header(shm_dir: Path, name: str, offset: int, fmt: str, value: int) -> None:
    with open(shm_dir / name, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack(fmt, value))


def encoded(image: np.ndarray, fmt: str, quality: int = 95, progressive: bool = False) -> bytes:
    if PILImage is not None:
        buffer = io.BytesIO()
        options = {"quality": quality, "progressive": progressive} if fmt == "JPEG" else {}
        PILImage.fromarray(image).save(buffer, format=fmt, **options)
        return buffer.getvalue()
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)] if fmt == "JPEG" else []
    pixels = np.ascontiguousarray(image[:, :, ::-1] if image.ndim == 3 else image)
    ok, buffer = cv2.imencode("." + fmt.lower(), pixels, params)
    assert ok
    return bytes(buffer.tobytes())


def test_raw_rgb_is_exact_zero_copy_and_read_only(shm_dir: Path) -> None:
    image = gradient()
    meta = write_image_array_to_shared_memory("seg", image)
    assert meta == {
        "width": 8, "height": 6, "channels": 3, "color_space": "RGB", "encoding": "raw",
        "sequence": 1, "timestamp_ms": meta["timestamp_ms"], "camera_id": "dev",
    }
    view = read_image_from_shared_memory("seg", meta)
    assert view.shape == (6, 8, 3) and view.dtype == np.uint8
    assert np.array_equal(view, image)
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0, 0] = 1
    assert mapped_by_mmap(view)
    again = read_image_from_shared_memory("seg", meta)
    assert np.shares_memory(view, again)  # mapped once, reused


def test_view_follows_a_new_frame_in_the_same_segment(shm_dir: Path) -> None:
    first = write_image_array_to_shared_memory("seg", np.zeros((4, 4, 3), np.uint8))
    view = read_image_from_shared_memory("seg", first)
    second = write_image_array_to_shared_memory("seg", np.full((4, 4, 3), 9, np.uint8))
    assert second["sequence"] == first["sequence"] + 1
    assert int(view.max()) == 9  # the same mapping: valid only until the next frame, as documented
    assert np.array_equal(read_image_from_shared_memory("seg", second), np.full((4, 4, 3), 9, np.uint8))


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1)])
def test_gray_is_broadcast_to_three_channels_without_copy(shm_dir: Path, shape: tuple) -> None:
    gray = (np.arange(35, dtype=np.uint8) * 7).reshape(shape)
    meta = write_image_array_to_shared_memory("gray", gray, color_space="RGB")
    assert meta["channels"] == 1 and meta["color_space"] == "GRAY"
    view = read_image_from_shared_memory("gray", meta)
    assert view.shape == (5, 7, 3)
    for channel in range(3):
        assert np.array_equal(view[:, :, channel], gray.reshape(5, 7))
    assert view.strides[2] == 0 and mapped_by_mmap(view) and not view.flags.writeable


def test_bgr_is_returned_as_rgb_without_copy(shm_dir: Path) -> None:
    bgr = gradient()
    meta = write_image_array_to_shared_memory("bgr", bgr, color_space="BGR")
    view = read_image_from_shared_memory("bgr", meta)
    assert np.array_equal(view, bgr[:, :, ::-1])
    assert view.strides[2] == -1 and mapped_by_mmap(view) and not view.flags.writeable


@pytest.mark.parametrize(("color_space", "gray"), [("RGB", False), ("BGR", False), ("RGB", True)])
def test_copy_on_write_read_is_writable_and_leaves_the_segment_alone(shm_dir: Path, color_space: str, gray: bool) -> None:
    image = gradient()[:, :, 0] if gray else gradient()
    meta = write_image_array_to_shared_memory("cow", image, color_space=color_space)
    shown = read_image_from_shared_memory("cow", meta).copy()
    mine = shared_memory.read_image_copy_on_write("cow", meta)
    assert mine.flags.writeable and mine.shape == (6, 8, 3)
    assert np.array_equal(mine, shown)
    mine[:, :] = 0
    assert np.array_equal(read_image_from_shared_memory("cow", meta), shown)
    assert np.array_equal(shared_memory.read_image_copy_on_write("cow", meta), shown)


def test_copy_on_write_read_checks_the_frame_like_the_shared_one(shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("cow", gradient())
    with pytest.raises(ImageLoadError, match="size mismatch"):
        shared_memory.read_image_copy_on_write("cow", {**meta, "width": 9})
    with pytest.raises(ImageLoadError, match="does not exist"):
        shared_memory.read_image_copy_on_write("nothing-here", meta)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_, np.uint16])
def test_arrays_of_other_dtypes_are_written_as_uint8_as_the_original_sdk_did(shm_dir: Path, dtype: Any) -> None:
    array = (np.arange(6 * 8 * 3) % 2).reshape(6, 8, 3).astype(dtype)
    meta = write_image_array_to_shared_memory("typed", array)
    assert np.array_equal(read_image_from_shared_memory("typed", meta), array.astype(np.uint8))


@pytest.mark.parametrize("spelled", ["bgr", "Bgr", " BGR "])
def test_color_space_is_read_whatever_its_case(shm_dir: Path, spelled: str) -> None:
    bgr = gradient()
    meta = write_image_array_to_shared_memory("bgr", bgr, color_space="BGR")
    assert np.array_equal(read_image_from_shared_memory("bgr", {**meta, "color_space": spelled}), bgr[:, :, ::-1])
    written = write_image_array_to_shared_memory("bgr2", bgr, color_space=spelled)
    assert written["color_space"] == "BGR"


@pytest.mark.skipif(PILImage is None, reason="needs Pillow")
def test_dev_write_takes_any_image_pillow_opens(shm_dir: Path) -> None:
    image = gradient()
    buffer = io.BytesIO()
    PILImage.fromarray(image).save(buffer, format="BMP")
    meta = dev_write_image_to_shared_memory("bmp", buffer.getvalue())
    assert (meta["encoding"], meta["width"], meta["height"]) == ("raw", 8, 6)
    assert np.array_equal(read_image_from_shared_memory("bmp", meta), image)


def test_meta_without_optional_fields_uses_the_header(shm_dir: Path) -> None:
    bgr = gradient()
    write_image_array_to_shared_memory("bgr", bgr, color_space="BGR")
    view = read_image_from_shared_memory("bgr", {"width": 8, "height": 6})
    assert np.array_equal(view, bgr[:, :, ::-1])


@needs_decoder
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_png_is_decoded_exactly(shm_dir: Path, mode: str) -> None:
    image = gradient(30, 40)
    source = image if mode == "RGB" else image[:, :, 0]
    meta = dev_write_image_to_shared_memory("png", encoded(source, "PNG"))
    assert (meta["width"], meta["height"], meta["encoding"]) == (40, 30, "png")
    assert meta["channels"] == (3 if mode == "RGB" else 1)
    decoded = read_image_from_shared_memory("png", meta)
    assert decoded.shape == (30, 40, 3)
    expected = image if mode == "RGB" else np.repeat(source[:, :, None], 3, axis=2)
    assert np.array_equal(decoded, expected)


@needs_decoder
@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_is_decoded(shm_dir: Path, progressive: bool) -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, :, 1] = 120
    image[10:30, 10:30] = (200, 40, 40)
    meta = dev_write_image_to_shared_memory("jpg", encoded(image, "JPEG", quality=95, progressive=progressive))
    assert (meta["width"], meta["height"], meta["channels"], meta["encoding"]) == (64, 48, 3, "jpeg")
    decoded = read_image_from_shared_memory("jpg", meta)
    assert decoded.shape == (48, 64, 3)
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 4


@needs_decoder
def test_decoded_size_must_match_meta(shm_dir: Path) -> None:
    meta = dev_write_image_to_shared_memory("png", encoded(gradient(), "PNG"))
    with pytest.raises(ImageLoadError, match="size mismatch"):
        read_image_from_shared_memory("png", {**meta, "width": 9})


def test_encoded_image_without_any_decoder(shm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 8, 6, 8, 2, 0, 0, 0)
    meta = dev_write_image_to_shared_memory("png", png)
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "cv2", None)
    shared_memory._load_decoder.cache_clear()
    try:
        with pytest.raises(ImageLoadError, match="neither Pillow .* nor OpenCV"):
            read_image_from_shared_memory("png", meta)
    finally:
        shared_memory._load_decoder.cache_clear()


@needs_decoder
def test_corrupt_encoded_payload(shm_dir: Path) -> None:
    data = encoded(gradient(), "PNG")
    meta = dev_write_image_to_shared_memory("png", data[:40])
    with pytest.raises(ImageLoadError, match="cannot decode the png image"):
        read_image_from_shared_memory("png", meta)


def test_unknown_encoded_bytes_are_rejected(shm_dir: Path) -> None:
    with pytest.raises(ImageLoadError, match="neither a PNG nor a JPEG file, and Pillow cannot read it"):
        dev_write_image_to_shared_memory("x", b"GIF89a....")


def test_stale_sequence(shm_dir: Path) -> None:
    old = write_image_array_to_shared_memory("seg", gradient())
    write_image_array_to_shared_memory("seg", gradient())
    with pytest.raises(ImageLoadError, match="stale frame.*holds sequence 2.*expects sequence 1"):
        read_image_from_shared_memory("seg", old)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"width": 9}, "size mismatch.*8x6.*9x6"),
        ({"height": 5}, "size mismatch"),
        ({"channels": 1}, "channels mismatch"),
        ({"encoding": "png"}, "encoding mismatch"),
        ({"color_space": "YUV"}, "color_space"),
        ({"width": 0}, "width must be a positive integer"),
        ({"height": -3}, "height must be a positive integer"),
        ({"width": None}, "width must be a positive integer"),
        ({"width": "wide"}, "width must be an integer"),
    ],
)
def test_meta_mismatches(shm_dir: Path, change: Dict[str, Any], message: str) -> None:
    meta = write_image_array_to_shared_memory("seg", gradient())
    with pytest.raises(ImageLoadError, match=message):
        read_image_from_shared_memory("seg", {**meta, **change})


def test_missing_width_and_height(shm_dir: Path) -> None:
    write_image_array_to_shared_memory("seg", gradient())
    with pytest.raises(ImageLoadError, match="width"):
        read_image_from_shared_memory("seg", {})


def test_missing_segment(shm_dir: Path) -> None:
    with pytest.raises(ImageLoadError, match="'nothing' does not exist"):
        read_image_from_shared_memory("nothing", {"width": 2, "height": 2})


@pytest.mark.parametrize("name", ["", "..", ".", None, 7])
def test_invalid_segment_names(shm_dir: Path, name: object) -> None:
    with pytest.raises(ImageLoadError, match="invalid shared_mem_id"):
        read_image_from_shared_memory(name, {"width": 2, "height": 2})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "file"),
    [("crop:s-1", "crop_s-1"), ("roi 1", "roi_1"), ("../etc/passwd", ".._etc_passwd"), ("/seg", "_seg"), ("中文", "__")],
)
def test_other_characters_in_ids_become_underscores_as_the_original_named_files(shm_dir: Path, name: str, file: str) -> None:
    meta = write_image_array_to_shared_memory(name, gradient())
    assert (shm_dir / file).is_file()  # inside the segment directory, whatever the id held
    assert read_image_from_shared_memory(name, meta).shape == gradient().shape


def test_segment_not_ready(shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("seg", gradient())
    patch_header(shm_dir, "seg", 35, "<B", 0)
    with pytest.raises(ImageLoadError, match="not ready"):
        read_image_from_shared_memory("seg", meta)


def test_never_written_segment_is_not_ready(shm_dir: Path) -> None:
    (shm_dir / "empty").write_bytes(b"PVIS" + struct.pack("<HH", 1, 64) + bytes(56) + bytes(100))
    with pytest.raises(ImageLoadError, match="not ready"):
        read_image_from_shared_memory("empty", {"width": 2, "height": 2})


def test_bad_magic(shm_dir: Path) -> None:
    (shm_dir / "junk").write_bytes(b"JUNK" + bytes(200))
    with pytest.raises(ImageLoadError, match="magic"):
        read_image_from_shared_memory("junk", {"width": 2, "height": 2})


def test_segment_smaller_than_header(shm_dir: Path) -> None:
    (shm_dir / "tiny").write_bytes(b"PVIS")
    with pytest.raises(ImageLoadError, match="smaller than its 64-byte header"):
        read_image_from_shared_memory("tiny", {"width": 2, "height": 2})


def test_unsupported_layout_version(shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("seg", gradient())
    patch_header(shm_dir, "seg", 4, "<H", 2)
    with pytest.raises(ImageLoadError, match="layout version 2"):
        read_image_from_shared_memory("seg", meta)


def test_payload_length_mismatch(shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("seg", gradient())
    patch_header(shm_dir, "seg", 16, "<Q", 10)
    with pytest.raises(ImageLoadError, match="payload length mismatch"):
        read_image_from_shared_memory("seg", meta)


def test_payload_beyond_the_segment(shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("seg", gradient())
    patch_header(shm_dir, "seg", 16, "<Q", 10**9)
    with pytest.raises(ImageLoadError, match="corrupt"):
        read_image_from_shared_memory("seg", meta)


def test_remap_after_the_segment_is_recreated_with_another_size(shm_dir: Path) -> None:
    small = gradient(4, 4)
    meta = write_image_array_to_shared_memory("seg", small)
    old_view = read_image_from_shared_memory("seg", meta)
    dev_clear_shared_memory("seg")
    assert not (shm_dir / "seg").exists()
    with pytest.raises(ImageLoadError, match="does not exist"):
        read_image_from_shared_memory("seg", meta)
    large = gradient(20, 30)
    new_meta = write_image_array_to_shared_memory("seg", large)
    assert new_meta["sequence"] == 1
    assert np.array_equal(read_image_from_shared_memory("seg", new_meta), large)
    assert np.array_equal(old_view, small)  # the old mapping lives on while its view does


def test_remap_when_the_segment_grows_in_place(shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("seg", gradient(4, 4))
    read_image_from_shared_memory("seg", meta)
    inode = os.stat(shm_dir / "seg").st_ino
    large = gradient(40, 50)
    new_meta = write_image_array_to_shared_memory("seg", large)
    assert os.stat(shm_dir / "seg").st_ino == inode
    assert new_meta["sequence"] == 2
    assert np.array_equal(read_image_from_shared_memory("seg", new_meta), large)


def test_a_smaller_frame_reuses_the_segment(shm_dir: Path) -> None:
    write_image_array_to_shared_memory("seg", gradient(40, 50))
    size = os.stat(shm_dir / "seg").st_size
    small = gradient(3, 3)
    meta = write_image_array_to_shared_memory("seg", small)
    assert os.stat(shm_dir / "seg").st_size == size
    assert np.array_equal(read_image_from_shared_memory("seg", meta), small)


def test_header_layout_matches_the_protocol(shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("seg", gradient(), color_space="BGR")
    raw = (shm_dir / "seg").read_bytes()
    assert raw[:4] == b"PVIS"
    assert struct.unpack_from("<HHQQIIBBBBIQQQ", raw, 4) == (
        1, 64, meta["sequence"], 6 * 8 * 3, 8, 6, 3, 0, 1, 1, 0, meta["timestamp_ms"], 6 * 8 * 3, 0,
    )
    assert raw[64:] == gradient().tobytes()


@pytest.mark.parametrize(
    "array, color_space",
    [
        (np.zeros((2, 2, 4), np.uint8), "RGB"),
        (np.zeros((2,), np.uint8), "RGB"),
        (np.zeros((0, 2, 3), np.uint8), "RGB"),
        (np.zeros((2, 2, 3), np.uint8), "GRAY"),
    ],
)
def test_writer_rejects_bad_arrays(shm_dir: Path, array: np.ndarray, color_space: str) -> None:
    with pytest.raises(ValueError):
        write_image_array_to_shared_memory("seg", array, color_space=color_space)


def test_writer_accepts_non_contiguous_arrays(shm_dir: Path) -> None:
    image = gradient(10, 10)[::2, ::-1]
    meta = write_image_array_to_shared_memory("seg", image)
    assert np.array_equal(read_image_from_shared_memory("seg", meta), image)


def test_default_segment_directory_is_dev_shm(monkeypatch: pytest.MonkeyPatch) -> None:
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm on this system")
    monkeypatch.delenv("PROC_SHM_DIR", raising=False)
    name = f"procvision-test-{uuid.uuid4().hex}"
    try:
        meta = write_image_array_to_shared_memory(name, gradient())
        assert os.path.exists(f"/dev/shm/{name}")
        assert np.array_equal(read_image_from_shared_memory(name, meta), gradient())
    finally:
        dev_clear_shared_memory(name)
    assert not os.path.exists(f"/dev/shm/{name}")

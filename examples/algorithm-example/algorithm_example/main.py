"""Example inspection algorithm for a green circuit board (see sample.png).

pre_execute calibrates on the dark screw holes and remembers them in the session; execute reports bright
scratches as defects on odd steps (NG) and the screw positions on even steps (OK). numpy only: blobs are found
on a pooled, low-resolution mask, which keeps a pure-Python labelling fast.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import numpy.typing as npt

from procvision_algorithm_sdk import BaseAlgorithm, Session, read_image_from_shared_memory

NAME = "algorithm-example"
VERSION = "1.0"
SUPPORTED_PIDS = ["p001", "p002"]
STEPS: List[Dict[str, Any]] = [
    {"index": 1, "name": "locate board", "params": [
        {"key": "roi", "type": "rect", "required": False, "description": "search area (default: the whole image)"},
        {"key": "exposure", "type": "float", "default": 12.5, "min": 8.0, "max": 16.0, "unit": "ms"}]},
    {"index": 2, "name": "check screw", "params": [
        {"key": "threshold", "type": "float", "default": 0.7, "min": 0.5, "max": 0.9},
        {"key": "mode", "type": "enum", "choices": ["fast", "accurate"], "default": "fast"}]},
]
# Pixels per mask cell: "accurate" keeps more detail at four times the work.
POOL = {"fast": 4, "accurate": 2}
MAX_CALIBRATION_RECTS = 3
MAX_DEFECTS = 20
MIN_BLOB_CELLS = 4
# A "blob" mask covering more than this share of the image means the image is not a board like ours.
MAX_MASK_SHARE = 0.25

Rect = Dict[str, Any]
Image = npt.NDArray[np.uint8]
Levels = npt.NDArray[np.uint16]
Mask = npt.NDArray[np.bool_]


class Region(NamedTuple):
    x: int
    y: int
    width: int
    height: int


class Blob(NamedTuple):
    region: Region
    score: float


class AlgorithmExample(BaseAlgorithm):
    def __init__(self) -> None:
        super().__init__()
        self._supported_pids = list(SUPPORTED_PIDS)

    def get_info(self) -> Dict[str, Any]:
        return {
            "name": NAME,
            "version": VERSION,
            "description": "Calibrates on screw holes, reports scratches (odd steps) and screw positions (even steps)",
            "supported_pids": list(SUPPORTED_PIDS),
            "steps": STEPS,
        }

    def pre_execute(
        self,
        step_index: int,
        pid: str,
        session: Session,
        user_params: Dict[str, Any],
        shared_mem_id: str,
        image_meta: Dict[str, Any],
    ) -> Dict[str, Any]:
        if pid not in self._supported_pids:
            return _unsupported_pid(pid)
        image = read_image_from_shared_memory(shared_mem_id, image_meta)
        area = _search_area(image, user_params)
        if area is None:
            return _bad_roi(user_params)
        rects = self._calibrate(image, area, user_params)
        session.set("calibration", {"image_size": [image.shape[1], image.shape[0]], "rects": rects})
        self.logger.info("calibrated", pid=pid, step_index=step_index, marks=len(rects))
        return {
            "status": "OK",
            "message": f"calibrated on {len(rects)} reference mark(s)",
            "data": {"calibration_rects": rects},
        }

    def execute(
        self,
        step_index: int,
        pid: str,
        session: Session,
        user_params: Dict[str, Any],
        shared_mem_id: str,
        image_meta: Dict[str, Any],
    ) -> Dict[str, Any]:
        if pid not in self._supported_pids:
            return _unsupported_pid(pid)
        started = time.perf_counter()
        image = read_image_from_shared_memory(shared_mem_id, image_meta)
        area = _search_area(image, user_params)
        if area is None:
            return _bad_roi(user_params)
        calibration = self._calibration(session, image, area, user_params)
        if step_index % 2 == 1:
            result = self._inspect_surface(image, area, user_params)
        else:
            result = self._locate_screws(image, area, user_params, len(calibration))
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        self.diagnostics.publish("latency_ms", latency_ms)
        self.logger.info(
            "inspected", pid=pid, step_index=step_index, result_status=result["data"]["result_status"],
            latency_ms=latency_ms,
        )
        return result

    def _calibration(self, session: Session, image: Image, area: Region, params: Dict[str, Any]) -> List[Rect]:
        """The marks found by pre_execute; recomputed when execute runs alone or on an image of another size."""
        stored = session.get("calibration")
        if stored and stored.get("image_size") == [image.shape[1], image.shape[0]]:
            return list(stored["rects"])
        self.logger.warning("no calibration in the session for this image; calibrating now")
        rects = self._calibrate(image, area, params)
        session.set("calibration", {"image_size": [image.shape[1], image.shape[0]], "rects": rects})
        return rects

    def _calibrate(self, image: Image, area: Region, params: Dict[str, Any]) -> List[Rect]:
        holes = sorted(_dark_blobs(image, area, _pool(params)), key=lambda b: b.region.width * b.region.height, reverse=True)
        rects = [_rect(b.region, "screw_hole", b.score) for b in holes[:MAX_CALIBRATION_RECTS]]
        if rects:
            return rects
        # Nothing dark enough to calibrate on: fall back to the central part of the search area.
        return [_rect(_inset(area, 0.1), "board", 0.5)]

    def _inspect_surface(self, image: Image, area: Region, params: Dict[str, Any]) -> Dict[str, Any]:
        scratches = sorted(_bright_blobs(image, area, _pool(params)), key=lambda b: b.score, reverse=True)
        defects = [_rect(b.region, "scratch", b.score) for b in scratches[:MAX_DEFECTS]]
        if defects:
            reason = f"{len(defects)} scratch(es) on the board surface"
        else:
            defects = [_rect(_inset(area, 0.35), "surface_anomaly", 0.5)]
            reason = "surface anomaly suspected: no scratch isolated, check the marked area"
        return {
            "status": "OK",
            "message": reason,
            "data": {"result_status": "NG", "ng_reason": reason, "defect_rects": defects},
        }

    def _locate_screws(
        self, image: Image, area: Region, params: Dict[str, Any], calibrated: int
    ) -> Dict[str, Any]:
        threshold = float(params.get("threshold", 0.7))
        screws = [b for b in _dark_blobs(image, area, _pool(params)) if b.score >= threshold]
        positions = [_rect(b.region, "screw", b.score) for b in sorted(screws, key=lambda b: (b.region.y, b.region.x))]
        return {
            "status": "OK",
            "message": f"{len(positions)} screw(s) found at score >= {threshold} ({calibrated} calibration mark(s))",
            "data": {"result_status": "OK", "position_rects": positions},
        }


def _unsupported_pid(pid: str) -> Dict[str, Any]:
    return {
        "status": "ERROR",
        "error_code": "1001",
        "message": f"pid {pid!r} is not supported; supported: {', '.join(SUPPORTED_PIDS)}",
    }


def _bad_roi(params: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "status": "ERROR",
        "error_code": "1006",
        "message": f"roi {params.get('roi')!r} does not overlap the image; give {{x, y, width, height}} inside it",
    }


def _pool(params: Dict[str, Any]) -> int:
    return POOL.get(str(params.get("mode", "fast")), POOL["fast"])


def _search_area(image: Image, params: Dict[str, Any]) -> Optional[Region]:
    """The roi clamped to the image (the whole image without one); None when the roi misses the image."""
    height, width = image.shape[:2]
    roi = params.get("roi")
    if not isinstance(roi, dict):
        return Region(0, 0, width, height)
    try:
        x0, y0 = max(0, int(roi["x"])), max(0, int(roi["y"]))
        x1 = min(width, int(roi["x"]) + int(roi["width"]))
        y1 = min(height, int(roi["y"]) + int(roi["height"]))
    except (KeyError, TypeError, ValueError):
        return None
    if x1 <= x0 or y1 <= y0:
        return None
    return Region(x0, y0, x1 - x0, y1 - y0)


def _inset(area: Region, fraction: float) -> Region:
    dx, dy = int(area.width * fraction), int(area.height * fraction)
    return Region(area.x + dx, area.y + dy, max(1, area.width - 2 * dx), max(1, area.height - 2 * dy))


def _rect(region: Region, label: str, score: float) -> Rect:
    return {
        "x": region.x, "y": region.y, "width": region.width, "height": region.height,
        "label": label, "score": round(float(score), 3),
    }


def _pooled_gray(image: Image, area: Region, pool: int) -> Tuple[Levels, Levels, float]:
    """(block minimum, block maximum, board level) of the area's gray image; pooling keeps thin lines visible."""
    crop = image[area.y : area.y + area.height, area.x : area.x + area.width]
    gray = crop.sum(axis=2, dtype=np.uint16) // 3
    rows, cols = gray.shape[0] // pool, gray.shape[1] // pool
    if rows == 0 or cols == 0:
        empty = np.zeros((0, 0), np.uint16)
        return empty, empty, float(np.median(gray))
    blocks = gray[: rows * pool, : cols * pool].reshape(rows, pool, cols, pool)
    return blocks.min(axis=(1, 3)), blocks.max(axis=(1, 3)), float(np.median(gray[::pool, ::pool]))


def _dark_blobs(image: Image, area: Region, pool: int) -> List[Blob]:
    low, _, board = _pooled_gray(image, area, pool)
    mask = low < 0.5 * board
    # Score: how much darker than the board the blob is (1 = black).
    return _blobs(mask, low, area, pool, lambda level: 1.0 - level / max(board, 1.0))


def _bright_blobs(image: Image, area: Region, pool: int) -> List[Blob]:
    _, high, board = _pooled_gray(image, area, pool)
    mask = high > board + 0.5 * (255.0 - board)
    # Score: how far from the board towards white the blob is (1 = white).
    return _blobs(mask, high, area, pool, lambda level: (level - board) / max(255.0 - board, 1.0))


def _blobs(
    mask: Mask, levels: Levels, area: Region, pool: int, score: Callable[[float], float]
) -> List[Blob]:
    """4-connected components of ``mask`` as image-space regions, scored from their mean level."""
    if not mask.any() or mask.mean() > MAX_MASK_SHARE:
        return []
    rows, cols = mask.shape
    cells = mask.tolist()
    values = levels.tolist()
    found: List[Blob] = []
    for start_y, start_x in zip(*np.nonzero(mask)):
        if not cells[start_y][start_x]:
            continue
        cells[start_y][start_x] = False
        stack = [(int(start_y), int(start_x))]
        count, total = 0, 0.0
        y0, y1, x0, x1 = rows, -1, cols, -1
        while stack:
            y, x = stack.pop()
            count += 1
            total += values[y][x]
            y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < rows and 0 <= nx < cols and cells[ny][nx]:
                    cells[ny][nx] = False
                    stack.append((ny, nx))
        if count >= MIN_BLOB_CELLS:
            region = Region(area.x + x0 * pool, area.y + y0 * pool, (x1 - x0 + 1) * pool, (y1 - y0 + 1) * pool)
            found.append(Blob(region, min(1.0, max(0.0, score(total / count)))))
    return found

"""The example algorithm, run the way the runner runs it: through the adapter, on sample.png in a segment."""
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest

from adapter_harness import Adapter, step_payload

from procvision_algorithm_sdk import write_image_array_to_shared_memory

PIL = pytest.importorskip("PIL.Image", reason="decoding sample.png needs Pillow")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "algorithm-example"
MANIFEST = json.loads((EXAMPLE / "manifest.json").read_text())


@pytest.fixture
def image_meta(shm_dir: Path) -> Dict[str, Any]:
    with PIL.open(EXAMPLE / "sample.png") as image:
        pixels = np.asarray(image.convert("RGB"))
    return write_image_array_to_shared_memory("example-0", pixels)


@pytest.fixture
def adapter(shm_dir: Path) -> Iterator[Adapter]:
    worker = Adapter(EXAMPLE, MANIFEST["entry_point"], env={"PROC_SHM_DIR": str(shm_dir)})
    yield worker
    worker.kill()


def assert_rects_inside(rects: List[Dict[str, Any]], meta: Dict[str, Any]) -> None:
    for rect in rects:
        assert rect["width"] > 0 and rect["height"] > 0, rect
        assert 0 <= rect["x"] and rect["x"] + rect["width"] <= meta["width"], rect
        assert 0 <= rect["y"] and rect["y"] + rect["height"] <= meta["height"], rect


def test_info_matches_the_manifest(adapter: Adapter) -> None:
    info = adapter.start()["info"]
    assert info["name"] == MANIFEST["name"] and info["version"] == MANIFEST["version"]
    assert info["supported_pids"] == MANIFEST["supported_pids"]
    assert info["steps"] == MANIFEST["steps"]


def test_steps_on_the_sample_image(adapter: Adapter, image_meta: Dict[str, Any]) -> None:
    adapter.start()
    state: Dict[str, Any] = {}
    results = {}
    for step in (1, 2):
        for method in ("pre_execute", "execute"):
            payload = step_payload(step_index=step, state=state, shared_mem_id="example-0", image_meta=image_meta)
            result = adapter.call(method, payload, request_id=f"{method}-{step}")
            assert result["type"] == "result" and result["status"] == "OK", result
            assert result["stdout_bytes"] == 0
            state = result["session_state"]
            results[method, step] = result["data"]

    calibration = results["pre_execute", 1]["calibration_rects"]
    assert 1 <= len(calibration) <= 3
    assert "result_status" not in results["pre_execute", 1]
    assert_rects_inside(calibration, image_meta)
    assert state["calibration"]["rects"] == results["pre_execute", 2]["calibration_rects"]

    ng = results["execute", 1]
    assert ng["result_status"] == "NG" and ng["ng_reason"]
    assert 1 <= len(ng["defect_rects"]) <= 20
    assert all(r["label"] == "scratch" and 0 <= r["score"] <= 1 for r in ng["defect_rects"])
    assert_rects_inside(ng["defect_rects"], image_meta)
    scratch = ng["defect_rects"][0]  # sample.png has one scratch from (250, 200) to (390, 262)
    assert scratch["x"] <= 250 and scratch["x"] + scratch["width"] >= 390

    ok = results["execute", 2]
    assert ok["result_status"] == "OK"
    assert len(ok["position_rects"]) == 4  # four screw holes
    assert_rects_inside(ok["position_rects"], image_meta)


def test_unsupported_pid_is_1001(adapter: Adapter, image_meta: Dict[str, Any]) -> None:
    adapter.start()
    result = adapter.call("pre_execute", step_payload(pid="p999", shared_mem_id="example-0", image_meta=image_meta))
    assert result["status"] == "ERROR" and result["error_code"] == "1001"
    assert "p999" in result["message"]


def test_roi_and_threshold_params(adapter: Adapter, image_meta: Dict[str, Any]) -> None:
    adapter.start()
    roi = {"x": 0, "y": 0, "width": 320, "height": 240}
    located = adapter.call(
        "pre_execute", step_payload(user_params={"roi": roi}, shared_mem_id="example-0", image_meta=image_meta)
    )
    assert [r["x"] < 320 and r["y"] < 240 for r in located["data"]["calibration_rects"]] == [True]
    strict = adapter.call(
        "execute",
        step_payload(step_index=2, user_params={"threshold": 0.9, "mode": "accurate"},
                     shared_mem_id="example-0", image_meta=image_meta),
        request_id="r-2",
    )
    assert strict["data"]["result_status"] == "OK" and strict["data"]["position_rects"] == []

"""Every released generation of the algorithm API runs through this SDK unchanged (contract §5a)."""
import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from adapter_harness import SDK_ROOT, Adapter, step_payload

from procvision_algorithm_sdk import BaseAlgorithm, read_image_from_shared_memory, write_image_array_to_shared_memory
from procvision_algorithm_sdk.generation import generation_of


class G1Algo(BaseAlgorithm):
    def get_info(self) -> dict:
        return {}

    def pre_execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):  # type: ignore[no-untyped-def]
        return {}

    def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):  # type: ignore[no-untyped-def]
        return {}


class G3Algo(BaseAlgorithm):
    def execute(self, step_index, step_desc, cur_image, guide_image, guide_info):  # type: ignore[no-untyped-def]
        return {"status": "OK", "data": {"result_status": "OK"}}


class G2Algo(BaseAlgorithm):
    def execute(self, step_index, session, user_params, shared_mem_id, image_meta):  # type: ignore[no-untyped-def]
        return {}


def test_generation_is_told_from_the_execute_parameters() -> None:
    class Renamed5(BaseAlgorithm):  # the released execute-only API, parameters renamed by its author
        def execute(self, i, desc, img, ref, info):  # type: ignore[no-untyped-def]
            return {}

    class Duck:  # not a BaseAlgorithm at all: the adapter judges it the same way
        def execute(self, step_index, step_desc, cur_image, guide_image, guide_info):  # type: ignore[no-untyped-def]
            return {}

    class Varargs:  # nothing to tell from execute, and no BaseAlgorithm: G1, whose start says what is wrong
        def execute(self, *args: Any) -> dict:
            return {}

    class VarargsBase(BaseAlgorithm):  # get_info and pre_execute left abstract: the released execute-only API
        def execute(self, *args: Any) -> dict:
            return {}

    class VarargsG1(VarargsBase):
        def get_info(self) -> dict:
            return {}

    assert [generation_of(c) for c in (G1Algo, G2Algo, G3Algo, Renamed5, Duck, Varargs, VarargsBase, VarargsG1)] == [
        "G1", "G2", "G3", "G3", "G3", "G1", "G3", "G1"]


def _timed(fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:  # no functools.wraps: the signature is hidden
        return fn(*args, **kwargs)

    return wrapper


def test_a_g3_class_whose_execute_is_wrapped_by_a_decorator_is_g3_and_can_be_instantiated() -> None:
    class Decorated(BaseAlgorithm):
        @_timed
        def execute(self, step_index, step_desc, cur_image, guide_image, guide_info):  # type: ignore[no-untyped-def]
            return {"status": "OK", "data": {"result_status": "OK"}}

    assert generation_of(Decorated) == "G3"
    assert Decorated().execute(0, "", None, None, [])["status"] == "OK"


def test_a_g3_class_defining_only_execute_can_be_instantiated() -> None:
    assert G3Algo().execute(1, "", None, None, []) == {"status": "OK", "data": {"result_status": "OK"}}
    assert G2Algo().execute(1, None, {}, "", {}) == {}


def test_a_g1_class_missing_pre_execute_still_fails_at_construction() -> None:
    class Incomplete(BaseAlgorithm):
        def get_info(self) -> dict:
            return {}

        def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):  # type: ignore[no-untyped-def]
            return {}

    with pytest.raises(TypeError, match="pre_execute"):
        Incomplete()  # type: ignore[abstract]


def test_original_dev_shm_ids_name_a_segment(shm_dir: Path) -> None:
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    meta = write_image_array_to_shared_memory("dev-shm:session-17:cur", image)
    back = read_image_from_shared_memory("dev-shm:session-17:cur", meta)
    assert np.array_equal(back, image)
    assert [p.name for p in shm_dir.iterdir()] == ["dev-shm_session-17_cur"]


# Written exactly as for the original SDK 0.3.x: only execute, the images decoded, guide_info JSON.
G3_ALGORITHM = r'''
import json

import numpy as np

from procvision_algorithm_sdk import BaseAlgorithm


def record(**event):
    with open("events.jsonl", "a") as f:
        f.write(json.dumps(event) + "\n")


class DualCheck(BaseAlgorithm):
    def __init__(self):
        super().__init__()

    def on_step_start(self, step_index, session, context):
        record(hook="on_step_start", step=step_index)

    def on_step_finish(self, step_index, session, result):
        record(hook="on_step_finish", step=step_index, status=result.get("status"))

    def execute(self, step_index, step_desc, cur_image, guide_image, guide_info):
        if cur_image is None:
            return {"status": "ERROR", "message": "no current image", "error_code": "1002"}
        facts = {
            "step_index": step_index, "step_desc": step_desc, "guide_info": guide_info,
            "cur_shape": list(cur_image.shape), "cur_mean": float(cur_image.mean()),
            "cur_writeable": bool(cur_image.flags.writeable),
            "guide": None if guide_image is None else {"shape": list(guide_image.shape), "mean": float(guide_image.mean())},
        }
        # Drawing on the images, as original algorithms do (cv2.rectangle(cur_image, ...)): they are the algorithm's own.
        cur_image[0:2, 0:2] = 255
        if guide_image is not None:
            guide_image[:, :] = 0
        rects = [dict(p) for item in guide_info or [] for p in item.get("posList", [])]
        if rects:
            data = {"result_status": "NG", "ng_reason": "guided defect", "defect_rects": rects, "debug": facts}
            return {"status": "OK", "data": data}
        return {"status": "OK", "data": {"result_status": "OK", "defect_rects": [], "debug": facts}}
'''


@pytest.fixture
def g3_project(tmp_path: Path) -> Path:
    (tmp_path / "dual_check.py").write_text(G3_ALGORITHM)
    manifest = {"name": "dual-check", "version": "0.3.2", "entry_point": "dual_check:DualCheck", "description": "G3"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


@pytest.fixture
def g3(g3_project: Path, shm_dir: Path) -> Iterator[Adapter]:
    worker = Adapter(g3_project, None, env={"PROC_SHM_DIR": str(shm_dir)})  # entry point from manifest.json
    yield worker
    worker.kill()


def g3_payload(cur: dict, guide: Any = None, **extra: Any) -> dict:
    payload = step_payload(shared_mem_id="cur", image_meta=cur)
    payload.update(extra)
    if guide is not None:
        payload["guide_image"] = {"shared_mem_id": "guide", "image_meta": guide}
    return payload


def test_g3_worker_reports_its_generation_and_its_manifest_as_info(g3: Adapter) -> None:
    ready = g3.start()
    assert ready["generation"] == "G3"
    assert ready["info"] == {"name": "dual-check", "version": "0.3.2", "description": "G3"}
    info = g3.call("get_info", {})
    assert (info["status"], info["data"]) == ("OK", ready["info"])


def test_g3_execute_gets_both_images_decoded_with_step_desc_and_guide_info(g3: Adapter) -> None:
    g3.start()
    cur = write_image_array_to_shared_memory("cur", np.full((12, 16, 3), 40, np.uint8))
    guide = write_image_array_to_shared_memory("guide", np.full((6, 8), 200, np.uint8))  # gray: expanded to 3 channels
    guide_info = [{"label": "1", "posList": [{"x": 1, "y": 2, "width": 3, "height": 4}]}]
    result = g3.call("execute", g3_payload(cur, guide, step_index=0, step_desc="check screw 3", guide_info=guide_info))
    assert (result["status"], result["error_code"]) == ("OK", None), result
    data = result["data"]
    rect = {"x": 1, "y": 2, "width": 3, "height": 4}
    assert (data["result_status"], data["ng_reason"], data["defect_rects"]) == ("NG", "guided defect", [rect])
    facts = data["debug"]
    assert facts == {
        "step_index": 0, "step_desc": "check screw 3", "guide_info": guide_info,
        "cur_shape": [12, 16, 3], "cur_mean": 40.0, "cur_writeable": True,
        "guide": {"shape": [6, 8, 3], "mean": 200.0},
    }
    # What the algorithm drew stayed in its own copy of the pages: the segments, and the next call, see the frames.
    assert float(read_image_from_shared_memory("cur", cur).mean()) == 40.0
    assert float(read_image_from_shared_memory("guide", guide).mean()) == 200.0
    again = g3.call("execute", g3_payload(cur, guide, step_index=0, step_desc="check screw 3", guide_info=guide_info))
    assert again["data"]["debug"]["cur_mean"] == 40.0 and again["data"]["debug"]["guide"]["mean"] == 200.0


def test_g3_without_guide_image_gets_none_and_empty_guide_info(g3: Adapter) -> None:
    g3.start()
    cur = write_image_array_to_shared_memory("cur", np.zeros((4, 4, 3), np.uint8))
    result = g3.call("execute", g3_payload(cur))
    facts = result["data"]["debug"]
    assert (result["data"]["result_status"], facts["guide"], facts["guide_info"], facts["step_desc"]) == ("OK", None, [], "")


def test_g3_hooks_keep_g1_semantics(g3: Adapter, g3_project: Path) -> None:
    g3.start()
    cur = write_image_array_to_shared_memory("cur", np.zeros((4, 4, 3), np.uint8))
    assert g3.call("execute", g3_payload(cur, step_index=2))["status"] == "OK"
    events = [json.loads(line) for line in (g3_project / "events.jsonl").read_text().splitlines()]
    assert events == [{"hook": "on_step_start", "step": 2}, {"hook": "on_step_finish", "step": 2, "status": "OK"}]


def test_g3_has_no_pre_execute_and_says_so_with_1006(g3: Adapter) -> None:
    g3.start()
    cur = write_image_array_to_shared_memory("cur", np.zeros((4, 4, 3), np.uint8))
    result = g3.call("pre_execute", g3_payload(cur))
    assert (result["status"], result["error_code"]) == ("ERROR", "1006")
    assert "execute-only" in result["message"] and "G3" in result["message"]


def test_g3_guide_image_that_cannot_be_read_is_1002(g3: Adapter) -> None:
    g3.start()
    cur = write_image_array_to_shared_memory("cur", np.zeros((4, 4, 3), np.uint8))
    result = g3.call("execute", g3_payload(cur, {"width": 4, "height": 4, "timestamp_ms": 0, "camera_id": "c"}))
    assert (result["status"], result["error_code"]) == ("ERROR", "1002")
    assert "'guide'" in result["message"]


def test_g3_malformed_guide_image_is_a_protocol_error(g3: Adapter) -> None:
    g3.start()
    cur = write_image_array_to_shared_memory("cur", np.zeros((4, 4, 3), np.uint8))
    payload = g3_payload(cur)
    payload["guide_image"] = "guide"
    result = g3.call("execute", payload)
    assert (result["type"], result["error_code"]) == ("error", "3002")
    assert "guide_image" in result["message"]
    assert g3.call("execute", g3_payload(cur), request_id="r-2")["status"] == "OK"  # the worker goes on


G2_ALGORITHM = r'''
from procvision_algorithm_sdk import BaseAlgorithm, read_image_from_shared_memory


class SessionOnly(BaseAlgorithm):
    def execute(self, step_index, session, user_params, shared_mem_id, image_meta):
        img = read_image_from_shared_memory(shared_mem_id, image_meta)
        session.set("calls", session.get("calls", 0) + 1)
        return {"status": "OK", "data": {"result_status": "OK", "mean": float(img.mean()), "threshold": user_params["threshold"]}}
'''


def test_g2_execute_gets_session_params_and_the_segment(tmp_path: Path, shm_dir: Path) -> None:
    (tmp_path / "session_only.py").write_text(G2_ALGORITHM)
    worker = Adapter(tmp_path, "session_only:SessionOnly", env={"PROC_SHM_DIR": str(shm_dir)})
    try:
        ready = worker.start()
        assert (ready["generation"], ready["info"]) == ("G2", {})
        meta = write_image_array_to_shared_memory("seg-0", np.full((4, 4, 3), 9, np.uint8))
        result = worker.call("execute", step_payload(user_params={"threshold": 0.5}, image_meta=meta))
        assert (result["status"], result["data"]["mean"], result["data"]["threshold"]) == ("OK", 9.0, 0.5)
        assert result["session_state"] == {"calls": 1}
        assert worker.call("pre_execute", step_payload(image_meta=meta), request_id="pre")["error_code"] == "1006"
    finally:
        worker.kill()


def test_g1_worker_reports_g1(tmp_path: Path, shm_dir: Path) -> None:
    (tmp_path / "g1.py").write_text(
        "from procvision_algorithm_sdk import BaseAlgorithm\n"
        "class A(BaseAlgorithm):\n"
        "    def get_info(self): return {'name': 'a'}\n"
        "    def pre_execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta): return {}\n"
        "    def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta): return {}\n"
    )
    worker = Adapter(tmp_path, "g1:A", env={"PROC_SHM_DIR": str(shm_dir)})
    try:
        assert (worker.start()["generation"]) == "G1"
    finally:
        worker.kill()


def test_a_g3_worker_without_numpy_fails_its_start_with_1002_not_its_first_call(tmp_path: Path) -> None:
    # This algorithm never imports numpy itself: the decoded images are what needs it.
    (tmp_path / "plain.py").write_text(
        "from procvision_algorithm_sdk import BaseAlgorithm\n"
        "class Plain(BaseAlgorithm):\n"
        "    def execute(self, step_index, step_desc, cur_image, guide_image, guide_info):\n"
        "        return {'status': 'OK', 'data': {'result_status': 'OK'}}\n"
    )
    broken = tmp_path / "broken-site"
    (broken / "numpy").mkdir(parents=True)
    (broken / "numpy" / "__init__.py").write_text("raise ImportError('numpy is not installed in this environment')\n")
    worker = Adapter(tmp_path, "plain:Plain", env={"PYTHONPATH": f"{broken}:{SDK_ROOT}"})
    try:
        assert worker.recv()["type"] == "hello"
        error = worker.recv()
        assert (error["type"], error["error_code"], error["phase"]) == ("error", "1002", "import")
        assert "numpy cannot be imported" in error["message"] and "not installed in this environment" in error["message"]
        assert worker.wait() == 1
    finally:
        worker.kill()

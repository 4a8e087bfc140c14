import json
import signal
import struct
from pathlib import Path
from typing import Any, Dict, Iterator

import numpy as np
import pytest

from adapter_harness import Adapter, events, step_payload, wait_event, write_flex_project

import procvision_algorithm_sdk as sdk
from procvision_algorithm_sdk import write_image_array_to_shared_memory


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_flex_project(tmp_path)


@pytest.fixture
def adapter(project: Path, shm_dir: Path) -> Iterator[Adapter]:
    worker = Adapter(project, "flex_algo:Flex", env={"PROC_SHM_DIR": str(shm_dir)})
    yield worker
    worker.kill()


def run(adapter: Adapter, do: str, method: str = "execute", request_id: str = "r-1", **params: object) -> dict:
    return adapter.call(method, step_payload(user_params={"do": do, **params}), request_id=request_id)


def test_handshake_sends_hello_then_ready_with_info(adapter: Adapter) -> None:
    hello = adapter.recv()
    assert hello["type"] == "hello"
    assert hello["protocol_version"] == 1
    assert hello["sdk_version"] == sdk.__version__
    assert isinstance(hello["capabilities"], list) and "ping" in hello["capabilities"]
    assert hello["pid"] == adapter.proc.pid
    ready = adapter.recv()
    assert ready["type"] == "ready"
    assert ready["info"]["name"] == "flex"
    assert ready["info"]["supported_pids"] == ["p001"]


def test_runner_hello_is_accepted_and_get_info_call_returns_info(adapter: Adapter) -> None:
    adapter.start()
    adapter.send({"type": "hello", "runner_version": "0.1.0", "protocol_version": 1, "heartbeat_interval_ms": 5000})
    result = adapter.call("get_info", {})
    assert result["type"] == "result" and result["status"] == "OK"
    assert result["data"]["name"] == "flex"


def hold_call(request_id: str, release: Path) -> Dict[str, Any]:
    return {"type": "call", "request_id": request_id, "method": "execute",
            "payload": step_payload(user_params={"do": "hold", "until": str(release)})}


def test_ping_is_answered_while_a_call_runs(adapter: Adapter, project: Path) -> None:
    adapter.start()
    release = project / "release"
    adapter.send(hold_call("slow", release))
    wait_event(project, lambda e: e["hook"] == "holding")
    adapter.send({"type": "ping", "request_id": "hb-1"})
    pong = adapter.recv()  # the call cannot answer before the release: this frame comes from the reader thread
    assert (pong["type"], pong["request_id"]) == ("pong", "hb-1")
    release.touch()
    result = adapter.recv()
    assert result["type"] == "result" and result["request_id"] == "slow" and result["status"] == "OK"


def test_reading_goes_back_to_the_main_thread_after_a_long_call(adapter: Adapter, project: Path) -> None:
    """The cover thread reads while a call runs long; frames it reads are served in order, then the main thread
    reads again (fast calls, pings and shutdown all still answered)."""
    adapter.start()
    release = project / "release"
    adapter.send(hold_call("slow", release))
    wait_event(project, lambda e: e["hook"] == "holding")
    adapter.send({"type": "call", "request_id": "queued", "method": "execute", "payload": step_payload()})
    adapter.send({"type": "ping", "request_id": "cover"})
    assert adapter.recv()["request_id"] == "cover"  # the cover thread reads while the main thread is held
    release.touch()
    assert [adapter.recv(timeout=5)["request_id"] for _ in range(2)] == ["slow", "queued"]
    for i in range(50):
        adapter.send({"type": "call", "request_id": f"fast-{i}", "method": "execute", "payload": step_payload()})
        assert adapter.recv(timeout=5)["request_id"] == f"fast-{i}"
    adapter.send({"type": "ping", "request_id": "hb"})
    pong = adapter.recv(timeout=5)
    assert (pong["type"], pong["request_id"]) == ("pong", "hb")
    adapter.send({"type": "shutdown"})
    assert adapter.recv(timeout=5)["type"] == "shutdown"
    assert adapter.wait(timeout=5) == 0


def _frame(message: Dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def _call(request_id: str, **params: Any) -> Dict[str, Any]:
    return {"type": "call", "request_id": request_id, "method": "execute", "payload": step_payload(user_params=params)}


def test_calls_sent_together_are_all_answered_in_order(adapter: Adapter) -> None:
    """The runner sends short calls behind a running one (pipelining): each is answered, in order, pings included."""
    adapter.start()
    burst = [_call(f"c{i}") for i in range(10)]
    burst.insert(5, {"type": "ping", "request_id": "hb"})
    adapter.send_raw(b"".join(_frame(m) for m in burst))
    got = [adapter.recv(timeout=5) for _ in range(11)]
    assert [f["request_id"] for f in got if f["type"] == "result"] == [f"c{i}" for i in range(10)]
    assert [f["request_id"] for f in got if f["type"] == "pong"] == ["hb"]


def test_ping_is_answered_during_a_slow_setup(project: Path) -> None:
    release = project / "setup-done"
    worker = Adapter(project, "flex_algo:Flex", env={"FLEX_SETUP_UNTIL": str(release)})
    try:
        assert worker.recv()["type"] == "hello"
        worker.send({"type": "ping", "request_id": "early"})
        assert worker.recv()["type"] == "pong"  # setup() cannot have finished: it waits for the release
        release.touch()
        assert worker.recv()["type"] == "ready"
    finally:
        worker.kill()


def test_stdout_writes_are_diverted_to_stderr_and_counted(adapter: Adapter) -> None:
    adapter.start()
    result = run(adapter, "noise")
    assert result["status"] == "OK"
    expected = len("noise-from-print\nnoise-from-os-write\nnoise-from-libc\nnoise-from-shell\n")
    assert result["stdout_bytes"] == expected
    quiet = run(adapter, "ok", request_id="r-2")
    assert quiet["stdout_bytes"] == 0
    adapter.send({"type": "shutdown"})
    assert adapter.recv()["type"] == "shutdown"
    assert adapter.wait() == 0
    for text in ("noise-from-print", "noise-from-os-write", "noise-from-libc", "noise-from-shell"):
        adapter.wait_stderr(text)


def test_exception_becomes_9999_and_the_next_call_works(adapter: Adapter) -> None:
    adapter.start()
    failed = run(adapter, "raise")
    assert failed["status"] == "ERROR"
    assert failed["error_code"] == "9999"
    assert failed["message"] == "ValueError: boom"
    assert "retryable" not in failed and "fatal" not in failed
    assert run(adapter, "ok", request_id="r-2")["status"] == "OK"
    adapter.wait_stderr("Traceback")


@pytest.mark.parametrize(
    "do, code, flag",
    [("fatal", "9999", "fatal"), ("recoverable", "9999", "retryable"), ("oom", "1004", None)],
)
def test_sdk_exceptions_map_to_codes_and_flags(adapter: Adapter, do: str, code: str, flag: str) -> None:
    adapter.start()
    result = run(adapter, do)
    assert result["status"] == "ERROR"
    assert result["error_code"] == code
    if flag:
        assert result[flag] is True
    else:
        assert "fatal" not in result and "retryable" not in result


def test_image_load_error_maps_to_1002(adapter: Adapter) -> None:
    adapter.start()
    result = adapter.call(
        "execute", step_payload(user_params={"do": "read_image"}, shared_mem_id="no-such-segment")
    )
    assert result["error_code"] == "1002"
    assert "does not exist" in result["message"]


def test_segments_the_algorithm_created_end_with_the_worker_and_the_runners_stay(adapter: Adapter, shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("runner-frame", np.zeros((4, 5, 3), np.uint8))
    adapter.start()
    payload = step_payload(user_params={"do": "write_crop", "crop_id": "crop:s-1"}, shared_mem_id="runner-frame", image_meta=meta)
    assert adapter.call("execute", payload)["status"] == "OK"
    assert (shm_dir / "crop_s-1").is_file()
    adapter.send({"type": "shutdown"})
    assert adapter.recv()["type"] == "shutdown"
    assert adapter.wait() == 0
    assert not (shm_dir / "crop_s-1").exists()
    assert (shm_dir / "runner-frame").is_file()  # written by the algorithm too, but not created by it


def test_a_worker_ended_with_sigterm_removes_its_own_segments_and_dies_of_the_signal(adapter: Adapter, shm_dir: Path) -> None:
    meta = write_image_array_to_shared_memory("runner-frame", np.zeros((4, 5, 3), np.uint8))
    adapter.start()
    payload = step_payload(user_params={"do": "write_crop", "crop_id": "crop-t"}, shared_mem_id="runner-frame", image_meta=meta)
    assert adapter.call("execute", payload)["status"] == "OK"
    assert (shm_dir / "crop-t").is_file()
    adapter.proc.send_signal(signal.SIGTERM)  # what the runner sends a worker whose call timed out
    assert adapter.wait() == -signal.SIGTERM
    assert not (shm_dir / "crop-t").exists()
    assert (shm_dir / "runner-frame").is_file()


def test_image_is_read_from_a_segment(adapter: Adapter, shm_dir: Path) -> None:
    adapter.start()
    image = np.full((6, 8, 3), 10, dtype=np.uint8)
    meta = write_image_array_to_shared_memory("seg-7", image)
    result = adapter.call("execute", step_payload(user_params={"do": "read_image"}, shared_mem_id="seg-7", image_meta=meta))
    assert result["status"] == "OK", result
    assert result["data"]["shape"] == [6, 8, 3]
    assert result["data"]["mean"] == 10.0


def test_shutdown_runs_teardown_once_acks_and_exits_0(adapter: Adapter, project: Path) -> None:
    adapter.start()
    adapter.send({"type": "shutdown"})
    ack = adapter.recv()
    assert ack["type"] == "shutdown" and ack["status"] == "OK"
    assert adapter.wait() == 0
    assert [e["hook"] for e in events(project)].count("teardown") == 1


def test_stdin_eof_runs_teardown_once_and_exits_0(adapter: Adapter, project: Path) -> None:
    adapter.start()
    adapter.close_stdin()
    assert adapter.wait() == 0
    hooks = [e["hook"] for e in events(project)]
    assert hooks == ["setup", "teardown"]


def test_session_state_round_trips_between_calls(adapter: Adapter) -> None:
    adapter.start()
    pre = adapter.call(
        "pre_execute",
        step_payload(user_params={"do": "set_state", "state": {"calib": [1, 2], "count": 3}}, state={"kept": True}),
    )
    assert pre["session_state"] == {"kept": True, "calib": [1, 2], "count": 3}
    result = adapter.call(
        "execute",
        step_payload(user_params={"do": "get_state", "keys": ["calib", "count", "kept"]}, state=pre["session_state"]),
        request_id="r-2",
    )
    assert result["data"]["seen"] == {"calib": [1, 2], "count": 3, "kept": True}
    assert result["session_state"] == pre["session_state"]


def test_a_non_json_session_value_fails_the_call_with_type_error(adapter: Adapter) -> None:
    adapter.start()
    result = run(adapter, "bad_state")
    assert result["error_code"] == "9999"
    assert result["message"].startswith("TypeError: Session.set")
    assert result["session_state"] == {}


def test_hooks_run_in_order_per_session_step(adapter: Adapter, project: Path) -> None:
    adapter.start()
    context = {"trace_id": "t-9"}
    for step in (1, 2):
        adapter.call("pre_execute", step_payload(step_index=step, context=context), request_id=f"pre-{step}")
        adapter.call("execute", step_payload(step_index=step, context=context), request_id=f"exe-{step}")
    recorded = [(e["hook"], e.get("step")) for e in events(project)]
    assert recorded == [
        ("setup", None),
        ("on_step_start", 1), ("pre_execute", 1), ("execute", 1), ("on_step_finish", 1),
        ("on_step_start", 2), ("pre_execute", 2), ("execute", 2), ("on_step_finish", 2),
    ]
    start = next(e for e in events(project) if e["hook"] == "on_step_start")
    assert start["context"] == {"pid": "p001", "trace_id": "t-9"}


def test_a_raising_hook_is_logged_and_the_call_goes_on(adapter: Adapter) -> None:
    adapter.start()
    result = adapter.call("execute", step_payload(context={"hook_raises": True}))
    assert result["status"] == "OK"
    adapter.wait_stderr("on_step_start hook raised")


def test_reset_call_runs_the_hook_and_returns_the_state(adapter: Adapter, project: Path) -> None:
    adapter.start()
    result = adapter.call("reset", {"session": {"id": "s-1", "context": {}, "state": {"a": 1}}})
    assert result["status"] == "OK"
    assert result["session_state"] == {}
    assert events(project)[-1] == {"hook": "reset", "session": "s-1"}


def test_diagnostics_are_merged_into_debug(adapter: Adapter) -> None:
    adapter.start()
    result = run(adapter, "diagnostics")
    assert result["debug"] == {"published": 1, "shared": "from result"}
    assert run(adapter, "ok", request_id="r-2")["debug"] == {}


def test_a_non_dict_return_is_reported(adapter: Adapter) -> None:
    adapter.start()
    result = run(adapter, "bad_return")
    assert result["error_code"] == "9999"
    assert "returned list" in result["message"]


def test_numpy_values_are_sent_as_plain_json(adapter: Adapter) -> None:
    adapter.start()
    result = run(adapter, "numpy")
    assert result["data"]["count"] == 3
    assert result["data"]["scores"] == [0.5, None]


def test_float_params_of_a_whole_value_arrive_as_float(adapter: Adapter) -> None:
    # JSON has one number type: the runner's 0.0 is 0 on the wire. The step declares exposure a float, count an int.
    adapter.start()
    types = run(adapter, "param_types", exposure=12, count=3, other=5)["data"]["types"]
    assert types == {"do": "str", "exposure": "float", "count": "int", "other": "int"}
    payload = step_payload(step_index=2, user_params={"do": "param_types", "exposure": 12})
    step_two = adapter.call("execute", payload, request_id="r-2")
    assert step_two["data"]["types"]["exposure"] == "int"  # not a param of that step


def test_an_unserializable_result_becomes_an_error_result(adapter: Adapter) -> None:
    adapter.start()
    result = run(adapter, "unserializable")
    assert result["status"] == "ERROR" and result["error_code"] == "9999"
    assert "not JSON-serializable" in result["message"]
    assert run(adapter, "ok", request_id="r-2")["status"] == "OK"


def test_a_result_above_the_frame_limit_becomes_9999_and_the_worker_goes_on(project: Path) -> None:
    worker = Adapter(project, "flex_algo:Flex", args=["--max-frame-bytes", "4096"])
    try:
        worker.start()
        result = run(worker, "big", n=10_000)
        assert (result["status"], result["error_code"]) == ("ERROR", "9999")
        assert "above the 4096-byte frame limit" in result["message"] and result["data"] == {}
        assert run(worker, "ok", request_id="r-2")["status"] == "OK"
    finally:
        worker.kill()


def test_request_ids_with_lone_surrogates_are_answered_not_fatal(adapter: Adapter) -> None:
    """JSON may escape a lone surrogate; UTF-8 cannot hold one, so the answer escapes it back instead of crashing."""
    adapter.start()
    adapter.send_raw(frame(b'{"type": "ping", "request_id": "\\ud800"}'))
    pong = adapter.recv(timeout=5)
    assert (pong["type"], pong["request_id"]) == ("pong", "\ud800")
    call = {"type": "call", "request_id": "\udc00x", "method": "execute", "payload": step_payload(user_params={"do": "ok"})}
    adapter.send_raw(frame(json.dumps(call).encode()))
    result = adapter.recv(timeout=5)
    assert (result["type"], result["request_id"], result["status"]) == ("result", "\udc00x", "OK")
    assert adapter.proc.poll() is None


def test_nan_and_infinity_literals_are_not_json(adapter: Adapter) -> None:
    adapter.start()
    for body in (b'{"type": "ping", "request_id": NaN}', b'{"type": "ping", "request_id": "x", "pad": -Infinity}'):
        adapter.send_raw(frame(body))
        error = adapter.recv(timeout=5)
        assert (error["type"], error["error_code"]) == ("error", "3002"), body
    assert run(adapter, "ok")["status"] == "OK"


def test_malformed_frames_get_3002_and_the_worker_goes_on(adapter: Adapter) -> None:
    adapter.start()
    for body in (b"not json", b"[1, 2]", b"\xff\xfe", b'{"no_type": 1}', b'{"type": "bogus", "request_id": "x"}'):
        adapter.send_raw(struct.pack(">I", len(body)) + body)
        error = adapter.recv(timeout=5)
        assert error["type"] == "error" and error["error_code"] == "3002" and error["status"] == "ERROR", error
    adapter.send({"type": "call", "request_id": "bad-method", "method": "explode", "payload": {}})
    error = adapter.recv(timeout=5)
    assert error["request_id"] == "bad-method" and error["error_code"] == "3002"
    adapter.send({"type": "ping", "request_id": "still-there"})
    assert adapter.recv(timeout=5)["request_id"] == "still-there"
    assert run(adapter, "ok")["status"] == "OK"


def test_a_runner_speaking_another_protocol_version_is_refused_with_3002(adapter: Adapter, project: Path) -> None:
    adapter.start()
    adapter.send({"type": "hello", "runner_version": "9.0", "protocol_version": 2, "heartbeat_interval_ms": 5000})
    error = adapter.recv()
    assert (error["type"], error["error_code"]) == ("error", "3002")
    assert "protocol version 2" in error["message"] and "speaks 1" in error["message"]
    assert adapter.wait() == 2
    assert [e["hook"] for e in events(project)] == ["setup", "teardown"]


def test_another_protocol_version_during_a_slow_setup_gets_3002_and_never_ready(project: Path) -> None:
    release = project / "setup-done"
    worker = Adapter(project, "flex_algo:Flex", env={"FLEX_SETUP_UNTIL": str(release)})
    try:
        assert worker.recv()["type"] == "hello"
        worker.send({"type": "hello", "runner_version": "9.0", "protocol_version": 2, "heartbeat_interval_ms": 5000})
        error = worker.recv()
        assert (error["type"], error["error_code"]) == ("error", "3002")
        release.touch()
        assert worker.wait() == 2
        with pytest.raises(AssertionError, match="stdout closed"):  # end of output: no ready after the error
            worker.recv(timeout=5)
        assert [e["hook"] for e in events(project)] == ["setup", "teardown"]
    finally:
        worker.kill()


def test_a_runner_hello_without_a_protocol_version_is_taken_as_version_1(adapter: Adapter) -> None:
    adapter.start()
    adapter.send({"type": "hello", "runner_version": "dev", "heartbeat_interval_ms": 5000})  # as the original CLI sends
    assert run(adapter, "ok")["status"] == "OK"


def test_an_oversized_frame_length_gets_3002_then_exit_2(adapter: Adapter, project: Path) -> None:
    adapter.start()
    adapter.send_raw(struct.pack(">I", 0xFFFFFFFF) + b"{}")
    error = adapter.recv(timeout=5)
    assert error["type"] == "error" and error["error_code"] == "3002"
    assert adapter.wait() == 2


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


# Each entry is one bad frame a broken or hostile runner could send; each must get its own 3002 answer.
FUZZ_CORPUS = [
    ("zero-length frame", struct.pack(">I", 0)),
    ("5,000-deep JSON array", frame(b"[" * 5000 + b"]" * 5000)),
    ("5,000-deep JSON object", frame(b'{"a":' * 5000 + b"1" + b"}" * 5000)),
    ("invalid UTF-8", frame(b'{"type": "ping", "request_id": "\xff\xfe"}')),
    ("lone surrogate bytes", frame(b'{"type": "\xed\xa0\x80"}')),
    ("truncated JSON", frame(b'{"type": "call", "request_id": "x", "met')),
    ("JSON then junk", frame(b'{"type": "ping"} trailing')),
    ("a JSON string", frame(b'"hello"')),
    ("NaN literal", frame(b'{"type": NaN}')),
    ("binary noise", frame(bytes(range(256)))),
]


def test_a_fuzz_corpus_of_bad_frames_gets_3002_each_and_a_following_ping_is_answered(adapter: Adapter) -> None:
    adapter.start()
    for name, data in FUZZ_CORPUS:
        adapter.send_raw(data)
        error = adapter.recv(timeout=10)
        assert (error["type"], error["error_code"]) == ("error", "3002"), name
        adapter.send({"type": "ping", "request_id": name})
        pong = adapter.recv(timeout=10)
        assert (pong["type"], pong["request_id"]) == ("pong", name)
    assert run(adapter, "ok")["status"] == "OK"
    assert adapter.proc.poll() is None


def test_a_frame_cut_short_by_end_of_input_ends_the_worker_cleanly(adapter: Adapter) -> None:
    adapter.start()
    adapter.send_raw(struct.pack(">I", 100) + b'{"type": "pi')
    adapter.close_stdin()
    assert adapter.wait() == 0


def test_max_frame_bytes_option_limits_frames(project: Path) -> None:
    worker = Adapter(project, "flex_algo:Flex", args=["--max-frame-bytes", "64"])
    try:
        worker.start()
        worker.send({"type": "call", "request_id": "big", "method": "get_info", "payload": {"pad": "x" * 100}})
        assert worker.recv(timeout=5)["error_code"] == "3002"
        assert worker.wait() == 2
    finally:
        worker.kill()


def test_setup_failure_is_logged_and_the_worker_goes_on(tmp_path: Path) -> None:
    (tmp_path / "bad_setup.py").write_text(
        "from procvision_algorithm_sdk import BaseAlgorithm\n"
        "class Bad(BaseAlgorithm):\n"
        "    def setup(self): raise RuntimeError('model file missing')\n"
        "    def get_info(self): return {'name': 'bad'}\n"
        "    def pre_execute(self, *a): return {'status': 'OK', 'message': 'ok'}\n"
        "    def execute(self, *a): return {'status': 'OK', 'data': {'result_status': 'OK'}}\n"
    )
    worker = Adapter(tmp_path, "bad_setup:Bad")
    try:
        assert worker.recv()["type"] == "hello"
        ready = worker.recv()
        assert ready["type"] == "ready" and ready["info"] == {"name": "bad"}
        assert ready["setup_error"] == "RuntimeError: model file missing"
        worker.wait_stderr("setup() raised")
        worker.send({"type": "shutdown"})
        assert worker.recv()["type"] == "shutdown"
        assert worker.wait() == 0
    finally:
        worker.kill()


def test_import_failure_names_the_entry_point_and_exits_1(tmp_path: Path) -> None:
    worker = Adapter(tmp_path, "missing_module.main:Algo")
    try:
        assert worker.recv()["type"] == "hello"
        error = worker.recv()
        assert error["type"] == "error" and error["error_code"] == "9999"
        assert "missing_module.main:Algo" in error["message"] and "ModuleNotFoundError" in error["message"]
        assert worker.wait() == 1
    finally:
        worker.kill()


def test_entry_point_from_environment(project: Path) -> None:
    worker = Adapter(project, None, env={"PROC_ENTRY_POINT": "flex_algo:Flex"})
    try:
        assert worker.start()["info"]["name"] == "flex"
    finally:
        worker.kill()


LEGACY_ALGORITHM = '''
from typing import Any, Dict

from procvision_algorithm_sdk import BaseAlgorithm, Session, read_image_from_shared_memory


class Legacy(BaseAlgorithm):
    def __init__(self) -> None:
        super().__init__()
        self._supported_pids = ["p001", "p002"]

    def get_info(self) -> Dict[str, Any]:
        return {"name": "legacy", "version": "1.0", "supported_pids": self._supported_pids, "steps": []}

    def pre_execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):
        if pid not in self._supported_pids:
            return {"status": "ERROR", "message": f"unsupported pid: {pid}", "error_code": "1001"}
        img = read_image_from_shared_memory(shared_mem_id, image_meta)
        if img is None:
            return {"status": "ERROR", "message": "empty image", "error_code": "1002"}
        session.state_store["seen"] = session.state_store.get("seen", 0) + 1
        return {"status": "OK", "message": "ready", "debug": {"latency_ms": 0.0}}

    def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):
        img = read_image_from_shared_memory(shared_mem_id, image_meta)
        return {"status": "OK", "data": {"result_status": "OK", "defect_rects": [], "debug": {"latency_ms": 0.0}}}
'''


def test_an_algorithm_written_for_the_original_sdk_runs_unchanged(tmp_path: Path, shm_dir: Path) -> None:
    (tmp_path / "legacy_algo.py").write_text(LEGACY_ALGORITHM)
    meta = write_image_array_to_shared_memory("seg-0", np.zeros((4, 4, 3), np.uint8))
    old_style_meta = {"width": meta["width"], "height": meta["height"], "timestamp_ms": 0, "camera_id": "cam"}
    worker = Adapter(tmp_path, "legacy_algo:Legacy", env={"PROC_SHM_DIR": str(shm_dir)})
    try:
        assert worker.start()["info"]["supported_pids"] == ["p001", "p002"]
        pre = worker.call("pre_execute", step_payload(image_meta=old_style_meta), request_id="pre")
        assert (pre["status"], pre["message"], pre["session_state"]) == ("OK", "ready", {"seen": 1})
        result = worker.call("execute", step_payload(image_meta=old_style_meta), request_id="exe")
        assert result["status"] == "OK" and result["message"] == "" and result["error_code"] is None
        assert result["data"]["result_status"] == "OK"
        wrong_pid = worker.call("pre_execute", step_payload(pid="p404"), request_id="pid")
        assert (wrong_pid["status"], wrong_pid["error_code"]) == ("ERROR", "1001")
        missing = worker.call("execute", step_payload(shared_mem_id="gone"), request_id="img")
        assert (missing["status"], missing["error_code"]) == ("ERROR", "1002")
    finally:
        worker.kill()

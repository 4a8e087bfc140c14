import io
import json
import sys

import pytest

import procvision_algorithm_sdk as sdk
from procvision_algorithm_sdk import (
    BaseAlgorithm,
    Diagnostics,
    FatalError,
    GPUOutOfMemoryError,
    ImageLoadError,
    ProgramError,
    RecoverableError,
    Session,
    StructuredLogger,
)


def _release(version: str) -> tuple:
    return tuple(int(part) for part in version.split("."))


def test_exports_and_version() -> None:
    # Above every upstream release of the same name (0.3.2 today), so pip never "upgrades" ours to the original.
    assert _release(sdk.__version__) > (0, 3, 2)
    assert set(sdk.__all__) == {
        "BaseAlgorithm", "Session", "read_image_from_shared_memory", "write_image_array_to_shared_memory",
        "dev_write_image_to_shared_memory", "dev_clear_shared_memory", "StructuredLogger", "Diagnostics",
        "RecoverableError", "FatalError", "GPUOutOfMemoryError", "ProgramError", "ImageLoadError", "__version__",
    }
    for name in sdk.__all__:
        assert hasattr(sdk, name)


def test_errors() -> None:
    for cls in (RecoverableError, FatalError, GPUOutOfMemoryError, ProgramError):
        assert issubclass(cls, Exception)
    assert issubclass(ImageLoadError, ProgramError)
    assert ImageLoadError.error_code == "1002"


class Minimal(BaseAlgorithm):
    def get_info(self) -> dict:
        return {"name": "m"}

    def pre_execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):  # type: ignore[no-untyped-def]
        return {"status": "OK", "message": "ready"}

    def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):  # type: ignore[no-untyped-def]
        return {"status": "OK", "data": {"result_status": "OK"}}


def test_base_algorithm_defaults() -> None:
    algo = Minimal()
    assert isinstance(algo.logger, StructuredLogger)
    assert isinstance(algo.diagnostics, Diagnostics)
    assert algo._resources_loaded is False
    assert algo._model_version is None
    assert algo._supported_pids == []
    session = Session("s")
    assert algo.setup() is None
    assert algo.teardown() is None
    assert algo.on_step_start(1, session, {"pid": "p", "trace_id": None}) is None
    assert algo.on_step_finish(1, session, {}) is None
    assert algo.reset(session) is None


def test_base_algorithm_is_abstract() -> None:
    with pytest.raises(TypeError):
        BaseAlgorithm()  # type: ignore[abstract]


def test_session_get_set_delete_exists() -> None:
    session = Session("s-1", {"line": "A"})
    assert session.id == "s-1"
    assert session.get("missing") is None
    assert session.get("missing", 5) == 5
    session.set("calib", {"x": [1, 2.5], "ok": True, "name": None})
    assert session.exists("calib")
    assert session.get("calib") == {"x": [1, 2.5], "ok": True, "name": None}
    assert session.delete("calib") is True
    assert session.delete("calib") is False
    assert not session.exists("calib")


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", {"nested": object()}])
def test_session_rejects_non_json_values(value: object) -> None:
    session = Session("s")
    with pytest.raises(TypeError):
        session.set("k", value)
    assert not session.exists("k")


def test_session_rejects_non_string_keys() -> None:
    with pytest.raises(TypeError):
        Session("s").set(1, "v")  # type: ignore[arg-type]


def test_session_context_is_a_copy() -> None:
    original = {"trace_id": "t", "nested": {"a": 1}}
    session = Session("s", original)
    session.context["trace_id"] = "changed"
    session.context["nested"]["a"] = 2
    original["nested"]["a"] = 3
    assert session.context == {"trace_id": "t", "nested": {"a": 1}}


def test_session_initial_state_reset_and_state_store() -> None:
    state = {"a": [1]}
    session = Session("s", state=state)
    session.get("a").append(2)
    assert state == {"a": [1]}
    assert session.state_store == {"a": [1, 2]}
    session.reset()
    assert session.state_store == {}
    assert Session("s").context == {}


def test_session_answers_to_the_original_sdk_private_names() -> None:
    session = Session("s-7", state={"count": 1})
    session._state_store["count"] += 1  # as algorithms written for the original SDK did
    assert session.get("count") == 2
    assert session._id == "s-7"


def test_logger_writes_one_json_line_per_call() -> None:
    sink = io.StringIO()
    logger = StructuredLogger(sink)
    logger.info("hello", count=3, level="ignored")
    logger.debug("d")
    logger.warning("w")
    logger.error("e", path=object.__new__(object), value=float("inf"))
    lines = sink.getvalue().splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert first["message"] == "hello" and first["level"] == "info" and first["count"] == 3
    assert isinstance(first["timestamp_ms"], int)
    assert [json.loads(line)["level"] for line in lines] == ["info", "debug", "warning", "error"]
    assert json.loads(lines[3])["path"].startswith("<object object")


def test_logger_defaults_to_stderr_at_call_time(capsys: pytest.CaptureFixture[str]) -> None:
    logger = StructuredLogger()
    logger.info("to stderr", k="v")
    captured = capsys.readouterr()
    assert captured.out == ""
    record = json.loads(captured.err)
    assert record["message"] == "to stderr" and record["k"] == "v"


def test_logger_never_raises() -> None:
    circular: list = []
    circular.append(circular)
    sink = io.StringIO()
    StructuredLogger(sink).info("circular", data=circular)
    assert json.loads(sink.getvalue())["message"] == "circular"

    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise ValueError("closed")

    StructuredLogger(Closed()).info("nothing happens")


def test_diagnostics() -> None:
    diagnostics = Diagnostics()
    diagnostics.publish("latency_ms", 1.5)
    diagnostics.publish("model", "v2")
    snapshot = diagnostics.get()
    snapshot["extra"] = 1
    assert diagnostics.get() == {"latency_ms": 1.5, "model": "v2"}
    diagnostics.clear()
    assert diagnostics.get() == {}


def test_diagnostics_items_is_public_as_in_the_original_sdk() -> None:
    diagnostics = Diagnostics()
    diagnostics.items["score"] = 0.9
    diagnostics.publish("model", "v2")
    assert diagnostics.items == {"score": 0.9, "model": "v2"}
    assert diagnostics.get() == diagnostics.items


def test_logger_sink_is_public_as_in_the_original_sdk(capsys: pytest.CaptureFixture[str]) -> None:
    logger = StructuredLogger()
    assert logger.sink is sys.stderr
    sink = io.StringIO()
    logger.sink = sink
    logger.info("redirected")
    assert json.loads(sink.getvalue())["message"] == "redirected"
    assert capsys.readouterr().err == ""
    assert StructuredLogger(sink).sink is sink


def test_sdk_import_does_not_write_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert "procvision_algorithm_sdk" in sys.modules
    assert capsys.readouterr().out == ""

"""Runs calls against the algorithm: hooks, exception mapping, diagnostics and session state (contract §3)."""
from __future__ import annotations

import time
import traceback
from collections import OrderedDict
from typing import Any, Dict, NamedTuple, Optional, Tuple

from ..errors import FatalError, GPUOutOfMemoryError, RecoverableError
from ..frames import DEFAULT_MAX_FRAME_BYTES, FRAME_LENGTH_BYTES, FrameError, encode_frame
from ..generation import G1, G3
from ..logger import StructuredLogger
from ..session import Session
from .stdio import StdioGuard

STEP_METHODS = ("pre_execute", "execute")
METHODS = STEP_METHODS + ("get_info", "reset")
PROTOCOL_ERROR = "3002"
UNKNOWN_ERROR = "9999"
GPU_OOM = "1004"
INVALID_PARAMS = "1006"
# Sessions whose step was opened and never finished (a flow abandoned after pre_execute) are forgotten beyond this.
_MAX_OPEN_STEPS = 4096

log = StructuredLogger()


def now_ms() -> int:
    return int(time.time() * 1000)


def error_frame(request_id: Optional[str], error_code: str, message: str, phase: Optional[str] = None) -> Dict[str, Any]:
    """``phase`` (start-up failures only: import or get_info) tells tools like validate which check failed."""
    frame: Dict[str, Any] = {
        "type": "error",
        "request_id": request_id,
        "status": "ERROR",
        "error_code": error_code,
        "message": message,
        "timestamp_ms": now_ms(),
    }
    if phase is not None:
        frame["phase"] = phase
    return frame


def exception_outcome(exc: BaseException) -> Dict[str, Any]:
    """status/message/error_code (+ retryable/fatal) for an exception raised by algorithm code."""
    outcome: Dict[str, Any] = {"status": "ERROR", "message": describe(exc), "data": {}, "debug": {}}
    if isinstance(exc, GPUOutOfMemoryError):
        outcome["error_code"] = GPU_OOM
    elif isinstance(exc, RecoverableError):
        outcome.update(error_code=UNKNOWN_ERROR, retryable=True)
    elif isinstance(exc, FatalError):
        outcome.update(error_code=UNKNOWN_ERROR, fatal=True)
    else:
        code = getattr(exc, "error_code", None)
        outcome["error_code"] = str(code) if code is not None else UNKNOWN_ERROR
    return outcome


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class StepArgs(NamedTuple):
    step_index: int
    pid: str
    session: Session
    user_params: Dict[str, Any]
    shared_mem_id: str
    image_meta: Dict[str, Any]


class GuideInputs(NamedTuple):
    """The G3 inputs of a step call (docs/PROTOCOL.md); G1 and G2 algorithms never see them."""

    step_desc: str
    guide_info: Any
    guide_image: Optional[Dict[str, Any]]  # {shared_mem_id, image_meta}, or None when no guide image was given


class Worker:
    def __init__(
        self,
        algorithm: Any,
        guard: StdioGuard,
        generation: str = G1,
        info: Optional[Dict[str, Any]] = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self._algorithm = algorithm
        self._max_frame_bytes = max_frame_bytes
        self._guard = guard
        self._generation = generation
        self._info = info  # what execute-only generations answer to get_info (they have none of their own)
        self._open_steps: "OrderedDict[str, int]" = OrderedDict()
        self._torn_down = False
        self._float_keys = _float_params(info)
        if generation == G3:
            # Imported at start-up (numpy), not on the first call: a G3 worker reads images on every call.
            # G3 images were always the algorithm's own arrays (the original decoded them): writable, copied on write.
            from ..shared_memory import read_image_copy_on_write

            self._read_image = read_image_copy_on_write

    def handle(self, frame: Dict[str, Any]) -> bytes:
        """The encoded answer (a ``result`` or an ``error`` frame) to one ``call`` frame."""
        request_id = frame.get("request_id")
        method = frame.get("method")
        payload = frame.get("payload")
        payload = {} if payload is None else payload
        if not isinstance(request_id, str) or not request_id:
            return encode_frame(error_frame(None, PROTOCOL_ERROR, "call frame needs a non-empty string request_id"))
        if method not in METHODS:
            message = f"call method {method!r} is not one of {', '.join(METHODS)}"
            return encode_frame(error_frame(request_id, PROTOCOL_ERROR, message))
        if not isinstance(payload, dict):
            return encode_frame(error_frame(request_id, PROTOCOL_ERROR, "call payload must be a JSON object"))
        try:
            session = _session(payload) if method != "get_info" else Session("")
            args = _step_args(payload, session) if method in STEP_METHODS else None
            guide = _guide_inputs(payload) if args is not None and self._generation == G3 else None
            if args is not None:
                _as_floats(args.user_params, self._float_keys.get(args.step_index, ()))
        except FrameError as exc:
            return encode_frame(error_frame(request_id, PROTOCOL_ERROR, f"{method} payload: {exc}"))
        input_state = (payload.get("session") or {}).get("state") or {}  # Session deep-copied it: untouched
        stdout_before = self._guard.counted
        if args is not None:
            outcome = self._step_call(str(method), args, guide)
        elif method == "reset":
            outcome = self._reset(session)
        else:
            outcome = self._get_info()
        result = {
            "type": "result",
            "request_id": request_id,
            **outcome,
            "session_state": session.state_store,
            "stdout_bytes": self._guard.bytes_written() - stdout_before,
            "timestamp_ms": now_ms(),
        }
        try:
            frame = encode_frame(result)
        except (TypeError, ValueError, RecursionError) as exc:
            log.error("result is not JSON-serializable", request_id=request_id, method=method, error=str(exc))
            fallback = exception_outcome(TypeError(f"the {method} result is not JSON-serializable: {exc}"))
            return encode_frame({**result, **fallback, "session_state": input_state})
        size = len(frame) - FRAME_LENGTH_BYTES
        if size <= self._max_frame_bytes:
            return frame
        # A bigger frame would be a protocol error that ends this worker (contract §3): the call fails, the worker stays.
        log.error("result is above the frame limit", request_id=request_id, method=method, bytes=size)
        too_big = ValueError(
            f"the {method} result is {size} bytes as JSON, above the {self._max_frame_bytes}-byte frame limit: "
            "return less (big arrays belong in files, not in data, debug or the session state)"
        )
        return encode_frame({**result, **exception_outcome(too_big), "session_state": input_state})

    def teardown(self) -> None:
        """Runs the algorithm's ``teardown()`` the first time only."""
        if not self._torn_down:
            self._torn_down = True
            self._hook("teardown")
        self._guard.bytes_written()  # forward the algorithm's last output to stderr before the process ends

    def _step_call(self, method: str, args: StepArgs, guide: Optional[GuideInputs]) -> Dict[str, Any]:
        if self._generation != G1 and method != "execute":
            message = f"this algorithm implements the execute-only API ({self._generation}): it has no {method}; call execute"
            return {"status": "ERROR", "message": message, "error_code": INVALID_PARAMS, "data": {}, "debug": {}}
        session = args.session
        if self._open_steps.get(session.id) != args.step_index:
            context = {"pid": args.pid, "trace_id": session.context.get("trace_id")}
            self._hook("on_step_start", args.step_index, session, context)
            self._open_steps[session.id] = args.step_index
            self._open_steps.move_to_end(session.id)
            while len(self._open_steps) > _MAX_OPEN_STEPS:
                self._open_steps.popitem(last=False)
        diagnostics = getattr(self._algorithm, "diagnostics", None)
        if diagnostics is not None:
            diagnostics.clear()
        try:
            returned = self._invoke(method, args, guide)
            outcome = _returned_outcome(method, returned)
        except Exception as exc:
            log.error(f"{method} raised", step_index=args.step_index, error=describe(exc), traceback=traceback.format_exc())
            outcome = exception_outcome(exc)
        if diagnostics is not None:
            outcome["debug"] = {**diagnostics.get(), **outcome["debug"]}
        if method == "execute":
            self._open_steps.pop(session.id, None)
            self._hook("on_step_finish", args.step_index, session, outcome)
        return outcome

    def _invoke(self, method: str, args: StepArgs, guide: Optional[GuideInputs]) -> Any:
        """Calls the algorithm with the arguments of its generation (contract §5a)."""
        if self._generation == G1:
            return getattr(self._algorithm, method)(*args)
        if guide is None:  # G2
            return self._algorithm.execute(args.step_index, args.session, args.user_params, args.shared_mem_id, args.image_meta)
        cur_image = self._read_image(args.shared_mem_id, args.image_meta)
        ref = guide.guide_image
        guide_image = None if ref is None else self._read_image(ref["shared_mem_id"], ref["image_meta"])
        return self._algorithm.execute(args.step_index, guide.step_desc, cur_image, guide_image, guide.guide_info)

    def _reset(self, session: Session) -> Dict[str, Any]:
        self._open_steps.pop(session.id, None)
        self._hook("reset", session)
        return {"status": "OK", "message": "", "error_code": None, "data": {}, "debug": {}}

    def _get_info(self) -> Dict[str, Any]:
        if self._generation != G1:
            return {"status": "OK", "message": "", "error_code": None, "data": dict(self._info or {}), "debug": {}}
        try:
            info = self._algorithm.get_info()
        except Exception as exc:
            log.error("get_info raised", error=describe(exc), traceback=traceback.format_exc())
            return exception_outcome(exc)
        if not isinstance(info, dict):
            return exception_outcome(TypeError(f"get_info returned {type(info).__name__}, expected a dict"))
        return {"status": "OK", "message": "", "error_code": None, "data": info, "debug": {}}

    def _hook(self, name: str, *args: Any) -> None:
        """Hooks are optional and must not break the call: a failure is logged and the call goes on."""
        hook = getattr(self._algorithm, name, None)
        if not callable(hook):
            return
        try:
            hook(*args)
        except Exception as exc:
            log.error(f"{name} hook raised", error=describe(exc), traceback=traceback.format_exc())


_RESULT_KEYS = frozenset(("status", "message", "error_code", "data", "debug"))
_MAX_STRAY_KEYS = 20


def _returned_outcome(method: str, returned: Any) -> Dict[str, Any]:
    if not isinstance(returned, dict):
        outcome = exception_outcome(TypeError(f"{method} returned {type(returned).__name__}, expected a dict"))
        outcome["invalid_return"] = type(returned).__name__
        return outcome
    data = returned.get("data") or {}
    debug = returned.get("debug") or {}
    for key, value in (("data", data), ("debug", debug)):
        if not isinstance(value, dict):
            return exception_outcome(TypeError(f"{method} returned {key!r} of type {type(value).__name__}, expected a dict"))
    status = returned.get("status")
    if status is None:
        # The original SDK treated a missing status as OK; keep that, but say so.
        log.warning(f"{method} returned no 'status'; assuming OK")
        status = "OK"
    message = returned.get("message")
    error_code = returned.get("error_code")
    outcome = {
        "status": str(status),
        "message": "" if message is None else str(message),
        "error_code": None if error_code is None else str(error_code),
        "data": data,
        "debug": debug,
    }
    # Keys the result shape has no place for (a verdict returned beside data instead of in it): the runner's checks
    # name them, so an author learns where they belong.
    stray = sorted(str(key) for key in returned if key not in _RESULT_KEYS)
    if stray:
        outcome["stray_keys"] = stray[:_MAX_STRAY_KEYS]
    return outcome


def _session(payload: Dict[str, Any]) -> Session:
    raw = payload.get("session") or {}
    if not isinstance(raw, dict):
        raise FrameError("session must be an object {id, context, state}")
    session_id = raw.get("id", "")
    context = raw.get("context") or {}
    state = raw.get("state") or {}
    if not isinstance(session_id, str) or not isinstance(context, dict) or not isinstance(state, dict):
        raise FrameError("session must be {id: string, context: object, state: object}")
    return Session(session_id, context, state=state)


def _float_params(info: Optional[Dict[str, Any]]) -> Dict[int, Tuple[str, ...]]:
    """The keys of each step's ``float`` params, as the algorithm declares them."""
    steps = (info or {}).get("steps")
    found: Dict[int, Tuple[str, ...]] = {}
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict) or not isinstance(step.get("index"), int) or not isinstance(step.get("params"), list):
            continue
        keys = tuple(
            p["key"] for p in step["params"] if isinstance(p, dict) and p.get("type") == "float" and isinstance(p.get("key"), str)
        )
        if keys:
            found[step["index"]] = keys
    return found


def _as_floats(user_params: Dict[str, Any], keys: Tuple[str, ...]) -> None:
    """JSON has one number type, so a float param of a whole value (0.0) arrives as 0: give the algorithm the float it
    declared, as the original SDK (which parsed the request's own text) did."""
    for key in keys:
        value = user_params.get(key)
        if type(value) is int:
            user_params[key] = float(value)


def _step_args(payload: Dict[str, Any], session: Session) -> StepArgs:
    step_index = payload.get("step_index")
    if not isinstance(step_index, int) or isinstance(step_index, bool):
        raise FrameError(f"step_index must be an integer, got {step_index!r}")
    pid = payload.get("pid", "")
    user_params = payload.get("user_params") or {}
    shared_mem_id = payload.get("shared_mem_id", "")
    image_meta = payload.get("image_meta") or {}
    if not isinstance(pid, str) or not isinstance(shared_mem_id, str):
        raise FrameError("pid and shared_mem_id must be strings")
    if not isinstance(user_params, dict) or not isinstance(image_meta, dict):
        raise FrameError("user_params and image_meta must be objects")
    return StepArgs(step_index, pid, session, user_params, shared_mem_id, image_meta)


def _guide_inputs(payload: Dict[str, Any]) -> GuideInputs:
    step_desc = payload.get("step_desc")
    step_desc = "" if step_desc is None else step_desc
    if not isinstance(step_desc, str):
        raise FrameError(f"step_desc must be a string, got {type(step_desc).__name__}")
    guide_info = payload.get("guide_info")
    guide_image = payload.get("guide_image")
    if guide_image is not None:
        if (
            not isinstance(guide_image, dict)
            or not isinstance(guide_image.get("shared_mem_id"), str)
            or not isinstance(guide_image.get("image_meta"), dict)
        ):
            raise FrameError("guide_image must be null or {shared_mem_id: string, image_meta: object}")
    # The original runner sent [] when there was no guide information; algorithms iterate over it.
    return GuideInputs(step_desc, [] if guide_info is None else guide_info, guide_image)

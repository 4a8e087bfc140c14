"""Drives ``python -m procvision_algorithm_sdk.adapter`` as a real subprocess; every wait has a timeout."""
from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

SDK_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 15.0

Frame = Dict[str, Any]


class Adapter:
    def __init__(
        self,
        cwd: Path,
        entry: Optional[str],
        env: Optional[Dict[str, str]] = None,
        args: Sequence[str] = (),
    ) -> None:
        full_env = {**os.environ, "PYTHONPATH": str(SDK_ROOT), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        command = [sys.executable, "-m", "procvision_algorithm_sdk.adapter", *args]
        if entry is not None:
            command += ["--entry", entry]
        self.proc = subprocess.Popen(
            command, cwd=str(cwd), env=full_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._frames: "queue.Queue[Union[Frame, str, None]]" = queue.Queue()
        self._stderr: List[bytes] = []
        threading.Thread(target=self._read_frames, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def wait_stderr(self, text: str, timeout: float = TIMEOUT) -> None:
        """stderr is read by a thread, so a line may land a little after the frame that follows it."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on stderr within {timeout}s; stderr:\n{self.stderr}")
            time.sleep(0.01)

    def send(self, message: Frame) -> None:
        body = json.dumps(message).encode("utf-8")
        self.send_raw(struct.pack(">I", len(body)) + body)

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def recv(self, timeout: float = TIMEOUT) -> Frame:
        try:
            item = self._frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no frame within {timeout}s; stderr:\n{self.stderr}") from None
        if item is None:
            raise AssertionError(f"worker stdout closed; exit={self.proc.poll()} stderr:\n{self.stderr}")
        if isinstance(item, str):
            raise AssertionError(f"corrupt frame stream: {item}; stderr:\n{self.stderr}")
        return item

    def recv_where(self, accept: Callable[[Frame], bool], timeout: float = TIMEOUT) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.01, deadline - time.monotonic()))
            if accept(frame):
                return frame

    def start(self) -> Frame:
        hello = self.recv()
        assert hello["type"] == "hello", hello
        ready = self.recv()
        assert ready["type"] == "ready", ready
        return ready

    def call(self, method: str, payload: Frame, request_id: str = "r-1", timeout: float = TIMEOUT) -> Frame:
        self.send({"type": "call", "request_id": request_id, "method": method, "payload": payload, "timestamp_ms": 0})
        return self.recv_where(lambda f: f.get("request_id") == request_id and f["type"] in ("result", "error"), timeout)

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker did not exit within {timeout}s; stderr:\n{self.stderr}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def _read_frames(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        while True:
            header = stdout.read(4)
            if len(header) < 4:
                self._frames.put(None if not header else f"truncated header {header!r}")
                return
            (length,) = struct.unpack(">I", header)
            if length > 1 << 26:
                self._frames.put(f"implausible length {length} (header bytes {header!r})")
                return
            body = stdout.read(length)
            try:
                frame = json.loads(body.decode("utf-8"))
            except ValueError:
                self._frames.put(f"undecodable body {body[:80]!r}")
                return
            self._frames.put(frame)

    def _read_stderr(self) -> None:
        stderr = self.proc.stderr
        assert stderr is not None
        for line in iter(stderr.readline, b""):
            self._stderr.append(line)


def step_payload(
    step_index: int = 1,
    user_params: Optional[Frame] = None,
    state: Optional[Frame] = None,
    session_id: str = "s-1",
    context: Optional[Frame] = None,
    shared_mem_id: str = "seg-0",
    image_meta: Optional[Frame] = None,
    pid: str = "p001",
) -> Frame:
    return {
        "step_index": step_index,
        "pid": pid,
        "session": {"id": session_id, "context": context or {}, "state": state or {}},
        "user_params": user_params or {},
        "shared_mem_id": shared_mem_id,
        "image_meta": image_meta or {"width": 4, "height": 4, "timestamp_ms": 0, "camera_id": "cam"},
    }


# One algorithm whose behaviour each test picks through user_params["do"]; hooks append to events.jsonl in cwd.
FLEX_ALGORITHM = r'''
import ctypes
import json
import os
import time

import numpy as np

from procvision_algorithm_sdk import (
    BaseAlgorithm, FatalError, GPUOutOfMemoryError, RecoverableError, read_image_from_shared_memory,
    write_image_array_to_shared_memory,
)


def record(**event):
    with open("events.jsonl", "a") as f:
        f.write(json.dumps(event) + "\n")


class Flex(BaseAlgorithm):
    def setup(self):
        until = os.environ.get("FLEX_SETUP_UNTIL")  # setup() runs until the test creates this file (bounded)
        deadline = time.monotonic() + 30
        while until and not os.path.exists(until) and time.monotonic() < deadline:
            time.sleep(0.002)
        record(hook="setup")

    def teardown(self):
        record(hook="teardown")

    def on_step_start(self, step_index, session, context):
        record(hook="on_step_start", step=step_index, session=session.id, context=context)
        if session.context.get("hook_raises"):
            raise RuntimeError("hook failure")

    def on_step_finish(self, step_index, session, result):
        record(hook="on_step_finish", step=step_index, session=session.id, status=result.get("status"))

    def reset(self, session):
        record(hook="reset", session=session.id)
        session.reset()

    def get_info(self):
        params = [{"key": "exposure", "type": "float"}, {"key": "count", "type": "int"}]
        steps = [{"index": 1, "name": "one", "params": params}]
        return {"name": "flex", "version": "1.0", "supported_pids": ["p001"], "steps": steps}

    def pre_execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):
        record(hook="pre_execute", step=step_index)
        return self._run(session, user_params, shared_mem_id, image_meta)

    def execute(self, step_index, pid, session, user_params, shared_mem_id, image_meta):
        record(hook="execute", step=step_index)
        return self._run(session, user_params, shared_mem_id, image_meta)

    def _run(self, session, params, shared_mem_id, image_meta):
        do = params.get("do", "ok")
        data = {"result_status": "OK"}
        debug = {}
        if do == "sleep":
            time.sleep(params["seconds"])
        elif do == "hold":
            # Runs until the test creates the file named by "until" (bounded), so a test knows the call is running
            # (the "holding" event) and decides when it ends, instead of guessing with sleeps.
            record(hook="holding", until=params["until"])
            deadline = time.monotonic() + 30
            while not os.path.exists(params["until"]) and time.monotonic() < deadline:
                time.sleep(0.002)
        elif do == "noise":
            print("noise-from-print")
            os.write(1, b"noise-from-os-write\n")
            libc = ctypes.CDLL(None)
            libc.write(1, b"noise-from-libc\n", 16)
            os.system("echo noise-from-shell")
        elif do == "raise":
            raise ValueError("boom")
        elif do == "fatal":
            raise FatalError("device lost")
        elif do == "recoverable":
            raise RecoverableError("try again")
        elif do == "oom":
            raise GPUOutOfMemoryError("cuda oom")
        elif do == "read_image":
            image = read_image_from_shared_memory(shared_mem_id, image_meta)
            data["shape"] = list(image.shape)
            data["mean"] = float(image.mean())
        elif do == "write_crop":  # a segment of the algorithm's own, next to the runner's (which it rewrites too)
            image = read_image_from_shared_memory(shared_mem_id, image_meta)
            write_image_array_to_shared_memory(params["crop_id"], np.ascontiguousarray(image[:1, :1]))
            write_image_array_to_shared_memory(shared_mem_id, np.ascontiguousarray(image))
        elif do == "set_state":
            for key, value in params["state"].items():
                session.set(key, value)
        elif do == "get_state":
            data["seen"] = {key: session.get(key) for key in params["keys"]}
        elif do == "diagnostics":
            self.diagnostics.publish("published", 1)
            self.diagnostics.publish("shared", "from diagnostics")
            debug = {"shared": "from result"}
        elif do == "bad_state":
            session.set("array", np.zeros(2))
        elif do == "bad_return":
            return [1, 2]
        elif do == "numpy":
            data["count"] = np.int64(3)
            data["scores"] = np.array([0.5, float("nan")])
        elif do == "param_types":
            data["types"] = {key: type(value).__name__ for key, value in params.items()}
        elif do == "unserializable":
            data["thing"] = object()
        elif do == "big":
            data["blob"] = "x" * int(params.get("n", 0))
        return {"status": "OK", "message": "done " + do, "data": data, "debug": debug}
'''


def write_flex_project(directory: Path) -> Path:
    (directory / "flex_algo.py").write_text(FLEX_ALGORITHM)
    return directory


def wait_event(directory: Path, accept: Callable[[Frame], bool], timeout: float = TIMEOUT) -> Frame:
    """The first event in ``directory``'s events.jsonl that ``accept`` takes, waiting for it to be written."""
    deadline = time.monotonic() + timeout
    while True:
        found = next((e for e in events(directory) if accept(e)), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching event within {timeout}s; events: {events(directory)}")
        time.sleep(0.005)


def events(directory: Path) -> List[Frame]:
    path = directory / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]

"""The worker process: loads one algorithm and serves the wire protocol of docs/PROTOCOL.md on stdin/stdout.

Exit codes: 0 after ``shutdown`` or stdin EOF, 1 when the algorithm cannot start (an ``error`` frame says why),
2 when the input stream is broken beyond repair (a bad frame length) or the arguments are wrong.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import queue
import signal
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO, Dict, NamedTuple, Optional, Sequence, Union

from .. import __version__
from ..base import BaseAlgorithm
from ..frames import DEFAULT_MAX_FRAME_BYTES, FrameError, FrameWriter, encode_frame, read_frame
from ..errors import ImageLoadError
from ..generation import G1, G3, generation_of
from .stdio import StdioGuard
from .worker import PROTOCOL_ERROR, UNKNOWN_ERROR, Worker, describe, error_frame, exception_outcome, log, now_ms

PROTOCOL_VERSION = 1
CAPABILITIES = [
    "ping", "call", "shutdown", "shared_memory:v1", "session_state", "hooks", "stdout_guard", "generations", "guide_image",
]
EXIT_OK, EXIT_START_FAILED, EXIT_BROKEN_STREAM = 0, 1, 2


class _Started(NamedTuple):
    algorithm: Any
    generation: str
    info: Dict[str, Any]
    ready: bytes  # the ready frame, sent once the host is known to speak our protocol


class _Stop(NamedTuple):
    """Queued by the reader when no more frames will come."""

    exit_code: int


def main(argv: Optional[Sequence[str]] = None) -> int:
    options = _parse_args(argv)
    guard = StdioGuard()
    out = FrameWriter(guard.frame_out)
    out.send(
        {
            "type": "hello",
            "sdk_version": __version__,
            "protocol_version": PROTOCOL_VERSION,
            "capabilities": CAPABILITIES,
            "pid": os.getpid(),
            "timestamp_ms": now_ms(),
        }
    )
    inbox = Inbox(guard.frames_in, out, options.max_frame_bytes)
    signal.signal(signal.SIGTERM, _end_on_sigterm)
    # Loading the algorithm counts as busy: pings during a slow import or setup() are answered by the cover thread.
    inbox.busy()
    started = _start_algorithm(options.entry, out)
    inbox.idle()
    if started is None:
        return EXIT_START_FAILED
    worker = Worker(started.algorithm, guard, started.generation, started.info, options.max_frame_bytes)
    try:
        if inbox.broken:
            # The host's hello named another protocol while the algorithm loaded: the error is sent, ready must not be.
            worker.teardown()
            return EXIT_BROKEN_STREAM
        out.write(started.ready)
        return _serve(worker, inbox, out)
    except KeyboardInterrupt:
        worker.teardown()
        return 130
    finally:
        _end_helpers()
        _remove_created_segments()


def _end_on_sigterm(signum: int, _frame: Any) -> None:
    """The runner ends a worker that timed out with SIGTERM: its own segments go first, then it dies of the signal."""
    _remove_created_segments()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _remove_created_segments() -> None:
    """Segments the algorithm wrote for itself go with the worker (imported only if the algorithm used the module)."""
    shared_memory = sys.modules.get("procvision_algorithm_sdk.shared_memory")
    if shared_memory is not None:
        shared_memory.remove_created_segments()


def _end_helpers() -> None:
    """Ends what the algorithm started (a helper, a pool) with the worker.

    The runner makes each worker lead a process group and kills the group when it ends the worker; a runner killed
    with SIGKILL cannot, and its workers then end here on stdin EOF. The adapter must still exit with its own code,
    so it kills the other members (Linux: found in /proc), not the group.
    """
    me = os.getpid()
    if not hasattr(os, "getpgrp") or os.getpgrp() != me or not os.path.isdir("/proc"):
        return
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
            # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so fields start after the last ")".
            if int(stat[stat.rindex(")") + 2:].split()[2]) == me:
                os.kill(int(entry), 9)
        except (OSError, ValueError, IndexError):
            continue


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m procvision_algorithm_sdk.adapter",
        description="Run a ProcVision algorithm as a worker speaking the wire protocol on stdin/stdout.",
    )
    parser.add_argument(
        "--entry",
        default=os.environ.get("PROC_ENTRY_POINT"),
        help="module.path:ClassName (default: $PROC_ENTRY_POINT, else entry_point of ./manifest.json)",
    )
    parser.add_argument(
        "--max-frame-bytes",
        type=int,
        default=_env_int("PROC_MAX_FRAME_BYTES", DEFAULT_MAX_FRAME_BYTES),
        help="largest accepted frame (default: $PROC_MAX_FRAME_BYTES, else 64 MiB)",
    )
    options = parser.parse_args(argv)
    if options.max_frame_bytes <= 0:
        parser.error("--max-frame-bytes must be positive")
    return options


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        sys.stderr.write(f"ignoring {name}={value!r}: not an integer\n")
        return default


def _start_algorithm(entry: Optional[str], out: FrameWriter) -> Optional[_Started]:
    """Import, construct and set up the algorithm and encode ``ready``; on failure send ``error`` and return None."""
    entry = entry or _manifest_entry()
    if not entry:
        message = (
            "no entry point: pass --entry module.path:ClassName, set PROC_ENTRY_POINT, "
            "or start in a directory whose manifest.json has entry_point"
        )
        out.send(error_frame(None, UNKNOWN_ERROR, message))
        return None
    sys.path.insert(0, os.getcwd())
    try:
        algorithm = _load(entry)
    except Exception as exc:
        log.error("cannot load the algorithm", entry_point=entry, error=describe(exc), traceback=traceback.format_exc())
        out.send(error_frame(None, UNKNOWN_ERROR, f"cannot load entry point {entry!r}: {describe(exc)}", "import"))
        return None
    setup_error = _run_setup(algorithm, entry)
    phase = "import"
    try:
        generation = generation_of(type(algorithm))
        if generation == G3:
            _require_image_reader()
        phase = "get_info"
        info = algorithm.get_info() if _has_get_info(algorithm, generation) else _manifest_info()
        if not isinstance(info, dict):
            raise TypeError(f"get_info returned {type(info).__name__}, expected a dict")
        ready = encode_frame(
            {
                "type": "ready",
                "info": info,
                "generation": generation,
                "base_algorithm": isinstance(algorithm, BaseAlgorithm),
                **({"setup_error": setup_error} if setup_error is not None else {}),
                "timestamp_ms": now_ms(),
            }
        )
    except Exception as exc:
        log.error("the algorithm failed to start", entry_point=entry, error=describe(exc), traceback=traceback.format_exc())
        outcome = exception_outcome(exc)
        out.send(error_frame(None, outcome["error_code"], f"{entry} failed to start: {outcome['message']}", phase))
        return None
    return _Started(algorithm, generation, info, ready)


def _run_setup(algorithm: Any, entry: str) -> Optional[str]:
    """``setup()`` is a hook: one that raises is logged and the worker goes on (contract §3), as the original SDK did.

    Returns what it raised, which ``ready`` carries so that tools can tell the author.
    """
    setup = getattr(algorithm, "setup", None)  # hooks are optional for duck-typed algorithms
    if not callable(setup):
        return None
    try:
        setup()
    except Exception as exc:
        log.error("setup() raised; the worker goes on without it", entry_point=entry, error=describe(exc),
                  traceback=traceback.format_exc())
        return describe(exc)
    return None


def _require_image_reader() -> None:
    """G3 algorithms get decoded images, which needs numpy: a worker without it fails its start, not its first call."""
    try:
        from .. import shared_memory  # noqa: F401
    except ImportError as exc:
        message = f"G3 algorithms get their images as numpy arrays, and numpy cannot be imported: {describe(exc)}"
        raise ImageLoadError(message) from None


def _has_get_info(algorithm: Any, generation: str) -> bool:
    """G1 must have get_info; an execute-only class counts only one of its own (BaseAlgorithm's is abstract)."""
    if generation == G1:
        return True
    own = getattr(type(algorithm), "get_info", None)
    return callable(own) and own is not BaseAlgorithm.get_info


def _load(entry: str) -> Any:
    module_name, _, class_path = entry.partition(":")
    if not module_name or not class_path:
        raise ValueError("an entry point looks like module.path:ClassName")
    target: Any = importlib.import_module(module_name)
    for name in class_path.split("."):
        target = getattr(target, name)
    return target()


def _manifest() -> Dict[str, Any]:
    """manifest.json of the working directory (the package root); {} when there is none or it is unreadable."""
    try:
        with open("manifest.json", encoding="utf-8-sig") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _manifest_entry() -> Optional[str]:
    """entry_point of the manifest, as the original adapter did."""
    entry = _manifest().get("entry_point")
    return entry if isinstance(entry, str) else None


def _manifest_info() -> Dict[str, Any]:
    """What an execute-only algorithm (no get_info) is, as its manifest says."""
    manifest = _manifest()
    return {key: manifest[key] for key in ("name", "version", "description", "supported_pids", "steps") if key in manifest}


class Inbox:
    """Frames from the runner for the main thread, read by whichever thread is free (leader/follower).

    The main thread reads frames itself while it is idle and runs calls inline: no cross-thread handoff on the hot
    path (it cost ~25 µs of CPU per call). Pings must still be answered while a call runs, so a cover thread wakes
    every ``COVER_AFTER_S``; once the main thread has been busy that long it takes over reading, answers pings,
    queues anything else for the main thread in arrival order, and gives reading back when the call is over.
    """

    COVER_AFTER_S = 0.02

    def __init__(self, stream: BinaryIO, out: FrameWriter, max_frame_bytes: int) -> None:
        self._stream = stream
        self._out = out
        self._max_frame_bytes = max_frame_bytes
        self._reading = threading.Lock()  # held by the thread inside read_frame
        self._handoff: "queue.SimpleQueue[Union[Dict[str, Any], _Stop, None]]" = queue.SimpleQueue()
        self._busy_since: Optional[float] = None
        self.broken = False  # the stream cannot be trusted any more (an error frame has been sent)
        threading.Thread(target=self._cover, name="procvision-reader", daemon=True).start()

    def busy(self) -> None:
        self._busy_since = time.monotonic()

    def idle(self) -> None:
        self._busy_since = None

    def next(self) -> Union[Dict[str, Any], _Stop]:
        """The next ``call`` or ``shutdown`` frame, or ``_Stop`` when no more frames will come (main thread)."""
        while True:
            try:
                item = self._handoff.get_nowait()
            except queue.Empty:
                if self._reading.acquire(blocking=False):
                    try:
                        # The cover thread queues before it releases: look again now that reading is ours.
                        try:
                            item = self._handoff.get_nowait()
                        except queue.Empty:
                            item = self._read()
                    finally:
                        self._reading.release()
                else:
                    item = self._handoff.get()  # the cover thread reads; it always queues something when it stops
            if item is not None:
                return item

    def _cover(self) -> None:
        while True:
            time.sleep(self.COVER_AFTER_S)
            since = self._busy_since
            if since is None or time.monotonic() - since < self.COVER_AFTER_S:
                continue
            if not self._reading.acquire(blocking=False):
                continue
            try:
                while True:
                    item = self._read()
                    if item is not None:
                        self._handoff.put(item)
                        if isinstance(item, _Stop):
                            return
                    if self._busy_since is None:
                        break
            finally:
                self._reading.release()
                self._handoff.put(None)  # wakes a main thread that waited for this thread to stop reading

    def _read(self) -> Union[Dict[str, Any], _Stop, None]:
        """One frame: pings and junk are answered here (None); calls and shutdown are returned; ``_Stop`` at the end."""
        try:
            frame = read_frame(self._stream, self._max_frame_bytes)
        except FrameError as exc:
            self._out.send(error_frame(None, PROTOCOL_ERROR, str(exc)))
            if exc.resync:
                return None
            self.broken = True
            return _Stop(EXIT_BROKEN_STREAM)
        except OSError:
            frame = None
        if frame is None:
            return _Stop(EXIT_OK)
        kind = frame.get("type")
        if kind == "ping":
            self._out.send({"type": "pong", "request_id": frame.get("request_id"), "timestamp_ms": now_ms()})
        elif kind in ("call", "shutdown"):
            return frame
        elif kind == "hello":  # needs no answer, unless it speaks a protocol this adapter cannot
            version = frame.get("protocol_version", PROTOCOL_VERSION)  # hosts older than the field spoke 1
            if version != PROTOCOL_VERSION:
                message = (
                    f"the runner speaks protocol version {version!r}, this SDK ({__version__}) speaks {PROTOCOL_VERSION}: "
                    "install the SDK that matches the runner"
                )
                self._out.send(error_frame(None, PROTOCOL_ERROR, message))
                self.broken = True
                return _Stop(EXIT_BROKEN_STREAM)
        else:
            request_id = frame.get("request_id")
            self._out.send(
                error_frame(
                    request_id if isinstance(request_id, str) else None,
                    PROTOCOL_ERROR,
                    f"unknown frame type {kind!r}: expected hello, ping, call or shutdown",
                )
            )
        return None


def _serve(worker: Worker, inbox: Inbox, out: FrameWriter) -> int:
    """Runs calls one at a time, in arrival order, on the main thread."""
    while True:
        item = inbox.next()
        inbox.busy()
        try:
            if isinstance(item, _Stop):
                worker.teardown()
                return item.exit_code
            if item.get("type") == "shutdown":
                worker.teardown()
                out.send({"type": "shutdown", "status": "OK", "timestamp_ms": now_ms()})
                return EXIT_OK
            out.write(worker.handle(item))
        finally:
            inbox.idle()

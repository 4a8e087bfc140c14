"""Keeps the frame channel away from algorithm code (docs/PROTOCOL.md "Stdout guard").

fd 1 and fd 0 are what ``print()``, C extensions and child processes use, so the frames move to private
duplicates: fd 1 becomes a pipe whose bytes a pump thread forwards to stderr (and counts), fd 0 becomes
/dev/null so nothing can swallow runner frames.

POSIX only (``select`` and non-blocking reads on a pipe); a Windows backend would pump with a blocking read
and ``PeekNamedPipe`` behind the same interface.
"""
from __future__ import annotations

import array
import ctypes
import fcntl
import io
import os
import select
import sys
import termios
import threading
from typing import BinaryIO, Callable, Optional

_CHUNK = 65536


class StdioGuard:
    def __init__(self) -> None:
        sys.stdout.flush()
        self.frame_out = os.dup(1)
        self.frames_in: BinaryIO = os.fdopen(os.dup(0), "rb")
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 1)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self._pipe = read_fd
        self._lock = threading.Lock()
        self._total = 0
        self._c_flush = _libc_fflush()
        sys.stdout = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
        )
        threading.Thread(target=self._pump, name="procvision-stdout-pump", daemon=True).start()

    @property
    def counted(self) -> int:
        """Bytes counted so far, without flushing: the start mark of a call. The previous call ended with
        ``bytes_written()``, so only output of background threads between calls can land in the next call's count."""
        return self._total

    def bytes_written(self) -> int:
        """Bytes written to fd 1 since start, including what is still buffered or in the pipe.

        Draining under the lock makes the figure exact: whatever was written before this call is either in
        the pipe (read here) or was already read and counted by the pump, which holds the same lock.
        """
        for stream in (sys.stdout, sys.__stdout__):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:  # algorithm code may have replaced sys.stdout with anything
                pass
        if self._c_flush is not None:
            self._c_flush(None)
        with self._lock:
            # Nothing waiting is the common case (once per call): FIONREAD costs a third of a failed read.
            if _pending(self._pipe) != 0:
                self._drain_locked()
            return self._total

    def _pump(self) -> None:
        while True:
            try:
                select.select([self._pipe], [], [])
            except (OSError, ValueError):
                return
            with self._lock:
                if not self._drain_locked():
                    return

    def _drain_locked(self) -> bool:
        """Forward everything the pipe holds to stderr; False once the pipe is closed."""
        while True:
            try:
                data = os.read(self._pipe, _CHUNK)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            self._total += len(data)
            _write_all(2, data)


def _pending(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD); -1 when the call fails, which makes the caller read."""
    try:
        fcntl.ioctl(fd, termios.FIONREAD, _FIONREAD_BUF, True)
    except OSError:
        return -1
    return _FIONREAD_BUF[0]


_FIONREAD_BUF = array.array("i", [0])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        pass  # stderr is gone: the bytes were still counted, which is what the runner needs


def _libc_fflush() -> Optional[Callable[[Optional[int]], int]]:
    """C stdio buffers of extensions (``printf``) are flushed at the end of each call so they are counted."""
    try:
        libc = ctypes.CDLL(None)
        fflush = libc.fflush
    except (OSError, AttributeError):
        return None
    fflush.argtypes = [ctypes.c_void_p]
    fflush.restype = ctypes.c_int
    return fflush

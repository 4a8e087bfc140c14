"""One JSON object per line on stderr, so the runner can parse and index algorithm logs."""
from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, Optional, TextIO


class StructuredLogger:
    def __init__(self, sink: Optional[TextIO] = None) -> None:
        # None means "sys.stderr at call time", so redirections made after construction are honoured.
        self._sink = sink

    @property
    def sink(self) -> TextIO:
        """Where lines go (public in the original SDK): the given stream, else sys.stderr as it is now."""
        return self._sink if self._sink is not None else sys.stderr

    @sink.setter
    def sink(self, stream: Optional[TextIO]) -> None:
        self._sink = stream

    def debug(self, message: str, **fields: Any) -> None:
        self._emit("debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._emit("info", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("warning", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("error", message, fields)

    def _emit(self, level: str, message: str, fields: Dict[str, Any]) -> None:
        record: Dict[str, Any] = {"timestamp_ms": int(time.time() * 1000), "level": level, "message": str(message)}
        for key, value in fields.items():
            record.setdefault(key, value)
        # Logging must never break the algorithm: anything json cannot encode is written as its str().
        try:
            line = json.dumps(record, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            line = json.dumps({key: _plain(value) for key, value in record.items()}, ensure_ascii=False)
        sink = self.sink
        try:
            sink.write(line + "\n")
            sink.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)

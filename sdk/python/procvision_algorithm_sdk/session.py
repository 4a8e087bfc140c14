"""Per-inspection-flow state. The runner owns it; the adapter ships it in and out of every call."""
from __future__ import annotations

import copy
import json
from typing import Any, Dict, Optional


class Session:
    def __init__(
        self,
        id: str,
        context: Optional[Dict[str, Any]] = None,
        state: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.id = id
        self._context: Dict[str, Any] = copy.deepcopy(context) if context else {}
        # Public under this name because algorithms written for the original SDK read it directly.
        self.state_store: Dict[str, Any] = copy.deepcopy(state) if state else {}

    # The original SDK's own names for the same things; algorithms written for it reach into them.
    @property
    def _state_store(self) -> Dict[str, Any]:
        return self.state_store

    @property
    def _id(self) -> str:
        return self.id

    @property
    def context(self) -> Dict[str, Any]:
        """A copy: the context is set by the host and read-only for the algorithm."""
        return copy.deepcopy(self._context) if self._context else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.state_store.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Store a JSON-serializable value (state crosses the process boundary as JSON); else ``TypeError``."""
        if not isinstance(key, str):
            raise TypeError(f"Session.set: key must be a str, got {type(key).__name__}")
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Session.set: value for key {key!r} is not JSON-serializable ({type(value).__name__}): {exc}"
            ) from None
        self.state_store[key] = value

    def delete(self, key: str) -> bool:
        if key in self.state_store:
            del self.state_store[key]
            return True
        return False

    def exists(self, key: str) -> bool:
        return key in self.state_store

    def reset(self) -> None:
        self.state_store.clear()

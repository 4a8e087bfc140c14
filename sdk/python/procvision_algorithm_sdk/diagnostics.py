"""Key/value diagnostics an algorithm publishes during a call; the adapter merges them into the result's ``debug``."""
from __future__ import annotations

from typing import Any, Dict


class Diagnostics:
    def __init__(self) -> None:
        self._items: Dict[str, Any] = {}

    def publish(self, key: str, value: Any) -> None:
        self._items[key] = value

    def get(self) -> Dict[str, Any]:
        return dict(self._items)

    def clear(self) -> None:
        self._items.clear()

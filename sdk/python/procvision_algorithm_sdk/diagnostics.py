"""Key/value diagnostics an algorithm publishes during a call; the adapter merges them into the result's ``debug``."""
from __future__ import annotations

from typing import Any, Dict


class Diagnostics:
    def __init__(self) -> None:
        # Public, as in the original SDK: algorithms read and write it directly.
        self.items: Dict[str, Any] = {}

    def publish(self, key: str, value: Any) -> None:
        self.items[key] = value

    def get(self) -> Dict[str, Any]:
        return dict(self.items)

    def clear(self) -> None:
        self.items.clear()

from __future__ import annotations

from typing import Any, Hashable


class LRUCache:
    """LRU cache relying on dict insertion order (Python 3.7+)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._store: dict[Hashable, Any] = {}

    def get(self, key: Hashable, default: Any = None) -> Any:
        # Plain dict lookup: O(1).
        return self._store.get(key, default)

    def put(self, key: Hashable, value: Any) -> None:
        if key in self._store:
            del self._store[key]
        elif len(self._store) >= self.capacity:
            oldest = next(iter(self._store))
            del self._store[oldest]
        self._store[key] = value

    def __len__(self) -> int:
        return len(self._store)

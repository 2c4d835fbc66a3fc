from typing import Any, Dict, Hashable, List


class LRUCache:
    """
    Least Recently Used (LRU) cache.

    Keeps a dictionary for the values and a list that records the order in
    which keys were used (front = least recent, back = most recent).
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("Capacity must be greater than zero")
        self.capacity = capacity
        self.cache: Dict[Hashable, Any] = {}
        self.order: List[Hashable] = []

    def _touch(self, key: Hashable) -> None:
        """Move key to the most-recently-used position."""
        if key in self.order:
            self.order.remove(key)
        self.order.append(key)

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self.cache:
            return default
        self._touch(key)
        return self.cache[key]

    def put(self, key: Hashable, value: Any) -> None:
        if key not in self.cache and len(self.cache) >= self.capacity:
            oldest = self.order.pop(0)
            del self.cache[oldest]
        self.cache[key] = value
        self._touch(key)

    def __len__(self) -> int:
        return len(self.cache)

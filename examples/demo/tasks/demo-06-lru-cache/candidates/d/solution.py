"""LRU cache: a hash map pointing into a doubly linked list (see ``linked_list``)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from linked_list import DoublyLinkedList, Node


class LRUCache:
    """Classic O(1) LRU cache.

    The list is ordered from least recently used (head) to most recently used
    (tail); the dict maps each key to its node for O(1) access.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._nodes: dict[Hashable, Node] = {}
        self._order = DoublyLinkedList()

    def get(self, key: Hashable, default: Any = None) -> Any:
        node = self._nodes.get(key)
        if node is None:
            return default
        self._order.move_to_tail(node)
        return node.value

    def put(self, key: Hashable, value: Any) -> None:
        node = self._nodes.get(key)
        if node is not None:
            node.value = value
            self._order.move_to_tail(node)
            return
        if len(self._nodes) >= self.capacity:
            evicted = self._order.pop_head()
            del self._nodes[evicted.key]
        node = Node(key, value)
        self._order.append(node)
        self._nodes[key] = node

    def __len__(self) -> int:
        return len(self._nodes)

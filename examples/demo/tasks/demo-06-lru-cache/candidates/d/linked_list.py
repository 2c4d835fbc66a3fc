"""Minimal doubly linked list with sentinel nodes, used by the LRU cache."""

from __future__ import annotations

from typing import Any


class Node:
    __slots__ = ("key", "value", "prev", "next")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value
        self.prev: Node | None = None
        self.next: Node | None = None


class DoublyLinkedList:
    def __init__(self) -> None:
        self.head = Node(None, None)
        self.tail = Node(None, None)
        self.head.next = self.tail
        self.tail.prev = self.head

    def append(self, node: Node) -> None:
        """Insert ``node`` just before the tail sentinel."""
        last = self.tail.prev
        assert last is not None
        last.next = node
        node.prev = last
        node.next = self.tail
        self.tail.prev = node

    def unlink(self, node: Node) -> None:
        assert node.prev is not None and node.next is not None
        node.prev.next = node.next
        node.next.prev = node.prev
        node.prev = node.next = None

    def move_to_tail(self, node: Node) -> None:
        self.unlink(node)
        self.append(node)

    def pop_head(self) -> Node:
        first = self.head.next
        if first is None or first is self.tail:
            raise IndexError("pop from empty list")
        self.unlink(first)
        return first

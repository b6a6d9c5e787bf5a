"""A bounded mapping that forgets the least recently used key: every per-session or per-text cache uses it, so
memory stays flat however long the process lives."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """`get` and `put` count as a use; `put` beyond `capacity` evicts the oldest key and returns it."""

    __slots__ = ("_items", "capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None or key in self._items:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> K | None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.capacity:
            evicted, _ = self._items.popitem(last=False)
            return evicted
        return None

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

"""A small in-process cache for page data that only changes when the database does.

The overview's counts and the review queue are aggregates over tens of thousands of posts:
recomputing them for every page view is most of what those pages cost. They are cached under the
*data version* (`store.overview.data_version`: the highest id of every table they read, which
every insert and every case change moves) and recomputed as soon as it changes, so an action
shows on the next page. Deletions (retention, an erasure request) and, on PostgreSQL, a row that
commits after a newer one do not move the version: `ttl_seconds` bounds how long such a change
can stay unseen.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(eq=False)
class _Flight:
    """One computation of a missing value that other requests for it wait on."""

    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False
    value: Any = None


class VersionedCache:
    """Values keyed by (key, data version), each kept at most `ttl_seconds`; least recently used
    entries go first when more than `max_entries` are held.

    A missing value is computed once however many requests want it at the same moment (when the
    data changed, or the overview's minute turned, under load): the others wait for that one
    computation instead of all running the same aggregate queries at once.
    """

    def __init__(self, *, ttl_seconds: float = 30.0, max_entries: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[Hashable, float, Any]] = OrderedDict()
        self._flights: dict[tuple[Hashable, Hashable], _Flight] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, version: Hashable, compute: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == version and now - found[1] < self.ttl_seconds:
                self._entries.move_to_end(key)
                self.hits += 1
                return found[2]  # type: ignore[no-any-return]
            flight = self._flights.get((key, version))
            leading = flight is None
            if flight is None:
                flight = self._flights[(key, version)] = _Flight()
        if not leading:
            flight.done.wait()
            if flight.ok:
                with self._lock:
                    self.hits += 1
                return flight.value  # type: ignore[no-any-return]
            return compute()  # the first computation failed: try for ourselves
        # Computed outside the lock: one slow query never blocks the pages that hit the cache.
        try:
            value = compute()
            flight.value, flight.ok = value, True
        finally:
            with self._lock:
                del self._flights[(key, version)]
                if flight.ok:
                    self.misses += 1
                    self._entries[key] = (version, now, flight.value)
                    self._entries.move_to_end(key)
                    while len(self._entries) > self.max_entries:
                        self._entries.popitem(last=False)
            flight.done.set()
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


__all__ = ["VersionedCache"]

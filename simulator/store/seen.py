"""Message identities seen recently, in memory and bounded: the embedded store's replay cache.

Each key is kept until its Timestamp could no longer be accepted (Expires + clock skew); past
that the Timestamp check refuses the message anyway, so forgetting it is safe. At most
`capacity` keys are kept: when full, the ones that expire soonest go first (a warning is
logged once), so memory stays bounded (~150 bytes a key) whatever the traffic.

Like the ESB's own replay cache, it lives in the process: a restart forgets it, which is also
what lets a client resend, after a crash, a message it never got an answer to.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import threading
from collections.abc import Iterable

DEFAULT_CAPACITY = 200_000

log = logging.getLogger(__name__)


class SeenCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._until: dict[bytes, float] = {}  # digest -> expiry (Unix time)
        self._heap: list[tuple[float, bytes]] = []  # (expiry, digest), may hold stale pairs
        self._lock = threading.Lock()
        self._warned = False

    def __len__(self) -> int:
        return len(self._until)

    def first_seen(self, keys: Iterable[bytes], until: float, now: float) -> bool:
        digests = [hashlib.blake2b(key, digest_size=16).digest() for key in keys]
        with self._lock:
            self._expire(now)
            if any(self._until.get(d, 0.0) > now for d in digests):
                return False
            for digest in digests:
                self._until[digest] = until
                heapq.heappush(self._heap, (until, digest))
            while len(self._until) > self.capacity:
                self._evict_one()
            return True

    def clear(self) -> None:
        with self._lock:
            self._until.clear()
            self._heap.clear()

    def _expire(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            self._pop()

    def _evict_one(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "replay cache full (%d message identities): the soonest to expire are "
                "forgotten early",
                self.capacity,
            )
        while self._heap and not self._pop():
            pass

    def _pop(self) -> bool:
        """Drop the heap's first pair; True when it was the key's live entry."""
        until, digest = heapq.heappop(self._heap)
        if self._until.get(digest) == until:
            del self._until[digest]
            return True
        return False

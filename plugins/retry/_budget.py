"""The retry budget: retries may be at most a share of the recent requests.

Per-request attempt limits do not stop a client from tripling its load on a server that is
down (every call makes ``max_attempts`` attempts). The budget caps retries across all
calls of one client, as Envoy's retry budget and the SRE book's per-client limit do: in
the last ``window`` seconds, a retry is allowed only while

    retries_in_window < max(min_retries, floor(ratio * requests_in_window))

where ``requests`` counts calls (first attempts), not retries. ``min_retries`` keeps a
quiet client able to retry at all. The window is a ring of ``buckets`` time slices, so
recording a request costs one clock read and a few integer operations, and old traffic
ages out without keeping a timestamp per request.
"""

from __future__ import annotations

__all__ = ["RetryBudget"]


class RetryBudget:
    """A sliding-window retry budget read on an external clock (``now`` in seconds)."""

    __slots__ = ("ratio", "min_retries", "window", "_width", "_n", "_ids", "_requests",
                 "_retries")

    def __init__(self, ratio: float, min_retries: int, window: float, buckets: int = 10) -> None:
        self.ratio = ratio
        self.min_retries = min_retries
        self.window = window
        self._n = buckets
        self._width = window / buckets
        # Each slot remembers which time slice it counts, so a stale slot is recognised
        # (and reset) on its next use instead of by a sweeping timer.
        self._ids = [-1] * buckets
        self._requests = [0] * buckets
        self._retries = [0] * buckets

    def _slot(self, now: float) -> int:
        ident = int(now // self._width)
        slot = ident % self._n
        if self._ids[slot] != ident:
            self._ids[slot] = ident
            self._requests[slot] = 0
            self._retries[slot] = 0
        return slot

    def record_request(self, now: float) -> None:
        """Count one call (its first attempt)."""
        self._requests[self._slot(now)] += 1

    def counts(self, now: float) -> tuple[int, int]:
        """``(requests, retries)`` in the window ending at ``now``."""
        current = int(now // self._width)
        oldest = current - self._n + 1
        requests = retries = 0
        for slot in range(self._n):
            if oldest <= self._ids[slot] <= current:
                requests += self._requests[slot]
                retries += self._retries[slot]
        return requests, retries

    def _limit(self, requests: int) -> int:
        # The epsilon keeps 0.2 * 100 at 20 rather than 19 after float rounding.
        return max(self.min_retries, int(self.ratio * requests + 1e-9))

    def allowed(self, now: float) -> int:
        """How many retries the window allows in total right now."""
        return self._limit(self.counts(now)[0])

    def try_acquire(self, now: float) -> bool:
        """Take one retry from the budget; ``False`` (and nothing taken) when exhausted."""
        requests, retries = self.counts(now)
        if retries >= self._limit(requests):
            return False
        self._retries[self._slot(now)] += 1
        return True

    def __repr__(self) -> str:
        return (f"RetryBudget(ratio={self.ratio}, min_retries={self.min_retries}, "
                f"window={self.window})")

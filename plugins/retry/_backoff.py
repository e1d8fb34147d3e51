"""Capped exponential backoff with jitter: the pure part of the retry policy.

The cap of retry ``n`` (0-based: ``n = 0`` is the wait before the second attempt) is
``min(max_delay, base * multiplier ** n)``. The jitter modes spread clients that failed
together so they do not come back together (the thundering herd after a restart):

- ``"full"`` (default, as Envoy, gRPC and AWS do): uniform in ``[0, cap]``;
- ``"equal"``: ``cap / 2`` plus uniform in ``[0, cap / 2]`` (never retries at once);
- ``"none"``: exactly ``cap`` (deterministic; for tests and single clients).
"""

from __future__ import annotations

import random
from typing import Final, Literal

__all__ = ["JITTER_MODES", "Jitter", "backoff_caps", "backoff_delay"]

Jitter = Literal["full", "equal", "none"]
JITTER_MODES: Final[tuple[str, ...]] = ("full", "equal", "none")


def backoff_caps(count: int, *, base: float, multiplier: float, max_delay: float) -> list[float]:
    """The caps of the first ``count`` retries.

    Computed by repeated multiplication clamped at ``max_delay`` rather than with
    ``multiplier ** n``, which overflows a float for large ``n``.
    """
    caps: list[float] = []
    cap = min(base, max_delay)
    for _ in range(count):
        caps.append(cap)
        cap = min(cap * multiplier, max_delay)
    return caps


def backoff_delay(cap: float, jitter: str, rng: random.Random) -> float:
    """One delay for a retry whose cap is ``cap``, drawn with ``rng``."""
    if jitter == "full":
        return rng.uniform(0.0, cap)
    if jitter == "equal":
        half = cap / 2.0
        return half + rng.uniform(0.0, half)
    return cap

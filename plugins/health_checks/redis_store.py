"""Health findings shared by a fleet through Redis (``store="redis://..."``): one process
probes an upstream per round, the others read what it found.

Before probing an upstream, a process claims the round (``SET NX`` on
``<store_prefix>:hc:{<upstream>}:claim``, expiring after ``interval``); the process that
gets the claim probes and publishes its finding (latency or error, with the claim's id)
under ``...:finding`` with a TTL of a few intervals. A process that does not get it reads
the latest finding and records it as its own probe, once per finding (the id tells a new
finding from one already counted); when there is none yet (the winner is still probing) it
records nothing this round. So a fleet of N processes sends one probe per upstream per
interval instead of N, and every process reaches the same verdicts from the same findings
(each still applies ``unhealthy_threshold`` and ``healthy_threshold`` itself).

What it weakens: a finding read from Redis is up to one ``interval`` old, and its latency
is the prober's. When Redis is down or slow (``plugins/_redis``) every process probes for
itself, as without a store (health checks never fail closed).
"""

from __future__ import annotations

import json
from typing import Final

from .._redis._link import RedisLink, StoreUnavailable, new_lease, redis_key

__all__ = ["Finding", "RedisHealthStore"]

#: A finding outlives its round by this many intervals.
_FINDING_LIFE: Final = 3
_CLAIM: Final = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
local finding = redis.call('GET', KEYS[2])
if not finding then
  return {0}
end
return {0, finding}
"""

#: ``(latency, error)`` of one probe.
Finding = tuple[float | None, str | None]


class RedisHealthStore:
    """The claims and findings of the health checks, shared through ``link``."""

    def __init__(self, link: RedisLink, *, prefix: str) -> None:
        self.link = link
        self.prefix = prefix
        self._claim = link.script(_CLAIM)
        # The id of the last finding counted, per upstream.
        self._counted: dict[str, str] = {}
        self._claims: dict[str, str] = {}

    def _keys(self, upstream: str) -> tuple[str, str]:
        return (redis_key(self.prefix, "hc", upstream, "claim"),
                redis_key(self.prefix, "hc", upstream, "finding"))

    async def claim(self, upstream: str, interval: float) -> bool | Finding | None:
        """``True``: this process probes ``upstream`` this round (also when Redis is down);
        a :data:`Finding` another process published and this one has not counted yet; or
        ``None``: nothing new to record this round."""
        claim_key, finding_key = self._keys(upstream)
        claim = new_lease()
        script = self._claim
        try:
            answer = await self.link.call(lambda r: script(
                keys=[claim_key, finding_key], args=[claim, max(1, int(interval * 1000))],
                client=r))
        except StoreUnavailable:
            return True
        if answer[0] == 1:
            self._claims[upstream] = claim
            return True
        if len(answer) < 2:
            return None
        try:
            data = json.loads(answer[1])
            finding_id, latency, error = data["id"], data["latency"], data["error"]
        except (ValueError, KeyError, TypeError):
            return None
        if self._counted.get(upstream) == finding_id:
            return None
        self._counted[upstream] = finding_id
        return (float(latency) if isinstance(latency, (int, float)) else None,
                str(error) if error is not None else None)

    async def publish(self, upstream: str, interval: float, finding: Finding) -> None:
        """Publish what this process's probe of ``upstream`` found."""
        finding_id = self._claims.pop(upstream, None) or new_lease()
        self._counted[upstream] = finding_id
        _, finding_key = self._keys(upstream)
        text = json.dumps({"id": finding_id, "latency": finding[0], "error": finding[1]})
        life = max(1, int(interval * 1000 * _FINDING_LIFE))
        try:
            await self.link.call(lambda r: r.set(finding_key, text, px=life))
        except StoreUnavailable:
            return

    async def aclose(self) -> None:
        await self.link.aclose()

    def __repr__(self) -> str:
        return f"RedisHealthStore({self.link.display}, prefix={self.prefix!r})"

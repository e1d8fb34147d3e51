"""The declared settings of the request caching plugin (the only place their defaults are
written). What each one means is in the policy text, :mod:`ollama_plugins.request_caching._plugin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ollama_core.ext import setting

from .._redis import SharedStoreConfig

__all__ = ["CACHEABLE_ENDPOINTS", "DEFAULT_ENDPOINTS", "RequestCachingConfig"]

#: Endpoints whose answers depend only on the request (and the server's models).
CACHEABLE_ENDPOINTS: Final = frozenset(
    {"chat", "generate", "embed", "embeddings", "show", "tags", "ps", "version"})
#: Cached without asking: deterministic for a given model.
DEFAULT_ENDPOINTS: Final = ("embed", "embeddings", "show")


def _cacheable(endpoints: frozenset[str]) -> frozenset[str]:
    for name in sorted(endpoints):
        if name not in CACHEABLE_ENDPOINTS:
            raise ValueError(f"{name!r} cannot be cached (cacheable: "
                             f"{', '.join(sorted(CACHEABLE_ENDPOINTS))})")
    return endpoints


@dataclass(frozen=True, slots=True)
class RequestCachingConfig(SharedStoreConfig):
    """Settings of the ``request_caching`` plugin (the shared-store keys come from
    :class:`~ollama_plugins._redis.SharedStoreConfig`)."""

    ttl: float = setting(300.0, above=0, unit="s", doc="seconds an answer stays fresh")
    max_entries: int = setting(1024, minimum=1, doc="answers kept at most")
    max_bytes: int = setting(64 * 1024 * 1024, minimum=1, default_text="64 MiB",
                             doc="memory held by stored answers and recordings")
    endpoints: frozenset[str] = setting(frozenset(DEFAULT_ENDPOINTS), check=_cacheable,
                                        doc="endpoints cached without asking")

"""The settings every plugin with a shared store declares (the only place their defaults
are written): a base class the plugins' own config classes extend, so ``store``,
``store_prefix``, ``store_timeout`` and ``store_lease_ttl`` mean the same everywhere, and
``fail_closed`` for the policies that can refuse a call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ollama_core._redact import mask_url
from ollama_core.ext import PluginConfig, setting

__all__ = ["MEMORY", "SharedStoreConfig", "StoreURL", "fail_closed_setting"]

#: The ``store`` value of the in-process store.
MEMORY: Final = "memory"
_SCHEMES: Final = ("redis://", "rediss://", "unix://")


class StoreURL(str):
    """A Redis URL as a setting: the text is the URL *without its credentials* (what any
    ``repr``, ``to_dict()``, log line or error shows), the real URL is :attr:`url`, read
    only to connect. A password in a URL is a secret like any other."""

    __slots__ = ("url",)

    url: str

    def __new__(cls, url: str) -> StoreURL:
        self = super().__new__(cls, mask_url(url))
        self.url = url
        return self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoreURL):
            return self.url == other.url
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def _store(value: str) -> str:
    if value == MEMORY:
        return MEMORY
    if isinstance(value, StoreURL):
        return value
    if not value.startswith(_SCHEMES):
        raise ValueError(f'must be "memory" or a Redis URL (redis://, rediss://, unix://), '
                         f"got {mask_url(value)!r}")
    return StoreURL(value)


def _prefix(value: str) -> str:
    if not value or any(c in value for c in "{} \t\r\n"):
        raise ValueError("must be a non-empty name without braces or spaces")
    return value


def fail_closed_setting() -> bool:
    """The ``fail_closed`` setting of the policies that can refuse a call (the limiter and
    the breaker; a cache that cannot reach its store simply misses)."""
    return setting(False, doc="refuse calls while the shared store is down")  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class SharedStoreConfig(PluginConfig):
    """The shared-store settings of ``rate_limiting``, ``circuit_breaker``,
    ``request_caching`` and ``health_checks`` (see :mod:`ollama_plugins._redis`)."""

    store: str = setting(MEMORY, check=_store,
                         doc='"memory" (this process) or a Redis URL shared by a fleet')
    store_prefix: str = setting("ollama-core", check=_prefix,
                                doc="namespace of the keys in the shared store")
    store_timeout: float = setting(0.25, above=0, unit="s",
                                   doc="longest wait for one shared-store call")
    store_lease_ttl: float = setting(10.0, above=0, unit="s",
                                     doc="life of a lease its holder stopped renewing")

    @property
    def shared(self) -> bool:
        """Whether the state lives in a shared store."""
        return self.store != MEMORY

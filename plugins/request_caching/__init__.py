"""Request caching: identical requests answered from a store, and coalesced while in flight.

The policy (what is cached, the key, settings, single flight, cooperation) is described in
:mod:`ollama_plugins.request_caching._plugin`; the settings are declared in
:class:`~ollama_plugins.request_caching._config.RequestCachingConfig`; the stored form of
an answer, its portable JSON form, and what a shared store may weaken, in
:mod:`ollama_plugins.request_caching.store`.
"""

from ._config import CACHEABLE_ENDPOINTS, DEFAULT_ENDPOINTS, RequestCachingConfig
from ._middleware import CacheMiddleware
from ._plugin import RequestCachingPlugin
from ._replay import merge_stream
from .store import CacheStore, MemoryCacheStore, StoredAnswer

__all__ = ["CACHEABLE_ENDPOINTS", "DEFAULT_ENDPOINTS", "CacheMiddleware", "CacheStore",
           "MemoryCacheStore", "RequestCachingConfig", "RequestCachingPlugin", "StoredAnswer",
           "merge_stream"]

"""Calls to ollama.com's own web API, on a path of their own.

``web_search`` and ``web_fetch`` normally go to the client's server, whose
``/api/experimental/web_*`` routes sign the call with the server's key and drop the
caller's ``Authorization``. Asked with ``cloud=True``, they go to ollama.com's
``/api/web_search|web_fetch`` as ollama-python sends them, with an API key of their own.

That key is meant for ollama.com alone, so the cloud path shares nothing with the client's
requests but the connection pool: it has its own :class:`Attempts` over its own one-server
registry, with none of the client's middlewares (retry, failover, breaker, limiter,
cache), none of its plugins' hooks and none of its extra headers. A failover list cannot
carry the key to another server, a breaker or limiter guarding the Ollama server does not
hold back a call that never reaches it, and a plugin that signs or logs requests for the
server never sees the cloud's. The key lives only in the :class:`Upstream`, whose ``repr``
leaves it out.
"""

from __future__ import annotations

import os
from typing import Final

from ._attempt import Attempts
from ._envelope import Timeouts
from ._exceptions import InvalidConfigError
from ._host import check_api_key, parse_host
from ._plugin_manager import PluginManager
from ._transports import Transport
from ._upstreams import Upstream, UpstreamRegistry

__all__ = ["CLOUD_URL_ENV", "CloudRoute", "DEFAULT_CLOUD_URL"]

#: Where ollama-python sends ``web_search`` and ``web_fetch``.
DEFAULT_CLOUD_URL: Final = "https://ollama.com"
#: The environment variable a ``cloud_url`` of ``None`` reads (then the default).
CLOUD_URL_ENV: Final = "OLLAMA_CLOUD_URL"
_KEY_ENV: Final = "OLLAMA_API_KEY"


class CloudRoute:
    """ollama.com (or ``url``) and the key for it; the :class:`Attempts` that reach it are
    built on first use, over the client's transport.

    ``url`` ``None`` reads ``OLLAMA_CLOUD_URL``, else ``https://ollama.com``; ``api_key``
    ``None`` reads ``OLLAMA_API_KEY``. Both are checked here, so a bad value is a
    configuration error when the client is built.
    """

    __slots__ = ("_upstream", "_attempts")

    def __init__(self, url: str | None, api_key: str | None) -> None:
        if url is None:
            url = os.environ.get(CLOUD_URL_ENV) or DEFAULT_CLOUD_URL
        if api_key is None:
            key = check_api_key(os.environ.get(_KEY_ENV), _KEY_ENV)
        else:
            key = check_api_key(api_key, "cloud_api_key")
        self._upstream = Upstream(parse_host(url), key)
        self._attempts: Attempts | None = None

    @property
    def url(self) -> str:
        """The cloud's base URL, without credentials."""
        return self._upstream.display

    @property
    def has_key(self) -> bool:
        return bool(self._upstream.api_key)

    def attempts(self, transport: Transport, timeouts: Timeouts, *, max_line_length: int,
                 max_body_size: int, endpoint: str) -> Attempts:
        """What sends a cloud call; ``InvalidConfigError`` (before anything is sent) when
        there is no key, since ollama.com refuses every call without one."""
        if not self._upstream.api_key:
            raise InvalidConfigError(
                f"{endpoint}(cloud=True) needs an ollama.com API key: pass cloud_api_key= "
                f"to the client or set {_KEY_ENV}")
        attempts = self._attempts
        if attempts is None:
            attempts = self._attempts = Attempts(
                transport, PluginManager(), UpstreamRegistry([self._upstream]),
                timeouts=timeouts, max_line_length=max_line_length,
                max_body_size=max_body_size)
        return attempts

    def close(self) -> None:
        """Nothing more is sent (a call already on the wire ends with the transport)."""
        if self._attempts is not None:
            self._attempts.closed = True

    def __repr__(self) -> str:
        return f"<CloudRoute {self.url} key={'set' if self.has_key else 'unset'}>"

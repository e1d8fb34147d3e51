"""An example third-party plugin for ollama-core, written on ``ollama_core.ext`` alone.

It gives every call an id header and reports each call's end as a typed event
(:class:`CallLogged`), optionally signs every attempt with an HMAC header, keeps a record
of what the transport hooks saw, and journals its own events and retry's and failover's to
a JSON Lines file it opens and closes with the client. Enable it with
``OllamaClient(plugins=["request_log"])`` once this distribution is installed (the entry
point is in its ``pyproject.toml``). The plugin is in ``_plugin.py``; this module only
re-exports.
"""

from ._config import RequestLogConfig
from ._events import CallLogged
from ._journal import Journal
from ._middleware import CallLogMiddleware
from ._plugin import RequestLogPlugin

__all__ = ["CallLogMiddleware", "CallLogged", "Journal", "RequestLogConfig", "RequestLogPlugin"]

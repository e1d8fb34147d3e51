"""The settings of ``request_log``, declared once: the defaults live here and nowhere else."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ollama_core.ext import PluginConfig, setting

__all__ = ["RequestLogConfig"]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)


def _header_name(value: str) -> str:
    if not _TOKEN.match(value):
        raise ValueError(f"must be an HTTP header name, got {value!r}")
    return value


def _not_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty (leave it out instead)")
    return value


@dataclass(frozen=True, slots=True)
class RequestLogConfig(PluginConfig):
    """``plugin_config={"request_log": {...}}``; the shared parser rejects a bad value or an
    unknown key as ``plugin 'request_log': <key>: <problem>``."""

    #: When set, every attempt carries ``X-Signature``: the HMAC-SHA256 of method and path.
    signing_key: str | None = setting(None, check=_not_empty, doc="HMAC-SHA256 signing key")
    #: How many hook records ``plugin.records`` keeps (later ones are not kept).
    max_records: int = setting(10_000, minimum=0, doc="hook records kept in memory")
    #: The header carrying the call id, the same on every attempt of one call.
    id_header: str = setting("X-Request-Id", check=_header_name, doc="call id header")
    #: A JSON Lines journal of events, opened when the client opens (appended to).
    log_file: str | None = setting(None, check=_not_empty, doc="JSON Lines event journal")
    #: Journal lines waiting for the writer; when full, new lines are dropped and counted.
    queue_size: int = setting(1024, minimum=1, doc="journal lines queued for the writer")

    def __repr__(self) -> str:  # the signing key never appears in a repr or a log line
        key = None if self.signing_key is None else "***"
        return (f"RequestLogConfig(signing_key={key}, max_records={self.max_records}, "
                f"id_header={self.id_header!r}, log_file={self.log_file!r}, "
                f"queue_size={self.queue_size})")

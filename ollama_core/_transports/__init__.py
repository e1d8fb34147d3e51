"""Transports: what moves the bytes of each attempt (the httpx model).

- ``base``: the :class:`Transport` protocol, the byte-level envelopes
  (:class:`TransportRequest`, :class:`TransportResponse`, :class:`ByteStream`) and the
  generic error rule (:func:`transport_error`);
- ``aiohttp``: :class:`AiohttpTransport`, the client's default, and the mapping of
  aiohttp's exceptions;
- ``mock``: :class:`MockTransport`, answers from a function, for tests without sockets.

What an attempt means above the bytes lives in ``ollama_core._attempt``.
"""

from __future__ import annotations

from .aiohttp import AiohttpTransport, aiohttp_error, map_aiohttp_errors
from .base import (
    ByteStream,
    IteratorStream,
    Transport,
    TransportRequest,
    TransportResponse,
    transport_error,
)
from .mock import MockResult, MockTransport

__all__ = [
    "AiohttpTransport",
    "ByteStream",
    "IteratorStream",
    "MockResult",
    "MockTransport",
    "Transport",
    "TransportRequest",
    "TransportResponse",
    "aiohttp_error",
    "map_aiohttp_errors",
    "transport_error",
]

"""Kept importable: the transport moved to ``ollama_core._transports`` (moving the bytes)
and ``ollama_core._attempt`` (what an attempt means above them)."""

from __future__ import annotations

from ._attempt import DEFAULT_MAX_BODY_SIZE, USER_AGENT, _dumps, _loads
from ._transports.aiohttp import AiohttpTransport

__all__ = ["AiohttpTransport", "DEFAULT_MAX_BODY_SIZE", "USER_AGENT", "_dumps", "_loads"]

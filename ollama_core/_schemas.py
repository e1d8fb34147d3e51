"""Request validation by kind: ``validate_request("chat", body)``.

The schemas are no longer written here: each request is declared once in
:mod:`ollama_core._types` / :mod:`ollama_core._wire` (fields with their checks), and its
marshmallow schema and validation fast path are derived from that declaration
(:mod:`ollama_core._wire._decl`, whose docstring gives the decisions: unknown keys pass,
strict JSON types, rules mirroring the server's own 400s, big arrays checked by shape).
This module keeps the entry point the client calls.
"""

from __future__ import annotations

from . import _types  # noqa: F401  (its declarations fill REQUESTS)
from ._wire._decl import REQUESTS, validate_request

__all__ = ["REQUEST_KINDS", "validate_request"]

#: The ``kind`` values :func:`validate_request` accepts.
REQUEST_KINDS: frozenset[str] = frozenset(REQUESTS)

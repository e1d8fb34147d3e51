"""Request validation by kind: ``validate_request("chat", body)``.

The schemas are no longer written here: each request is declared once in
:mod:`ollama_core._types` / :mod:`ollama_core._wire` (fields with their checks), and its
marshmallow schema and validation fast path are derived from that declaration
(:mod:`ollama_core._wire._decl`, whose docstring gives the decisions: unknown keys pass,
strict JSON types, rules mirroring the server's own 400s, big arrays checked by shape).
This module keeps the entry point the client calls and the names earlier code imported.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema

from . import _types
from ._wire._decl import REQUESTS, Plan, fast_valid, validate_request

__all__ = [
    "ChatRequestSchema",
    "CopyRequestSchema",
    "CreateRequestSchema",
    "DeleteRequestSchema",
    "EmbedRequestSchema",
    "EmbeddingsRequestSchema",
    "GenerateRequestSchema",
    "MessageSchema",
    "OptionsSchema",
    "PullRequestSchema",
    "PushRequestSchema",
    "REQUEST_KINDS",
    "ShowRequestSchema",
    "ToolCallFunctionSchema",
    "ToolCallSchema",
    "ToolFunctionSchema",
    "ToolSchema",
    "validate_request",
]

#: The ``kind`` values :func:`validate_request` accepts.
REQUEST_KINDS: frozenset[str] = frozenset(REQUESTS)

# The schema classes derived from the declarations, under their former names.
ChatRequestSchema: type[Schema] = _types.ChatRequest._SCHEMA_CLASS
GenerateRequestSchema: type[Schema] = _types.GenerateRequest._SCHEMA_CLASS
EmbedRequestSchema: type[Schema] = _types.EmbedRequest._SCHEMA_CLASS
EmbeddingsRequestSchema: type[Schema] = _types.EmbeddingsRequest._SCHEMA_CLASS
CreateRequestSchema: type[Schema] = _types.CreateRequest._SCHEMA_CLASS
PullRequestSchema: type[Schema] = _types.PullRequest._SCHEMA_CLASS
PushRequestSchema: type[Schema] = _types.PushRequest._SCHEMA_CLASS
CopyRequestSchema: type[Schema] = _types.CopyRequest._SCHEMA_CLASS
DeleteRequestSchema: type[Schema] = _types.DeleteRequest._SCHEMA_CLASS
ShowRequestSchema: type[Schema] = _types.ShowRequest._SCHEMA_CLASS
MessageSchema: type[Schema] = _types.ChatMessage._SCHEMA_CLASS
OptionsSchema: type[Schema] = _types.Options._SCHEMA_CLASS
ToolCallFunctionSchema: type[Schema] = _types.ToolCallFunction._SCHEMA_CLASS
ToolCallSchema: type[Schema] = _types.ToolCall._SCHEMA_CLASS
ToolFunctionSchema: type[Schema] = _types.ToolFunction._SCHEMA_CLASS
ToolSchema: type[Schema] = _types.Tool._SCHEMA_CLASS

#: The shared schema instance and fast-path plan of each request kind.
_SCHEMAS: dict[str, Schema] = {kind: cls.schema() for kind, cls in REQUESTS.items()}
_PLANS: dict[str, Plan] = {kind: cls._PLAN for kind, cls in REQUESTS.items()}
_fast_valid: Any = fast_valid

"""Request validation by kind: ``validate_request("chat", body)``.

The schemas are no longer written here: each request is declared once in
:mod:`ollama_core._types` / :mod:`ollama_core._wire` (fields with their checks), and its
marshmallow schema and validation fast path are derived from that declaration
(:mod:`ollama_core._wire._decl`, whose docstring gives the decisions: unknown keys pass,
strict JSON types, rules mirroring the server's own 400s, big arrays checked by shape).
This module keeps the entry point the client calls and the names earlier code imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _types
from ._wire._decl import REQUESTS, Wire, validate_request

if TYPE_CHECKING:
    from marshmallow import Schema

    from ._wire._schema import Plan

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

# The schema classes derived from the declarations, under their former names: built on
# first access (module ``__getattr__``), like the declarations' own (see ``_decl._Derived``),
# so that importing the client neither builds them nor loads marshmallow.
_SCHEMA_OF: dict[str, type[Wire]] = {
    "ChatRequestSchema": _types.ChatRequest,
    "GenerateRequestSchema": _types.GenerateRequest,
    "EmbedRequestSchema": _types.EmbedRequest,
    "EmbeddingsRequestSchema": _types.EmbeddingsRequest,
    "CreateRequestSchema": _types.CreateRequest,
    "PullRequestSchema": _types.PullRequest,
    "PushRequestSchema": _types.PushRequest,
    "CopyRequestSchema": _types.CopyRequest,
    "DeleteRequestSchema": _types.DeleteRequest,
    "ShowRequestSchema": _types.ShowRequest,
    "MessageSchema": _types.ChatMessage,
    "OptionsSchema": _types.Options,
    "ToolCallFunctionSchema": _types.ToolCallFunction,
    "ToolCallSchema": _types.ToolCall,
    "ToolFunctionSchema": _types.ToolFunction,
    "ToolSchema": _types.Tool,
}

if TYPE_CHECKING:
    ChatRequestSchema: type[Schema]
    GenerateRequestSchema: type[Schema]
    EmbedRequestSchema: type[Schema]
    EmbeddingsRequestSchema: type[Schema]
    CreateRequestSchema: type[Schema]
    PullRequestSchema: type[Schema]
    PushRequestSchema: type[Schema]
    CopyRequestSchema: type[Schema]
    DeleteRequestSchema: type[Schema]
    ShowRequestSchema: type[Schema]
    MessageSchema: type[Schema]
    OptionsSchema: type[Schema]
    ToolCallFunctionSchema: type[Schema]
    ToolCallSchema: type[Schema]
    ToolFunctionSchema: type[Schema]
    ToolSchema: type[Schema]
    #: The shared schema instance and fast-path plan of each request kind.
    _SCHEMAS: dict[str, Schema]
    _PLANS: dict[str, Plan]
    _fast_valid: Any


def __getattr__(name: str) -> Any:
    cls = _SCHEMA_OF.get(name)
    if cls is not None:
        value: Any = cls._SCHEMA_CLASS
    elif name == "_SCHEMAS":
        value = {kind: cls.schema() for kind, cls in REQUESTS.items()}
    elif name == "_PLANS":
        value = {kind: cls._PLAN for kind, cls in REQUESTS.items()}
    elif name == "_fast_valid":
        from ._wire._schema import fast_valid

        value = fast_valid
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later reads find it without coming here
    return value

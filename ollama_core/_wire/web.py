"""Web search and fetch: ``POST /api/experimental/web_search`` and ``web_fetch`` on a
server, ``/api/web_search`` and ``/api/web_fetch`` on ollama.com (Go ``api/types.go``:
``WebSearchRequest``, ``WebSearchResult``, ``WebSearchResponse``, ``WebFetchRequest``,
``WebFetchResponse``)."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from ._spec import Int, Str, not_blank
from ._decl import Request, Wire, declare, wire

__all__ = [
    "WebFetchRequest",
    "WebFetchResponse",
    "WebSearchRequest",
    "WebSearchResponse",
    "WebSearchResult",
]


@declare(kind="web_search")
class WebSearchRequest(Request):
    """``POST .../web_search``: a query, and how many results at most."""

    query: str = wire(Str(validate=not_blank), required=True, doc="What to search for.")
    max_results: int | None = wire(Int(), default=None,
                                   doc="Most results to return (the service's default if unset).")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class WebSearchResult(Wire):
    """One search hit."""

    title: str = wire(default="", doc="Page title.")
    url: str = wire(default="", doc="Page address.")
    content: str = wire(default="", doc="Relevant text of the page.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class WebSearchResponse(Wire):
    """The result of a web search."""

    results: list[WebSearchResult] = wire(many=WebSearchResult, default_factory=list,
                                          doc="The hits, best first.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare(kind="web_fetch")
class WebFetchRequest(Request):
    """``POST .../web_fetch``: one page to fetch."""

    url: str = wire(Str(validate=not_blank), required=True, doc="The page to fetch.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class WebFetchResponse(Wire):
    """A fetched page as text."""

    title: str = wire(default="", doc="Page title.")
    content: str = wire(default="", doc="Page text.")
    links: list[str] | None = wire(default=None, doc="Links found on the page.")
    extra: dict[str, Any] = field(default_factory=dict)

"""The plugin hooks of ollama-core, in the order a client's life calls them.

Every hook is synchronous (pluggy has no async hooks): an ``async def`` implementation
would return an un-awaited coroutine. Asynchronous per-call behaviour belongs in a
middleware returned from :func:`ollama_middlewares`; long-running background work belongs
in a coroutine function returned from :func:`ollama_background_tasks`.

Implementations may accept any subset of a hook's arguments. Each client has its own
plugin manager, so a plugin object registered with one client never sees another's calls.
The README's "Hook reference" documents each hook with its exact signature; a test fails
when a hook here is missing from it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ._client import OllamaClient
    from ._events import Event
    from ._middleware import Middleware
    from ._models import Request, Response

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "ollama_core"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Marker for hook implementations: ``@ollama_core.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------------------
# Setup: called when a client is built, when its plugins change, and when it opens/closes
# --------------------------------------------------------------------------------------


@hookspec
def ollama_client_setup(client: OllamaClient) -> None:
    """Called once per plugin, right after the plugin is registered with ``client``
    (at construction, or by ``client.add_plugin``). Read ``client.clock``,
    ``client.upstreams`` or other plugins' registry objects here.

    :param client: the async client the plugin now belongs to.
    """


@hookspec
def ollama_middlewares(client: OllamaClient) -> list[Middleware] | None:
    """Contribute per-call middlewares. Called whenever the client (re)builds its chain:
    at construction and after ``add_plugin``/``remove_plugin``/``configure_plugin``.

    :param client: the client building its chain.
    :return: middlewares to add (each has ``name`` and ``order``), or ``None``.
    """


@hookspec
def ollama_background_tasks(
    client: OllamaClient,
) -> list[Callable[[], Coroutine[Any, Any, None]]] | None:
    """Contribute long-running coroutines (health probes, cache sweeps). Called when the
    client first opens inside its event loop; each returned coroutine function is started
    as a task and cancelled (and awaited) when the client closes.

    :param client: the client being opened.
    :return: zero-argument coroutine functions, or ``None``.
    """


@hookspec
def ollama_client_close(client: OllamaClient) -> None:
    """Called when the client closes, after background tasks stopped and before the HTTP
    session is closed. Release anything the plugin holds.

    :param client: the closing client.
    """


# --------------------------------------------------------------------------------------
# Request: called for every call and every attempt
# --------------------------------------------------------------------------------------


@hookspec
def ollama_prepare_request(client: OllamaClient, endpoint: str, body: dict[str, Any]) -> None:
    """Called once per call, before validation, with the request body as a wire-shaped
    ``dict``. Mutate ``body`` in place to normalise input (the vision plugin turns paths,
    bytes and file objects into base64 here). Nothing has been sent yet, so raising
    ``InvalidRequestError`` rejects the call cleanly.

    :param client: the client making the call.
    :param endpoint: the API operation, e.g. ``"chat"``, ``"generate"``, ``"embed"``.
    :param body: the JSON body about to be validated and sent.
    """


@hookspec
def ollama_request(request: Request) -> None:
    """Called by the transport just before each attempt goes on the wire (after every
    middleware). Headers may be added or changed here (request signing, tracing).

    :param request: the attempt about to be sent; ``request.upstream`` is its server.
    """


@hookspec
def ollama_response(request: Request, response: Response) -> None:
    """Called by the transport when an attempt's response headers arrive, whatever the
    status (before an error status is turned into a ``ResponseError``, and before the first
    line of a stream is read).

    :param request: the attempt.
    :param response: its response; ``response.status`` and ``response.headers`` are set.
    """


@hookspec
def ollama_stream_chunk(request: Request, chunk: dict[str, Any]) -> dict[str, Any] | None:
    """Called for every parsed line of a stream, before it is turned into a typed chunk
    and handed to the caller. Return a ``dict`` to replace the chunk, or ``None`` to keep
    it. Implementations are chained: each receives the chunk as the previous one left it
    (in pluggy's call order). When no plugin implements this hook the client skips it
    entirely, so it costs nothing per chunk.

    :param request: the streaming request.
    :param chunk: the decoded JSON line.
    :return: a replacement chunk, or ``None``.
    """


@hookspec
def ollama_error(request: Request, error: BaseException) -> None:
    """Called when an attempt fails: a transport error, an HTTP error status, or a stream
    error after the response started. Called before middlewares see the error; do not
    raise from it.

    :param request: the failed attempt.
    :param error: the ``OllamaError`` about to be raised.
    """


# --------------------------------------------------------------------------------------
# Events: what plugins report (retries, breaker transitions, failovers, health changes)
# --------------------------------------------------------------------------------------


@hookspec
def ollama_event(client: OllamaClient, event: Event) -> None:
    """Called for every event a plugin (or the core) emits with ``client.emit(event)``:
    ``retry``, ``circuit_state``, ``failover``, ``upstream_health``, ``cache_hit``,
    ``cache_miss``, ``rate_limited`` and any a third-party plugin defines.
    Must not block; runs inside the event loop.

    :param client: the client the event belongs to.
    :param event: the event (``event.name``, ``event.data``).
    """

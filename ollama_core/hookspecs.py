"""The plugin hooks of ollama-core, in the order a client's life calls them.

Every hook is synchronous (pluggy has no async hooks): an ``async def`` implementation
would return an un-awaited coroutine. Asynchronous per-call behaviour belongs in a
middleware returned from :func:`ollama_middlewares`; long-running background work belongs
in a coroutine function returned from :func:`ollama_background_tasks`.

Implementations may accept any subset of a hook's arguments. Each client has its own
plugin manager, so a plugin object registered with one client never sees another's calls.
The README's "Hook reference" documents each hook with its exact signature; a test fails
when a hook here is missing from it.

When an implementation raises. Every implementation is guarded on its own when its plugin
is registered (``PluginManager._guard`` replaces each ``HookImpl.function``; pluggy still
makes the calls, so ordering, ``wrapper=True``/``hookwrapper=True`` implementations and
subset-of-arguments implementations work as pluggy documents). There are two kinds of hook:

- *Observers* (:data:`OBSERVER_HOOKS`: ``ollama_response``, ``ollama_error``,
  ``ollama_event``, ``ollama_client_close``) only watch. An ``Exception`` from one is
  logged on the ``"ollama_core.plugins"`` logger (level ERROR, with the plugin's name, the
  hook and the traceback) and ignored: the other implementations still run and the call,
  or the close, goes on exactly as if the observer had returned normally. An observer can
  never change the outcome of a call.
- *Transforms and contributors* (every other hook: ``ollama_prepare_request``,
  ``ollama_request``, ``ollama_stream_chunk``, ``ollama_client_setup``,
  ``ollama_middlewares``, ``ollama_background_tasks``) shape what is sent, what is
  delivered or how the client is built, so going on without them would be wrong. An
  ``OllamaError`` raised by one is deliberate (an ``InvalidRequestError`` from
  ``ollama_prepare_request`` rejecting a body) and passes through unchanged; any other
  ``Exception`` is a bug in the plugin and fails the operation (the call, the stream, the
  client's construction or ``add_plugin``) with ``PluginHookError`` naming the plugin and
  the hook, raised from the original.

A ``BaseException`` that is not an ``Exception`` (cancellation, ``KeyboardInterrupt``)
always passes through. A wrapper implementation is guarded the same way in each of its
halves; an observer wrapper that fails is skipped, the result passing through unchanged.
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

__all__ = ["OBSERVER_HOOKS", "PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "ollama_core"

#: The hooks that only observe: an exception from one is logged and ignored (see above).
OBSERVER_HOOKS: frozenset[str] = frozenset(
    {"ollama_response", "ollama_error", "ollama_event", "ollama_client_close"})

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
    ``client.upstreams`` or other plugins' registry objects here. An exception that is not
    an ``OllamaError`` fails the construction (or ``add_plugin``) with ``PluginHookError``:
    a plugin that could not set itself up must not serve calls.

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
    session is closed. Release anything the plugin holds. An observer: an exception from
    it is logged and the other plugins are still told, and the session still closed.

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
    ``InvalidRequestError`` rejects the call cleanly; any other exception fails it with
    ``PluginHookError`` (a transform, see the module docstring).

    :param client: the client making the call.
    :param endpoint: the API operation, e.g. ``"chat"``, ``"generate"``, ``"embed"``.
    :param body: the JSON body about to be validated and sent. Non-streaming ``chat``,
        ``generate``, ``pull``, ``push`` and ``create`` calls carry ``"stream": true``
        here too: they go on the wire as streams, folded into one answer by the transport
        (``"stream": false`` with a client built with ``stream_on_wire=False``).
    """


@hookspec
def ollama_request(request: Request) -> None:
    """Called by the transport just before each attempt goes on the wire (after every
    middleware). Headers may be added or changed here (request signing, tracing). A
    transform: an exception that is not an ``OllamaError`` fails the attempt with
    ``PluginHookError`` before anything is sent.

    :param request: the attempt about to be sent; ``request.upstream`` is its server.
        ``request.json`` is the body exactly as sent: a non-streaming call whose body says
        ``"stream": true`` (see ``ollama_prepare_request``) has ``request.stream`` false
        and gets one folded answer.
    """


@hookspec
def ollama_response(request: Request, response: Response) -> None:
    """Called by the transport when an attempt's response headers arrive, whatever the
    status (before an error status is turned into a ``ResponseError``, and before the first
    line of a stream is read). An observer: an exception from it is logged and ignored.

    :param request: the attempt.
    :param response: its response; ``response.status`` and ``response.headers`` are set.
    """


@hookspec
def ollama_stream_chunk(request: Request, chunk: dict[str, Any]) -> dict[str, Any] | None:
    """Called for every parsed line of a stream, before it is turned into a typed chunk
    and handed to the caller. Return a ``dict`` to replace the chunk, or ``None`` to keep
    it. Implementations are chained: each receives the chunk as the previous one left it
    (in pluggy's call order). When no plugin implements this hook the client skips it
    entirely, so it costs nothing per chunk. A transform: an exception that is not an
    ``OllamaError`` fails the stream with ``PluginHookError``. Not called for the lines of
    a non-streaming call sent as a stream: its caller gets one folded answer, as with
    ``"stream": false``.

    :param request: the streaming request.
    :param chunk: the decoded JSON line.
    :return: a replacement chunk, or ``None``.
    """


@hookspec
def ollama_error(request: Request, error: BaseException) -> None:
    """Called when an attempt fails: a transport error, an HTTP error status, or a stream
    error after the response started. Called before middlewares see the error. An
    observer: an exception from it is logged and ignored, the error goes on unchanged.

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
    Must not block; runs inside the event loop. An observer: an exception from it is
    logged and ignored, so the emitting plugin (retry, breaker...) carries on.

    :param client: the client the event belongs to.
    :param event: the event (``event.name``, ``event.data``).
    """

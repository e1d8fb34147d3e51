"""The plugin hooks of ollama-core, in the order a client's life calls them.

Every hook is called through pluggy, so ``tryfirst``/``trylast``, ``wrapper=True`` (and
the older ``hookwrapper=True``) implementations and implementations that accept any subset
of a hook's arguments work on every hook. Each client has its own plugin manager, so a
plugin object registered with one client never sees another's calls. The README's "Hook
reference" documents each hook with its exact signature; a test fails when a hook here is
missing from it, and ``tests/core/test_hook_contract.py`` runs every hook listed here
through wrappers, subset implementations and ordering.

How the hooks are called. pluggy's hooks are synchronous; two are *awaited*
(:data:`AWAITED_HOOKS`): ``ollama_client_open`` and ``ollama_client_aclose`` may be
``async def``, and what they return is awaited by the client. Per-call asynchronous
behaviour belongs in a middleware (:func:`ollama_middlewares`), long-running work in a
coroutine function returned from :func:`ollama_background_tasks`.

- *Per-call hooks* (``ollama_prepare_request``, ``ollama_request``, ``ollama_response``,
  ``ollama_stream_chunk``, ``ollama_error``, ``ollama_event``) and ``ollama_middlewares``
  are one pluggy call each: every plugin's implementations, in pluggy's order (``tryfirst``
  first, then the last registered first, ``trylast`` last); a wrapper wraps them all.
- *Lifecycle hooks* (:data:`LIFECYCLE_HOOKS`: ``ollama_client_setup``,
  ``ollama_client_open``, ``ollama_background_tasks``, ``ollama_client_aclose``,
  ``ollama_client_close``) are called plugin by plugin, one pluggy call per plugin, so the
  client knows which plugin set up, opened or owns what (``remove_plugin`` stops exactly
  that plugin's tasks, a failed open closes exactly those already opened). Setting up and
  opening go in registration order, closing in the reverse order; a plugin whose
  implementation is ``tryfirst`` goes before the others, ``trylast`` after them. A
  wrapper wraps its own plugin's implementations of that hook.

When an implementation raises. Every implementation is guarded on its own when its plugin
is registered (``PluginManager._guard`` replaces each ``HookImpl.function``; pluggy still
makes the calls, so ordering, wrappers and subset-of-arguments implementations work as
pluggy documents). There are two kinds of hook:

- *Observers* (:data:`OBSERVER_HOOKS`: ``ollama_response``, ``ollama_error``,
  ``ollama_event``, ``ollama_client_aclose``, ``ollama_client_close``) only watch. An
  ``Exception`` from one is logged on the ``"ollama_core.plugins"`` logger (level ERROR,
  with the plugin's name, the hook and the traceback) and ignored: the other
  implementations still run and the call, or the close, goes on exactly as if the
  observer had returned normally. An observer can never change the outcome of a call.
- *Transforms and contributors* (every other hook: ``ollama_prepare_request``,
  ``ollama_request``, ``ollama_stream_chunk``, ``ollama_client_setup``,
  ``ollama_client_open``, ``ollama_middlewares``, ``ollama_background_tasks``) shape what
  is sent, what is delivered or how the client is built, so going on without them would
  be wrong. An ``OllamaError`` raised by one is deliberate (an ``InvalidRequestError``
  from ``ollama_prepare_request`` rejecting a body) and passes through unchanged; any
  other ``Exception`` is a bug in the plugin and fails the operation (the call, the
  stream, the client's construction or ``add_plugin``) with ``PluginHookError`` naming
  the plugin and the hook, raised from the original. ``ollama_client_open`` turns every
  ``Exception`` (an ``OllamaError`` too) into ``PluginHookError``: the client could not
  open because of that plugin.

A ``BaseException`` that is not an ``Exception`` (cancellation, ``KeyboardInterrupt``)
always passes through. A wrapper implementation is guarded the same way in each of its
halves; an observer wrapper that fails is skipped, the result passing through unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ._client import OllamaClient
    from ._events import Event
    from ._middleware import Middleware
    from ._envelope import Request, Response

__all__ = ["AWAITED_HOOKS", "LIFECYCLE_HOOKS", "OBSERVER_HOOKS", "PROJECT_NAME", "hookimpl",
           "hookspec"]

PROJECT_NAME = "ollama_core"

#: The hooks that only observe: an exception from one is logged and ignored (see above).
OBSERVER_HOOKS: frozenset[str] = frozenset(
    {"ollama_response", "ollama_error", "ollama_event", "ollama_client_aclose",
     "ollama_client_close"})

#: The hooks whose implementations may be ``async def``: what they return is awaited.
AWAITED_HOOKS: frozenset[str] = frozenset({"ollama_client_open", "ollama_client_aclose"})

#: The hooks called plugin by plugin (in registration order, closing in reverse).
LIFECYCLE_HOOKS: frozenset[str] = frozenset(
    {"ollama_client_setup", "ollama_client_open", "ollama_background_tasks",
     "ollama_client_aclose", "ollama_client_close"})

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Marker for hook implementations: ``@ollama_core.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------------------
# Lifecycle: called when a client is built, when its plugins change, when it opens/closes
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
def ollama_client_open(client: OllamaClient) -> Awaitable[None] | None:
    """Open what the plugin needs for the client's life (a connection pool, an exporter).
    May be ``async def``: the client awaits it. Called when the client opens (``async
    with client``, or its first call or stream), inside its event loop, plugin by plugin
    in registration order; for a plugin added to an open client, before the next call
    goes out. Calls wait until every plugin is open. If one fails, the plugins this
    opening already opened are closed (``ollama_client_aclose``, in reverse order) and
    the call (or ``async with``) fails with ``PluginHookError`` naming the plugin; the
    client stays usable and the next call tries to open again. A plugin whose open failed
    is not closed. Background tasks start after every plugin is open.

    :param client: the client being opened.
    """


@hookspec
def ollama_background_tasks(
    client: OllamaClient,
) -> list[Callable[[], Coroutine[Any, Any, None]]] | None:
    """Contribute long-running coroutines (health probes, cache sweeps). Called when the
    client opens, inside its event loop, after ``ollama_client_open``; each returned
    coroutine function is started as a task owned by the plugin, and cancelled (and
    awaited) when the client closes or the plugin is removed.

    :param client: the client being opened.
    :return: zero-argument coroutine functions, or ``None``.
    """


@hookspec
def ollama_client_aclose(client: OllamaClient) -> Awaitable[None] | None:
    """Close what ``ollama_client_open`` opened. May be ``async def``: the client awaits
    it. Called once per opened plugin, in the reverse order of opening, after the
    background tasks stopped and before ``ollama_client_close``: by ``aclose()``, by
    ``remove_plugin`` for that plugin, and when a later plugin fails to open. An observer:
    an exception from it is logged and the other plugins are still closed; one that takes
    longer than 5 seconds is logged and left behind, so closing never hangs.

    :param client: the closing client.
    """


@hookspec
def ollama_client_close(client: OllamaClient) -> None:
    """Called when the client closes (and by ``remove_plugin`` for that plugin), after
    ``ollama_client_aclose``, before the HTTP session is closed: the synchronous
    counterpart of ``ollama_client_setup``, called even when the client was never opened.
    Release anything the plugin holds that needs no awaiting. An observer: an exception
    from it is logged and the other plugins are still told, and the session still closed.

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
def ollama_stream_chunk(request: Request, chunk: dict[str, Any]) -> None:
    """Called for every parsed line of a stream, before it is turned into a typed chunk
    and handed to the caller. Change ``chunk`` in place (``chunk["response"] = ...``; to
    replace it whole, ``chunk.clear()`` then ``chunk.update(new)``): every implementation
    gets the same dict, so each sees what the ones called before it did (pluggy's order:
    ``tryfirst`` first, then the last registered first). The return value is ignored. A
    ``wrapper=True`` implementation sees the chunk before the others (before its
    ``yield``) and as they left it (after). (Returning a new ``dict`` was the contract
    before: such a dict is still copied into the chunk, with a ``DeprecationWarning``.)
    When no plugin implements this hook the client skips it entirely, so it costs nothing
    per chunk. A transform: an exception that is not an ``OllamaError`` fails the stream
    with ``PluginHookError``. Not called for the lines of a non-streaming call sent as a
    stream: its caller gets one folded answer, as with ``"stream": false``.

    :param request: the streaming request.
    :param chunk: the decoded JSON line, to change in place.
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
    """Called for every event a plugin (or the core) emits with ``client.emit(event)``.
    The built-in plugins emit typed events, one class per kind (in ``ollama_core.ext``),
    so an implementation tests ``isinstance(event, FailedOver)`` rather than the name:
    :class:`RetryScheduled` (``"retry"``), :class:`RetryExhausted`,
    :class:`RetryBudgetExhausted`, :class:`CircuitStateChanged` (``"circuit_state"``),
    :class:`FailedOver` (``"failover"``), :class:`UpstreamHealthChanged`
    (``"upstream_health"``), :class:`CacheHit`, :class:`CacheMiss`,
    :class:`RateLimited`, :class:`StoreDegraded` (``"store_degraded"``) and
    :class:`StoreRecovered`; a third-party plugin may emit its own classes or a plain
    :class:`Event` with a name of its own.
    Must not block; runs inside the event loop. An observer: an exception from it is
    logged and ignored, so the emitting plugin (retry, breaker...) carries on.

    :param client: the client the event belongs to.
    :param event: the event (``event.name``, ``event.data``).
    """

"""One pluggy ``PluginManager`` per client, behind a typed wrapper.

Plugins are chosen per client (``plugins=[...]``) or per deployment
(``OLLAMA_CORE_PLUGINS=retry,circuit_breaker``) and found by name in the
``ollama_core.plugins`` entry-point group. Only the named entry points are imported, so an
unused plugin costs nothing, not even its import. The group is read once per process
(``available_plugins(refresh=True)`` reads it again) and each plugin loaded once; the
built-in plugins are found through ``BUILTIN_TARGETS`` when their entry points are missing.
A later client with every built-in plugin is built in about a millisecond: what is left is
pluggy's registration (its attribute scan is cached per plugin class, ``_Pluggy``) and the
plugins' own constructors.

What an entry point may name:

- a class: instantiated once per client as ``cls(config)``, where ``config`` is the
  plugin's section of ``plugin_config`` (an empty dict when absent). The constructor
  validates it and raises ``InvalidConfigError``. If the instance has
  ``reconfigure(config)``, live reconfiguration calls it; otherwise a fresh instance
  replaces the old one.
- any other object (typically a module of ``@hookimpl`` functions): registered as is; its
  configuration, if any, is read from ``client.plugin_config``.

A plugin that raises never changes a call's outcome by accident. Every hook implementation
is guarded on its own when its plugin is registered (``_guard``): its ``HookImpl.function``
is replaced by a guarded one, so pluggy still makes every call (call order, wrappers,
subset-of-arguments implementations are untouched) and one failing implementation does not
stop the others. What the guard does depends on the hook's kind, listed in
``hookspecs.OBSERVER_HOOKS`` (the contract is described in ``hookspecs``).

Every hook is called through pluggy: the per-call hooks in one call over all plugins, the
lifecycle hooks (``hookspecs.LIFECYCLE_HOOKS``) plugin by plugin through
``subset_hook_caller``, so each background task knows its owner and a failed open closes
exactly the plugins opened before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import inspect
import json
import logging
import os
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from ._exceptions import InvalidConfigError, OllamaError, PluginHookError

if TYPE_CHECKING:
    from ._client import OllamaClient
    from ._events import Event
    from ._middleware import Middleware
    from ._envelope import Request, Response

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "PluginSpec",
    "available_plugins",
    "plugins_from_env",
]

ENTRY_POINT_GROUP = "ollama_core.plugins"

#: The plugins this distribution ships, in the order ``"full"`` enables them.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "retry",
    "circuit_breaker",
    "rate_limiting",
    "failover",
    "health_checks",
    "request_caching",
    "tool_calling",
    "vision_support",
)

#: A plugin as a caller may name it: an entry-point name, ``"full"``, a class, or an object.
PluginSpec = str | type | object


#: Where each built-in plugin lives, so it is found by name even when the distribution's
#: entry-point metadata is missing (a vendored copy, a zipapp, a broken install). Built
#: from ``BUILTIN_PLUGINS``; a test checks it against the entry points in pyproject.toml.
BUILTIN_TARGETS: dict[str, str] = {
    name: "ollama_plugins.{}:{}Plugin".format(
        name, "".join(part.title() for part in name.split("_")))
    for name in BUILTIN_PLUGINS
}

# The entry points of the group, read once per process (``available_plugins(refresh=True)``
# reads them again), and each plugin's loaded target and distribution, resolved once.
_entry_points: dict[str, importlib.metadata.EntryPoint] | None = None
_resolved: dict[str, object] = {}
_distributions: dict[str, str] = {}


def available_plugins(*, refresh: bool = False) -> dict[str, importlib.metadata.EntryPoint]:
    """Every plugin installed in this environment, by name, built-ins included.

    The entry points are scanned once per process; ``refresh=True`` scans them again (after
    installing a plugin distribution at run time). A built-in plugin whose entry point is
    missing is listed with its place in ``BUILTIN_TARGETS``."""
    global _entry_points
    if refresh or _entry_points is None:
        found = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        for name, target in BUILTIN_TARGETS.items():
            if name not in found:
                found[name] = importlib.metadata.EntryPoint(name, target, ENTRY_POINT_GROUP)
        _entry_points = found
        _resolved.clear()
        _distributions.clear()
    return dict(_entry_points)


def _resolve(name: str) -> object:
    """What the entry point ``name`` names, loaded once per process."""
    if name in _resolved:
        return _resolved[name]
    eps = available_plugins()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise InvalidConfigError(f"unknown plugin {name!r} (available: {known})")
    ep = eps[name]
    try:
        target = ep.load()
    except Exception as exc:
        raise InvalidConfigError(f"plugin {name!r} failed to load: {exc}") from exc
    _resolved[name] = target
    return target


def _distribution(name: str) -> str:
    """The distribution (``"name version"``) providing the entry point ``name``; empty
    when unknown. Read only when asked for (``plugins_info``): parsing a distribution's
    metadata costs more than building a client."""
    if name not in _distributions:
        ep = available_plugins().get(name)
        dist = getattr(ep, "dist", None)
        _distributions[name] = f"{dist.name} {dist.version}" if dist is not None else ""
    return _distributions[name]


def plugins_from_env(environ: Mapping[str, str] | None = None) -> tuple[list[str], dict[str, Any]]:
    """Plugin names from ``OLLAMA_CORE_PLUGINS`` (comma separated, ``full`` allowed) and
    their configuration from ``OLLAMA_CORE_PLUGIN_CONFIG`` (a JSON object by plugin name)."""
    env = os.environ if environ is None else environ
    names = [n.strip() for n in env.get("OLLAMA_CORE_PLUGINS", "").split(",") if n.strip()]
    raw = env.get("OLLAMA_CORE_PLUGIN_CONFIG", "").strip()
    config: dict[str, Any] = {}
    if raw:
        try:
            config = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidConfigError(f"OLLAMA_CORE_PLUGIN_CONFIG is not valid JSON: {exc}") from exc
        if not isinstance(config, dict):
            raise InvalidConfigError("OLLAMA_CORE_PLUGIN_CONFIG must be a JSON object")
    return names, config


def _disabled(environ: Mapping[str, str] | None = None) -> set[str]:
    env = os.environ if environ is None else environ
    return {n.strip() for n in env.get("OLLAMA_CORE_DISABLE_PLUGINS", "").split(",") if n.strip()}


#: Where an observer's exception is reported (with the plugin's name and the traceback).
log = logging.getLogger("ollama_core.plugins")


def _observer_failed(plugin: str, hook: str, exc: Exception) -> None:
    log.error("plugin %r raised in observer hook %s (ignored: an observer cannot change "
              "the outcome): %s: %s", plugin, hook, type(exc).__name__, exc, exc_info=exc)


def _transform_failed(plugin: str, hook: str, exc: Exception) -> PluginHookError:
    return PluginHookError(
        f"plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {exc}",
        plugin=plugin, hook=hook)


def _guard_function(function: Callable[..., Any], plugin: str, hook: str,
                    observer: bool) -> Callable[..., Any]:
    """A plain implementation, guarded (see ``hookspecs`` for the contract)."""
    if hook in hookspecs.AWAITED_HOOKS:
        return _guard_awaited(function, plugin, hook, observer)
    if observer:
        def guarded(*args: Any) -> Any:
            try:
                return function(*args)
            except Exception as exc:
                _observer_failed(plugin, hook, exc)
                return None
    else:
        def guarded(*args: Any) -> Any:
            try:
                return function(*args)
            except OllamaError:
                raise  # raised on purpose (InvalidRequestError from prepare_request...)
            except Exception as exc:
                raise _transform_failed(plugin, hook, exc) from exc
    guarded.__wrapped__ = function  # type: ignore[attr-defined]
    return guarded


def _guard_chunk(function: Callable[..., Any], plugin: str,
                 chunk_at: int | None) -> Callable[..., Any]:
    """A plain ``ollama_stream_chunk`` implementation, guarded as a transform. The chunk
    is changed in place; a ``dict`` returned the old way (before the in-place contract)
    has its contents copied into the chunk, so the implementations after it still see it,
    with a ``DeprecationWarning`` once per plugin."""
    hook = "ollama_stream_chunk"
    warned = False

    def guarded(*args: Any) -> None:
        nonlocal warned
        try:
            result = function(*args)
        except OllamaError:
            raise
        except Exception as exc:
            raise _transform_failed(plugin, hook, exc) from exc
        if result is None or chunk_at is None:
            return None
        chunk = args[chunk_at]
        if result is not chunk and isinstance(result, dict):
            if not warned:
                warned = True
                code = getattr(inspect.unwrap(function), "__code__", None)
                warnings.warn_explicit(
                    f"plugin {plugin!r}: ollama_stream_chunk returned a new chunk; change "
                    "the chunk in place instead (a returned chunk is copied into it for "
                    "now)", DeprecationWarning,
                    filename=code.co_filename if code else "<plugin>",
                    lineno=code.co_firstlineno if code else 0)
            chunk.clear()
            chunk.update(result)
        return None

    guarded.__wrapped__ = function  # type: ignore[attr-defined]
    return guarded


def _guard_awaited(function: Callable[..., Any], plugin: str, hook: str,
                   observer: bool) -> Callable[..., Any]:
    """An implementation of an awaited lifecycle hook (``ollama_client_open``,
    ``ollama_client_aclose``), plain or ``async def``. pluggy calls it without awaiting,
    so what it returns (a coroutine) is guarded too and awaited by the manager.

    Opening: any ``Exception`` becomes ``PluginHookError`` naming the plugin (an
    ``OllamaError`` included: the plugin could not open). Closing is an observer."""

    def failed(exc: Exception) -> None:
        if observer:
            _observer_failed(plugin, hook, exc)
            return
        if isinstance(exc, PluginHookError):
            raise exc
        raise _transform_failed(plugin, hook, exc) from exc

    async def awaited(result: Awaitable[Any]) -> None:
        try:
            await result
        except Exception as exc:
            failed(exc)

    def guarded(*args: Any) -> Any:
        try:
            result = function(*args)
        except Exception as exc:
            failed(exc)
            return None
        if inspect.isawaitable(result):
            return awaited(result)
        return None

    guarded.__wrapped__ = function  # type: ignore[attr-defined]
    return guarded


def _guard_wrapper(function: Callable[..., Any], plugin: str, hook: str,
                   observer: bool) -> Callable[..., Any]:
    """A wrapper implementation (``wrapper=True`` or old-style ``hookwrapper=True``),
    guarded: the generator pluggy drives is a proxy that forwards what pluggy sends (the
    result, or an old-style ``Result``) and throws (the inner implementations' error) to the
    plugin's generator, and tells the plugin's own exceptions from the ones passing through.
    An observer wrapper that fails is skipped from then on: the call goes on as if it were
    not there."""

    def failed(exc: Exception) -> None:
        if observer:
            _observer_failed(plugin, hook, exc)
            return
        if isinstance(exc, OllamaError):
            raise exc
        raise _transform_failed(plugin, hook, exc) from exc

    def guarded(*args: Any) -> Generator[None, Any, Any]:
        try:
            inner = function(*args)
            next(inner)
        except StopIteration:
            failed(RuntimeError("the wrapper did not yield"))
            return (yield)
        except Exception as exc:  # before its yield
            failed(exc)
            return (yield)
        try:
            sent = yield
        except BaseException as passing:
            # The inner implementations raised: the plugin may handle or re-raise it.
            try:
                inner.throw(passing)
            except StopIteration as stop:
                return stop.value
            except Exception as exc:
                if exc is passing:
                    raise
                failed(exc)
                raise passing  # the inner implementations' error goes on
            inner.close()
            failed(RuntimeError("the wrapper yielded more than once"))
            raise
        try:
            inner.send(sent)
        except StopIteration as stop:
            return stop.value
        except Exception as exc:
            failed(exc)
            return sent  # the result unchanged (an old-style wrapper's return is ignored)
        inner.close()
        failed(RuntimeError("the wrapper yielded more than once"))
        return sent

    guarded.__wrapped__ = function  # type: ignore[attr-defined]
    return guarded


def _plugin_name(obj: object) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    if inspect.ismodule(obj):
        return obj.__name__
    return type(obj).__name__ if not isinstance(obj, type) else obj.__name__


async def _await_all(results: Iterable[Any]) -> None:
    """Await what an awaited hook's implementations returned (coroutines of ``async def``
    implementations, guarded), in order; the ones left are closed if one fails."""
    pending = [r for r in results if inspect.isawaitable(r)]
    for i, result in enumerate(pending):
        try:
            await result
        except BaseException:
            for rest in pending[i + 1:]:
                if inspect.iscoroutine(rest):
                    rest.close()
            raise


class _Pluggy(pluggy.PluginManager):
    """pluggy's manager, remembering what it found on each plugin class and in the
    hookspecs: registering a plugin walks every attribute of the object with
    ``inspect.getattr_static``, which was most of the cost of building a client once the
    entry points are cached. An attribute set on the instance itself is looked up as usual."""

    _impl_opts: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()
    _spec_opts: dict[tuple[int, str], Any] = {}

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        cls = type(plugin)
        if inspect.ismodule(plugin) or isinstance(plugin, type) \
                or name in getattr(plugin, "__dict__", ()):
            return super().parse_hookimpl_opts(plugin, name)
        try:
            by_name = self._impl_opts[cls]
        except (KeyError, TypeError):
            by_name = {}
            with contextlib.suppress(TypeError):
                self._impl_opts[cls] = by_name
        if name not in by_name:
            by_name[name] = super().parse_hookimpl_opts(plugin, name)
        opts = by_name[name]
        return None if opts is None else dict(opts)

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> Any:
        if module_or_class is not hookspecs:
            return super().parse_hookspec_opts(module_or_class, name)
        key = (id(module_or_class), name)
        if key not in self._spec_opts:
            self._spec_opts[key] = super().parse_hookspec_opts(module_or_class, name)
        return self._spec_opts[key]


class PluginManager:
    """The plugins of one client, with one typed method per hook.

    The client never writes ``pm.hook.x(...)``; it calls these methods, so hook call sites
    are type-checked in one place.
    """

    def __init__(self) -> None:
        self._pm = _Pluggy(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._configs: dict[str, dict[str, Any]] = {}
        self._factories: dict[str, Callable[[dict[str, Any]], object] | None] = {}
        self._dists: dict[str, str] = {}  # the entry-point name of a plugin named by one
        self._refresh()

    # -- registration ------------------------------------------------------------------

    def expand(self, specs: Iterable[PluginSpec]) -> list[PluginSpec]:
        """Replace ``"full"`` by every built-in plugin and drop duplicates and blocked names."""
        blocked = _disabled()
        out: list[PluginSpec] = []
        seen: set[str] = set()
        for spec in specs:
            names: Sequence[PluginSpec] = BUILTIN_PLUGINS if spec == "full" else (spec,)
            for item in names:
                key = item if isinstance(item, str) else f"obj:{id(item)}"
                if key in seen or (isinstance(item, str) and item in blocked):
                    continue
                seen.add(key)
                out.append(item)
        return out

    @staticmethod
    def name_of(spec: PluginSpec) -> str:
        """The name a plugin will be registered under (its ``name`` attribute, else the
        class or module name; an entry-point name for a string)."""
        return spec if isinstance(spec, str) else _plugin_name(spec)

    def add(self, spec: PluginSpec, config: Mapping[str, Any] | None = None) -> tuple[str, object]:
        """Resolve, instantiate and register one plugin; returns ``(name, plugin)``."""
        cfg = dict(config or {})
        dist = ""
        if isinstance(spec, str):
            name = spec
            target = _resolve(name)
            dist = name
        else:
            target = spec
            name = _plugin_name(spec)
        if self._pm.has_plugin(name):
            raise InvalidConfigError(f"plugin {name!r} is already registered")
        factory: Callable[[dict[str, Any]], object] | None = None
        if isinstance(target, type):
            factory = target
            plugin = self._instantiate(name, target, cfg)
        else:
            plugin = target
        self._pm.register(plugin, name=name)
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self._pm.unregister(name=name)
            raise InvalidConfigError(f"plugin {name!r} implements an unknown hook: {exc}") from exc
        self._guard(plugin, name)
        self._configs[name] = cfg
        self._factories[name] = factory
        self._dists[name] = dist
        self._refresh()
        return name, plugin

    def _guard(self, plugin: object, name: str) -> None:
        """Guard each hook implementation of a just-registered plugin on its own.

        pluggy stops a hook call at the first exception, so the guard has to sit around
        every implementation, not around the hook call. ``HookImpl.function`` is what
        pluggy calls; its argument names were read from the original function at
        registration, so the replacement takes ``*args``."""
        for caller in self._pm.get_hookcallers(plugin) or ():
            observer = caller.name in hookspecs.OBSERVER_HOOKS
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                if impl.wrapper or impl.hookwrapper:
                    guarded = _guard_wrapper(impl.function, name, caller.name, observer)
                elif caller.name == "ollama_stream_chunk":
                    argnames = list(impl.argnames)
                    guarded = _guard_chunk(impl.function, name, argnames.index("chunk")
                                           if "chunk" in argnames else None)
                else:
                    guarded = _guard_function(impl.function, name, caller.name, observer)
                # ``function`` is typed Final by pluggy; it is a plain slot, set once here.
                setattr(impl, "function", guarded)

    @staticmethod
    def _instantiate(name: str, factory: Callable[[dict[str, Any]], object],
                     cfg: dict[str, Any]) -> object:
        try:
            return factory(cfg)
        except InvalidConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise InvalidConfigError(f"invalid configuration for plugin {name!r}: {exc}") from exc

    def remove(self, name: str) -> object:
        plugin = self._pm.unregister(name=name)
        if plugin is None:
            raise InvalidConfigError(f"plugin {name!r} is not registered")
        self._configs.pop(name, None)
        self._factories.pop(name, None)
        self._dists.pop(name, None)
        self._refresh()
        return plugin

    def reconfigure(self, name: str, config: Mapping[str, Any]) -> tuple[object, bool]:
        """Apply new settings to a registered plugin. Returns ``(plugin, replaced)``."""
        plugin = self.get(name)
        cfg = dict(config)
        reconf = getattr(plugin, "reconfigure", None)
        if callable(reconf):
            try:
                reconf(cfg)
            except (TypeError, ValueError) as exc:
                if isinstance(exc, InvalidConfigError):
                    raise
                raise InvalidConfigError(f"invalid configuration for plugin {name!r}: {exc}") from exc
            self._configs[name] = cfg
            return plugin, False
        factory = self._factories.get(name)
        if factory is None:
            self._configs[name] = cfg
            return plugin, False
        new = self._instantiate(name, factory, cfg)
        dist = self._dists.get(name, "")
        self._pm.unregister(name=name)
        self._pm.register(new, name=name)
        self._guard(new, name)
        self._configs[name] = cfg
        self._factories[name] = factory
        self._dists[name] = dist
        self._refresh()
        return new, True

    def get(self, name: str) -> object:
        plugin = self._pm.get_plugin(name)
        if plugin is None:
            raise KeyError(name)
        return plugin

    def names(self) -> list[str]:
        return [name for name, _ in self._pm.list_name_plugin() if name is not None]

    def config(self, name: str) -> dict[str, Any]:
        return dict(self._configs.get(name, {}))

    def plugins_info(self) -> list[dict[str, Any]]:
        """Name, distribution and implemented hooks of every registered plugin."""
        info = []
        for name, plugin in self._pm.list_name_plugin():
            hooks = sorted(h.name for h in self._pm.get_hookcallers(plugin) or ())
            entry = self._dists.get(name or "", "")
            info.append({"name": name, "distribution": _distribution(entry) if entry else "",
                         "hooks": hooks})
        return info

    def _refresh(self) -> None:
        # Cached so the per-chunk path tests a bool instead of asking pluggy every chunk.
        hook = self._pm.hook
        self._chunk_hook = hook.ollama_stream_chunk
        self.has_chunk_hook = bool(hook.ollama_stream_chunk.get_hookimpls())
        self.has_request_hooks = bool(
            hook.ollama_request.get_hookimpls() or hook.ollama_response.get_hookimpls()
            or hook.ollama_error.get_hookimpls())
        self.has_prepare_hook = bool(hook.ollama_prepare_request.get_hookimpls())
        self.has_event_hook = bool(hook.ollama_event.get_hookimpls())

    # -- lifecycle hooks: called plugin by plugin ----------------------------------------

    def implementing(self, hook: str, names: Iterable[str] | None = None) -> list[str]:
        """The plugins (of ``names``, default all, in registration order) implementing
        ``hook``, in the order the lifecycle calls them: ``tryfirst`` ones first,
        ``trylast`` ones last, the order of ``names`` otherwise."""
        rank: dict[str, int] = {}
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            mark = 0 if impl.tryfirst else 2 if impl.trylast else 1
            rank[impl.plugin_name] = min(mark, rank.get(impl.plugin_name, mark))
        order = list(self._configs) if names is None else list(names)
        return sorted((n for n in order if n in rank), key=lambda n: rank[n])

    def _call_one(self, hook: str, name: str, **kwargs: Any) -> list[Any]:
        """One plugin's implementations of ``hook``, through pluggy (its wrappers,
        ordering and subset-of-arguments implementations apply)."""
        caller = self._pm.subset_hook_caller(
            hook, remove_plugins=[p for n, p in self._pm.list_name_plugin() if n != name])
        result: list[Any] = caller(**kwargs)
        return result

    def client_setup(self, client: OllamaClient, name: str | None = None) -> None:
        """Set up every plugin (registration order) or only ``name``, just added."""
        if name is None:
            for each in self.implementing("ollama_client_setup"):
                self._call_one("ollama_client_setup", each, client=client)
            return
        self.get(name)  # KeyError for a name that is not registered
        try:
            self._call_one("ollama_client_setup", name, client=client)
        except BaseException:
            # Half set up, it must not serve calls: add_plugin leaves the client as it was.
            self.remove(name)
            raise

    def background_tasks(
        self, client: OllamaClient, only: Iterable[str] | None = None,
    ) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """``(plugin name, coroutine function)`` pairs of every plugin, or of ``only``."""
        out: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        for name in self.implementing("ollama_background_tasks", only):
            for result in self._call_one("ollama_background_tasks", name, client=client):
                out.extend((name, factory) for factory in result or ())
        return out

    async def client_open(self, client: OllamaClient, names: Iterable[str]) -> list[str]:
        """Open ``names`` (registration order) with ``ollama_client_open``; returns them
        all (the ones without the hook are open too), in registration order. If one fails,
        the ones opened here are closed again (in reverse) and its ``PluginHookError`` is
        raised; on cancellation too."""
        order = list(names)
        opened: list[str] = []
        try:
            for name in self.implementing("ollama_client_open", order):
                await _await_all(self._call_one("ollama_client_open", name, client=client))
                opened.append(name)
        except BaseException:
            await self.client_aclose(client, opened)
            raise
        return order

    async def client_aclose(self, client: OllamaClient, names: Sequence[str],
                            timeout: float | None = None) -> None:
        """Close ``names`` (given in the order they opened) with ``ollama_client_aclose``,
        in reverse; an observer, so each plugin is closed whatever the others do. One that
        takes longer than ``timeout`` seconds is logged and left behind."""
        for name in self.implementing("ollama_client_aclose", list(reversed(names))):
            try:
                async with asyncio.timeout(timeout):
                    await _await_all(self._call_one("ollama_client_aclose", name,
                                                    client=client))
            except TimeoutError:
                log.warning("plugin %r took over %gs to close; left behind", name, timeout)

    def client_close(self, client: OllamaClient, name: str | None = None) -> None:
        """Tell every plugin (reverse registration order), or only ``name`` before it is
        removed, that the client closes."""
        if name is not None:
            self.get(name)  # KeyError for a name that is not registered
        names = list(reversed(self._configs)) if name is None else [name]
        for each in self.implementing("ollama_client_close", names):
            self._call_one("ollama_client_close", each, client=client)

    # -- typed hook calls ----------------------------------------------------------------

    def middlewares(self, client: OllamaClient) -> list[Middleware]:
        out: list[Middleware] = []
        # pluggy returns results in LIFO order; reverse to keep registration order for ties.
        for result in reversed(self._pm.hook.ollama_middlewares(client=client)):
            if result:
                out.extend(result)
        return out

    def prepare_request(self, client: OllamaClient, endpoint: str, body: dict[str, Any]) -> None:
        if self.has_prepare_hook:
            self._pm.hook.ollama_prepare_request(client=client, endpoint=endpoint, body=body)

    def request(self, request: Request) -> None:
        self._pm.hook.ollama_request(request=request)

    def response(self, request: Request, response: Response) -> None:
        self._pm.hook.ollama_response(request=request, response=response)

    def error(self, request: Request, error: BaseException) -> None:
        self._pm.hook.ollama_error(request=request, error=error)

    def stream_chunk(self, request: Request, chunk: dict[str, Any]) -> dict[str, Any]:
        """Run the chunk hook; the implementations change ``chunk`` in place."""
        self._chunk_hook(request=request, chunk=chunk)
        return chunk

    def event(self, client: OllamaClient, event: Event) -> None:
        if self.has_event_hook:
            self._pm.hook.ollama_event(client=client, event=event)

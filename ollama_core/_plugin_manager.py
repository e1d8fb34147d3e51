"""One pluggy ``PluginManager`` per client, behind a typed wrapper.

Plugins are chosen per client (``plugins=[...]``) or per deployment
(``OLLAMA_CORE_PLUGINS=retry,circuit_breaker``) and found by name in the
``ollama_core.plugins`` entry-point group. Only the named entry points are imported, so an
unused plugin costs nothing, not even its import.

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
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import logging
import os
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from ._exceptions import InvalidConfigError, OllamaError, PluginHookError

if TYPE_CHECKING:
    from ._client import OllamaClient
    from ._events import Event
    from ._middleware import Middleware
    from ._models import Request, Response

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


def available_plugins() -> dict[str, importlib.metadata.EntryPoint]:
    """Every plugin installed in this environment, by name."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


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


class PluginManager:
    """The plugins of one client, with one typed method per hook.

    The client never writes ``pm.hook.x(...)``; it calls these methods, so hook call sites
    are type-checked in one place.
    """

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._configs: dict[str, dict[str, Any]] = {}
        self._factories: dict[str, Callable[[dict[str, Any]], object] | None] = {}
        self._dists: dict[str, str] = {}
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
            eps = available_plugins()
            if name not in eps:
                known = ", ".join(sorted(eps)) or "none installed"
                raise InvalidConfigError(f"unknown plugin {name!r} (available: {known})")
            ep = eps[name]
            try:
                target = ep.load()
            except Exception as exc:
                raise InvalidConfigError(f"plugin {name!r} failed to load: {exc}") from exc
            if ep.dist is not None:
                dist = f"{ep.dist.name} {ep.dist.version}"
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
        pluggy (and the hand-chained chunk hook) calls; its argument names were read from
        the original function at registration, so the replacement takes ``*args``."""
        for caller in self._pm.get_hookcallers(plugin) or ():
            observer = caller.name in hookspecs.OBSERVER_HOOKS
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                guard = _guard_wrapper if impl.wrapper or impl.hookwrapper else _guard_function
                # ``function`` is typed Final by pluggy; it is a plain slot, set once here.
                setattr(impl, "function", guard(impl.function, name, caller.name, observer))

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
            info.append({"name": name, "distribution": self._dists.get(name or "", ""),
                         "hooks": hooks})
        return info

    def _refresh(self) -> None:
        # Cached so the per-chunk path tests a bool instead of asking pluggy every chunk.
        hook = self._pm.hook
        # pluggy would hand every implementation the original chunk; a transform must see
        # the previous one's output, so the chunk hook is chained by hand, in pluggy's
        # call order (last registered first, tryfirst/trylast respected).
        self._chunk_impls = [(impl.function, tuple(impl.argnames))
                             for impl in reversed(hook.ollama_stream_chunk.get_hookimpls())]
        self.has_chunk_hook = bool(self._chunk_impls)
        self.has_request_hooks = bool(
            hook.ollama_request.get_hookimpls() or hook.ollama_response.get_hookimpls()
            or hook.ollama_error.get_hookimpls())
        self.has_prepare_hook = bool(hook.ollama_prepare_request.get_hookimpls())
        self.has_event_hook = bool(hook.ollama_event.get_hookimpls())

    # -- typed hook calls ----------------------------------------------------------------

    def client_setup(self, client: OllamaClient, name: str | None = None) -> None:
        if name is None:
            self._pm.hook.ollama_client_setup(client=client)
            return
        self.get(name)  # KeyError for a name that is not registered
        # Only the newly added plugin is set up; the others already were.
        setup = self._pm.subset_hook_caller(
            "ollama_client_setup",
            remove_plugins=[p for n, p in self._pm.list_name_plugin() if n != name])
        try:
            setup(client=client)
        except BaseException:
            # Half set up, it must not serve calls: add_plugin leaves the client as it was.
            self.remove(name)
            raise

    def middlewares(self, client: OllamaClient) -> list[Middleware]:
        out: list[Middleware] = []
        # pluggy returns results in LIFO order; reverse to keep registration order for ties.
        for result in reversed(self._pm.hook.ollama_middlewares(client=client)):
            if result:
                out.extend(result)
        return out

    def background_tasks(
        self, client: OllamaClient, only: str | None = None,
    ) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """``(plugin name, coroutine function)`` pairs, optionally of one plugin only."""
        out: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        # Called implementation by implementation so each task knows its owner, which is
        # what lets remove_plugin stop exactly that plugin's tasks.
        for impl in self._pm.hook.ollama_background_tasks.get_hookimpls():
            if only is not None and impl.plugin_name != only:
                continue
            kwargs = {"client": client}
            result: Any = impl.function(*[kwargs[a] for a in impl.argnames])
            for factory in result or ():
                out.append((impl.plugin_name, factory))
        return out

    def client_close(self, client: OllamaClient, name: str | None = None) -> None:
        """Tell every plugin (or only ``name``, before it is removed) the client closes."""
        if name is None:
            self._pm.hook.ollama_client_close(client=client)
            return
        self.get(name)  # KeyError for a name that is not registered
        self._pm.subset_hook_caller(
            "ollama_client_close",
            remove_plugins=[p for n, p in self._pm.list_name_plugin() if n != name],
        )(client=client)

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
        """Run the chunk transforms in turn; each sees the previous one's result."""
        for function, argnames in self._chunk_impls:
            args = [request if a == "request" else chunk for a in argnames]
            replacement: Any = function(*args)
            if replacement is not None:
                chunk = replacement
        return chunk

    def event(self, client: OllamaClient, event: Event) -> None:
        if self.has_event_hook:
            self._pm.hook.ollama_event(client=client, event=event)

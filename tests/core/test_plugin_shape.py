"""One shape for the built-in plugins, and one module for plugin authors.

A built-in plugin is a :class:`ollama_core.ext.Plugin` that contributes separate middleware
objects; it is never a middleware itself. A middleware (or any helper handed its plugin,
such as the health prober) reads its plugin only through public attributes and methods:
no ``plugin._field``. Both rules are checked over the source of every built-in plugin.
"""

from __future__ import annotations

import ast
import inspect
import pathlib

import pytest

import ollama_core.ext as ext
from ollama_core import BUILTIN_PLUGINS, OllamaClient, available_plugins

PLUGINS_ROOT = pathlib.Path(__file__).resolve().parents[2] / "plugins"


# -- the AST checks -------------------------------------------------------------------------


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = fn.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    return next((node for node in cls.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.name == name), None)


def _is_middleware(cls: ast.ClassDef) -> bool:
    """``async def __call__(self, request, call_next)``: the middleware shape."""
    call = _method(cls, "__call__")
    return isinstance(call, ast.AsyncFunctionDef) and _params(call)[1:3] == ["request",
                                                                             "call_next"]


def _derives_from_plugin(cls: ast.ClassDef) -> bool:
    for base in cls.bases:
        target = base.value if isinstance(base, ast.Subscript) else base
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "Plugin":
            return True
    return False


def _private_reads(node: ast.AST) -> list[str]:
    """``x._field`` and ``getattr(x, "_field")`` on anything but ``self``/``cls``."""
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and _is_private(sub.attr) \
                and not (isinstance(sub.value, ast.Name) and sub.value.id in ("self", "cls")):
            found.append(f"{sub.lineno}: {ast.unparse(sub)}")
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) \
                and sub.func.id in ("getattr", "setattr", "hasattr") and len(sub.args) >= 2 \
                and isinstance(sub.args[1], ast.Constant) \
                and isinstance(sub.args[1].value, str) and _is_private(sub.args[1].value):
            found.append(f"{sub.lineno}: {ast.unparse(sub)}")
    return found


def shape_violations(source: str, where: str = "<source>") -> list[str]:
    """What breaks the one plugin shape in one module's source.

    - a class deriving from ``Plugin`` that is itself a middleware;
    - a middleware, or a class or function handed a ``plugin``, that reads a ``_private``
      attribute of another object (``plugin._x``, ``self.plugin._x``, ``request._x``).
    """
    tree = ast.parse(source)
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            if _derives_from_plugin(node):
                if _method(node, "__call__") is not None:
                    out.append(f"{where}: plugin class {node.name} is itself a middleware")
                continue
            init = _method(node, "__init__")
            helper = _is_middleware(node) or (init is not None and "plugin" in _params(init))
            if helper:
                out += [f"{where}: {node.name} reads {read}" for read in _private_reads(node)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and "plugin" in _params(node) and _params(node)[:1] != ["self"]:
            out += [f"{where}: {node.name}() reads {read}" for read in _private_reads(node)]
    return out


def test_the_shape_check_itself() -> None:
    bad = '''
class P(Plugin[Cfg]):
    async def __call__(self, request, call_next):
        return await call_next(request)

class M:
    def __init__(self, plugin):
        self.plugin = plugin
    async def __call__(self, request, call_next):
        self.plugin._budget.take()
        return await call_next(request)

class Prober:
    def __init__(self, plugin):
        self._plugin = plugin
    def probe(self):
        return getattr(self._plugin, "_timeouts")

def pick(plugin, now):
    return plugin._upstreams
'''
    found = shape_violations(bad)
    assert found == [
        "<source>: plugin class P is itself a middleware",
        "<source>: M reads 10: self.plugin._budget",
        "<source>: Prober reads 17: getattr(self._plugin, '_timeouts')",
        "<source>: pick() reads 20: plugin._upstreams",
    ]
    good = '''
class P(ollama_core.ext.Plugin):
    def __init__(self):
        self._middleware = M(self)
    def ollama_middlewares(self):
        return [self._middleware]

class M:
    def __init__(self, plugin):
        self._plugin = plugin
    async def __call__(self, request, call_next):
        self._plugin.budget.take()
        return await call_next(request)
'''
    assert shape_violations(good) == []


def _plugin_modules() -> list[pathlib.Path]:
    return sorted(path for name in BUILTIN_PLUGINS
                  for path in (PLUGINS_ROOT / name).rglob("*.py"))


def test_every_builtin_plugin_package_is_checked() -> None:
    checked = {path.parent.name for path in _plugin_modules()}
    assert checked == set(BUILTIN_PLUGINS) and len(BUILTIN_PLUGINS) == 8


@pytest.mark.parametrize("name", BUILTIN_PLUGINS)
def test_no_plugin_is_a_middleware_and_no_helper_reads_private_fields(name: str) -> None:
    found: list[str] = []
    for path in sorted((PLUGINS_ROOT / name).rglob("*.py")):
        found += shape_violations(path.read_text(encoding="utf-8"),
                                  str(path.relative_to(PLUGINS_ROOT)))
    assert found == []


# -- the same rules, on the loaded classes --------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN_PLUGINS)
def test_each_builtin_plugin_contributes_separate_middlewares(name: str) -> None:
    cls = available_plugins()[name].load()
    assert isinstance(cls, type) and issubclass(cls, ext.Plugin)
    assert not any("__call__" in vars(k) for k in cls.__mro__ if k is not object), \
        f"{cls.__name__} defines __call__: a plugin contributes middlewares, it is not one"
    client = OllamaClient("http://127.0.0.1:1", plugins=[name])
    plugin = client.plugin(cls)
    middlewares = client.plugin_manager.middlewares(client)
    per_call = {"request_caching", "retry", "failover", "circuit_breaker", "rate_limiting"}
    assert bool(middlewares) == (name in per_call)
    assert all(not isinstance(mw, ext.Plugin) for mw in middlewares)
    assert all(id(mw) != id(plugin) for mw in middlewares)
    for mw in middlewares:
        assert inspect.iscoroutinefunction(type(mw).__call__)
        assert isinstance(mw.name, str) and isinstance(mw.order, int)


# -- ollama_core.ext: what a plugin author imports -------------------------------------------

EXT_NAMES = [
    "hookimpl", "Middleware", "Handler", "Request", "Response", "Clock", "FakeClock",
    "Plugin", "PluginConfig", "setting", "parse_config", "NoConfig", "ConfigValueError",
    "Event", "RetryScheduled", "RetryExhausted", "RetryBudgetExhausted", "FailedOver",
    "UpstreamHealthChanged", "CircuitStateChanged", "RateLimited", "CacheHit", "CacheMiss",
    "ORDER_CACHE", "ORDER_RETRY", "ORDER_FAILOVER", "ORDER_BREAKER", "ORDER_RATE_LIMIT",
    "ORDER_CALL_OBSERVER", "ORDER_ATTEMPT_OBSERVER", "Transport", "MockTransport",
]


@pytest.mark.parametrize("name", EXT_NAMES)
def test_ext_exports_what_a_plugin_author_needs(name: str) -> None:
    assert name in ext.__all__ and getattr(ext, name) is not None


def test_ext_exports_every_typed_event_class() -> None:
    from ollama_core import _events

    classes = {n for n, v in vars(_events).items() if isinstance(v, type)
               and issubclass(v, _events.Event) and not n.startswith("_")}
    assert classes - {"EventSubscribers"} <= set(ext.__all__)
    assert {"RetryScheduled", "FailedOver", "CacheMiss"} <= classes


def test_ext_order_constants_are_the_documented_order() -> None:
    order = [ext.ORDER_CACHE, ext.ORDER_RETRY, ext.ORDER_FAILOVER, ext.ORDER_BREAKER,
             ext.ORDER_RATE_LIMIT]
    assert order == sorted(order) and len(set(order)) == len(order)

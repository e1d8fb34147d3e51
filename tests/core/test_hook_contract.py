"""The hook contract, hook by hook, through pluggy: wrappers (``wrapper=True`` and the older
``hookwrapper=True``), implementations taking any subset of the arguments, ``tryfirst`` and
``trylast``, and the awaited lifecycle (open in registration order, close in reverse, a
failed open rolled back and named).

The hooks come from ``hookspecs``: a hook added there without an entry in ``ARGS`` (how the
drive below reaches it) fails every test here.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import pluggy
import pytest

from ollama_core import (
    Event,
    GenerateRequest,
    NotFoundError,
    OllamaClient,
    PluginHookError,
    hookimpl,
    hookspecs,
)
from ollama_core.emulator import OllamaEmulator

HOOKS: dict[str, Callable[..., Any]] = {
    name: fn for name, fn in vars(hookspecs).items()
    if name.startswith("ollama_") and inspect.isfunction(fn)}

#: Each hook's arguments, as the spec names them (checked against the spec below).
ARGS: dict[str, tuple[str, ...]] = {
    "ollama_client_setup": ("client",),
    "ollama_middlewares": ("client",),
    "ollama_client_open": ("client",),
    "ollama_background_tasks": ("client",),
    "ollama_client_aclose": ("client",),
    "ollama_client_close": ("client",),
    "ollama_prepare_request": ("client", "endpoint", "body"),
    "ollama_request": ("request",),
    "ollama_response": ("request", "response"),
    "ollama_stream_chunk": ("request", "chunk"),
    "ollama_error": ("request", "error"),
    "ollama_event": ("client", "event"),
}

#: The hooks called plugin by plugin in registration order (the others: pluggy's order,
#: last registered first; closing: reverse registration order).
IN_REGISTRATION_ORDER = {"ollama_client_setup", "ollama_client_open",
                         "ollama_background_tasks"}


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


def chunk_hooked(client: OllamaClient) -> bool:
    """Whether the transport will call the chunk hook (read afresh each time)."""
    return client.plugin_manager.has_chunk_hook


Log = list[tuple[str, str, Any]]


def _impl(hook: str, argnames: tuple[str, ...], kind: str, log: Log,
          opts: dict[str, Any]) -> Callable[..., Any]:
    """A method implementing ``hook`` (through ``specname``) that takes exactly
    ``argnames`` and records ``(plugin name, hook, {arg: value})`` in ``log``."""
    params = ", ".join(("self", *argnames))
    values = "{" + ", ".join(f"{a!r}: {a}" for a in argnames) + "}"
    if kind == "plain":
        body = f"def impl({params}):\n    log.append((self.name, {hook!r}, {values}))\n"
    elif kind == "wrapper":
        body = (f"def impl({params}):\n    log.append((self.name + ':before', {hook!r}, None))\n"
                f"    result = yield\n"
                f"    log.append((self.name + ':after', {hook!r}, result))\n"
                f"    return result\n")
    else:  # old-style hookwrapper
        body = (f"def impl({params}):\n    log.append((self.name + ':before', {hook!r}, None))\n"
                f"    outcome = yield\n"
                f"    log.append((self.name + ':after', {hook!r}, outcome.get_result()))\n")
    namespace: dict[str, Any] = {"log": log}
    exec(body, namespace)  # noqa: S102 - builds a method with an exact signature
    marker = {"wrapper": {"wrapper": True}, "hookwrapper": {"hookwrapper": True}}.get(kind, {})
    return hookimpl(specname=hook, **marker, **opts)(namespace["impl"])  # type: ignore[no-any-return]


def plugin(name: str, hook: str, log: Log, *, argnames: tuple[str, ...] | None = None,
           kind: str = "plain", also_plain: bool = False, **opts: Any) -> object:
    """A plugin object called ``name`` with one implementation of ``hook`` (and a plain
    one besides, with ``also_plain``)."""
    args = ARGS[hook] if argnames is None else argnames
    methods: dict[str, Any] = {"name": name, "impl": _impl(hook, args, kind, log, opts)}
    if also_plain:
        methods["impl_plain"] = _impl(hook, args, "plain", log, {})
    return type(f"Plugin_{name}", (), methods)()


async def drive(emu: OllamaEmulator, plugins: list[object]) -> OllamaClient:
    """A client's whole life: built, opened, a stream, a failing call, an event, closed.
    Every hook is called at least once."""
    client = OllamaClient(emu.url, plugins=plugins)
    async with client:
        async for _ in client.generate_stream(GenerateRequest(
                model="llama3.2", prompt="hi", options={"num_predict": 2})):
            pass
        with pytest.raises(NotFoundError):
            await client.model_info("nope")
        client.emit(Event("custom", "test", client.clock.now(), {}))
    return client


def test_the_hooks_here_are_the_hooks_of_hookspecs() -> None:
    assert set(ARGS) == set(HOOKS), "a hook without a contract test (add it to ARGS)"
    for name, fn in HOOKS.items():
        assert tuple(inspect.signature(fn).parameters) == ARGS[name], name


@pytest.mark.parametrize("hook", sorted(HOOKS))
async def test_every_argument_is_passed(hook: str, emu: OllamaEmulator) -> None:
    log: Log = []
    client = await drive(emu, [plugin("p", hook, log)])
    seen = [args for who, name, args in log if name == hook]
    assert seen, f"{hook} was never called"
    assert set(seen[0]) == set(ARGS[hook])
    if "client" in ARGS[hook]:
        assert seen[0]["client"] is client


@pytest.mark.parametrize("hook", sorted(HOOKS))
async def test_an_implementation_may_take_any_subset_of_the_arguments(
        hook: str, emu: OllamaEmulator) -> None:
    log: Log = []
    subsets = [()] + [(arg,) for arg in ARGS[hook]]
    plugins = [plugin(f"p{i}", hook, log, argnames=subset) for i, subset in enumerate(subsets)]
    await drive(emu, plugins)
    for i, subset in enumerate(subsets):
        seen = [args for who, name, args in log if who == f"p{i}"]
        assert seen and set(seen[0]) == set(subset), (hook, subset)


@pytest.mark.parametrize("kind", ["wrapper", "hookwrapper"])
@pytest.mark.parametrize("hook", sorted(HOOKS))
async def test_a_wrapper_runs_around_the_implementations(
        hook: str, kind: str, emu: OllamaEmulator) -> None:
    log: Log = []
    if hook in hookspecs.LIFECYCLE_HOOKS:
        # Called plugin by plugin: a wrapper wraps its own plugin's implementations.
        await drive(emu, [plugin("w", hook, log, kind=kind, also_plain=True)])
        inner = "w"
    else:
        await drive(emu, [plugin("w", hook, log, kind=kind), plugin("p", hook, log)])
        inner = "p"
    calls = [who for who, name, _ in log if name == hook]
    # Around every call of the plain implementation, whatever the hook.
    assert calls[:3] == ["w:before", inner, "w:after"], calls
    assert calls.count("w:before") == calls.count("w:after") == calls.count(inner)


@pytest.mark.parametrize("hook", sorted(HOOKS))
async def test_tryfirst_and_trylast_order_every_hook(hook: str, emu: OllamaEmulator) -> None:
    log: Log = []
    await drive(emu, [plugin("last", hook, log, trylast=True), plugin("one", hook, log),
                      plugin("two", hook, log), plugin("first", hook, log, tryfirst=True)])
    calls = [who for who, name, _ in log if name == hook][:4]
    middle = ["one", "two"] if hook in IN_REGISTRATION_ORDER else ["two", "one"]
    assert calls == ["first", *middle, "last"], calls


# -- the chunk hook: in place, wrappers included -------------------------------------------


class Shout:
    name = "shout"

    @hookimpl
    def ollama_stream_chunk(self, chunk: dict[str, Any]) -> None:
        chunk["response"] = chunk.get("response", "").upper()


class Bracket:
    """A wrapper: sees the chunk before the others and as they left it."""

    name = "bracket"

    def __init__(self) -> None:
        self.before: list[str] = []

    @hookimpl(wrapper=True)
    def ollama_stream_chunk(self, chunk: dict[str, Any]) -> Generator[None, Any, Any]:
        self.before.append(chunk.get("response", ""))
        result = yield
        if chunk.get("response"):
            chunk["response"] = f"[{chunk['response']}]"
        return result


async def test_chunk_implementations_change_the_chunk_in_place_and_wrappers_see_it(
        emu: OllamaEmulator) -> None:
    bracket = Bracket()
    async with OllamaClient(emu.url, plugins=[bracket, Shout()]) as client:
        pieces = [c.response async for c in client.generate_stream(
            GenerateRequest(model="llama3.2", prompt="abc"))]
    words = [p for p in pieces if p]
    assert words and all(p.startswith("[") and p.endswith("]") and p == p.upper()
                         for p in words)
    assert "".join(bracket.before).upper() == "".join(p[1:-1] for p in words)
    assert "".join(bracket.before) != "".join(bracket.before).upper()  # seen unchanged


async def test_a_chunk_returned_the_old_way_is_copied_in_with_a_warning(
        emu: OllamaEmulator) -> None:
    class Old:
        name = "old"

        @hookimpl
        def ollama_stream_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
            return {**chunk, "response": "x"}

    seen: list[str] = []

    class After:  # registered first, so called after Old: sees Old's result
        name = "after"

        @hookimpl
        def ollama_stream_chunk(self, chunk: dict[str, Any]) -> None:
            seen.append(chunk["response"])

    with pytest.warns(DeprecationWarning, match="'old'.*in place"):
        async with OllamaClient(emu.url, plugins=[After(), Old()]) as client:
            pieces = [c.response async for c in client.generate_stream(
                GenerateRequest(model="llama3.2", prompt="abc"))]
    assert set(pieces) == set(seen) == {"x"}


async def test_the_chunk_path_calls_nothing_without_a_chunk_hook(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[plugin("p", "ollama_request", [])]) as client:
        assert chunk_hooked(client) is False
        client.add_plugin(Shout())
        assert chunk_hooked(client) is True
        await client.remove_plugin("shout")
        assert chunk_hooked(client) is False


# -- background tasks: through pluggy, owned by their plugin --------------------------------


class Ticker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.running = asyncio.Event()
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        self.running.set()
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self.stopped.set()

    @hookimpl
    def ollama_background_tasks(self) -> Any:
        return [self.run]


class ExtraTask(Ticker):
    """Adds its task from a wrapper around its own implementations."""

    @hookimpl(wrapper=True)
    def ollama_background_tasks(self) -> Generator[None, Any, Any]:
        result = yield
        return [*result, [self.run]]


async def test_remove_plugin_stops_exactly_that_plugins_tasks(emu: OllamaEmulator) -> None:
    a, b = Ticker("a"), ExtraTask("b")
    async with OllamaClient(emu.url, plugins=[a, b]):
        await asyncio.wait_for(asyncio.gather(a.running.wait(), b.running.wait()), 5)
        client_tasks = {t.get_name() for t in asyncio.all_tasks()}
        assert {"ollama-core:a", "ollama-core:b"} <= client_tasks
        # (async with's client, reached through the plugins' tasks' owner names)
    assert a.stopped.is_set() and b.stopped.is_set()

    a, b = Ticker("a"), ExtraTask("b")
    async with OllamaClient(emu.url, plugins=[a, b]) as client:
        await asyncio.wait_for(asyncio.gather(a.running.wait(), b.running.wait()), 5)
        await client.remove_plugin("b")
        assert b.stopped.is_set() and not a.stopped.is_set()
        assert client.plugins == ["a"]


# -- close: subset of arguments on remove_plugin ----------------------------------------------


async def test_remove_plugin_with_a_close_taking_only_self(emu: OllamaEmulator) -> None:
    class Bare:
        name = "bare"
        closed = 0

        @hookimpl
        def ollama_client_close(self) -> None:
            Bare.closed += 1

    async with OllamaClient(emu.url, plugins=[Bare()]) as client:
        await client.remove_plugin("bare")
        assert Bare.closed == 1
    assert Bare.closed == 1  # removed: not told again at close


# -- the awaited lifecycle ----------------------------------------------------------------------


class Resource:
    """Opens and closes an async resource; records the order in a shared list."""

    def __init__(self, name: str, order: list[str], *, fail: bool = False) -> None:
        self.name = name
        self.order = order
        self.fail = fail
        self.open = False

    @hookimpl
    async def ollama_client_open(self, client: OllamaClient) -> None:
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("pool unreachable")
        self.open = True
        self.order.append(f"open {self.name}")

    @hookimpl
    async def ollama_client_aclose(self) -> None:
        await asyncio.sleep(0)
        self.open = False
        self.order.append(f"aclose {self.name}")

    @hookimpl
    def ollama_client_close(self) -> None:
        self.order.append(f"close {self.name}")


async def test_plugins_open_in_registration_order_and_close_in_reverse(
        emu: OllamaEmulator) -> None:
    order: list[str] = []
    a, b, c = (Resource(n, order) for n in "abc")
    client = OllamaClient(emu.url, plugins=[a, b, c])
    assert order == []  # nothing opens before the client is used
    await client.version()  # the first call opens, then goes out
    assert order == ["open a", "open b", "open c"] and emu.hits("/api/version") == 1
    await client.version()
    await client.aclose()
    assert order[3:] == ["aclose c", "aclose b", "aclose a", "close c", "close b", "close a"]


async def test_concurrent_first_calls_share_one_opening(emu: OllamaEmulator) -> None:
    order: list[str] = []
    async with OllamaClient(emu.url, plugins=[Resource("a", order)]) as client:
        assert order == ["open a"]
        await asyncio.gather(*(client.version() for _ in range(5)))
    client = OllamaClient(emu.url, plugins=[Resource("b", order)])
    await asyncio.gather(*(client.version() for _ in range(5)))
    assert order.count("open b") == 1
    await client.aclose()


async def test_a_failed_open_closes_the_opened_ones_and_names_the_plugin(
        emu: OllamaEmulator) -> None:
    order: list[str] = []
    a, broken, c = Resource("a", order), Resource("broken", order, fail=True), Resource("c", order)
    client = OllamaClient(emu.url, plugins=[a, broken, c])
    with pytest.raises(PluginHookError, match="'broken' failed in ollama_client_open") as caught:
        await client.version()
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert caught.value.plugin == "broken"
    assert order == ["open a", "aclose a"] and emu.hits() == 0
    # The client stays usable: the next call opens again.
    broken.fail = False
    assert await client.version()
    assert order[2:] == ["open a", "open broken", "open c"]
    await client.aclose()
    assert order[-6:] == ["aclose c", "aclose broken", "aclose a",
                          "close c", "close broken", "close a"]


async def test_async_with_fails_when_a_plugin_cannot_open(emu: OllamaEmulator) -> None:
    order: list[str] = []
    client = OllamaClient(emu.url, plugins=[Resource("broken", order, fail=True)])
    with pytest.raises(PluginHookError, match="'broken'"):
        async with client:
            pass  # pragma: no cover
    await client.aclose()
    assert order == ["close broken"]  # never opened: not closed with aclose


async def test_add_plugin_opens_it_and_remove_plugin_closes_it(emu: OllamaEmulator) -> None:
    order: list[str] = []
    async with OllamaClient(emu.url, plugins=[Resource("a", order)]) as client:
        client.add_plugin(Resource("b", order))
        await client.version()  # waits for b to be open
        assert order == ["open a", "open b"]
        await client.remove_plugin("b")
        assert order[2:] == ["aclose b", "close b"]
    assert order[4:] == ["aclose a", "close a"]


async def test_an_open_hook_may_call_its_client(emu: OllamaEmulator) -> None:
    class Warm:
        name = "warm"
        version = ""

        @hookimpl
        async def ollama_client_open(self, client: OllamaClient) -> None:
            self.version = await client.version()

    warm = Warm()
    async with OllamaClient(emu.url, plugins=[warm]):
        assert warm.version


async def test_a_failing_aclose_is_logged_and_the_others_still_close(
        emu: OllamaEmulator, caplog: pytest.LogCaptureFixture) -> None:
    order: list[str] = []

    class Leaky(Resource):
        @hookimpl
        async def ollama_client_aclose(self) -> None:
            raise RuntimeError("cannot flush")

    with caplog.at_level(logging.ERROR, logger="ollama_core.plugins"):
        async with OllamaClient(emu.url, plugins=[Resource("a", order), Leaky("leaky", order)]):
            pass
    assert order == ["open a", "open leaky", "aclose a", "close leaky", "close a"]
    assert any("'leaky'" in r.getMessage() and "ollama_client_aclose" in r.getMessage()
               for r in caplog.records)


async def test_a_sync_open_implementation_works_too(emu: OllamaEmulator) -> None:
    class Sync:
        name = "sync"
        opened = False

        @hookimpl
        def ollama_client_open(self) -> None:
            self.opened = True

    sync = Sync()
    async with OllamaClient(emu.url, plugins=[sync]):
        assert sync.opened


def test_pluggy_is_what_calls_the_hooks() -> None:
    client = OllamaClient("http://127.0.0.1:9", plugins=[Shout()])
    pm = client.plugin_manager._pm
    assert isinstance(pm, pluggy.PluginManager)
    assert [i.plugin_name for i in pm.hook.ollama_stream_chunk.get_hookimpls()] == ["shout"]

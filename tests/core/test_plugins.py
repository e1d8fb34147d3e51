"""The plugin machinery: selection, configuration, one manager per client, and every hook.

Every hookspec has a ``test_hook_<name>`` here (a test in test_docs keeps that true).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ollama_core import (
    BUILTIN_PLUGINS,
    ChatRequest,
    Event,
    GenerateRequest,
    Handler,
    InvalidConfigError,
    InvalidRequestError,
    NotFoundError,
    OllamaClient,
    Request,
    Response,
    available_plugins,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator

ROOT = Path(__file__).resolve().parents[2]
HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


def chunk_hooked(client: OllamaClient) -> bool:
    """Whether the transport will call the chunk hook (read afresh each time)."""
    return client.plugin_manager.has_chunk_hook


class Recorder:
    """A plugin implementing every hook and recording the calls."""

    name = "recorder"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config or {}
        self.calls: list[tuple[Any, ...]] = []
        self.started = asyncio.Event()

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self.calls.append(("setup", client))

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Any]:
        return []

    @hookimpl
    def ollama_background_tasks(self, client: OllamaClient) -> list[Any]:
        async def task() -> None:
            self.started.set()
            await asyncio.Event().wait()
        return [task]

    @hookimpl
    def ollama_client_close(self, client: OllamaClient) -> None:
        self.calls.append(("close",))

    @hookimpl
    def ollama_prepare_request(self, endpoint: str, body: dict[str, Any]) -> None:
        self.calls.append(("prepare", endpoint, dict(body)))

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        request.headers["X-Recorder"] = "1"
        self.calls.append(("request", request.path))

    @hookimpl
    def ollama_response(self, request: Request, response: Response) -> None:
        self.calls.append(("response", request.path, response.status))

    @hookimpl
    def ollama_stream_chunk(self, request: Request, chunk: dict[str, Any]) -> None:
        self.calls.append(("chunk", request.path))

    @hookimpl
    def ollama_error(self, request: Request, error: BaseException) -> None:
        self.calls.append(("error", request.path, type(error).__name__))

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        self.calls.append(("event", event.name))

    def kinds(self) -> list[str]:
        return [c[0] for c in self.calls]


# -- selection and configuration ------------------------------------------------------------


def test_builtin_plugins_are_registered_as_entry_points() -> None:
    assert set(available_plugins()) >= {
        "retry", "circuit_breaker", "rate_limiting", "failover", "health_checks",
        "request_caching", "tool_calling", "vision_support"}


def test_entry_points_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from ollama_core import _plugin_manager

    scans = []
    real = importlib.metadata.entry_points

    def counting(**kwargs: Any) -> Any:
        scans.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", counting)
    available_plugins(refresh=True)
    for _ in range(3):
        OllamaClient("http://127.0.0.1:9", plugins="full")
    assert len(scans) == 1
    assert "retry" in available_plugins(refresh=True) and len(scans) == 2
    monkeypatch.undo()
    _plugin_manager.available_plugins(refresh=True)


def test_builtin_plugins_resolve_without_entry_point_metadata(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kwargs: [])
    try:
        assert set(available_plugins(refresh=True)) == set(BUILTIN_PLUGINS)
        client = OllamaClient("http://127.0.0.1:9", plugins="full")
        assert client.plugins == list(BUILTIN_PLUGINS)
        assert type(client.plugin("retry")).__name__ == "RetryPlugin"
    finally:
        monkeypatch.undo()
        available_plugins(refresh=True)


def test_the_builtin_fallback_map_matches_the_entry_points() -> None:
    import tomllib

    from ollama_core._plugin_manager import BUILTIN_TARGETS

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "entry-points"]["ollama_core.plugins"]
    # otel needs its extra and is not part of "full": found through its entry point only.
    assert declared.pop("otel") == "ollama_plugins.otel:OtelPlugin"
    assert BUILTIN_TARGETS == declared


def test_no_plugins_by_default_and_no_import_of_plugin_packages() -> None:
    code = ("import sys, ollama_core; c = ollama_core.OllamaClient('http://127.0.0.1:9'); "
            "print(c.plugins, any(m.startswith('ollama_plugins.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PATH": "", "PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.strip() == "[] False"


def test_environment_selects_and_configures_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_CORE_PLUGINS", "retry, request_caching")
    monkeypatch.setenv("OLLAMA_CORE_PLUGIN_CONFIG", '{"retry": {"max_attempts": 5}}')
    client = OllamaClient("http://127.0.0.1:9")
    assert client.plugins == ["retry", "request_caching"]
    assert client.plugin_config("retry") == {"max_attempts": 5}
    # An explicit list wins over the environment.
    assert OllamaClient("http://127.0.0.1:9", plugins=[]).plugins == []


def test_full_and_the_block_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_CORE_DISABLE_PLUGINS", "health_checks")
    client = OllamaClient("http://127.0.0.1:9", plugins="full")
    assert "health_checks" not in client.plugins and "retry" in client.plugins
    assert len(client.plugins) == 7


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"plugins": ["no_such_plugin"]}, "unknown plugin 'no_such_plugin'"),
    ({"plugins": [], "plugin_config": {"retry": {}}}, "not enabled"),
    ({"plugins": [Recorder(), Recorder()]}, "already registered"),
])
def test_bad_plugin_selection_is_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConfigError, match=message):
        OllamaClient("http://127.0.0.1:9", **kwargs)


def test_bad_environment_config_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_CORE_PLUGIN_CONFIG", "{not json")
    with pytest.raises(InvalidConfigError, match="OLLAMA_CORE_PLUGIN_CONFIG"):
        OllamaClient("http://127.0.0.1:9")


def test_plugin_classes_get_their_config_section() -> None:
    client = OllamaClient("http://127.0.0.1:9", plugins=[Recorder])
    assert isinstance(client.plugin("recorder"), Recorder)


def test_each_client_has_its_own_plugin_manager() -> None:
    a = OllamaClient("http://127.0.0.1:9", plugins=[Recorder()])
    b = OllamaClient("http://127.0.0.1:9", plugins=[])
    assert a.plugin_manager is not b.plugin_manager
    assert b.plugins == []


async def test_plugins_can_be_added_reconfigured_and_removed_at_run_time(
        emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        assert client.describe_chain().splitlines() == ["    -  transport (aiohttp)"]
        client.add_plugin("retry", {"max_attempts": 2})
        assert "retry" in client.describe_chain()
        client.configure_plugin("retry", {"max_attempts": 4})
        assert client.plugin_config("retry") == {"max_attempts": 4}
        rec = Recorder()
        client.add_plugin(rec)
        await asyncio.wait_for(rec.started.wait(), 5)  # its background task runs at once
        await client.list_models()
        assert "request" in rec.kinds()
        await client.remove_plugin("recorder")
        await client.remove_plugin("retry")
        assert client.plugins == []
        before = len(rec.calls)
        await client.list_models()
        assert len(rec.calls) == before


async def test_dynamic_timeout_and_headers(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        client.configure(headers={"X-Team": "blue"}, timeout=30)
        await client.version()
        assert emu.requests[-1].headers["X-Team"] == "blue"
        assert client.timeouts.first_byte == 30


# -- hooks ----------------------------------------------------------------------------------


async def test_hook_ollama_client_setup(emu: OllamaEmulator) -> None:
    rec = Recorder()
    client = OllamaClient(emu.url, plugins=[rec])
    assert rec.calls == [("setup", client)]
    await client.aclose()


async def test_hook_ollama_middlewares(emu: OllamaEmulator) -> None:
    class Tagger:
        name, order = "tagger", 150

        async def __call__(self, request: Request, call_next: Handler) -> Response:
            request.headers["X-Tag"] = request.endpoint
            return await call_next(request)

    class Contributor:
        @hookimpl
        def ollama_middlewares(self, client: OllamaClient) -> list[Any]:
            return [Tagger()]

    async with OllamaClient(emu.url, plugins=[Contributor()]) as client:
        assert "  150  tagger" in client.describe_chain()
        await client.list_models()
        assert emu.requests[-1].headers["X-Tag"] == "tags"


async def test_hook_ollama_background_tasks(emu: OllamaEmulator) -> None:
    rec = Recorder()
    client = OllamaClient(emu.url, plugins=[rec])
    assert not rec.started.is_set()  # nothing runs before the client is opened
    async with client:
        await asyncio.wait_for(rec.started.wait(), 5)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert tasks
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_hook_ollama_client_open(emu: OllamaEmulator) -> None:
    class Pool:
        name = "pool"
        opened_with: OllamaClient | None = None

        @hookimpl
        async def ollama_client_open(self, client: OllamaClient) -> None:
            await asyncio.sleep(0)
            self.opened_with = client

    pool = Pool()
    client = OllamaClient(emu.url, plugins=[pool])
    assert pool.opened_with is None  # not before the client is used
    async with client:
        assert pool.opened_with is client


async def test_hook_ollama_client_aclose(emu: OllamaEmulator) -> None:
    order: list[str] = []

    class Pool:
        name = "pool"

        @hookimpl
        async def ollama_client_aclose(self) -> None:
            await asyncio.sleep(0)
            order.append("aclose")

        @hookimpl
        def ollama_client_close(self) -> None:
            order.append("close")

    async with OllamaClient(emu.url, plugins=[Pool()]):
        pass
    assert order == ["aclose", "close"]
    # Never opened: only the synchronous close.
    order.clear()
    await OllamaClient(emu.url, plugins=[Pool()]).aclose()
    assert order == ["close"]


async def test_hook_ollama_client_close(emu: OllamaEmulator) -> None:
    rec = Recorder()
    async with OllamaClient(emu.url, plugins=[rec]):
        pass
    assert rec.kinds()[-1] == "close"


async def test_hook_ollama_prepare_request(emu: OllamaEmulator) -> None:
    class Defaults:
        @hookimpl
        def ollama_prepare_request(self, endpoint: str, body: dict[str, Any]) -> None:
            if endpoint == "chat":
                body.setdefault("options", {})["temperature"] = 0

    class Strict:
        @hookimpl
        def ollama_prepare_request(self, body: dict[str, Any]) -> None:
            if "secret" in str(body):
                raise InvalidRequestError("no secrets", field="messages")

    async with OllamaClient(emu.url, plugins=[Defaults(), Strict()]) as client:
        await client.chat(ChatRequest(model="llama3.2", messages=HELLO))
        assert emu.requests[-1].json["options"] == {"temperature": 0}
        with pytest.raises(InvalidRequestError, match="no secrets"):
            await client.chat(ChatRequest(model="llama3.2", messages=[
                {"role": "user", "content": "my secret"}]))
        assert emu.hits("/api/chat") == 1


async def test_hook_ollama_request(emu: OllamaEmulator) -> None:
    rec = Recorder()
    async with OllamaClient(emu.url, plugins=[rec]) as client:
        await client.version()
    assert ("request", "/api/version") in rec.calls
    assert emu.requests[-1].headers["X-Recorder"] == "1"


async def test_hook_ollama_response(emu: OllamaEmulator) -> None:
    rec = Recorder()
    async with OllamaClient(emu.url, plugins=[rec]) as client:
        await client.version()
        with pytest.raises(NotFoundError):
            await client.model_info("nope")
    assert ("response", "/api/version", 200) in rec.calls
    assert ("response", "/api/show", 404) in rec.calls


async def test_hook_ollama_stream_chunk(emu: OllamaEmulator) -> None:
    class Upper:
        @hookimpl
        def ollama_stream_chunk(self, chunk: dict[str, Any]) -> None:
            chunk["response"] = chunk.get("response", "").upper()

    rec = Recorder()
    async with OllamaClient(emu.url, plugins=[rec, Upper()]) as client:
        text = "".join([c.response async for c in client.generate_stream(
            GenerateRequest(model="llama3.2", prompt="abc"))])
    assert text == text.upper() and "ABC" in text
    assert rec.kinds().count("chunk") == len([c for c in rec.calls if c[0] == "chunk"]) > 1


async def test_no_chunk_hook_dispatch_without_an_implementation(emu: OllamaEmulator) -> None:
    rec = Recorder()
    async with OllamaClient(emu.url, plugins=[]) as client:
        assert chunk_hooked(client) is False
        client.add_plugin(rec)
        assert chunk_hooked(client) is True
        await client.remove_plugin("recorder")
        assert chunk_hooked(client) is False


async def test_hook_ollama_error(emu: OllamaEmulator) -> None:
    rec = Recorder()
    emu.faults.add(path="/api/chat", error_after=1)
    async with OllamaClient(emu.url, plugins=[rec]) as client:
        with pytest.raises(NotFoundError):
            await client.model_info("nope")
        with pytest.raises(Exception, match="error was encountered"):
            async for _ in client.chat_stream(ChatRequest(model="llama3.2", messages=HELLO)):
                pass
    assert ("error", "/api/show", "NotFoundError") in rec.calls
    assert ("error", "/api/chat", "StreamErrorLine") in rec.calls


async def test_hook_ollama_event(emu: OllamaEmulator) -> None:
    rec = Recorder()
    async with OllamaClient(emu.url, plugins=[rec]) as client:
        client.emit(Event("custom", "test", client.clock.now(), {"x": 1}))
    assert ("event", "custom") in rec.calls


# -- a third-party distribution -------------------------------------------------------------


@pytest.fixture(scope="module")
def third_party_installed() -> None:
    if "request_log" not in available_plugins():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        str(ROOT / "examples" / "third_party_plugin")], check=True)
        importlib.invalidate_caches()
        available_plugins(refresh=True)  # entry points are read once per process
    assert "request_log" in available_plugins()


async def test_third_party_plugin_is_picked_up_by_name(
        third_party_installed: None, emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=["request_log"],
                            plugin_config={"request_log": {"signing_key": "k3y"}}) as client:
        plugin = client.plugin("request_log")
        assert "k3y" not in repr(plugin)
        chunks = [c async for c in client.generate_stream(GenerateRequest(
            model="llama3.2", prompt="x", options={"num_predict": 3}))]
        info = {i["name"]: i for i in client.plugin_manager.plugins_info()}
        assert info["request_log"]["distribution"].startswith("ollama-request-log")
    kinds = [r[0] for r in plugin.records]
    assert kinds == ["request", "response"] + ["chunk"] * len(chunks)
    assert len(emu.requests[-1].headers["X-Signature"]) == 64


def test_plugin_classes_passed_directly_get_their_config_section() -> None:
    class Configurable:
        name = "configurable"

        def __init__(self, config: dict[str, Any]) -> None:
            self.config = config

    client = OllamaClient("http://127.0.0.1:9", plugins=[Configurable],
                          plugin_config={"configurable": {"level": 3}})
    assert client.plugin("configurable").config == {"level": 3}

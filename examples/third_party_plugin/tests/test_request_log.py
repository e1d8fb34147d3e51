"""Unit tests of the ``request_log`` plugin on ``MockTransport``: no server, no sockets
(``conftest.py`` fails any test that opens one)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from ollama_core import (
    ConnectError,
    FakeClock,
    MockTransport,
    OllamaClient,
    PluginConfigError,
    PluginHookError,
    Request,
    Response,
    hookimpl,
)
from ollama_core.ext import Event, RetryScheduled
from ollama_request_log import _journal as journal_module
from ollama_request_log import CallLogged, Journal, RequestLogConfig, RequestLogPlugin

EMBED = {"model": "m", "input": "x"}
GENERATE = {"model": "m", "prompt": "x"}


def embedding(request: Request) -> dict[str, Any]:
    return {"model": "m", "embeddings": [[0.5]]}


def words(*parts: str) -> list[dict[str, Any]]:
    return [*({"model": "m", "response": p, "done": False} for p in parts),
            {"model": "m", "response": "", "done": True, "done_reason": "stop"}]


def client(handler: Any, *plugins: Any, clock: FakeClock | None = None,
           **config: Any) -> OllamaClient:
    plugin_config: dict[str, Any] = {"request_log": config}
    if "retry" in plugins:  # backoffs of exactly 0.5 s, 1 s ... on the fake clock
        plugin_config["retry"] = {"jitter": "none", "base_delay": 0.5}
    return OllamaClient(transport=MockTransport(handler),
                        plugins=[RequestLogPlugin, *plugins], plugin_config=plugin_config,
                        clock=clock or FakeClock(autoadvance=True))


def calls_logged(c: OllamaClient) -> list[CallLogged]:
    seen: list[CallLogged] = []
    c.on_event(seen.append, CallLogged)
    return seen


# -- the guard -------------------------------------------------------------------------------


async def test_the_socket_guard_catches_the_aiohttp_transport(
        no_sockets: list[tuple[Any, ...]]) -> None:
    async with OllamaClient("http://127.0.0.1:9", plugins=[RequestLogPlugin]) as c:
        with pytest.raises(ConnectError):
            await c.embed(EMBED)
    assert len(no_sockets) == 1  # the guard works: the other tests really open none
    no_sockets.clear()


# -- declared config ---------------------------------------------------------------------------


def test_defaults_come_from_the_declaration() -> None:
    plugin = RequestLogPlugin()
    assert plugin.settings == RequestLogConfig()
    assert plugin.config == {"signing_key": None, "max_records": 10_000,
                             "id_header": "X-Request-Id", "log_file": None, "queue_size": 1024}


@pytest.mark.parametrize(("raw", "message"), [
    ({"max_record": 5}, "unknown key 'max_record' (known: id_header, log_file, max_records, "
                        "queue_size, signing_key)"),
    ({"max_records": -1}, "max_records: must be at least 0, got -1"),
    ({"queue_size": 0}, "queue_size: must be at least 1, got 0"),
    ({"signing_key": ""}, "signing_key: must not be empty (leave it out instead)"),
    ({"id_header": "X Id"}, "id_header: must be an HTTP header name, got 'X Id'"),
    ({"max_records": "10"}, "max_records: must be an integer, got '10'"),
])
def test_bad_config_is_refused_in_the_one_format(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginConfigError) as info:
        OllamaClient(transport=MockTransport(embedding), plugins=[RequestLogPlugin],
                     plugin_config={"request_log": raw})
    assert str(info.value) == f"plugin 'request_log': {message}"
    assert info.value.plugin == "request_log"
    assert info.value.key == next(iter(raw))


def test_a_non_mapping_config_is_refused() -> None:
    with pytest.raises(PluginConfigError,
                       match=r"^plugin 'request_log': configuration must be a mapping, got list"):
        RequestLogPlugin([1])  # type: ignore[arg-type]


def test_the_signing_key_never_shows() -> None:
    plugin = RequestLogPlugin({"signing_key": "k3y"})
    assert "k3y" not in repr(plugin) and "k3y" not in repr(plugin.settings)
    assert plugin.config["signing_key"] == "***"
    assert plugin.settings.signing_key == "k3y"


async def test_reconfigure_validates_then_applies_to_the_next_attempt() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> dict[str, Any]:
        seen.append(request)
        return embedding(request)

    async with client(handler, signing_key="one") as c:
        plugin = c.plugin(RequestLogPlugin)
        with pytest.raises(PluginConfigError, match="queue_size"):
            plugin.reconfigure({"queue_size": -3})
        assert plugin.settings.signing_key == "one"
        await c.embed(EMBED)
        c.configure_plugin("request_log", {"signing_key": "two", "id_header": "X-Call"})
        await c.embed(EMBED)
    assert seen[0].headers["X-Signature"] != seen[1].headers["X-Signature"]
    assert "X-Request-Id" in seen[0].headers and "X-Call" in seen[1].headers


# -- the middleware and the per-attempt hooks -----------------------------------------------------


async def test_every_attempt_of_a_call_carries_the_call_id_and_a_signature() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response | dict[str, Any]:
        seen.append(request)
        if len(seen) == 1:
            return Response(request, 503, body={"error": "busy"})
        return embedding(request)

    async with client(handler, "retry", signing_key="k3y") as c:
        await c.embed(EMBED)
        await c.embed(EMBED)
    ids = [r.headers["X-Request-Id"] for r in seen]
    assert len(seen) == 3 and ids[0] == ids[1] != ids[2]  # a retry keeps its call's id
    expected = hmac.new(b"k3y", b"POST /api/embed", hashlib.sha256).hexdigest()
    assert {r.headers["X-Signature"] for r in seen} == {expected}


async def test_a_call_ends_with_one_typed_event_counting_its_attempts() -> None:
    clock = FakeClock(100.0, autoadvance=True)
    statuses = [503, 503]

    def handler(request: Request) -> Response | dict[str, Any]:
        if statuses:
            return Response(request, statuses.pop(), body={"error": "busy"})
        return embedding(request)

    async with client(handler, "retry", clock=clock) as c:
        events = calls_logged(c)
        await c.embed(EMBED)
    [event] = events
    assert (event.endpoint, event.status, event.attempts, event.cached, event.error) == \
        ("embed", 200, 3, False, None)
    assert (event.time, event.took) == (100.0, 0.5 + 1.0)  # the two backoffs, exactly
    assert event.name == "call_logged" and event.source == "request_log"
    assert isinstance(event, Event) and event["attempts"] == 3
    assert str(event).startswith("[request_log] call_logged: call_id=")


async def test_a_failed_call_is_logged_with_its_error() -> None:
    def handler(request: Request) -> Response:
        return Response(request, 404, body={"error": "model 'm' not found"})

    async with client(handler) as c:
        events = calls_logged(c)
        with pytest.raises(Exception, match="not found"):
            await c.embed(EMBED)
    [event] = events
    assert event.status is None and event.attempts == 1
    assert event.error is not None and event.error.startswith("NotFoundError: ")
    kinds = [r[0] for r in c.plugin(RequestLogPlugin).records]
    assert kinds == ["request", "response", "error"]


async def test_the_call_log_sits_outside_the_cache_so_hits_are_logged() -> None:
    transport = MockTransport(embedding)
    async with OllamaClient(transport=transport, plugins=[RequestLogPlugin, "request_caching"],
                            clock=FakeClock()) as c:
        events = calls_logged(c)
        await c.embed(EMBED)
        await c.embed(EMBED)
        chain = c.describe_chain()
    assert [(e.attempts, e.cached) for e in events] == [(1, False), (0, True)]
    assert transport.calls == 1
    assert chain.index("request_log") < chain.index("request_caching")


async def test_a_stream_is_logged_when_it_ends_and_every_chunk_is_recorded() -> None:
    async with client(lambda request: words("a", "b")) as c:
        events = calls_logged(c)
        stream = await c.generate_stream(GENERATE).__aenter__()
        first = await anext(aiter(stream))
        assert first.response == "a" and events == []  # not ended yet
        rest = [chunk async for chunk in stream]
        await stream.__aexit__(None, None, None)
    assert len(rest) == 2
    [event] = events
    assert (event.status, event.attempts, event.error) == (200, 1, None)
    kinds = [r[0] for r in c.plugin(RequestLogPlugin).records]
    assert kinds == ["request", "response", "chunk", "chunk", "chunk"]


async def test_the_middleware_leaves_the_callers_request_unchanged() -> None:
    sent: list[Request] = []

    async def call_next(request: Request) -> Response:
        sent.append(request)
        return Response(request, 200, body={})

    async with client(embedding) as c:
        [middleware] = c.plugin(RequestLogPlugin).ollama_middlewares()
        request = Request("POST", "/api/embed", "embed", json=EMBED)
        await middleware(request, call_next)
    assert request.headers == {} and request.extensions == {}
    assert set(sent[0].headers) == {"X-Request-Id"}


def test_records_stop_at_max_records() -> None:
    plugin = RequestLogPlugin({"max_records": 2})
    for i in range(5):
        plugin.ollama_request(Request("GET", f"/api/{i}", "x"))
    assert [r[2] for r in plugin.records] == ["/api/0", "/api/1"]


# -- typed events: subscribed by class -------------------------------------------------------------


async def test_builtin_events_are_heard_by_class_and_journaled(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    statuses = [503]

    def handler(request: Request) -> Response | dict[str, Any]:
        if statuses:
            return Response(request, statuses.pop(), body={"error": "busy"})
        return embedding(request)

    async with client(handler, "retry", log_file=str(path)) as c:
        retries: list[RetryScheduled] = []
        c.on_event(retries.append, RetryScheduled)
        c.emit(Event("unrelated", "someone", 0.0, {"x": 1}))  # not subscribed: ignored
        await c.embed(EMBED)
        plugin = c.plugin(RequestLogPlugin)
        assert plugin.journal is not None
        journal = plugin.journal
    assert ("event", "retry") in plugin.records
    assert not any(r[0] == "event" and r[1] != "retry" for r in plugin.records)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(line["source"], line["event"]) for line in lines] == [
        ("retry", "retry"), ("request_log", "call_logged")]
    assert lines[0]["attempt"] == 1 and lines[0]["delay"] == retries[0].delay == 0.5
    assert lines[1]["attempts"] == 2 and lines[1]["status"] == 200
    assert (journal.written, journal.dropped, journal.is_open) == (2, 0, False)


# -- awaited open and close -------------------------------------------------------------------------


class Marker:
    """A plugin with async open/close that writes into a shared order list."""

    def __init__(self, name: str, order: list[str], *, fail: bool = False) -> None:
        self.name = name
        self.order = order
        self.fail = fail

    @hookimpl
    async def ollama_client_open(self) -> None:
        await asyncio.sleep(0)
        if self.fail:
            self.order.append(f"{self.name} failed")
            raise RuntimeError(f"{self.name} cannot open")
        self.order.append(f"{self.name} open")

    @hookimpl
    async def ollama_client_aclose(self) -> None:
        await asyncio.sleep(0)
        self.order.append(f"{self.name} close")


@pytest.fixture
def order() -> Iterator[list[str]]:
    """The order of lifecycle steps: the markers' and the journal's own log lines."""
    steps: list[str] = []

    class Steps(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("journal"):
                steps.append(record.getMessage().split(":")[0])

    logger = logging.getLogger("ollama_request_log")
    handler, level = Steps(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield steps
    logger.removeHandler(handler)
    logger.setLevel(level)


def with_markers(path: Path, order: list[str], *, fail: str = "") -> OllamaClient:
    return OllamaClient(
        transport=MockTransport(embedding),
        plugins=[Marker("a", order, fail=fail == "a"), RequestLogPlugin,
                 Marker("b", order, fail=fail == "b")],
        plugin_config={"request_log": {"log_file": str(path)}}, clock=FakeClock())


async def test_open_in_registration_order_close_in_reverse(tmp_path: Path,
                                                           order: list[str]) -> None:
    path = tmp_path / "log.jsonl"
    async with with_markers(path, order) as c:
        await c.embed(EMBED)
        assert order == ["a open", "journal opened", "journal writer started", "b open"]
        order.clear()
    assert order == ["b close", "journal writer stopped", "journal closed", "a close"]
    assert c.plugin(RequestLogPlugin).journal is None
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1  # written before closing


async def test_a_later_plugin_failing_to_open_closes_the_journal(tmp_path: Path,
                                                               order: list[str]) -> None:
    path = tmp_path / "log.jsonl"
    c = with_markers(path, order, fail="b")
    with pytest.raises(PluginHookError) as info:
        await c.embed(EMBED)
    assert info.value.plugin == "b"
    assert order == ["a open", "journal opened", "journal writer started", "b failed",
                     "journal writer stopped", "journal closed", "a close"]
    assert c.plugin(RequestLogPlugin).journal is None
    # The client stays usable: the next call opens everything again, the journal appends.
    order.clear()
    c.plugin("b").fail = False
    await c.embed(EMBED)
    await c.aclose()
    assert order[:4] == ["a open", "journal opened", "journal writer started", "b open"]
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


async def test_a_journal_that_cannot_open_fails_the_open_naming_the_plugin(
        tmp_path: Path, order: list[str]) -> None:
    c = with_markers(tmp_path / "missing" / "log.jsonl", order)
    with pytest.raises(PluginHookError) as info:
        await c.embed(EMBED)
    await c.aclose()
    assert info.value.plugin == "request_log"
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert order == ["a open", "a close"]  # b never opened; a was closed again


async def test_the_journal_drops_lines_when_its_queue_is_full(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(str(path), queue_size=2)
    assert journal.put({"n": 0}) is False and journal.dropped == 1  # not open yet
    await journal.open()
    # Nothing awaits between the puts, so the writer cannot drain the queue meanwhile.
    assert [journal.put({"n": n}) for n in (1, 2, 3)] == [True, True, False]
    await journal.aclose()
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [1, 2]
    assert (journal.written, journal.dropped, journal.is_open) == (2, 2, False)
    with pytest.raises(RuntimeError, match="already open"):
        await journal.open()
        await journal.open()
    await journal.aclose()


class Unprintable:
    def __str__(self) -> str:
        raise ValueError("cannot be written")


async def test_a_journal_closes_its_file_even_when_its_writer_broke(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files: list[IO[str]] = []

    def spy(*args: Any, **kwargs: Any) -> IO[str]:
        file: IO[str] = open(*args, **kwargs)  # noqa: SIM115
        files.append(file)
        return file

    monkeypatch.setattr(journal_module, "open", spy, raising=False)
    journal = Journal(str(tmp_path / "j.jsonl"), queue_size=4)
    await journal.open()
    journal.put({"bad": Unprintable()})
    with pytest.raises(ValueError, match="cannot be written"):
        await journal.aclose()  # the writer's error, raised after the file was closed
    assert files[0].closed and not journal.is_open


def test_the_sync_client_opens_and_closes_the_journal_too(tmp_path: Path) -> None:
    from ollama_core import SyncOllamaClient

    path = tmp_path / "log.jsonl"
    with SyncOllamaClient(transport=MockTransport(embedding), plugins=[RequestLogPlugin],
                          plugin_config={"request_log": {"log_file": str(path)}}) as c:
        c.embed(EMBED)
    assert json.loads(path.read_text(encoding="utf-8"))["event"] == "call_logged"

"""Typed events: one class per kind, mapping access kept, ``client.on_event``, and the
typed plugin lookup ``client.plugin(RetryPlugin)``."""

from __future__ import annotations

import copy
import dataclasses
import logging
import pickle
import threading
from typing import Any

import pytest

from ollama_core import (
    CacheHit,
    CacheMiss,
    CircuitStateChanged,
    Event,
    FailedOver,
    FakeClock,
    OllamaClient,
    RateLimited,
    RetryBudgetExhausted,
    RetryExhausted,
    RetryScheduled,
    SyncOllamaClient,
    UpstreamHealthChanged,
    hookimpl,
)
from ollama_core.emulator import EmulatorThread, OllamaEmulator
from ollama_plugins.retry import RetryPlugin
from ollama_plugins.vision_support import VisionSupportPlugin

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}

# One instance of every typed event, with the name and data keys it must have.
TYPED: list[tuple[Event, str, str, list[str]]] = [
    (RetryScheduled(time=1.0, attempt=1, delay=0.5, retry_after=None, cause="X: y",
                    endpoint="chat"),
     "retry", "retry", ["attempt", "delay", "retry_after", "cause", "endpoint"]),
    (RetryExhausted(time=1.0, attempt=3, reason="max_attempts", cause="X: y", endpoint="chat"),
     "retry_exhausted", "retry", ["attempt", "reason", "cause", "endpoint"]),
    (RetryBudgetExhausted(time=1.0, attempt=1, requests=10, retries=3, cause="X: y",
                          endpoint="chat"),
     "retry_budget_exhausted", "retry", ["attempt", "requests", "retries", "cause", "endpoint"]),
    (FailedOver(time=1.0, from_="http://a", to="http://b", cause="X: y", endpoint="chat"),
     "failover", "failover", ["from", "to", "cause", "endpoint"]),
    (UpstreamHealthChanged(time=1.0, upstream="http://a", healthy=False, latency=None,
                           error="refused"),
     "upstream_health", "health_checks", ["upstream", "healthy", "latency", "error"]),
    (CircuitStateChanged(time=1.0, key="k", upstream="http://a", endpoint="chat", old="closed",
                         new="half-open"),
     "circuit_state", "circuit_breaker", ["key", "upstream", "endpoint", "old", "new"]),
    (RateLimited(time=1.0, endpoint="chat", waited=0.25, rejected=False),
     "rate_limited", "rate_limiting", ["endpoint", "waited", "rejected"]),
    (CacheHit(time=1.0, endpoint="embed", coalesced=True),
     "cache_hit", "request_caching", ["endpoint", "coalesced"]),
    (CacheMiss(time=1.0, endpoint="embed"), "cache_miss", "request_caching", ["endpoint"]),
]


# -- the event classes --------------------------------------------------------------------


def test_the_generic_event_keeps_its_shape() -> None:
    event = Event("slow_call", "my_plugin", 2.5, {"took": 1.23456, "endpoint": "chat"})
    assert (event.name, event.source, event.time) == ("slow_call", "my_plugin", 2.5)
    assert event["took"] == 1.23456 and event.get("nope", 7) == 7 and "endpoint" in event
    assert event.data == {"took": 1.23456, "endpoint": "chat"}
    assert str(event) == "[my_plugin] slow_call: took=1.235, endpoint=chat"
    assert Event("a", "b", 0.0) == Event("a", "b", 0.0, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("event", "name", "source", "keys"), TYPED,
                         ids=[type(t[0]).__name__ for t in TYPED])
def test_typed_events_have_their_name_source_and_data_keys(
        event: Event, name: str, source: str, keys: list[str]) -> None:
    assert isinstance(event, Event)
    assert event.name == type(event).name == name and event.source == source
    assert list(event.data) == keys
    for key in keys:
        assert event[key] == event.data[key]
    assert str(event).startswith(f"[{source}] {name}: {keys[0]}=")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.time = 3.0  # type: ignore[misc]


def test_failover_event_data_says_from_and_the_breaker_adds_retry_at_only_when_set() -> None:
    moved = FailedOver(time=0.0, from_="http://a", to=None, cause="c", endpoint="chat")
    assert moved["from"] == moved.from_ == "http://a" and moved["to"] is None
    half_open = CircuitStateChanged(time=0.0, key="k", upstream="u", endpoint="chat",
                                    old="open", new="half-open")
    opened = dataclasses.replace(half_open, old="closed", new="open", retry_at=30.0)
    assert "retry_at" not in half_open and opened["retry_at"] == 30.0


@pytest.mark.parametrize("event", [Event("custom", "me", 1.0, {"n": 1}), *(t[0] for t in TYPED)],
                         ids=["Event", *(type(t[0]).__name__ for t in TYPED)])
def test_events_survive_pickle_and_copy(event: Event) -> None:
    for clone in (pickle.loads(pickle.dumps(event)), copy.copy(event), copy.deepcopy(event)):
        assert clone == event and type(clone) is type(event) and clone.name == event.name


def test_typed_events_compare_by_class_and_fields() -> None:
    a = CacheMiss(time=1.0, endpoint="embed")
    assert a == CacheMiss(time=1.0, endpoint="embed")
    assert a != CacheMiss(time=2.0, endpoint="embed")
    assert a != Event("cache_miss", "request_caching", 1.0, {"endpoint": "embed"})


# -- emitted by the plugins, seen by class ---------------------------------------------------


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[Event] = []

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        if isinstance(event, (RetryScheduled, RetryExhausted)):
            self.seen.append(event)


async def test_retry_emits_typed_events_a_plugin_subscribes_to_by_class(
        ollama_emulator: OllamaEmulator) -> None:
    ollama_emulator.faults.script("/api/chat", [503, 503, 503])
    recorder = Recorder()
    async with OllamaClient(ollama_emulator.url, plugins=["retry", recorder],
                            clock=FakeClock(autoadvance=True),
                            plugin_config={"retry": {"seed": 1}}) as client:
        with pytest.raises(Exception, match="503"):
            await client.chat(CHAT)
    assert [type(e) for e in recorder.seen] == [RetryScheduled, RetryScheduled, RetryExhausted]
    first = recorder.seen[0]
    assert isinstance(first, RetryScheduled)
    assert (first.attempt, first.endpoint, first.source) == (1, "chat", "retry")
    assert first.cause.startswith("ServiceUnavailableError")
    last = recorder.seen[-1]
    assert isinstance(last, RetryExhausted) and last.reason == "max_attempts"


# -- client.on_event ------------------------------------------------------------------------


def test_on_event_delivers_every_event_or_only_the_chosen_classes(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="ollama_core")  # no logger listens either
    client = OllamaClient("http://127.0.0.1:1")
    everything: list[Event] = []
    health: list[UpstreamHealthChanged] = []
    assert client.wants_events is False
    client.on_event(everything.append)
    client.on_event(health.append, UpstreamHealthChanged)
    assert client.wants_events is True
    down = UpstreamHealthChanged(time=0.0, upstream="u", healthy=False)
    miss = CacheMiss(time=0.0, endpoint="embed")
    client.emit(down)
    client.emit(miss)
    client.emit(Event("custom", "me", 0.0))
    assert everything == [down, miss, Event("custom", "me", 0.0)]
    assert health == [down]


def test_on_event_unsubscribes_and_filters_subclasses_with_the_base(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="ollama_core")  # no logger listens either
    client = OllamaClient("http://127.0.0.1:1")
    seen: list[Event] = []
    unsubscribe = client.on_event(seen.append, RetryScheduled, RetryExhausted)
    client.emit(RetryExhausted(time=0.0, attempt=1, reason="deadline", cause="c",
                               endpoint="chat"))
    client.emit(CacheMiss(time=0.0, endpoint="embed"))
    unsubscribe()
    unsubscribe()  # twice is harmless
    client.emit(RetryExhausted(time=1.0, attempt=1, reason="deadline", cause="c",
                               endpoint="chat"))
    assert [e.time for e in seen] == [0.0]
    assert client.wants_events is False


def test_a_raising_callback_is_logged_and_the_others_still_run(
        caplog: pytest.LogCaptureFixture) -> None:
    client = OllamaClient("http://127.0.0.1:1")
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    client.on_event(broken)
    client.on_event(seen.append)
    with caplog.at_level(logging.ERROR, logger="ollama_core.plugins"):
        client.emit(CacheMiss(time=0.0, endpoint="embed"))
    assert len(seen) == 1
    assert "broken" in caplog.text and "RuntimeError: boom" in caplog.text


@pytest.mark.parametrize("bad", [str, "retry", CacheMiss(time=0.0, endpoint="e")])
def test_on_event_filters_only_by_event_classes(bad: Any) -> None:
    client = OllamaClient("http://127.0.0.1:1")
    with pytest.raises(TypeError, match="Event classes"):
        client.on_event(print, bad)
    with pytest.raises(TypeError, match="callable"):
        client.on_event("not callable")  # type: ignore[arg-type]


def test_sync_client_callbacks_run_in_its_loop_thread() -> None:
    with EmulatorThread() as emu:
        emu.faults.script("/api/chat", [503, 200])
        with SyncOllamaClient(emu.url, plugins=["retry"], clock=FakeClock(autoadvance=True),
                              plugin_config={"retry": {"seed": 3}}) as client:
            threads: list[threading.Thread] = []
            seen: list[RetryScheduled] = []

            def on_retry(event: RetryScheduled) -> None:
                threads.append(threading.current_thread())
                seen.append(event)

            client.on_event(on_retry, RetryScheduled)
            client.chat(CHAT)
    assert [e.attempt for e in seen] == [1]
    assert threads and threads[0] is not threading.current_thread()


# -- client.plugin(cls) ---------------------------------------------------------------------


def test_plugin_lookup_by_class_returns_the_instance_and_by_name_still_works() -> None:
    client = OllamaClient("http://127.0.0.1:1", plugins=["retry", "vision_support"])
    retry = client.plugin(RetryPlugin)
    assert isinstance(retry, RetryPlugin) and retry is client.plugin("retry")
    assert retry.settings.max_attempts == 3  # typed: a RetryConfig
    assert client.plugin(VisionSupportPlugin).max_bytes > 0
    with pytest.raises(KeyError, match="Recorder"):
        client.plugin(Recorder)
    with pytest.raises(KeyError):
        client.plugin("nope")


def test_sync_plugin_lookup_by_class() -> None:
    with SyncOllamaClient("http://127.0.0.1:1", plugins=["retry"]) as client:
        assert client.plugin(RetryPlugin) is client.plugin("retry")
        with pytest.raises(KeyError):
            client.plugin(VisionSupportPlugin)


async def test_retry_events_on_a_mock_transport_with_no_sockets() -> None:
    from ollama_core import ConnectError, MockTransport, Request

    answers: list[Any] = [ConnectError("refused"), ConnectError("refused"),
                          {"model": "m", "message": {"role": "assistant", "content": "ok"},
                           "done": True}]

    def handler(request: Request) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    seen: list[RetryScheduled] = []
    async with OllamaClient(transport=MockTransport(handler), plugins=["retry"],
                            clock=FakeClock(autoadvance=True),
                            plugin_config={"retry": {"jitter": "none"}}) as client:
        client.on_event(seen.append, RetryScheduled)
        reply = await client.chat(CHAT)
        stats = client.plugin(RetryPlugin).stats
    assert reply.message.content == "ok"
    assert [(e.attempt, e.delay) for e in seen] == [(1, 0.5), (2, 1.0)]
    assert all(e.cause.startswith("ConnectError") for e in seen)
    assert (stats.attempts, stats.retries) == (3, 2)

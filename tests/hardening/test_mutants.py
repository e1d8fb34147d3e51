"""Tests that kill mutants the policy and core tests let live (see ``make mutate``).

Each test pins one behaviour a one-line bug changed without any other test noticing;
bench/mutation_survivors.txt lists the mutants that stay alive and why.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from ollama_core import (
    AllEndpointsFailedError,
    ConnectError,
    FakeClock,
    LineTooLongError,
    MalformedLineError,
    OllamaClient,
    RateLimitExceededError,
    ReadError,
    ResponseError,
)
from ollama_core._aggregate import aggregator_for
from ollama_core._ndjson import DEFAULT_MAX_LINE_LENGTH, NDJSONDecoder
from ollama_core._stream import Stream
from ollama_core.emulator import OllamaEmulator
from ollama_core.ext import Request
from ollama_plugins.circuit_breaker._circuit import Circuit, Outcome, classify
from ollama_plugins.circuit_breaker._config import CircuitBreakerConfig
from ollama_plugins.circuit_breaker.store import CLOSED, MemoryBreakerStore
from ollama_plugins.failover import FailoverPlugin
from ollama_plugins.failover._endpoints import EndpointSpec, parse_endpoints
from ollama_plugins.failover.policy import _soonest
from ollama_plugins.health_checks.policy import HealthProber
from ollama_plugins.rate_limiting._bucket import SlotPool, TokenBucket
from ollama_plugins.rate_limiting.store import LimitSpec, MemoryLimiterStore
from ollama_plugins.request_caching._config import RequestCachingConfig
from ollama_plugins.request_caching._key import cache_key, image_digest
from ollama_plugins.request_caching._lru import Entry, LRUCache
from ollama_plugins.request_caching._replay import replay
from ollama_plugins.request_caching.store import MemoryCacheStore, StoredAnswer
from ollama_plugins.retry._budget import RetryBudget
from ollama_plugins.retry._policy import is_retryable, retry_after_hint


# -- retry budget --------------------------------------------------------------------


def test_the_budget_window_is_sliced_by_the_bucket_width_not_by_seconds() -> None:
    # A one-second window of ten 0.1 s slices: a retry at 0.0 still counts at 0.95
    # and has aged out at 1.25, which whole-second slicing would not show.
    budget = RetryBudget(ratio=0.0, min_retries=1, window=1.0, buckets=10)
    assert budget.try_acquire(0.0) is True
    assert budget.try_acquire(0.05) is False
    assert budget.counts(0.95) == (0, 1)
    assert budget.try_acquire(0.95) is False
    assert budget.counts(1.25) == (0, 0)
    assert budget.try_acquire(1.25) is True
    # A retry at 0.35 (slice 3) is still inside the window ending at 1.05 (slices 1-10).
    late = RetryBudget(ratio=0.0, min_retries=1, window=1.0, buckets=10)
    assert late.try_acquire(0.35) is True
    assert late.counts(1.05) == (0, 1)
    assert late.try_acquire(1.05) is False


# -- retry policy --------------------------------------------------------------------


def test_all_endpoints_failed_takes_the_smallest_hint_and_skips_servers_without_one() -> None:
    failures = {
        "a": ResponseError("busy", 503, headers={"Retry-After": "5"}),
        "b": ConnectError("refused"),
        "c": ResponseError("busy", 429, headers={"retry-after": "2"}),
    }
    assert retry_after_hint(AllEndpointsFailedError(failures)) == 2.0
    assert retry_after_hint(AllEndpointsFailedError({"b": ConnectError("refused")})) is None


def test_a_call_is_idempotent_unless_told_otherwise() -> None:
    # A broken read is retried only for idempotent calls, and that is the default.
    assert is_retryable(ReadError("reset")) is True
    assert is_retryable(ReadError("reset"), idempotent=False) is False


# -- circuit breaker -----------------------------------------------------------------


def _circuit(**settings: float) -> Circuit:
    return Circuit("http://a", "chat", CircuitBreakerConfig(**settings),  # type: ignore[arg-type]
                   lambda: 0.0, lambda circuit, old, new: None)


def test_an_outcome_of_an_older_state_is_ignored() -> None:
    circuit = _circuit(fail_max=1, reset_timeout=60.0)
    before = circuit.generation
    circuit.record(before, ReadError("reset"))
    assert circuit.state == "open" and circuit.generation != before
    # A late failure of an attempt admitted while closed: not fed to the open breaker
    # (which would refuse it) and not counted as another trip.
    circuit.record(before, ReadError("late"))
    circuit.record(before, None)
    assert circuit.state == "open" and circuit.trips == 1


def test_new_settings_apply_at_once_to_an_untripped_circuit_only() -> None:
    circuit = _circuit(fail_max=1, reset_timeout=10.0)
    circuit.apply(CircuitBreakerConfig(fail_max=1, reset_timeout=20.0))
    assert circuit.open_for == 20.0 and circuit.breaker.reset_timeout == 20.0
    circuit.record(circuit.generation, ReadError("reset"))
    assert circuit.trips == 1 and circuit.open_for == 20.0
    # While tripped, the running open period keeps its length.
    circuit.apply(CircuitBreakerConfig(fail_max=1, reset_timeout=40.0))
    assert circuit.open_for == 20.0 and circuit.breaker.reset_timeout == 20.0


def test_the_closed_flag_follows_the_breaker_state() -> None:
    circuit = _circuit(fail_max=1, reset_timeout=60.0)
    assert circuit.closed is True
    circuit.record(circuit.generation, ReadError("reset"))
    assert circuit.state == "open" and circuit.closed is False
    assert repr(circuit) == "Circuit('http://a chat', open, failures=1)"


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    circuit = _circuit(fail_max=2, reset_timeout=60.0)
    circuit.record(circuit.generation, ReadError("one"))
    circuit.record(circuit.generation, None)
    circuit.record(circuit.generation, ReadError("two"))
    assert circuit.state == "closed" and circuit.breaker.fail_counter == 1


def test_the_shared_closed_verdict_cannot_be_changed() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CLOSED.state = "open"  # type: ignore[misc]


async def test_a_probe_lease_given_back_twice_frees_one_place_only() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock)
    store.trip("k", 5.0)
    clock.advance(5.0)
    first = await store.admit("k", 1)
    assert first.state == "half_open" and first.lease is not None
    store.release_probe("k", first.lease)
    store.release_probe("k", first.lease)
    second = await store.admit("k", 1)
    assert second.lease is not None
    third = await store.admit("k", 1)
    assert third.state == "half_open" and third.lease is None


# -- rate limiting -------------------------------------------------------------------


async def _settle() -> None:
    # Let callbacks already scheduled run (no waiting on time).
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_queued_take_of_a_free_token_takes_it() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    await bucket.take(clock, None)
    assert bucket.tokens(0.0) == 0.0
    assert bucket.try_take(0.0) is False


async def test_growing_the_pool_lets_a_waiter_in_and_counts_it() -> None:
    clock = FakeClock()
    pool = SlotPool(1)
    assert pool.try_acquire() is True
    waiter = asyncio.ensure_future(pool.acquire(clock, None))
    await _settle()
    assert pool.waiting == 1 and not waiter.done()
    pool.resize(2)
    await _settle()
    assert waiter.done() and waiter.result() is True
    assert pool.in_flight == 2 and pool.waiting == 0


def test_a_new_concurrency_cap_keeps_the_calls_in_flight() -> None:
    store = MemoryLimiterStore(FakeClock())
    one = LimitSpec(rate=None, burst=1, max_wait=None, max_concurrent=1)
    two = dataclasses.replace(one, max_concurrent=2)
    assert store.try_acquire("k", one) is not None
    assert store.try_acquire("k", one) is None
    # Raising the cap to two lets exactly one more in: the first call still holds a slot.
    assert store.try_acquire("k", two) is not None
    assert store.try_acquire("k", two) is None


def test_limits_are_immutable() -> None:
    spec = LimitSpec(rate=1.0, burst=1, max_wait=None, max_concurrent=None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.burst = 2  # type: ignore[misc]


async def test_a_call_admitted_at_once_gets_the_admission() -> None:
    store = MemoryLimiterStore(FakeClock())
    spec = LimitSpec(rate=1.0, burst=1, max_wait=None, max_concurrent=1)
    admission = await store.acquire("k", spec)
    assert admission is not None and admission.waited is None
    assert repr(store) == "MemoryLimiterStore(keys=1)"


# -- failover endpoints --------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://h:1/?x=1", "http://h:1/#top"])
def test_an_endpoint_with_only_a_query_or_only_a_fragment_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="cannot carry a query or fragment"):
        parse_endpoints([url])


def test_a_mapping_endpoint_names_a_missing_url_and_a_wrong_one_differently() -> None:
    with pytest.raises(ValueError, match=r"endpoints\[0\]\.url.*is required"):
        parse_endpoints([{"api_key": "k"}])
    with pytest.raises(ValueError, match=r"endpoints\[0\]\.url.*must be a string"):
        parse_endpoints([{"url": 3}])


def test_an_endpoint_spec_is_immutable() -> None:
    (spec,) = parse_endpoints(["http://h:1"])
    assert isinstance(spec, EndpointSpec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.api_key = "k"  # type: ignore[misc]


def test_the_soonest_refusal_is_the_smallest_known_wait() -> None:
    def refusal(upstream: str, retry_after: float | None) -> RateLimitExceededError:
        return RateLimitExceededError("limited", endpoint="chat", retry_after=retry_after,
                                      upstream=upstream)

    unknown, late, early = refusal("a", None), refusal("b", 3.0), refusal("c", 1.0)
    assert _soonest([unknown, late, early]) is early
    assert _soonest([unknown, refusal("d", None)]) is unknown


async def test_endpoints_in_their_cooldown_come_last_once_each() -> None:
    urls = ["http://a:1", "http://b:1", "http://c:1"]
    client = OllamaClient(urls[0], clock=FakeClock(), plugins=["failover"],
                          plugin_config={"failover": {"endpoints": urls, "cooldown": 5}})
    async with client:
        fo = client.plugin("failover")
        assert isinstance(fo, FailoverPlugin)
        a, b, c = client.upstreams
        client.upstreams.mark_down(b, until=5.0, error="refused")
        assert fo.middleware.plan(0.0, advance=False) == [a, c, b]


async def test_a_call_pinned_to_an_endpoint_goes_there_and_returns_its_answer() -> None:
    async with OllamaEmulator() as a, OllamaEmulator() as b:
        client = OllamaClient(a.url, clock=FakeClock(), plugins=["failover"],
                              plugin_config={"failover": {"endpoints": [a.url, b.url]}})
        async with client:
            second = list(client.upstreams)[1]
            response = await client.send(Request("GET", "/api/tags", "tags", upstream=second))
            assert response.status == 200
            await response.aclose()
        assert (a.hits("/api/tags"), b.hits("/api/tags")) == (0, 1)


# -- health checks -------------------------------------------------------------------


async def test_waiting_for_rounds_already_done_returns_at_once() -> None:
    prober = HealthProber(None)  # type: ignore[arg-type]  # not needed to wait
    waiter = asyncio.ensure_future(prober.wait_for_rounds(0))
    await _settle()
    assert waiter.done()
    await waiter


async def test_a_waiter_that_gives_up_leaves_at_once() -> None:
    prober = HealthProber(None)  # type: ignore[arg-type]  # not needed to wait
    waiter = asyncio.ensure_future(prober.wait_for_rounds(5))
    await _settle()
    assert len(prober._round_waiters) == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert prober._round_waiters == []


@pytest.mark.parametrize("status, healthy", [(200, True), (299, True), (300, False)])
async def test_a_probe_succeeds_on_a_2xx_status_only(status: int, healthy: bool) -> None:
    async with OllamaEmulator() as emulator:
        emulator.faults.add(path="/", status=status, times=None)
        client = OllamaClient(emulator.url, clock=FakeClock(), plugins=["health_checks"],
                              plugin_config={"health_checks": {
                                  "interval": 10.0, "healthy_threshold": 1,
                                  "unhealthy_threshold": 1}})
        # In a failover cooldown: a healthy probe lifts it, an unhealthy one does not.
        client.upstreams.mark_down(client.upstreams.primary, until=100.0, error="refused")
        async with client:
            hc = client.plugin("health_checks")
            await hc.wait_for_rounds(1)  # type: ignore[attr-defined]
            assert client.upstreams.primary.healthy is healthy
            assert client.upstreams.primary.down_until == (None if healthy else 100.0)
            assert hc.report()[emulator.url]["failed_checks"] == (0 if healthy else 1)  # type: ignore[attr-defined]


# -- request caching -----------------------------------------------------------------


def _entry(size: int, expires_at: float) -> Entry:
    return Entry("chat", b"x" * size, False, size, expires_at)


def test_a_lookup_purges_every_expired_entry_not_only_its_own() -> None:
    cache = LRUCache(max_entries=10, max_bytes=1000)
    cache.put(b"a", _entry(10, 5.0), 0.0)
    cache.put(b"b", _entry(10, 10.0), 0.0)
    assert cache.get(b"b", 6.0) is not None
    assert len(cache) == 1 and b"a" not in cache
    assert cache.expirations == 1 and cache.bytes == 10


def test_an_entry_or_a_reservation_of_exactly_max_bytes_fits() -> None:
    cache = LRUCache(max_entries=10, max_bytes=100)
    assert cache.put(b"a", _entry(100, 5.0), 0.0) is True
    assert cache.bytes == 100 and len(cache) == 1
    assert cache.put(b"b", _entry(101, 5.0), 0.0) is False
    assert cache.reserve(100) is True
    # The reservation evicted the stored entry to make room.
    assert len(cache) == 0 and cache.reserved == 100
    assert cache.reserve(1) is False


def test_an_entry_must_fit_beside_the_bytes_reserved_by_others() -> None:
    cache = LRUCache(max_entries=10, max_bytes=100)
    assert cache.reserve(60) is True
    assert cache.put(b"a", _entry(50, 5.0), 0.0) is False
    assert len(cache) == 0 and cache.reserved == 60
    assert cache.put(b"a", _entry(40, 5.0), 0.0) is True


@pytest.mark.parametrize("stream", [False, True])
def test_a_stored_answer_replays_as_a_200_from_the_cache(stream: bool) -> None:
    value: object = [{"response": "a", "done": False}, {"response": "b", "done": True}] \
        if stream else {"response": "ab", "done": True}
    answer = StoredAnswer.from_json({"endpoint": "generate", "stream": stream, "value": value})
    response = replay(Request("POST", "/api/generate", "generate"), answer)
    assert response.status == 200 and response.from_cache is True


def test_the_portable_form_is_utf8_text_not_ascii_escapes() -> None:
    answer = StoredAnswer.from_json({"endpoint": "show", "stream": False,
                                     "value": {"license": "café"}})
    assert answer.to_bytes() == '{"endpoint":"show","stream":false,"value":{"license":"café"}}'.encode()


def test_a_store_built_alone_has_the_plugin_default_bounds() -> None:
    defaults = RequestCachingConfig()
    lru = MemoryCacheStore().lru
    assert (lru.max_entries, lru.max_bytes) == (defaults.max_entries, defaults.max_bytes)


# -- stream --------------------------------------------------------------------------


def _unopened_stream(clock: FakeClock, pause_timeout: float | None) -> Stream[object]:
    async def never_opened() -> object:
        raise AssertionError("the stream was not to be started")

    return Stream(never_opened, lambda line: line, clock=clock,  # type: ignore[arg-type]
                  pause_timeout=pause_timeout)


def _other_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_cancelling_a_paused_stream_ends_its_pause_timer() -> None:
    clock = FakeClock()
    stream = _unopened_stream(clock, pause_timeout=5.0)
    stream.pause()
    await _settle()
    assert len(_other_tasks()) == 1 and clock.pending == 1  # the timer sleeps on the clock
    stream.cancel()
    await _settle()
    assert _other_tasks() == [] and stream.state.value == "cancelled"


class _FakeResponse:
    """Stands in for a transport response: records whether it was closed."""

    def __init__(self, *lines: dict[str, object]) -> None:
        self.lines = list(lines)
        self.bytes_received = 0
        self.closed = self.aborted = False

    def __aiter__(self) -> _FakeResponse:
        return self

    async def __anext__(self) -> dict[str, object]:
        if not self.lines:
            raise StopAsyncIteration
        self.bytes_received += 10
        return self.lines.pop(0)

    async def aclose(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


async def test_a_stream_cancelled_while_connecting_closes_the_response_it_gets() -> None:
    response = _FakeResponse()

    async def open_response() -> _FakeResponse:
        stream.cancel()  # the consumer gives up while the request is on its way
        return response

    stream: Stream[object] = Stream(open_response, lambda line: line,  # type: ignore[arg-type]
                                    clock=FakeClock())
    await stream.start()
    assert response.closed is True and stream.state.value == "cancelled"


async def test_the_read_after_a_cancel_releases_the_response_and_counts_its_bytes() -> None:
    response = _FakeResponse({"n": 1}, {"n": 2})

    async def open_response() -> _FakeResponse:
        return response

    stream: Stream[object] = Stream(open_response, lambda line: line,  # type: ignore[arg-type]
                                    clock=FakeClock())
    assert await stream.__anext__() == {"n": 1}
    assert stream.metrics.bytes == 10
    response.bytes_received = 25  # more arrived before the consumer gave up
    stream.cancel()
    assert response.aborted and not response.closed
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    assert response.closed and stream.metrics.bytes == 25


async def test_a_stream_whose_request_fails_is_failed() -> None:
    async def open_response() -> _FakeResponse:
        raise ConnectError("refused")

    clock = FakeClock(3.0)
    stream: Stream[object] = Stream(open_response, lambda line: line,  # type: ignore[arg-type]
                                    clock=clock)
    with pytest.raises(ConnectError):
        await stream.__anext__()
    assert stream.state.value == "failed" and stream.metrics.ended_at == 3.0
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_the_byte_count_is_final_when_the_stream_completes() -> None:
    response = _FakeResponse({"n": 1})

    async def open_response() -> _FakeResponse:
        return response

    stream: Stream[object] = Stream(open_response, lambda line: line,  # type: ignore[arg-type]
                                    clock=FakeClock())
    await stream.__anext__()
    response.bytes_received = 12  # the rest of the body, after the last line
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    assert stream.state.value == "completed" and stream.metrics.bytes == 12


async def test_a_read_broken_by_cancel_ends_quietly_and_releases_the_response() -> None:
    class CancelledMidRead(_FakeResponse):
        async def __anext__(self) -> dict[str, object]:
            stream.cancel()  # cancel() drops the connection under the pending read
            raise ReadError("connection dropped")

    response = CancelledMidRead()

    async def open_response() -> _FakeResponse:
        return response

    stream: Stream[object] = Stream(open_response, lambda line: line,  # type: ignore[arg-type]
                                    clock=FakeClock())
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    assert stream.state.value == "cancelled" and response.aborted and response.closed


async def _opened(response: _FakeResponse, **kw: float) -> Stream[object]:
    async def open_response() -> _FakeResponse:
        return response

    return Stream(open_response, lambda line: line, clock=FakeClock(),  # type: ignore[arg-type]
                  **kw)


async def test_closing_a_stream_releases_its_response() -> None:
    response = _FakeResponse({"n": 1}, {"n": 2})
    stream = await _opened(response)
    await stream.__anext__()
    await stream.aclose()
    assert response.closed and stream.state.value == "cancelled"


async def test_closing_a_stream_that_completed_while_paused_ends_the_pause_timer() -> None:
    class PausedDuringTheLastRead(_FakeResponse):
        async def __anext__(self) -> dict[str, object]:
            stream.pause()  # the consumer pauses while the final read is pending
            raise StopAsyncIteration

    stream = await _opened(PausedDuringTheLastRead(), pause_timeout=5.0)
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    assert stream.state.value == "completed" and len(_other_tasks()) == 1
    await stream.aclose()
    await _settle()
    assert _other_tasks() == []


# -- NDJSON --------------------------------------------------------------------------


def test_the_default_line_bound_is_8_mib_as_documented() -> None:
    assert DEFAULT_MAX_LINE_LENGTH == 8 * 1024 * 1024
    assert "max_line_length=8 MiB" in (Path(__file__).parents[2] / "README.md").read_text()


@pytest.mark.parametrize("data", [b'{}\n{}\n' + b"x" * 6, b'\n{}\n' + b"x" * 6])
def test_a_too_long_partial_line_is_numbered_after_the_complete_ones(data: bytes) -> None:
    decoder = NDJSONDecoder(5)
    with pytest.raises(LineTooLongError, match=r"^stream line 3 exceeds 5 bytes"):
        list(decoder.feed(data))


def test_text_before_an_object_on_a_line_is_malformed() -> None:
    with pytest.raises(MalformedLineError):
        list(NDJSONDecoder().feed(b'x{"a": 1}\n'))


def test_a_line_of_only_unicode_spaces_is_malformed_not_blank() -> None:
    # str.isspace() holds for U+00A0, but JSON allows only ASCII whitespace.
    with pytest.raises(MalformedLineError):
        list(NDJSONDecoder().feed("\u00a0\n".encode()))
    assert list(NDJSONDecoder().feed(b" \t\n{}\n")) == [{}]


def test_a_batch_longer_than_the_bound_skips_blank_lines_and_numbers_each_line() -> None:
    # Longer than max_line_length in total: decoded line by line (the byte path).
    assert list(NDJSONDecoder(10).feed(b'{}\n\n \n{"a": 1}\n')) == [{}, {"a": 1}]
    decoder = NDJSONDecoder(10)
    with pytest.raises(MalformedLineError) as info:
        list(decoder.feed(b'{}\n[1]\n{"a": 1}\n'))
    assert info.value.line_number == 2


def test_the_last_line_without_newline_is_numbered_after_the_others() -> None:
    decoder = NDJSONDecoder()
    assert list(decoder.feed(b'{}\nbad')) == [{}]
    with pytest.raises(MalformedLineError) as info:
        list(decoder.close())
    assert info.value.line_number == 2


# -- aggregation ---------------------------------------------------------------------


def test_non_text_pieces_are_skipped_and_empty_extras_dropped() -> None:
    aggregator = aggregator_for("/api/generate", {"model": "m"})
    assert aggregator is not None
    aggregator.add({"response": 5, "thinking": ""})
    aggregator.add({"response": "a"})
    aggregator.add({"response": "", "done": True, "thinking": "", "logprobs": []})
    result = aggregator.result()
    assert result["response"] == "a" and result["done"] is True
    assert "thinking" not in result and "logprobs" not in result


def test_generate_lines_fold_into_the_body_ollama_would_send() -> None:
    aggregator = aggregator_for("/api/generate", {"model": "m", "stream": True})
    assert aggregator is not None and aggregator.terminal == "done"
    aggregator.add({"response": "He", "thinking": "hm", "logprobs": [{"t": 1}]})
    aggregator.add({"response": "llo", "thinking": "m", "logprobs": [{"t": 2}]})
    aggregator.add({"response": "", "done": True, "done_reason": "stop"})
    assert aggregator.result() == {
        "response": "Hello", "thinking": "hmm", "logprobs": [{"t": 1}, {"t": 2}],
        "done": True, "done_reason": "stop"}


@pytest.mark.parametrize("tools", [[{"type": "function"}], None])
def test_chat_lines_fold_into_the_body_ollama_would_send(tools: object) -> None:
    aggregator = aggregator_for("/api/chat", {"model": "m", "tools": tools})
    assert aggregator is not None
    call = {"function": {"name": "f", "arguments": {}}}
    aggregator.add({"message": {"role": "assistant", "content": "a", "thinking": "t",
                                "tool_calls": [call]}, "logprobs": [1]})
    aggregator.add({"message": "not an object"})
    aggregator.add({"message": {"role": "assistant", "content": "b"}, "logprobs": [2],
                    "done": True})
    expected = {"role": "assistant", "content": "ab", "thinking": "t"}
    if tools:
        expected["tool_calls"] = [call]  # type: ignore[assignment]
    assert aggregator.result() == {"message": expected, "logprobs": [1, 2], "done": True}


def test_only_streamed_generation_and_progress_calls_are_aggregated() -> None:
    assert aggregator_for("/api/chat", {"stream": False}) is None
    assert aggregator_for("/api/chat", ["not", "a", "mapping"]) is None
    assert aggregator_for("/api/embed", {}) is None
    for path in ("/api/pull", "/api/push", "/api/create"):
        progress = aggregator_for(path, {})
        assert progress is not None and progress.terminal == "success"
        progress.add({"status": "pulling"})
        progress.add({"status": "success"})
        assert progress.result() == {"status": "success"}


@pytest.mark.parametrize("status, outcome", [(400, "SUCCESS"), (499, "SUCCESS"),
                                             (500, "FAILURE"), (503, "FAILURE")])
def test_only_a_5xx_answer_counts_against_the_server(status: int, outcome: str) -> None:
    assert classify(ResponseError("x", status)) is Outcome[outcome]


def test_an_image_the_key_does_not_understand_is_keyed_as_it_is() -> None:
    assert image_digest(42) == 42 and image_digest({"x": 1}) == {"x": 1}
    assert image_digest(b"ab") == image_digest("YWI=") != image_digest("not base64!")


def test_the_bucket_refills_at_rate_tokens_per_second() -> None:
    bucket = TokenBucket(rate=2.0, burst=1, now=0.0)
    assert bucket.try_take(0.0) is True
    assert bucket.try_take(0.4) is False
    assert bucket.try_take(0.5) is True


def test_the_breaker_store_repr_counts_its_verdicts() -> None:
    store = MemoryBreakerStore(FakeClock())
    store.trip("k", 5.0)
    assert repr(store) == "MemoryBreakerStore(verdicts=1)"


def test_images_that_are_not_a_list_still_tell_keys_apart() -> None:
    def key(body: object) -> bytes:
        return cache_key("POST", "/api/generate", body)

    assert key({"model": "m", "images": "YQ=="}) != key({"model": "m", "images": "Yg=="})
    # A message that is not an object is keyed as it is, not an error.
    assert key({"messages": ["odd", {"role": "user", "images": [b"a"]}]}) == \
        key({"messages": ["odd", {"role": "user", "images": ["YQ=="]}]})


def test_an_entry_found_expired_by_its_own_deadline_counts_as_an_expiration() -> None:
    # Entries expire out of insertion order after a TTL change: b dies before a.
    cache = LRUCache(max_entries=10, max_bytes=1000)
    cache.put(b"a", _entry(10, 10.0), 0.0)
    cache.put(b"b", _entry(10, 5.0), 0.0)
    assert cache.get(b"b", 6.0) is None
    assert cache.expirations == 1 and len(cache) == 1 and cache.bytes == 10

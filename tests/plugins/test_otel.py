"""The otel plugin against the emulator, read back with the SDK's in-memory span exporter
and metric reader (the providers are handed to the plugin; the globals are never set)."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from ollama_core import (  # noqa: E402
    BUILTIN_PLUGINS,
    FakeClock,
    OllamaClient,
    PluginConfigError,
    ServiceUnavailableError,
    StreamErrorLine,
    SyncOllamaClient,
)
from ollama_core.emulator import EmulatorThread, OllamaEmulator  # noqa: E402
from ollama_core.ext import Handler, Request, Response, hookimpl  # noqa: E402
from ollama_plugins.otel import (  # noqa: E402
    CAPTURE_ENV,
    DURATION_BUCKETS,
    SCHEMA_URL,
    SEMCONV_VERSION,
    TOKEN_BUCKETS,
    OtelPlugin,
)

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "secret recipe"}]}


@dataclass
class Telemetry:
    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)

    def __post_init__(self) -> None:
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def plugin(self, **config: Any) -> OtelPlugin:
        return OtelPlugin(config, tracer_provider=self.tracer_provider,
                          meter_provider=self.meter_provider)

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name == name]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found = []
        for rm in data.resource_metrics if data is not None else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    t = Telemetry()
    yield t
    t.shutdown()


class Ticker:
    """A test plugin moving a fake clock: ``before`` seconds inside each attempt, and
    ``per_chunk`` seconds as each streamed line reaches the consumer."""

    name = "ticker"

    def __init__(self, clock: FakeClock, before: float = 0.0, per_chunk: float = 0.0) -> None:
        self.clock, self.before, self.per_chunk = clock, before, per_chunk
        ticker = self

        class Mw:
            name = "ticker"
            order = 600

            async def __call__(self, request: Request, call_next: Handler) -> Response:
                ticker.clock.advance(ticker.before)
                response = await call_next(request)
                if response.is_stream and ticker.per_chunk:
                    response.tap(lambda line: ticker.clock.advance(ticker.per_chunk))
                return response

        self.middleware = Mw()

    @hookimpl
    def ollama_middlewares(self) -> list[Any]:
        return [self.middleware]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


# -- the pinned conventions ----------------------------------------------------------------


def test_the_conventions_version_and_buckets_are_pinned() -> None:
    assert SEMCONV_VERSION == "1.41.0"
    assert SCHEMA_URL == "https://opentelemetry.io/schemas/1.41.0"
    assert list(TOKEN_BUCKETS) == [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144,
                                   1048576, 4194304, 16777216, 67108864]
    assert list(DURATION_BUCKETS) == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56,
                                      5.12, 10.24, 20.48, 40.96, 81.92]


# -- the call span and its attempts ---------------------------------------------------------


async def test_a_retried_503_is_one_call_span_with_two_attempt_spans_and_a_retry_event(
        emulator: OllamaEmulator, otel: Telemetry) -> None:
    emulator.faults.script("/api/chat", [503, 200])
    clock = FakeClock(autoadvance=True)
    async with OllamaClient(emulator.url, clock=clock,
                            plugins=[otel.plugin(), "retry"]) as client:
        reply = await client.chat(CHAT)
    [call] = otel.named("chat llama3.2")
    attempts = otel.named("POST /api/chat")
    assert call.kind is SpanKind.CLIENT and len(attempts) == 2
    assert all(a.parent is not None and a.parent.span_id == call.context.span_id
               and a.context.trace_id == call.context.trace_id for a in attempts)
    first, second = sorted(attempts, key=lambda s: attrs(s)["ollama.attempt"])
    assert attrs(first)["ollama.attempt"] == 1 and attrs(second)["ollama.attempt"] == 2
    assert attrs(first)["http.response.status_code"] == 503
    assert attrs(first)["error.type"] == "ServiceUnavailableError"
    assert attrs(first)["ollama.outcome"] == "error"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in attrs(first)
    assert attrs(second)["http.request.resend_count"] == 1
    assert attrs(second)["http.response.status_code"] == 200
    assert attrs(second)["ollama.outcome"] == "ok"
    [retry] = [e for e in call.events if e.name == "retry"]
    assert retry.attributes is not None
    assert retry.attributes["attempt"] == 1 and retry.attributes["endpoint"] == "chat"
    assert str(retry.attributes["cause"]).startswith("ServiceUnavailableError")
    assert retry.attributes["ollama.event.source"] == "retry"
    a = attrs(call)
    assert a["gen_ai.provider.name"] == "ollama" and a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "llama3.2" and a["gen_ai.request.stream"] is False
    assert a["gen_ai.response.model"] == reply.model
    assert a["gen_ai.response.finish_reasons"] == (reply.done_reason,)
    assert a["gen_ai.usage.input_tokens"] == reply.prompt_eval_count
    assert a["gen_ai.usage.output_tokens"] == reply.eval_count
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == emulator.port
    assert a["ollama.eval_duration"] == pytest.approx(reply.eval_duration * 1e-9)
    assert a["ollama.eval_rate"] == pytest.approx(
        reply.eval_count / (reply.eval_duration * 1e-9))
    assert a["ollama.load_duration"] == pytest.approx(reply.load_duration * 1e-9)
    assert "error.type" not in a and call.status.status_code is StatusCode.UNSET
    # Two requests on the wire, by outcome.
    counted = {p.attributes["ollama.outcome"]: p.value for p in otel.points("ollama_core.attempts")}
    assert counted == {"error": 1, "ok": 1}
    assert [p.value for p in otel.points("ollama_core.retries")] == [1]


async def test_a_call_that_fails_records_error_type_on_span_and_duration(
        emulator: OllamaEmulator, otel: Telemetry) -> None:
    emulator.faults.add(path="/api/chat", status=503, times=None)
    async with OllamaClient(emulator.url, clock=FakeClock(),
                            plugins=[otel.plugin()]) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.chat(CHAT)
    [call] = otel.named("chat llama3.2")
    assert attrs(call)["error.type"] == "ServiceUnavailableError"
    assert call.status.status_code is StatusCode.ERROR
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "ServiceUnavailableError"
    assert otel.points("gen_ai.client.token.usage") == []


async def test_a_failover_names_the_server_that_answered(otel: Telemetry) -> None:
    async with OllamaEmulator() as a, OllamaEmulator() as b:
        a.faults.add(path="/api/chat", status=503, times=1)
        async with OllamaClient(a.url, clock=FakeClock(), plugins=[otel.plugin(), "failover"],
                                plugin_config={"failover": {"endpoints": [a.url, b.url]}},
                                ) as client:
            await client.chat(CHAT)
    [call] = otel.named("chat llama3.2")
    assert attrs(call)["server.port"] == b.port
    first, second = sorted(otel.named("POST /api/chat"), key=lambda s: attrs(s)["ollama.attempt"])
    assert attrs(first)["server.port"] == a.port and attrs(first)["ollama.upstream"] == a.url
    assert attrs(second)["server.port"] == b.port and attrs(second)["ollama.upstream"] == b.url
    [move] = [e for e in call.events if e.name == "failover"]
    assert move.attributes is not None
    assert move.attributes["from"] == a.url and move.attributes["to"] == b.url
    [point] = otel.points("ollama_core.failovers")
    assert point.value == 1


async def test_breaker_state_and_limiter_wait_are_on_the_attempt_span(
        emulator: OllamaEmulator, otel: Telemetry) -> None:
    clock = FakeClock(autoadvance=True)
    config = {"rate_limiting": {"rate": 1, "burst": 1}}
    async with OllamaClient(emulator.url, clock=clock, plugin_config=config,
                            plugins=[otel.plugin(), "circuit_breaker", "rate_limiting"],
                            ) as client:
        await client.chat(CHAT)
        await client.chat(CHAT)  # the bucket is empty: this one waits a second
    first, second = otel.named("POST /api/chat")
    assert attrs(first)["ollama.circuit_breaker.state"] == "closed"
    assert "ollama.rate_limiter.wait" not in attrs(first)
    assert attrs(second)["ollama.rate_limiter.wait"] == pytest.approx(1.0)
    _, call = otel.named("chat llama3.2")
    [waited] = [e for e in call.events if e.name == "rate_limited"]
    assert waited.attributes is not None and waited.attributes["rejected"] is False
    [point] = otel.points("ollama_core.rate_limiter.wait")
    assert point.count == 1 and point.sum == pytest.approx(1.0)


async def test_breaker_transitions_decided_when_a_stream_ends_are_on_its_call_span(
        emulator: OllamaEmulator, otel: Telemetry) -> None:
    clock = FakeClock()
    config = {"circuit_breaker": {"fail_max": 1, "reset_timeout": 10}}
    emulator.faults.add(path="/api/chat", status=500, times=1)
    async with OllamaClient(emulator.url, clock=clock, plugin_config=config,
                            plugins=[otel.plugin(), "circuit_breaker"]) as client:
        with pytest.raises(Exception):
            await client.chat(CHAT)  # opens the breaker
        clock.advance(10)
        # The half-open probe is a stream; the breaker closes when it ends, after the chain.
        chunks = [c async for c in client.chat_stream(CHAT)]
        emulator.faults.add(path="/api/chat", error_after=2)
        with pytest.raises(StreamErrorLine):
            async for _ in client.chat_stream(CHAT):
                pass  # breaks after its first chunk: the breaker opens as it ends
        await client.list_models()  # untraced: no call span to put an event on
    assert chunks[-1].done is True
    failed, probe, broken = otel.named("chat llama3.2")

    def transitions(span: ReadableSpan) -> list[tuple[Any, Any]]:
        return [(e.attributes["old"], e.attributes["new"]) for e in span.events
                if e.name == "circuit_state" and e.attributes is not None]

    assert transitions(failed) == [("closed", "open")]
    assert transitions(probe) == [("open", "half_open"), ("half_open", "closed")]
    assert transitions(broken) == [("closed", "open")]
    assert attrs(broken)["ollama.outcome"] == "error"
    [point] = [p for p in otel.points("ollama_core.breaker.transitions")
               if p.attributes["ollama.circuit_breaker.state"] == "open"]
    assert point.value == 2
    assert otel.named("GET /api/tags") == []  # nothing traced under an ended call


async def test_other_endpoints_are_not_traced(emulator: OllamaEmulator,
                                              otel: Telemetry) -> None:
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        await client.list_models()
        await client.version()
    assert otel.finished() == []


# -- streams -------------------------------------------------------------------------------


async def test_a_completed_stream_records_first_chunk_and_per_chunk_means_once(
        emulator: OllamaEmulator, otel: Telemetry) -> None:
    clock = FakeClock()
    body = {**CHAT, "options": {"num_predict": 5}}
    async with OllamaClient(emulator.url, clock=clock, plugins=[
            otel.plugin(), Ticker(clock, before=0.25, per_chunk=0.1)]) as client:
        stream = client.chat_stream(body)
        chunks = [c async for c in stream]
    [call] = otel.named("chat llama3.2")
    a = attrs(call)
    assert a["gen_ai.request.stream"] is True and a["ollama.outcome"] == "ok"
    assert a["ollama.stream.chunks"] == len(chunks) and len(chunks) > 2
    assert a["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.25)
    assert a["gen_ai.usage.output_tokens"] == chunks[-1].eval_count
    assert a["gen_ai.response.finish_reasons"] == (chunks[-1].done_reason,)
    [ttfc] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1 and ttfc.sum == pytest.approx(0.25)
    [tpoc] = otel.points("gen_ai.client.operation.time_per_output_chunk")
    n = len(chunks)
    assert tpoc.count == 1  # once per stream, not once per chunk
    assert tpoc.sum == pytest.approx(0.1 * n / (n - 1))
    assert list(tpoc.explicit_bounds) == list(DURATION_BUCKETS)
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.sum == pytest.approx(0.25 + 0.1 * n)


async def test_a_stream_cancelled_midway_ends_its_span_with_the_cancellation(
        emulator: OllamaEmulator, otel: Telemetry) -> None:
    body = {**CHAT, "options": {"num_predict": 50}}
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        stream = client.chat_stream(body)
        seen = 0
        async for _ in stream:
            seen += 1
            if seen == 3:
                assert otel.named("chat llama3.2") == []  # still open mid-stream
                stream.cancel()
        await stream.aclose()
    [call] = otel.named("chat llama3.2")
    a = attrs(call)
    assert a["error.type"] == "StreamCancelledError" and a["ollama.outcome"] == "cancelled"
    assert a["ollama.stream.chunks"] == 3
    assert call.status.status_code is StatusCode.UNSET
    assert [e.name for e in call.events] == ["cancelled"]
    [attempt] = otel.named("POST /api/chat")
    assert attrs(attempt)["ollama.outcome"] == "cancelled"
    assert otel.points("gen_ai.client.operation.time_per_output_chunk") == []
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "StreamCancelledError"


async def test_a_stream_failing_midway_ends_its_span_as_an_error(
        emulator: OllamaEmulator, otel: Telemetry) -> None:
    emulator.faults.add(path="/api/chat", error_after=3)
    body = {**CHAT, "options": {"num_predict": 20}}
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        seen = 0
        with pytest.raises(StreamErrorLine):
            async for _ in client.chat_stream(body):
                seen += 1
    [call] = otel.named("chat llama3.2")
    assert attrs(call)["error.type"] == "StreamErrorLine"
    assert attrs(call)["ollama.outcome"] == "error" and attrs(call)["ollama.stream.chunks"] == seen
    assert call.status.status_code is StatusCode.ERROR
    [attempt] = otel.named("POST /api/chat")
    assert attrs(attempt)["error.type"] == "StreamErrorLine"


async def test_an_abandoned_stream_ends_its_span(emulator: OllamaEmulator,
                                                 otel: Telemetry) -> None:
    body = {**CHAT, "options": {"num_predict": 50}}
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        stream = client.chat_stream(body)
        await stream.__anext__()
        del stream
        gc.collect()
        await client.version()  # a few loop iterations: the abandonment runs
    [call] = otel.named("chat llama3.2")
    assert attrs(call)["ollama.outcome"] == "abandoned"
    assert attrs(call)["error.type"] == "StreamCancelledError"


# -- embeddings, options and metrics --------------------------------------------------------


async def test_an_embed_span_carries_the_dimension_count(emulator: OllamaEmulator,
                                                        otel: Telemetry) -> None:
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        reply = await client.embed({"model": "all-minilm", "input": ["a", "b"]})
        legacy = await client.embeddings({"model": "all-minilm", "prompt": "a"})
    embed, old = otel.named("embeddings all-minilm")
    assert attrs(embed)["gen_ai.operation.name"] == "embeddings"
    assert attrs(embed)["gen_ai.embeddings.dimension.count"] == len(reply.embeddings[0])
    assert attrs(old)["gen_ai.embeddings.dimension.count"] == len(legacy.embedding)
    assert attrs(embed)["gen_ai.usage.input_tokens"] == reply.prompt_eval_count


async def test_options_and_format_become_request_attributes(emulator: OllamaEmulator,
                                                           otel: Telemetry) -> None:
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        await client.generate({"model": "llama3.2", "prompt": "hi", "format": "json",
                               "options": {"num_predict": 7, "temperature": 0.2,
                                           "top_p": 0.9, "top_k": 40, "stop": ["\n"],
                                           "seed": 42}})
    [span] = otel.named("text_completion llama3.2")
    a = attrs(span)
    assert a["gen_ai.operation.name"] == "text_completion"
    assert (a["gen_ai.request.max_tokens"], a["gen_ai.request.temperature"],
            a["gen_ai.request.top_p"], a["gen_ai.request.top_k"],
            a["gen_ai.request.stop_sequences"], a["gen_ai.request.seed"]) == (
        7, 0.2, 0.9, 40, ("\n",), 42)
    assert a["gen_ai.output.type"] == "json"


async def test_token_and_duration_metrics_carry_the_call_attributes(
        emulator: OllamaEmulator, otel: Telemetry) -> None:
    clock = FakeClock()
    async with OllamaClient(emulator.url, clock=clock,
                            plugins=[otel.plugin(), Ticker(clock, before=0.5)]) as client:
        reply = await client.chat(CHAT)
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "ollama",
              "gen_ai.request.model": "llama3.2", "gen_ai.response.model": reply.model,
              "server.address": "127.0.0.1", "server.port": emulator.port}
    tokens = {p.attributes["gen_ai.token.type"]: p for p in
              otel.points("gen_ai.client.token.usage")}
    assert set(tokens) == {"input", "output"}
    assert tokens["input"].sum == reply.prompt_eval_count
    assert tokens["output"].sum == reply.eval_count
    assert dict(tokens["input"].attributes) == {**common, "gen_ai.token.type": "input"}
    assert list(tokens["input"].explicit_bounds) == list(TOKEN_BUCKETS)
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes) == common
    assert duration.count == 1 and duration.sum == pytest.approx(0.5)
    assert list(duration.explicit_bounds) == list(DURATION_BUCKETS)
    # Not a stream: no chunk metrics.
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []


async def test_a_cache_hit_is_a_call_span_without_an_attempt(emulator: OllamaEmulator,
                                                            otel: Telemetry) -> None:
    async with OllamaClient(emulator.url, plugins=[otel.plugin(), "request_caching"]) as client:
        await client.chat(CHAT, extensions={"cache": True})
        await client.chat(CHAT, extensions={"cache": True})
    first, second = otel.named("chat llama3.2")
    assert "ollama.cache.hit" not in attrs(first) and attrs(second)["ollama.cache.hit"] is True
    assert len(otel.named("POST /api/chat")) == 1
    assert [e.name for e in second.events] == ["cache_hit"]
    assert [p.value for p in otel.points("ollama_core.cache.hits")] == [1]


# -- content, propagation, configuration ----------------------------------------------------


async def test_message_content_appears_only_when_asked(
        emulator: OllamaEmulator, otel: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    system = {"role": "system", "content": "be brief"}
    body = {**CHAT, "messages": [system, *CHAT["messages"]]}  # type: ignore[list-item]
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        await client.chat(body)
        monkeypatch.setenv(CAPTURE_ENV, "true")
        reply = await client.chat(body)
        streamed = [c async for c in client.chat_stream(body)]
        monkeypatch.setenv(CAPTURE_ENV, "EVENT_ONLY")
        await client.chat(body)
    off, on, stream_on, event_only = otel.named("chat llama3.2")
    for span in (off, event_only):
        assert not any(k.startswith(("gen_ai.input", "gen_ai.output.messages",
                                     "gen_ai.system")) for k in attrs(span))
        assert "secret recipe" not in json.dumps(attrs(span))
    assert json.loads(attrs(on)["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "secret recipe"}]}]
    assert json.loads(attrs(on)["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "be brief"}]
    assert json.loads(attrs(on)["gen_ai.output.messages"]) == [
        {"role": "assistant", "finish_reason": reply.done_reason,
         "parts": [{"type": "text", "content": reply.message.content}]}]
    text = "".join(c.message.content or "" for c in streamed)
    [out] = json.loads(attrs(stream_on)["gen_ai.output.messages"])
    assert out["parts"] == [{"type": "text", "content": text}]


async def test_a_stream_gets_a_per_chunk_observer_only_when_content_is_captured(
        emulator: OllamaEmulator, otel: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    taps: list[Any] = []
    original = Response.tap

    def tap(self: Response, observer: Any) -> None:
        taps.append(observer)
        original(self, observer)

    monkeypatch.setattr(Response, "tap", tap)
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        chunks = [c async for c in client.chat_stream(CHAT)]
        assert taps == []  # nothing of the plugin runs per chunk
        monkeypatch.setenv(CAPTURE_ENV, "true")
        [c async for c in client.chat_stream(CHAT)]
        assert len(taps) == 1
    off, _ = otel.named("chat llama3.2")
    assert attrs(off)["ollama.stream.chunks"] == len(chunks)
    assert attrs(off)["gen_ai.usage.output_tokens"] == chunks[-1].eval_count


async def test_the_setting_overrides_the_variable(
        emulator: OllamaEmulator, otel: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE_ENV, "true")
    async with OllamaClient(emulator.url, plugins=[otel.plugin(capture_content=False)]) as c:
        await c.chat(CHAT)
    [span] = otel.named("chat llama3.2")
    assert "gen_ai.input.messages" not in attrs(span)


def test_a_span_opened_in_sync_code_is_the_parent_of_the_call_span(otel: Telemetry) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[otel.plugin()]) as client:
        with tracer.start_as_current_span("handle request") as outer:
            client.chat(CHAT)
            chunks = list(client.chat_stream(CHAT))
        client.chat(CHAT)  # outside: a root span
    assert chunks[-1].done is True
    first, streamed, alone = otel.named("chat llama3.2")
    parent = outer.get_span_context()
    for call in (first, streamed):
        assert call.parent is not None and call.parent.span_id == parent.span_id
        assert call.context.trace_id == parent.trace_id
    assert alone.parent is None
    for attempt in otel.named("POST /api/chat"):
        assert attempt.parent is not None
        assert attempt.parent.span_id in {c.context.span_id for c in (first, streamed, alone)}


async def test_traceparent_is_injected_only_when_asked(emulator: OllamaEmulator,
                                                      otel: Telemetry) -> None:
    async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
        await client.chat(CHAT)
    async with OllamaClient(emulator.url, plugins=[otel.plugin(propagate=True)]) as client:
        await client.chat(CHAT)
    plain, propagated = [r for r in emulator.requests if r.path == "/api/chat"]
    assert not any(k.lower() == "traceparent" for k in plain.headers)
    _, attempt = otel.named("POST /api/chat")
    ctx = attempt.context
    [value] = [v for k, v in propagated.headers.items() if k.lower() == "traceparent"]
    version, trace_id, span_id, flags = value.split("-")
    assert (version, trace_id, span_id) == ("00", f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    assert int(flags, 16) & 1 == 1  # sampled


async def test_enabled_by_name_with_providers_in_its_config(emulator: OllamaEmulator,
                                                           otel: Telemetry) -> None:
    config = {"otel": {"tracer_provider": otel.tracer_provider,
                       "meter_provider": otel.meter_provider}}
    async with OllamaClient(emulator.url, plugins=["otel"], plugin_config=config) as client:
        plugin = client.plugin(OtelPlugin)
        assert plugin.config == {"propagate": False, "capture_content": None,
                                 "tracer_provider": "TracerProvider",
                                 "meter_provider": "MeterProvider"}
        await client.chat(CHAT)
    assert len(otel.named("chat llama3.2")) == 1
    assert "otel" not in BUILTIN_PLUGINS
    assert "otel" not in OllamaClient("http://127.0.0.1:9", plugins="full").plugins


async def test_without_providers_it_uses_the_global_ones(emulator: OllamaEmulator,
                                                        otel: Telemetry) -> None:
    from opentelemetry import metrics, trace

    plugin = OtelPlugin()
    assert plugin.settings.tracer_provider is None and plugin.settings.meter_provider is None
    async with OllamaClient(emulator.url, plugins=[plugin]) as client:
        reply = await client.chat(CHAT)  # the globals are left unset here: no-op spans
    assert reply.done is True and otel.finished() == []
    assert trace.get_tracer_provider() is not otel.tracer_provider
    assert metrics.get_meter_provider() is not otel.meter_provider


async def test_reconfiguring_the_providers_moves_later_calls(emulator: OllamaEmulator,
                                                            otel: Telemetry) -> None:
    other = Telemetry()
    try:
        async with OllamaClient(emulator.url, plugins=[otel.plugin()]) as client:
            await client.chat(CHAT)
            client.plugin(OtelPlugin).reconfigure(
                {"tracer_provider": other.tracer_provider,
                 "meter_provider": other.meter_provider})
            await client.chat(CHAT)
        assert len(otel.named("chat llama3.2")) == 1
        assert len(other.named("chat llama3.2")) == 1
    finally:
        other.shutdown()


@pytest.mark.parametrize("config, message", [
    ({"propagate": "yes"}, "^plugin 'otel': propagate: "),
    ({"tracer_provider": 3}, "^plugin 'otel': tracer_provider: must be an OpenTelemetry"),
    ({"meter_provider": "x"}, "^plugin 'otel': meter_provider: must be an OpenTelemetry"),
    ({"propagat": True}, "^plugin 'otel': unknown key 'propagat'"),
])
def test_invalid_configuration_is_rejected_naming_the_key(config: dict[str, Any],
                                                          message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        OtelPlugin(config)


def test_events_outside_a_call_only_count(otel: Telemetry) -> None:
    from ollama_core.ext import UpstreamHealthChanged

    plugin = otel.plugin()
    plugin.ollama_event(UpstreamHealthChanged(time=0.0, upstream="http://a:1", healthy=False,
                                              latency=None, error="ConnectError: refused"))
    [point] = otel.points("ollama_core.upstream.healthy")
    assert point.value == 0 and dict(point.attributes) == {"ollama.upstream": "http://a:1"}
    assert otel.finished() == []



def test_without_the_api_installed_the_error_names_the_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from ollama_core import PluginError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None
                        if name.startswith("opentelemetry") else real(name, *a))
    with pytest.raises(PluginError, match=r"ollama-core\[otel\]"):
        OtelPlugin()


async def test_a_failing_recorder_never_breaks_the_call_nor_the_policies_after_it(
        emulator: OllamaEmulator, otel: Telemetry, caplog: pytest.LogCaptureFixture) -> None:
    plugin = otel.plugin()
    telemetry = plugin.telemetry
    assert telemetry is not None

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("exporter bug")

    telemetry.duration.record = broken  # type: ignore[method-assign]
    telemetry.attempts.add = broken  # type: ignore[method-assign]
    config = {"rate_limiting": {"max_concurrent": 1, "max_wait": 0}}
    async with OllamaClient(emulator.url, plugins=[plugin, "rate_limiting"],
                            plugin_config=config) as client:
        for _ in range(2):  # the second is refused unless the first released its slot
            chunks = [c async for c in client.chat_stream(CHAT)]
            assert chunks[-1].done is True
        assert (await client.chat(CHAT)).done is True
    assert "otel plugin: recording the end of an attempt failed" in caplog.text
    assert "otel plugin: recording an attempt failed" in caplog.text

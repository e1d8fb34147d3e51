"""The OpenTelemetry side of the otel plugin: instruments, spans and the two middlewares.

Imported only once ``opentelemetry-api`` is known to be installed (see ``_plugin``).
"""

from __future__ import annotations

import contextvars
import json
import logging
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ollama_core import StreamCancelledError
from ollama_core.ext import (
    ORDER_ATTEMPT_OBSERVER,
    ORDER_CALL_OBSERVER,
    CacheHit,
    CacheMiss,
    CircuitStateChanged,
    Event,
    FailedOver,
    Handler,
    RateLimited,
    Request,
    Response,
    RetryScheduled,
    Upstream,
    UpstreamHealthChanged,
)

from . import _semconv as sc

if TYPE_CHECKING:
    from ._plugin import OtelPlugin

__all__ = ["AttemptObserver", "CallObserver", "CallState", "Telemetry", "current_call"]

_NS = 1e-9
_W3C = TraceContextTextMapPropagator()
_log = logging.getLogger("ollama_core.otel")


def _guarded(what: str, fn: Callable[..., None], *args: Any) -> None:
    """Run a recording step; a failure in it is logged, never raised into the call (an
    ``on_done`` callback that raised would keep the limiter's and breaker's from running)."""
    try:
        fn(*args)
    except Exception:
        _log.exception("otel plugin: recording %s failed", what)


@dataclass(slots=True, eq=False)
class CallState:
    """What the plugin knows about one traced call while it runs."""

    span: Span
    operation: str
    model: str | None
    stream: bool
    started: float
    attributes: dict[str, Any]            # the metric attributes known at the start
    capture: bool
    attempts: int = 0
    upstream: Upstream | None = None      # the server of the last attempt
    limiter_wait: float | None = None     # waited in the limiter before the next attempt
    first_chunk_at: float | None = None
    chunks: int = 0                       # lines a stream delivered, known when it ends
    content: list[str] = field(default_factory=list)  # streamed text, when captured
    ended: bool = False
    # While a stream's on_done callbacks run: the token of ``_CURRENT`` set to this call.
    ending: contextvars.Token[CallState | None] | None = None

    def tap_content(self, line: dict[str, Any]) -> None:
        message = line.get("message")
        text = message.get("content") if isinstance(message, dict) else line.get("response")
        if isinstance(text, str) and text:
            self.content.append(text)


#: The traced call running in this task: set by the call observer around ``call_next``,
#: and while a stream's ``on_done`` callbacks run (see ``ending_starts``).
_CURRENT: contextvars.ContextVar[CallState | None] = contextvars.ContextVar(
    "ollama_core_otel_call", default=None)


def ending_starts(state: CallState) -> None:
    """A traced stream is ending: the attempt observer's ``on_done`` callback runs first
    (the innermost middleware registers first). Until the call observer's own callback,
    which runs last and ends the span, the callbacks in between (rate limiter, breaker,
    failover, cache) run synchronously in this same context; the events they emit (a
    breaker closing or opening on the stream's outcome) belong to this call."""
    if not state.ended and state.ending is None:
        state.ending = _CURRENT.set(state)


def ending_done(state: CallState) -> None:
    token, state.ending = state.ending, None
    if token is not None:
        try:
            _CURRENT.reset(token)
        except ValueError:  # not the context it was set in: nothing of ours to undo there
            pass


def current_call() -> CallState | None:
    """The traced call in progress in this task, if any."""
    return _CURRENT.get()


class Telemetry:
    """The tracer, the meter's instruments and the recording logic of one plugin."""

    def __init__(self, plugin: OtelPlugin, tracer_provider: Any, meter_provider: Any) -> None:
        from ollama_core import __version__

        from ._plugin import INSTRUMENTATION_NAME

        self.plugin = plugin
        tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        mp = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        self.tracer = tp.get_tracer(INSTRUMENTATION_NAME, __version__, schema_url=sc.SCHEMA_URL)
        meter = mp.get_meter(INSTRUMENTATION_NAME, __version__, schema_url=sc.SCHEMA_URL)
        durations = list(sc.DURATION_BUCKETS)
        self.token_usage = meter.create_histogram(
            sc.TOKEN_USAGE, unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(sc.TOKEN_BUCKETS))
        self.duration = meter.create_histogram(
            sc.OPERATION_DURATION, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=durations)
        self.ttfc = meter.create_histogram(
            sc.TIME_TO_FIRST_CHUNK, unit="s",
            description="Time to receive the first chunk of a streamed answer.",
            explicit_bucket_boundaries_advisory=durations)
        self.tpoc = meter.create_histogram(
            sc.TIME_PER_OUTPUT_CHUNK, unit="s",
            description="Mean time between the chunks after the first, once per stream.",
            explicit_bucket_boundaries_advisory=durations)
        self.attempts = meter.create_counter(
            "ollama_core.attempts", unit="{attempt}",
            description="Requests sent on the wire (each retry and failover move counts).")
        self.retries = meter.create_counter(
            "ollama_core.retries", unit="{retry}", description="Retries scheduled.")
        self.failovers = meter.create_counter(
            "ollama_core.failovers", unit="{move}", description="Failover moves.")
        self.transitions = meter.create_counter(
            "ollama_core.breaker.transitions", unit="{transition}",
            description="Circuit breaker state changes.")
        self.limiter_wait = meter.create_histogram(
            "ollama_core.rate_limiter.wait", unit="s",
            description="Time a call waited in the client-side rate limiter.",
            explicit_bucket_boundaries_advisory=durations)
        self.limiter_rejections = meter.create_counter(
            "ollama_core.rate_limiter.rejections", unit="{call}",
            description="Calls the client-side rate limiter refused.")
        self.cache_hits = meter.create_counter(
            "ollama_core.cache.hits", unit="{call}", description="Calls answered by the cache.")
        self.cache_misses = meter.create_counter(
            "ollama_core.cache.misses", unit="{call}",
            description="Cacheable calls the cache could not answer.")
        self.upstream_healthy = meter.create_gauge(
            "ollama_core.upstream.healthy", unit="1",
            description="The last health-check verdict of each upstream (1 healthy, 0 not).")

    # -- calls ----------------------------------------------------------------------------

    def start_call(self, request: Request, operation: str) -> CallState:
        body = request.json if isinstance(request.json, Mapping) else {}
        model = body.get("model") if isinstance(body.get("model"), str) else None
        attrs: dict[str, Any] = {sc.OPERATION_NAME: operation, sc.PROVIDER_NAME: sc.PROVIDER}
        if model is not None:
            attrs[sc.REQUEST_MODEL] = model
        metric_attrs = dict(attrs)
        attrs[sc.REQUEST_STREAM] = request.stream
        _request_attributes(body, attrs)
        capture = self.plugin.capture_content
        if capture:
            _input_content(request.endpoint, body, attrs)
        name = f"{operation} {model}" if model is not None else operation
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
        return CallState(span, operation, model, request.stream, self.plugin.clock.now(),
                         metric_attrs, capture)

    def answered(self, state: CallState, response: Response) -> None:
        """The chain returned ``response``: end now (a body) or when the stream ends."""
        if response.from_cache:
            state.span.set_attribute("ollama.cache.hit", True)
        if not response.is_stream:
            self.end_call(state, response.body if isinstance(response.body, dict) else None,
                          None)
            return
        state.first_chunk_at = self.plugin.clock.now()
        if state.capture:  # the one per-chunk observer, and only when content is captured
            response.tap(state.tap_content)
        response.on_done(lambda error: _guarded("the end of a stream", self._end_stream,
                                                 state, response, error))

    def _end_stream(self, state: CallState, response: Response,
                    error: BaseException | None) -> None:
        # The response stores its last line and line count once, before its on_done
        # callbacks run: nothing of this plugin runs per chunk.
        try:
            state.chunks = response.lines_delivered
            self.end_call(state, response.last_line, error)
        finally:
            ending_done(state)

    def end_call(self, state: CallState, body: dict[str, Any] | None,
                 error: BaseException | None) -> None:
        if state.ended:
            return
        state.ended = True
        now = self.plugin.clock.now()
        span = state.span
        metric_attrs = state.attributes
        upstream = state.upstream
        if upstream is not None:
            server = _server(upstream)
            span.set_attributes(server)
            metric_attrs.update(server)
        if body is not None:
            response_attrs = _response_attributes(body)
            if state.operation == "embeddings":
                dimensions = _dimensions(body)
                if dimensions is not None:
                    response_attrs[sc.EMBEDDINGS_DIMENSION_COUNT] = dimensions
            if state.capture:
                _output_content(state, body, response_attrs)
            span.set_attributes(response_attrs)
            model = response_attrs.get(sc.RESPONSE_MODEL)
            if model is not None:
                metric_attrs[sc.RESPONSE_MODEL] = model
            self._record_tokens(response_attrs, metric_attrs)
        if state.first_chunk_at is not None:
            ttfc = state.first_chunk_at - state.started
            span.set_attribute(sc.RESPONSE_TIME_TO_FIRST_CHUNK, ttfc)
            span.set_attribute("ollama.stream.chunks", state.chunks)
            self.ttfc.record(ttfc, metric_attrs)
            if state.chunks > 1 and error is None:
                self.tpoc.record((now - state.first_chunk_at) / (state.chunks - 1), metric_attrs)
        if error is not None:
            kind = type(error).__name__
            span.set_attribute(sc.ERROR_TYPE, kind)
            metric_attrs[sc.ERROR_TYPE] = kind
            if isinstance(error, StreamCancelledError):
                # Ended by the caller (closed, cancelled, or dropped without closing), not
                # a failure of the call: the status stays unset, the cause is recorded.
                outcome = "abandoned" if "abandoned" in str(error) else "cancelled"
                span.set_attribute("ollama.outcome", outcome)
                span.add_event("cancelled", {"reason": str(error)})
            else:
                span.set_attribute("ollama.outcome", "error")
                span.set_status(Status(StatusCode.ERROR, _describe(error)))
        else:
            span.set_attribute("ollama.outcome", "ok")
        self.duration.record(now - state.started, metric_attrs)
        span.end()

    def _record_tokens(self, response_attrs: Mapping[str, Any],
                       metric_attrs: Mapping[str, Any]) -> None:
        for key, kind in ((sc.USAGE_INPUT_TOKENS, "input"), (sc.USAGE_OUTPUT_TOKENS, "output")):
            count = response_attrs.get(key)
            if isinstance(count, int):
                self.token_usage.record(count, {**metric_attrs, sc.TOKEN_TYPE: kind})

    # -- attempts -------------------------------------------------------------------------

    def start_attempt(self, state: CallState, request: Request) -> tuple[Span, Upstream]:
        state.attempts += 1
        upstream = request.upstream if request.upstream is not None else \
            self.plugin.client.upstreams.primary
        state.upstream = upstream
        attrs: dict[str, Any] = {
            sc.HTTP_METHOD: request.method,
            **_server(upstream),
            "ollama.upstream": upstream.display,
            "ollama.attempt": state.attempts,
            sc.OPERATION_NAME: state.operation,
        }
        if state.attempts > 1:
            attrs[sc.HTTP_RESEND_COUNT] = state.attempts - 1
        breaker = self.plugin.breaker_state(request.endpoint, upstream)
        if breaker is not None:
            attrs["ollama.circuit_breaker.state"] = breaker
        if state.limiter_wait is not None:
            attrs["ollama.rate_limiter.wait"] = state.limiter_wait
            state.limiter_wait = None
        span = self.tracer.start_span(f"{request.method} {request.path}", kind=SpanKind.CLIENT,
                                      attributes=attrs,
                                      context=trace.set_span_in_context(state.span))
        return span, upstream

    def end_attempt(self, span: Span, state: CallState, upstream: Upstream,
                    status: int | None, error: BaseException | None) -> None:
        if status is not None:
            span.set_attribute(sc.HTTP_STATUS, status)
        attrs = {sc.OPERATION_NAME: state.operation, **_server(upstream)}
        if error is None:
            outcome = "ok"
        elif isinstance(error, StreamCancelledError):
            outcome = "cancelled"
            span.set_attribute(sc.ERROR_TYPE, type(error).__name__)
        else:
            outcome = "error"
            kind = type(error).__name__
            span.set_attribute(sc.ERROR_TYPE, kind)
            span.set_status(Status(StatusCode.ERROR, _describe(error)))
            attrs[sc.ERROR_TYPE] = kind
        span.set_attribute("ollama.outcome", outcome)
        attrs["ollama.outcome"] = outcome
        self.attempts.add(1, attrs)
        span.end()

    # -- events ---------------------------------------------------------------------------

    def event(self, event: Event) -> None:
        """A reliability event: a counter, and a span event on the call in progress."""
        if isinstance(event, RetryScheduled):
            self.retries.add(1, {"ollama.endpoint": event.endpoint})
        elif isinstance(event, FailedOver):
            self.failovers.add(1, {"ollama.endpoint": event.endpoint})
        elif isinstance(event, CircuitStateChanged):
            self.transitions.add(1, {"ollama.endpoint": event.endpoint,
                                     "ollama.upstream": event.upstream,
                                     "ollama.circuit_breaker.state": event.new})
        elif isinstance(event, RateLimited):
            if event.rejected:
                self.limiter_rejections.add(1, {"ollama.endpoint": event.endpoint})
            else:
                self.limiter_wait.record(event.waited, {"ollama.endpoint": event.endpoint})
        elif isinstance(event, CacheHit):
            self.cache_hits.add(1, {"ollama.endpoint": event.endpoint})
        elif isinstance(event, CacheMiss):
            self.cache_misses.add(1, {"ollama.endpoint": event.endpoint})
        elif isinstance(event, UpstreamHealthChanged):
            if event.healthy is not None:
                self.upstream_healthy.set(1 if event.healthy else 0,
                                          {"ollama.upstream": event.upstream})
        state = _CURRENT.get()
        if state is None or state.ended:
            return
        if isinstance(event, RateLimited) and not event.rejected:
            state.limiter_wait = event.waited
        attributes = {key: _attribute(value) for key, value in event.data.items()
                      if value is not None}
        state.span.add_event(event.name, {"ollama.event.source": event.source, **attributes})


class CallObserver:
    """At ``ORDER_CALL_OBSERVER``: one CLIENT span per generation/embedding call."""

    name = "otel_call"
    order = ORDER_CALL_OBSERVER

    def __init__(self, plugin: OtelPlugin) -> None:
        self.plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        operation = sc.OPERATIONS.get(request.endpoint)
        telemetry = self.plugin.telemetry
        if operation is None or telemetry is None:
            return await call_next(request)
        state = telemetry.start_call(request, operation)
        token = _CURRENT.set(state)
        context_token = otel_context.attach(trace.set_span_in_context(state.span))
        try:
            response = await call_next(request)
        except BaseException as exc:
            _guarded("a failed call", telemetry.end_call, state, None, exc)
            raise
        finally:
            otel_context.detach(context_token)
            _CURRENT.reset(token)
        _guarded("an answer", telemetry.answered, state, response)
        return response


class AttemptObserver:
    """At ``ORDER_ATTEMPT_OBSERVER``: one child span per request on the wire."""

    name = "otel_attempt"
    order = ORDER_ATTEMPT_OBSERVER

    def __init__(self, plugin: OtelPlugin) -> None:
        self.plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        state = _CURRENT.get()
        telemetry = self.plugin.telemetry
        if state is None or state.ended or telemetry is None:
            return await call_next(request)
        span, upstream = telemetry.start_attempt(state, request)
        if self.plugin.settings.propagate:
            headers = dict(request.headers)
            _W3C.inject(headers, context=trace.set_span_in_context(span))
            request = request.copy(headers=headers)
        try:
            response = await call_next(request)
        except BaseException as exc:
            _guarded("a failed attempt", telemetry.end_attempt, span, state, upstream,
                     getattr(exc, "status_code", None), exc)
            raise
        if response.is_stream:
            def done(error: BaseException | None) -> None:
                _guarded("the end of an attempt", telemetry.end_attempt, span, state,
                         upstream, response.status, error)
                ending_starts(state)

            response.on_done(done)
        else:
            _guarded("an attempt", telemetry.end_attempt, span, state, upstream,
                     response.status, None)
        return response


# -- attribute helpers ----------------------------------------------------------------------


def _server(upstream: Upstream) -> dict[str, Any]:
    url = upstream.url
    out: dict[str, Any] = {}
    if url.host is not None:
        out[sc.SERVER_ADDRESS] = url.host
    if url.port is not None:
        out[sc.SERVER_PORT] = url.port
    return out


def _request_attributes(body: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    options = body.get("options")
    if isinstance(options, Mapping):
        for option, key in sc.OPTION_ATTRIBUTES.items():
            value = options.get(option)
            if value is None or isinstance(value, bool):
                continue
            if option == "stop":
                if isinstance(value, str):
                    value = [value]
                if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
                    attrs[key] = list(value)
            elif isinstance(value, (int, float)):
                attrs[key] = value
    fmt = body.get("format")
    if fmt:
        attrs[sc.OUTPUT_TYPE] = "json"


def _response_attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    model = body.get("model")
    if isinstance(model, str):
        out[sc.RESPONSE_MODEL] = model
    reason = body.get("done_reason")
    if isinstance(reason, str):
        out[sc.RESPONSE_FINISH_REASONS] = [reason]
    for field_name, key in (("prompt_eval_count", sc.USAGE_INPUT_TOKENS),
                            ("eval_count", sc.USAGE_OUTPUT_TOKENS)):
        value = body.get(field_name)
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = value
    # Ollama's own timings (nanoseconds on the wire), in seconds.
    for field_name in ("total_duration", "load_duration", "prompt_eval_duration",
                       "eval_duration"):
        value = body.get(field_name)
        if isinstance(value, int) and not isinstance(value, bool):
            out[f"ollama.{field_name}"] = value * _NS
    for count, took, key in (("prompt_eval_count", "prompt_eval_duration",
                              "ollama.prompt_eval_rate"),
                             ("eval_count", "eval_duration", "ollama.eval_rate")):
        n, ns = body.get(count), body.get(took)
        if isinstance(n, int) and isinstance(ns, int) and ns > 0:
            out[key] = n / (ns * _NS)
    return out


def _dimensions(body: Mapping[str, Any]) -> int | None:
    vectors = body.get("embeddings")
    if isinstance(vectors, list) and vectors and isinstance(vectors[0], (list, array)):
        return len(vectors[0])  # a row is an array('d') with embed(..., arrays=True)
    vector = body.get("embedding")  # the legacy /api/embeddings
    if isinstance(vector, list):
        return len(vector)
    return None


def _text_parts(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "content": content}] if isinstance(content, str) and content else []


def _input_content(endpoint: str, body: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    """``gen_ai.input.messages`` and ``gen_ai.system_instructions`` (JSON, text parts only;
    images are left out)."""
    messages: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    if endpoint == "chat":
        for message in body.get("messages") or ():
            if not isinstance(message, Mapping):
                continue
            role = str(message.get("role", "user"))
            parts = _text_parts(message.get("content"))
            for call in message.get("tool_calls") or ():
                function = call.get("function", {}) if isinstance(call, Mapping) else {}
                parts.append({"type": "tool_call", "name": function.get("name"),
                              "arguments": function.get("arguments")})
            if role == "system":
                system.extend(parts)
            else:
                messages.append({"role": role, "parts": parts})
    elif endpoint == "generate":
        system.extend(_text_parts(body.get("system")))
        messages.append({"role": "user", "parts": _text_parts(body.get("prompt"))})
    if messages:
        attrs[sc.INPUT_MESSAGES] = json.dumps(messages, ensure_ascii=False)
    if system:
        attrs[sc.SYSTEM_INSTRUCTIONS] = json.dumps(system, ensure_ascii=False)


def _output_content(state: CallState, body: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    if state.operation == "embeddings":
        return
    if state.content:
        text: Any = "".join(state.content)
    else:
        message = body.get("message")
        text = message.get("content") if isinstance(message, Mapping) else body.get("response")
    parts = _text_parts(text)
    message = body.get("message")
    if isinstance(message, Mapping):
        for call in message.get("tool_calls") or ():
            function = call.get("function", {}) if isinstance(call, Mapping) else {}
            parts.append({"type": "tool_call", "name": function.get("name"),
                          "arguments": function.get("arguments")})
    output: dict[str, Any] = {"role": "assistant", "parts": parts}
    reason = body.get("done_reason")
    if isinstance(reason, str):
        output["finish_reason"] = reason
    attrs[sc.OUTPUT_MESSAGES] = json.dumps([output], ensure_ascii=False)


def _attribute(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

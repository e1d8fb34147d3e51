"""otel plugin: OpenTelemetry spans and metrics for Ollama calls, reliability stack included.

Enable it by name, ``OllamaClient(plugins=["otel", "retry", ...])``, with the extra
installed (``pip install "ollama-core[otel]"``: ``opentelemetry-api``; an SDK, exporters
and their setup are the application's). It is not part of ``plugins="full"``. It uses the
global tracer and meter providers unless given others, as constructor arguments
(``OtelPlugin(tracer_provider=..., meter_provider=...)``) or as the config keys of the same
names.

It follows the OpenTelemetry GenAI semantic conventions of **semantic conventions
v1.41.0** (status "Development"; pinned in :data:`~._semconv.SEMCONV_VERSION`, see
:mod:`~._semconv` for what that covers).

What it records (chat, generate and embed/embeddings calls; other endpoints are not traced):

- One CLIENT span per call, named ``{gen_ai.operation.name} {gen_ai.request.model}``
  (``chat``, ``text_completion`` for generate, ``embeddings``), from a middleware at
  ``ORDER_CALL_OBSERVER`` (outside the cache, so a cache hit is a span too, marked
  ``ollama.cache.hit``). Attributes: ``gen_ai.provider.name="ollama"``,
  ``gen_ai.operation.name``, ``gen_ai.request.model``, ``gen_ai.request.stream``, the
  options as ``gen_ai.request.*`` (``num_predict`` -> ``max_tokens``, ``temperature``,
  ``top_p``, ``top_k``, ``stop`` -> ``stop_sequences``, ``seed``, ``frequency_penalty``,
  ``presence_penalty``), ``gen_ai.output.type="json"`` when ``format`` is set,
  ``gen_ai.response.model``, ``gen_ai.response.finish_reasons`` (from ``done_reason``),
  ``gen_ai.usage.input_tokens``/``output_tokens`` (from ``prompt_eval_count`` /
  ``eval_count``), ``gen_ai.response.time_to_first_chunk`` for a stream,
  ``server.address``/``server.port`` of the server the last attempt went to,
  ``error.type`` (the exception's class name), ``gen_ai.embeddings.dimension.count``
  for embeddings, and Ollama's own timings in seconds: ``ollama.total_duration``,
  ``ollama.load_duration``, ``ollama.prompt_eval_duration``, ``ollama.eval_duration``,
  ``ollama.prompt_eval_rate`` and ``ollama.eval_rate`` (tokens per second). A stream's
  span ends when the stream ends: completed, failed, cancelled or closed early, or
  abandoned (garbage-collected unclosed): ``Response.on_done`` reports each once. A
  stream ended by its caller (``StreamCancelledError``) keeps the status unset, with
  ``error.type``, ``ollama.outcome`` (``cancelled``/``abandoned``) and a ``cancelled``
  event; any other error sets the status to ERROR.
- One child CLIENT span per request on the wire (each retry attempt and each failover
  move), from a middleware at ``ORDER_ATTEMPT_OBSERVER``, named ``{method} {path}``:
  ``ollama.attempt`` (1-based, within the call), ``http.request.resend_count`` from the
  second on, ``server.address``/``server.port`` and ``ollama.upstream`` (the URL, without
  credentials), ``ollama.circuit_breaker.state`` (when the circuit_breaker plugin is
  registered: the state of that server's breaker as the attempt leaves, after it was
  admitted), ``ollama.rate_limiter.wait`` (seconds the limiter made this attempt wait,
  from its ``rate_limited`` event; absent when it did not wait or no limiter is
  registered), ``http.response.status_code``, ``error.type`` and ``ollama.outcome``
  (``ok``/``error``/``cancelled``).
- Reliability events become span events on the call span in progress (``retry``,
  ``retry_exhausted``, ``retry_budget_exhausted``, ``failover``, ``circuit_state``,
  ``rate_limited``, ``cache_hit``, ``cache_miss``; their data as attributes, plus
  ``ollama.event.source``). That includes the events decided when a stream ends, after
  its first chunk reached the caller (a breaker closing after a half-open probe, or
  opening on a stream that broke): the stream's ``on_done`` callbacks run before the one
  that ends the call span, and the events they emit go on it. Counted in the metrics only:
  events raised outside any traced call (health probes and ``upstream_health``, breaker
  transitions a health check causes, events of untraced endpoints such as ``tags``), and
  events a third-party middleware emits later than the stream's ``on_done`` callbacks.
- Metrics: ``gen_ai.client.token.usage`` (``gen_ai.token.type`` input/output),
  ``gen_ai.client.operation.duration``, ``gen_ai.client.operation.time_to_first_chunk``
  and ``gen_ai.client.operation.time_per_output_chunk`` (streams only), with the bucket
  boundaries the conventions give (as advisory boundaries), and attributes
  ``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
  ``gen_ai.response.model``, ``server.address``, ``server.port`` (and ``error.type`` on
  failures). ``time_per_output_chunk`` is recorded **once per stream, as the mean gap
  between the chunks after the first** (``(end - first chunk) / (chunks - 1)``), not once
  per chunk as the conventions describe: nothing is recorded per chunk. The plugin does no
  per-chunk work: it reads the response's last line (the usage and timings are in it) and
  its line count when the stream ends (``Response.last_line``,
  ``Response.lines_delivered``, kept by the core). Only content capture, when on, adds a ``Response.tap``
  that keeps the streamed text. Durations are
  read on the client's clock. Counters and a gauge for the reliability stack:
  ``ollama_core.attempts`` (by outcome and server), ``ollama_core.retries``,
  ``ollama_core.failovers``, ``ollama_core.breaker.transitions`` (by new state),
  ``ollama_core.rate_limiter.wait`` (histogram, s), ``ollama_core.rate_limiter.rejections``,
  ``ollama_core.cache.hits``, ``ollama_core.cache.misses``, ``ollama_core.upstream.healthy``
  (gauge: 1/0, the last health-check verdict per upstream).

Configuration (declared in :class:`~._config.OtelConfig`):

- ``propagate``: inject a W3C ``traceparent`` header (of the attempt's span) into each
  request on the wire, for proxies and gateways that continue the trace (Ollama ignores it).
- ``capture_content``: record ``gen_ai.input.messages``, ``gen_ai.system_instructions``
  and ``gen_ai.output.messages`` (JSON, text and tool calls; images are left out) on the
  call span. ``None`` (the default) follows ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
  as read at each call: ``true``, ``span_only`` or ``span_and_event`` (any case)
  turn it on; anything else, or the variable unset, leaves content out.
- ``tracer_provider``, ``meter_provider``: the providers to use (``None``: the global ones).

Without ``opentelemetry-api`` installed, making the plugin raises ``PluginError`` naming
the extra to install.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ollama_core.ext import Event, Middleware, Plugin, PluginError, Upstream, hookimpl

from ._config import OtelConfig

if TYPE_CHECKING:
    from ._telemetry import Telemetry

__all__ = ["CAPTURE_ENV", "INSTRUMENTATION_NAME", "OtelPlugin"]

#: The instrumentation scope name of the tracer and the meter.
INSTRUMENTATION_NAME = "ollama_core.otel"
#: The variable that turns message content capture on.
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_ON = frozenset({"true", "span_only", "span_and_event"})


class OtelPlugin(Plugin[OtelConfig]):
    """OpenTelemetry spans and metrics; see the module docstring for what is recorded."""

    name: ClassVar[str] = "otel"
    config_class = OtelConfig

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 tracer_provider: Any = None, meter_provider: Any = None) -> None:
        raw = dict(config or {})
        if tracer_provider is not None:
            raw["tracer_provider"] = tracer_provider
        if meter_provider is not None:
            raw["meter_provider"] = meter_provider
        super().__init__(raw)
        if importlib.util.find_spec("opentelemetry") is None or \
                importlib.util.find_spec("opentelemetry.trace") is None:
            raise PluginError("plugin 'otel' needs opentelemetry-api: "
                              "pip install \"ollama-core[otel]\"")
        self._telemetry = self._make_telemetry()
        self._middlewares: list[Middleware] = self._make_middlewares()

    def _make_telemetry(self) -> Telemetry:
        from ._telemetry import Telemetry

        s = self.settings
        return Telemetry(self, s.tracer_provider, s.meter_provider)

    def _make_middlewares(self) -> list[Middleware]:
        from ._telemetry import AttemptObserver, CallObserver

        return [CallObserver(self), AttemptObserver(self)]

    def config_changed(self, old: OtelConfig) -> None:
        """New providers take effect for the next call (a call in progress ends on the old
        ones); ``propagate`` and ``capture_content`` apply from the next call too."""
        new = self.settings
        if (new.tracer_provider, new.meter_provider) != (old.tracer_provider,
                                                         old.meter_provider):
            self._telemetry = self._make_telemetry()

    @property
    def telemetry(self) -> Telemetry | None:
        """The tracer and instruments in use."""
        return self._telemetry

    @property
    def capture_content(self) -> bool:
        """Whether message content goes on the call spans (the setting, or the variable)."""
        configured = self.settings.capture_content
        if configured is not None:
            return configured
        return os.environ.get(CAPTURE_ENV, "").strip().lower() in _CAPTURE_ON

    def breaker_state(self, endpoint: str, upstream: Upstream) -> str | None:
        """The state of the circuit_breaker plugin's breaker for this server and endpoint,
        or None without that plugin."""
        try:
            breaker = self.client.plugin("circuit_breaker")
        except KeyError:
            return None
        state = getattr(breaker, "state", None)
        if not callable(state):
            return None
        value = state(endpoint, upstream)
        return value if isinstance(value, str) else None

    @hookimpl
    def ollama_middlewares(self) -> list[Middleware]:
        return list(self._middlewares)

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        self._telemetry.event(event)


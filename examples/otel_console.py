"""OpenTelemetry: GenAI spans and metrics of Ollama calls, retries included, on the console.

The ``otel`` plugin (``pip install "ollama-core[otel]"``; this script also needs
``opentelemetry-sdk``) records one span per call, a child span per request on the wire,
the reliability events on the call span, and the GenAI metrics. Here the SDK exports
them to the console (``ConsoleSpanExporter`` and ``ConsoleMetricExporter``, with a
one-line format so the output stays readable):

1. a chat whose first attempt meets a 503: one ``chat llama3.2`` span, two
   ``POST /api/chat`` attempt spans under it, and a ``retry`` event;
2. a streamed generate: its span ends with the stream, with the time to first chunk;
3. an embedding: the span carries the dimension count;
4. the metrics, exported once at shutdown (token usage, durations, attempts, retries).

The plugin uses the global providers set below, as an application would set them. Fault
injection needs the emulator, so this example always runs against one.

    python examples/otel_console.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from ollama_core import OllamaClient
from ollama_core.emulator import OllamaEmulator

SHOWN = ("gen_ai.request.model", "gen_ai.request.stream", "gen_ai.request.max_tokens",
         "gen_ai.response.finish_reasons", "gen_ai.usage.input_tokens",
         "gen_ai.usage.output_tokens", "gen_ai.response.time_to_first_chunk",
         "gen_ai.embeddings.dimension.count", "ollama.eval_rate", "ollama.attempt",
         "http.response.status_code", "error.type", "server.port", "ollama.outcome")


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ",".join(str(v) for v in value)
    return str(value)


def one_line_span(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    shown = " ".join(f"{k.rsplit('.', 1)[-1] if k.startswith('ollama.') else k}="
                     f"{_value(attributes[k])}" for k in SHOWN if k in attributes)
    indent = "    " if span.parent is not None else ""
    lines = [f"{indent}span {span.name}: {shown}"]
    for event in span.events:
        data = ", ".join(f"{k}={_value(v)}" for k, v in (event.attributes or {}).items()
                         if k != "ollama.event.source")
        lines.append(f"{indent}  event {event.name}: {data[:90]}")
    return "\n".join(lines) + "\n"


def one_line_metrics(data: MetricsData) -> str:
    lines = []
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    labels = {k: v for k, v in (point.attributes or {}).items()
                              if k in ("gen_ai.operation.name", "gen_ai.token.type",
                                       "ollama.outcome")}
                    where = " ".join(f"{k}={v}" for k, v in labels.items())
                    if hasattr(point, "sum") and hasattr(point, "count"):
                        value = f"count={point.count} sum={_value(point.sum)}"
                    else:
                        value = f"value={_value(getattr(point, 'value', None))}"
                    lines.append(f"metric {metric.name} [{where}] {value} {metric.unit}")
    return "\n".join(lines) + "\n"


async def main() -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(formatter=one_line_span)))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(formatter=one_line_metrics),
                                           export_interval_millis=3_600_000)
    meter_provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)

    async with OllamaEmulator() as emulator, \
            OllamaClient(emulator.url, plugins=["otel", "retry"],
                         plugin_config={"retry": {"base_delay": 0.01}}) as client:
        print("== 1. a chat meeting one 503, retried")
        emulator.faults.script("/api/chat", [503, 200])
        reply = await client.chat({"model": "llama3.2",
                                   "messages": [{"role": "user", "content": "ping"}]})
        print(f"-> {reply.message.content!r}")

        print("== 2. a streamed generate")
        stream = client.generate_stream({"model": "llama3.2", "prompt": "count to five",
                                         "options": {"num_predict": 5}})
        chunks = [chunk async for chunk in stream]
        print(f"-> {len(chunks)} chunks")

        print("== 3. an embedding")
        vectors = await client.embed({"model": "all-minilm", "input": ["sky", "sea"]})
        print(f"-> {len(vectors.embeddings)} vectors")

    print("== 4. the metrics, exported at shutdown")
    tracer_provider.shutdown()
    meter_provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())

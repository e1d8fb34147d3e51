"""The ``otel`` plugin: OpenTelemetry GenAI spans and metrics for Ollama calls, with the
reliability stack (retries, failover, breaker, limiter, cache) on them.

It follows the OpenTelemetry GenAI semantic conventions of semantic conventions v1.41.0
(``SEMCONV_VERSION``). What it records, and its settings, are described in
:mod:`ollama_plugins.otel._plugin`; the names in :mod:`ollama_plugins.otel._semconv`.
Needs the ``otel`` extra (``opentelemetry-api``).
"""

from __future__ import annotations

from ._config import OtelConfig
from ._plugin import CAPTURE_ENV, INSTRUMENTATION_NAME, OtelPlugin
from ._semconv import DURATION_BUCKETS, SCHEMA_URL, SEMCONV_VERSION, TOKEN_BUCKETS

__all__ = [
    "CAPTURE_ENV",
    "DURATION_BUCKETS",
    "INSTRUMENTATION_NAME",
    "OtelConfig",
    "OtelPlugin",
    "SCHEMA_URL",
    "SEMCONV_VERSION",
    "TOKEN_BUCKETS",
]

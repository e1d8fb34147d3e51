"""The names and bucket boundaries this plugin emits, from one version of the conventions.

The plugin follows the OpenTelemetry GenAI semantic conventions as released in
**OpenTelemetry semantic conventions v1.41.0** (``docs/gen-ai/``), the last release that
carried them before they moved to their own repository (``semantic-conventions-genai``,
whose v0.1.0 renames the client metrics to ``gen_ai.client.inference.*``; not followed
yet). Everything in them has the status "Development": names may change in a minor
release, so the version is pinned here and checked by the tests, and a move to a newer
version is a deliberate change of this module.

The per-attempt spans follow the HTTP client conventions of the same release (span name
``{method} {path}``, ``http.request.resend_count``); what the conventions have no name
for (Ollama's own timings, the reliability stack) is under ``ollama.*`` and
``ollama_core.*``.
"""

from __future__ import annotations

from typing import Final

#: The release of the OpenTelemetry semantic conventions whose GenAI part is followed.
SEMCONV_VERSION: Final = "1.41.0"
#: Its schema URL (given to the tracer and the meter).
SCHEMA_URL: Final = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"

#: ``gen_ai.provider.name``: not in the conventions' list of well-known values, which
#: allows a custom one.
PROVIDER: Final = "ollama"

#: ``request.endpoint`` -> ``gen_ai.operation.name``. Other endpoints are not traced.
OPERATIONS: Final[dict[str, str]] = {
    "chat": "chat",
    "generate": "text_completion",
    "embed": "embeddings",
    "embeddings": "embeddings",
}

# -- span attributes ---------------------------------------------------------------------
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_STREAM: Final = "gen_ai.request.stream"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
REQUEST_TOP_P: Final = "gen_ai.request.top_p"
REQUEST_TOP_K: Final = "gen_ai.request.top_k"
REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
REQUEST_SEED: Final = "gen_ai.request.seed"
REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
OUTPUT_TYPE: Final = "gen_ai.output.type"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
TOKEN_TYPE: Final = "gen_ai.token.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
HTTP_METHOD: Final = "http.request.method"
HTTP_STATUS: Final = "http.response.status_code"
HTTP_RESEND_COUNT: Final = "http.request.resend_count"

#: Ollama ``options`` -> ``gen_ai.request.*``.
OPTION_ATTRIBUTES: Final[dict[str, str]] = {
    "num_predict": REQUEST_MAX_TOKENS,
    "temperature": REQUEST_TEMPERATURE,
    "top_p": REQUEST_TOP_P,
    "top_k": REQUEST_TOP_K,
    "stop": REQUEST_STOP_SEQUENCES,
    "seed": REQUEST_SEED,
    "frequency_penalty": REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": REQUEST_PRESENCE_PENALTY,
}

# -- metrics -----------------------------------------------------------------------------
TOKEN_USAGE: Final = "gen_ai.client.token.usage"
OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.operation.time_per_output_chunk"

#: Bucket boundaries the conventions give for ``gen_ai.client.token.usage`` (powers of 4).
TOKEN_BUCKETS: Final[tuple[int, ...]] = tuple(4 ** n for n in range(14))
#: ... and for the three duration histograms, in seconds (0.01 doubling to 81.92).
DURATION_BUCKETS: Final[tuple[float, ...]] = tuple(round(0.01 * 2 ** n, 2) for n in range(14))

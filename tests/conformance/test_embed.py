"""Embeddings: one input and a batch, ``dimensions``, and ``truncate`` both ways."""

from __future__ import annotations

import math

import pytest

from ollama_core import EmbedResponse, OllamaClient, ResponseError

from ._target import Target, normalize_name

pytestmark = pytest.mark.conformance


async def embedding_length(client: OllamaClient, model: str) -> int:
    info = (await client.model_info(model)).model_info or {}
    return int(info[f"{info['general.architecture']}.embedding_length"])


def check_vectors(reply: EmbedResponse, model: str, count: int, dims: int) -> None:
    assert normalize_name(reply.model) == normalize_name(model)
    assert len(reply.embeddings) == count
    for vector in reply.embeddings:
        assert len(vector) == dims
        assert all(math.isfinite(x) for x in vector)
        assert any(x != 0 for x in vector)
    assert reply.prompt_eval_count is not None and reply.prompt_eval_count > 0


async def test_embed_single(client: OllamaClient, target: Target) -> None:
    model = target.models.embed
    reply = await client.embed({"model": model, "input": "The sky is blue."})
    check_vectors(reply, model, 1, await embedding_length(client, model))


async def test_embed_batch(client: OllamaClient, target: Target) -> None:
    model = target.models.embed
    texts = ["The sky is blue.", "Grass is green.", "The sky is blue."]
    reply = await client.embed({"model": model, "input": texts})
    check_vectors(reply, model, 3, await embedding_length(client, model))
    first, second, third = reply.embeddings
    assert first != second
    # the same text embeds to the same vector, whatever its place in the batch (up to
    # the rounding of batched arithmetic on a real server)
    assert cosine(first, third) > 0.999
    assert cosine(first, second) < cosine(first, third)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


async def test_embed_dimensions(client: OllamaClient, target: Target) -> None:
    model = target.models.embed
    full = await embedding_length(client, model)
    dims = min(64, full // 2)
    reply = await client.embed({"model": model, "input": ["one", "two"], "dimensions": dims})
    check_vectors(reply, model, 2, dims)
    for vector in reply.embeddings:  # truncated vectors are normalised again
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-3)


def too_long(client_context: int) -> str:
    # Longer than the model's context and than any default num_ctx, in any tokenizer.
    return "hello " * max(4 * client_context, 10_000)


async def context_length(client: OllamaClient, model: str) -> int:
    info = (await client.model_info(model)).model_info or {}
    return int(info[f"{info['general.architecture']}.context_length"])


async def test_embed_truncate(client: OllamaClient, target: Target) -> None:
    model = target.models.embed
    words = too_long(await context_length(client, model))
    reply = await client.embed({"model": model, "input": words, "truncate": True})
    check_vectors(reply, model, 1, await embedding_length(client, model))
    assert reply.prompt_eval_count is not None
    assert reply.prompt_eval_count < len(words.split())


async def test_embed_no_truncate_is_refused(client: OllamaClient, target: Target) -> None:
    model = target.models.embed
    words = too_long(await context_length(client, model))
    with pytest.raises(ResponseError) as refused:
        await client.embed({"model": model, "input": words, "truncate": False})
    assert 400 <= refused.value.status_code < 600
    assert refused.value.error

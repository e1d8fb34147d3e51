"""Model management: pull with progress, create from a model, copy, delete, and loading
and unloading with ``keep_alive``."""

from __future__ import annotations

import asyncio
import time

import pytest

from ollama_core import NotFoundError, OllamaClient

from ._target import Target, normalize_name
from .conftest import Scratch

pytestmark = pytest.mark.conformance

#: How long a real server may take to drop a model it was told to unload.
UNLOAD_WITHIN = 15.0


async def names(client: OllamaClient) -> set[str]:
    return {normalize_name(m.name) for m in (await client.list_models()).models}


async def test_pull_with_progress(client: OllamaClient, target: Target) -> None:
    # The embedding model is the smallest the suite uses; it is already there, so a
    # real server only compares manifests (progress lines still come).
    model = target.models.embed
    async with client.pull_model_stream(model) as stream:
        steps = [step async for step in stream]
    statuses = [s.status for s in steps]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    layers = [s for s in steps if s.digest]
    assert layers, statuses
    for step in layers:
        assert step.digest is not None and step.digest.startswith("sha256:")
        assert step.total is not None and step.total > 0
        assert step.completed is None or 0 <= step.completed <= step.total
    assert normalize_name(model) in await names(client)


async def test_create_from_existing_model(client: OllamaClient, target: Target,
                                          scratch: Scratch) -> None:
    name = scratch.name()
    system = "You answer in one short sentence."
    async with client.create_model_stream({"model": name, "from": target.models.chat,
                                           "system": system}) as stream:
        statuses = [step.status async for step in stream]
    assert statuses[-1] == "success"
    assert name in await names(client)
    info = await client.model_info(name)
    assert info.system == system
    base = await client.model_info(target.models.chat)
    assert info.details is not None and base.details is not None
    assert info.details.family == base.details.family


async def test_copy_then_delete(client: OllamaClient, target: Target, scratch: Scratch) -> None:
    name = scratch.name()
    await client.copy_model(target.models.chat, name)
    listed = {normalize_name(m.name): m for m in (await client.list_models()).models}
    assert name in listed
    assert listed[name].digest == listed[normalize_name(target.models.chat)].digest
    await client.delete_model(name)
    assert name not in await names(client)
    with pytest.raises(NotFoundError):
        await client.delete_model(name)
    with pytest.raises(NotFoundError):
        await client.copy_model(name, scratch.name())


async def running(client: OllamaClient, model: str) -> bool:
    wanted = normalize_name(model)
    return any(normalize_name(m.name) == wanted for m in (await client.list_running()).models)


async def test_keep_alive_load_and_unload(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    loaded = await client.generate({"model": model, "keep_alive": "5m"})
    assert loaded.done is True and loaded.done_reason == "load"
    assert await running(client, model)

    unloaded = await client.generate({"model": model, "keep_alive": 0})
    assert unloaded.done is True and unloaded.done_reason == "unload"
    # A real server answers before its runner has stopped; it must go soon after.
    deadline = time.monotonic() + UNLOAD_WITHIN
    while await running(client, model):
        assert time.monotonic() < deadline, f"{model} still running {UNLOAD_WITHIN}s after unload"
        await asyncio.sleep(0.25)

    # Loading through chat works the same way, and leaves the model loaded for the rest.
    again = await client.chat({"model": model, "messages": [], "keep_alive": "5m"})
    assert again.done is True and again.done_reason == "load"
    assert await running(client, model)

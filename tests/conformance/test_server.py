"""Server and model listing: version, list, show, ps, and a 404 for a missing model."""

from __future__ import annotations

import re

import pytest

from ollama_core import NotFoundError, OllamaClient

from ._target import Target, normalize_name
from .conftest import no_think, options, unique_name

pytestmark = pytest.mark.conformance


async def test_version(client: OllamaClient) -> None:
    version = await client.version()
    assert re.match(r"^\d+\.\d+", version), version


async def test_list_has_the_suite_models(client: OllamaClient, target: Target) -> None:
    models = (await client.list_models()).models
    names = {normalize_name(m.name) for m in models}
    for wanted in target.models.all():
        assert normalize_name(wanted) in names
    for entry in models:
        assert entry.name and entry.model
        assert entry.size is not None and entry.size > 0
        assert entry.digest and re.fullmatch(r"[0-9a-f]{64}", entry.digest), entry.digest
        assert entry.modified_at
        assert entry.details is not None and entry.details.format


async def test_show_chat_model(client: OllamaClient, target: Target) -> None:
    info = await client.model_info(target.models.chat)
    assert info.capabilities and "completion" in info.capabilities
    assert info.details is not None and info.details.family
    assert info.details.parameter_size
    assert info.template is not None
    assert info.modelfile and "FROM" in info.modelfile
    assert info.model_info and info.model_info.get("general.architecture")


async def test_show_embedding_model(client: OllamaClient, target: Target) -> None:
    info = await client.model_info(target.models.embed)
    assert info.capabilities and "embedding" in info.capabilities
    assert info.model_info is not None
    arch = info.model_info["general.architecture"]
    assert info.model_info[f"{arch}.embedding_length"] > 0


async def test_ps_lists_a_model_after_use(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    await client.generate({"model": model, "prompt": "Say hi.", "options": options(4),
                           **await no_think(client, model)})
    running = (await client.list_running()).models
    entry = next((m for m in running if normalize_name(m.name) == normalize_name(model)), None)
    assert entry is not None, [m.name for m in running]
    assert entry.size is not None and entry.size > 0
    assert entry.expires_at
    assert entry.details is not None


async def test_missing_model_is_a_404(client: OllamaClient) -> None:
    missing = unique_name("conformance-missing")
    with pytest.raises(NotFoundError) as chat_error:
        await client.chat({"model": missing, "messages": [{"role": "user", "content": "hi"}]})
    assert chat_error.value.status_code == 404
    assert "not found" in str(chat_error.value.error)
    with pytest.raises(NotFoundError) as show_error:
        await client.model_info(missing)
    assert show_error.value.status_code == 404

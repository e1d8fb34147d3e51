"""/api/pull, /api/push, /api/create, /api/copy, /api/delete and /api/blobs."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from ollama_core.emulator import ModelRecord, OllamaEmulator

pytestmark = pytest.mark.asyncio


def statuses(lines: list[dict[str, Any]]) -> list[str]:
    return [line.get("status", "") for line in lines]


# --------------------------------------------------------------------------- pull


async def test_pull_progress_lines(api: Any) -> None:
    reply = await api.post("/api/pull", {"model": "mistral"})
    assert reply.status == 200
    assert reply.content_type == "application/x-ndjson"
    lines = reply.lines
    assert lines[0] == {"status": "pulling manifest"}
    assert statuses(lines)[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = lines[1:-3]
    digests = list(dict.fromkeys(line["digest"] for line in layers))
    assert 2 <= len(digests)
    for digest in digests:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
        progress = [line for line in layers if line["digest"] == digest]
        assert all(line["status"] == f"pulling {digest[7:19]}" for line in progress)
        assert "completed" not in progress[0]  # left out while 0
        completed = [line["completed"] for line in progress[1:]]
        assert completed == sorted(completed) and completed[-1] == progress[0]["total"]
    assert "mistral:latest" in api.emulator.models
    tags = (await api.get("/api/tags")).json()["models"]
    assert tags[0]["name"] == "mistral:latest"  # newest first


async def test_pull_is_deterministic(api: Any) -> None:
    one = (await api.post("/api/pull", {"model": "phi4"})).lines
    two = (await api.post("/api/pull", {"model": "phi4"})).lines
    assert one == two


async def test_pull_stream_false(api: Any) -> None:
    reply = await api.post("/api/pull", {"model": "gemma3", "stream": False})
    assert (reply.status, reply.json()) == (200, {"status": "success"})
    assert reply.content_type == "application/json; charset=utf-8"
    assert "gemma3:latest" in api.emulator.models


async def test_pull_unknown_model(api: Any) -> None:
    streamed = await api.post("/api/pull", {"model": "does-not-exist"})
    assert streamed.status == 200
    assert streamed.lines == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]
    quiet = await api.post("/api/pull", {"model": "does-not-exist", "stream": False})
    assert (quiet.status, quiet.json()) == (
        500, {"error": "pull model manifest: file does not exist"}
    )
    invalid = await api.post("/api/pull", {"model": ""})
    assert (invalid.status, invalid.json()) == (400, {"error": "invalid model name"})


async def test_custom_registry() -> None:
    extra = ModelRecord(
        name="team/special:1b", family="llama", parameter_size="1B", quantization_level="Q8_0",
        capabilities=["completion"], size=1234, modified_at="2025-01-01T00:00:00Z",
    )
    async with OllamaEmulator(registry=[extra]) as emu:
        assert set(emu.registry) == {"team/special:1b"}
        from aiohttp import ClientSession

        async with ClientSession() as session:
            async with session.post(emu.url + "/api/pull", json={"model": "team/special:1b",
                                                                 "stream": False}) as resp:
                assert resp.status == 200
            async with session.post(emu.url + "/api/pull", json={"model": "mistral"}) as resp:
                assert b"file does not exist" in await resp.read()
        assert emu.models["team/special:1b"].quantization_level == "Q8_0"


# --------------------------------------------------------------------------- push


async def test_push_progress(api: Any) -> None:
    lines = (await api.post("/api/push", {"model": "llama3.2"})).lines
    assert lines[0] == {"status": "retrieving manifest"}
    assert statuses(lines)[-2:] == ["pushing manifest", "success"]
    for line in lines[1:-2]:
        assert line["status"] == f"pushing {line['digest'][7:19]}"
        assert 0 <= line["completed"] <= line["total"]
    quiet = await api.post("/api/push", {"model": "llama3.2", "stream": False})
    assert quiet.json() == {"status": "success"}


async def test_push_errors(api: Any) -> None:
    lines = (await api.post("/api/push", {"model": "nope"})).lines
    assert statuses(lines[:2]) == ["retrieving manifest", "couldn't retrieve manifest"]
    assert "no such file or directory" in lines[2]["error"]
    quiet = await api.post("/api/push", {"model": "nope", "stream": False})
    assert quiet.status == 500
    required = await api.post("/api/push", {})
    assert (required.status, required.json()) == (400, {"error": "model is required"})


# ------------------------------------------------------------------------- create


async def test_create_from_model(api: Any) -> None:
    reply = await api.post(
        "/api/create",
        {"model": "pirate", "from": "llama3.2", "system": "Talk like a pirate.",
         "parameters": {"temperature": 0.2}},
    )
    lines = statuses(reply.lines)
    assert any(s.startswith("using existing layer sha256:") for s in lines)
    assert sum(s.startswith("creating new layer sha256:") for s in lines) == 2
    assert lines[-2:] == ["writing manifest", "success"]
    show = (await api.post("/api/show", {"model": "pirate"})).json()
    assert show["system"] == "Talk like a pirate."
    assert re.search(r"^temperature\s+0\.2$", show["parameters"], re.M)
    assert re.search(r"^stop\s+", show["parameters"], re.M)  # inherited
    assert show["details"]["parent_model"] == "llama3.2:latest"
    assert show["capabilities"] == ["completion", "tools"]
    chat = (await api.post("/api/chat", {"model": "pirate", "stream": False,
                                         "messages": [{"role": "user", "content": "ahoy"}]})).json()
    assert chat["message"]["content"] == "Echo: ahoy"


async def test_create_template_changes_capabilities(api: Any) -> None:
    quiet = await api.post(
        "/api/create",
        {"model": "plain", "from": "llama3.2", "template": "{{ .Prompt }}", "stream": False},
    )
    assert quiet.json() == {"status": "success"}
    show = (await api.post("/api/show", {"model": "plain"})).json()
    assert show["template"] == "{{ .Prompt }}"
    assert show["capabilities"] == ["completion"]


async def test_create_from_registry_pulls_first(api: Any) -> None:
    lines = statuses((await api.post("/api/create", {"model": "m2", "from": "tinyllama"})).lines)
    assert lines[0] == "pulling manifest"
    assert "verifying sha256 digest" in lines
    assert lines[-1] == "success"
    assert {"tinyllama:latest", "m2:latest"} <= set(api.emulator.models)


async def test_create_from_unknown(api: Any) -> None:
    streamed = await api.post("/api/create", {"model": "m", "from": "ghost"})
    assert streamed.status == 200
    assert streamed.lines == [
        {"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}
    ]
    quiet = await api.post("/api/create", {"model": "m", "from": "ghost", "stream": False})
    assert quiet.status == 500


async def test_create_from_files_with_quantize(api: Any) -> None:
    blob = b"GGUF" + b"\x00" * 1000
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    assert (await api.post(f"/api/blobs/{digest}", data=blob)).status == 201
    reply = await api.post(
        "/api/create",
        {"model": "custom:q4", "files": {"model.gguf": digest}, "quantize": "q4_K_M",
         "template": "{{ .Prompt }}"},
    )
    lines = reply.lines
    assert statuses(lines)[:2] == ["parsing GGUF", f"using existing layer {digest}"]
    quant = [line for line in lines if line["status"].startswith("quantizing")]
    assert quant and all(line["status"] == "quantizing F16 model to Q4_K_M" for line in quant)
    assert quant[-1]["completed"] == quant[-1]["total"] == 1004
    assert statuses(lines)[-1] == "success"
    show = (await api.post("/api/show", {"model": "custom:q4"})).json()
    assert show["details"]["quantization_level"] == "Q4_K_M"


async def test_create_errors(api: Any) -> None:
    missing_blob = "sha256:" + "ab" * 32
    reply = await api.post("/api/create", {"model": "m", "files": {"model.gguf": missing_blob}})
    assert reply.status == 400
    assert reply.json()["error"].startswith(
        f"blob not found for model.gguf (digest {missing_blob})"
    )
    bad = await api.post("/api/create", {"model": "m", "files": {"model.gguf": "sha256:xyz"}})
    assert (bad.status, bad.json()) == (
        400, {"error": "invalid digest for model.gguf: invalid digest format"}
    )
    neither = await api.post("/api/create", {"model": "m"})
    assert (neither.status, neither.json()) == (
        400, {"error": "neither 'from' or 'files' was specified"}
    )
    invalid = await api.post("/api/create", {"from": "llama3.2"})
    assert (invalid.status, invalid.json()) == (400, {"error": "invalid model name"})
    # found while streaming: an error line after the progress so far; a status without stream
    quantized = await api.post(
        "/api/create", {"model": "m", "from": "llama3.2", "quantize": "q8_0"}
    )
    assert quantized.status == 200
    assert quantized.lines[-1] == {"error": "quantization is only supported for F16 and F32 models"}
    quiet = await api.post(
        "/api/create", {"model": "m", "from": "llama3.2", "quantize": "q8_0", "stream": False}
    )
    assert (quiet.status, quiet.json()) == (
        400, {"error": "quantization is only supported for F16 and F32 models"}
    )
    assert "m:latest" not in api.emulator.models


async def test_create_accepts_legacy_name_field(api: Any) -> None:
    assert (await api.post(
        "/api/create", {"name": "old-style", "from": "llama3.2", "stream": False}
    )).status == 200
    assert "old-style:latest" in api.emulator.models


# ---------------------------------------------------------------- copy / delete


async def test_copy_and_delete(api: Any) -> None:
    copied = await api.post("/api/copy", {"source": "llama3.2", "destination": "mine"})
    assert (copied.status, copied.raw) == (200, b"")
    models = api.emulator.models
    assert models["mine:latest"].digest == models["llama3.2:latest"].digest
    deleted = await api.call("DELETE", "/api/delete", {"model": "mine"})
    assert (deleted.status, deleted.raw) == (200, b"")
    assert "mine:latest" not in models
    again = await api.call("DELETE", "/api/delete", {"model": "mine"})
    assert (again.status, again.json()) == (404, {"error": "model 'mine' not found"})


async def test_copy_errors(api: Any) -> None:
    missing = await api.post("/api/copy", {"source": "ghost", "destination": "x"})
    assert (missing.status, missing.json()) == (404, {"error": 'model "ghost" not found'})
    invalid = await api.post("/api/copy", {"source": "llama3.2", "destination": ""})
    assert (invalid.status, invalid.json()) == (400, {"error": 'destination "" is invalid'})


async def test_deleted_model_is_gone_everywhere(api: Any) -> None:
    await api.post("/api/generate", {"model": "llava"})
    await api.call("DELETE", "/api/delete", {"model": "LLAVA"})
    assert (await api.post("/api/show", {"model": "llava"})).status == 404
    assert (await api.get("/api/ps")).json() == {"models": []}


# -------------------------------------------------------------------------- blobs


async def test_blobs(api: Any) -> None:
    data = "blob ü".encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert (await api.call("HEAD", f"/api/blobs/{digest}")).status == 404
    created = await api.post(f"/api/blobs/{digest}", data=data)
    assert (created.status, created.raw) == (201, b"")
    assert (await api.call("HEAD", f"/api/blobs/{digest}")).status == 200
    assert (await api.post(f"/api/blobs/{digest}", data=data)).status == 200
    assert api.emulator.blobs == {digest: len(data)}


async def test_blob_errors(api: Any) -> None:
    wrong = "sha256:" + "0" * 64
    mismatch = await api.post(f"/api/blobs/{wrong}", data=b"other")
    actual = "sha256:" + hashlib.sha256(b"other").hexdigest()
    assert mismatch.status == 400
    assert mismatch.json() == {"error": f'digest mismatch, expected "{wrong}", got "{actual}"'}
    bad = await api.post("/api/blobs/sha256:123", data=b"x")
    assert (bad.status, bad.json()) == (400, {"error": "invalid digest format"})
    assert (await api.call("HEAD", "/api/blobs/md5:abc")).status == 400
    # the dash form Ollama uses on disk is accepted too
    data = b"dash"
    dash = "sha256-" + hashlib.sha256(data).hexdigest()
    assert (await api.post(f"/api/blobs/{dash}", data=data)).status == 201

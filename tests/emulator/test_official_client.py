"""The official ``ollama`` package must work against the emulator, async and sync."""

from __future__ import annotations

import base64
from datetime import datetime

import ollama
import pytest

from ollama_core.emulator import EmulatorThread, OllamaEmulator


def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
      city: The name of the city
    """
    return "11 degrees"


WEATHER_DICT_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


# --------------------------------------------------------------------- async


async def test_async_list_show_ps(ollama_emulator: OllamaEmulator) -> None:
    async with ollama.AsyncClient(host=ollama_emulator.url) as client:
        listing = await client.list()
        names = [m.model for m in listing.models]
        assert "llama3.2:latest" in names and len(names) == 5
        llama = next(m for m in listing.models if m.model == "llama3.2:latest")
        assert isinstance(llama.modified_at, datetime)
        assert llama.size is not None and llama.size > 0
        assert llama.details is not None and llama.details.family == "llama"

        shown = await client.show("llama3.2")
        assert shown.capabilities == ["completion", "tools"]
        assert shown.modelinfo is not None
        assert shown.modelinfo["llama.context_length"] == 131072
        assert shown.details is not None and shown.details.quantization_level == "Q4_K_M"
        assert isinstance(shown.modified_at, datetime)
        assert shown.template and shown.parameters and shown.modelfile

        assert (await client.ps()).models == []
        await client.generate("llama3.2", "hi")
        (running,) = (await client.ps()).models
        assert running.model == "llama3.2:latest"
        assert isinstance(running.expires_at, datetime)
        assert running.size_vram == running.size
        assert running.context_length == 4096


async def test_async_chat_and_generate(ollama_emulator: OllamaEmulator) -> None:
    async with ollama.AsyncClient(host=ollama_emulator.url) as client:
        messages = [{"role": "user", "content": "hello there"}]
        reply = await client.chat("llama3.2", messages=messages)
        assert reply.message.role == "assistant"
        assert reply.message.content == "Echo: hello there"
        assert reply.done is True and reply.done_reason == "stop"
        assert reply.eval_count is not None and reply.eval_count > 0

        stream = await client.chat("llama3.2", messages=messages, stream=True)
        parts = [part async for part in stream]
        assert "".join(p.message.content or "" for p in parts) == "Echo: hello there"
        assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]

        generated = await client.generate("llama3.2", "why is the sky blue")
        assert generated.response == "Echo: why is the sky blue"
        assert generated.context

        stream = await client.generate("qwen3", "count", stream=True, think=True)
        chunks = [chunk async for chunk in stream]
        assert "".join(c.thinking or "" for c in chunks).startswith("Let me think")
        assert "".join(c.response for c in chunks) == "Echo: count"
        assert chunks[-1].done_reason == "stop"


async def test_async_embed(ollama_emulator: OllamaEmulator) -> None:
    async with ollama.AsyncClient(host=ollama_emulator.url) as client:
        result = await client.embed("nomic-embed-text", ["first", "second"])
        assert len(result.embeddings) == 2
        assert all(len(vector) == 768 for vector in result.embeddings)
        assert result.prompt_eval_count == 2
        legacy = await client.embeddings("all-minilm", "hello")
        assert len(legacy.embedding) == 384


async def test_async_pull_with_progress(ollama_emulator: OllamaEmulator) -> None:
    async with ollama.AsyncClient(host=ollama_emulator.url) as client:
        progress = [p async for p in await client.pull("mistral", stream=True)]
        statuses = [p.status for p in progress]
        assert statuses[0] == "pulling manifest"
        assert statuses[-1] == "success"
        with_totals = [p for p in progress if p.total]
        assert with_totals and all(p.digest and p.digest.startswith("sha256:") for p in with_totals)
        assert all(0 <= (p.completed or 0) <= p.total for p in with_totals if p.total)
        assert any(p.completed == p.total for p in with_totals)
        assert "mistral:latest" in [m.model for m in (await client.list()).models]
        assert (await client.pull("phi4")).status == "success"


async def test_async_copy_delete_and_404(ollama_emulator: OllamaEmulator) -> None:
    async with ollama.AsyncClient(host=ollama_emulator.url) as client:
        assert (await client.copy("llama3.2", "backup")).status == "success"
        assert "backup:latest" in ollama_emulator.models
        assert (await client.delete("backup")).status == "success"
        assert "backup:latest" not in ollama_emulator.models
        with pytest.raises(ollama.ResponseError) as missing:
            await client.chat("no-such-model", messages=[{"role": "user", "content": "x"}])
        assert missing.value.status_code == 404
        assert missing.value.error == "model 'no-such-model' not found"
        with pytest.raises(ollama.ResponseError) as gone:
            await client.delete("backup")
        assert gone.value.status_code == 404


async def test_async_tool_call_from_python_function(ollama_emulator: OllamaEmulator) -> None:
    async with ollama.AsyncClient(host=ollama_emulator.url) as client:
        messages = [{"role": "user", "content": "What is the weather in Paris?"}]
        reply = await client.chat("llama3.2", messages=messages, tools=[get_weather])
        assert reply.message.content == ""
        assert reply.message.tool_calls
        call = reply.message.tool_calls[0]
        assert call.function.name == "get_weather"
        assert dict(call.function.arguments) == {"city": "Paris"}
        result = get_weather(**call.function.arguments)
        messages += [reply.message, {"role": "tool", "content": result, "tool_name": "get_weather"}]
        final = await client.chat("llama3.2", messages=messages, tools=[get_weather])
        assert final.message.content == "The tool said: 11 degrees."


async def test_async_stream_errors(ollama_emulator: OllamaEmulator) -> None:
    ollama_emulator.faults.add(path="/api/chat", error_after=1)
    async with ollama.AsyncClient(host=ollama_emulator.url) as client:
        stream = await client.chat(
            "llama3.2", messages=[{"role": "user", "content": "a b c"}], stream=True
        )
        with pytest.raises(ollama.ResponseError) as mid_stream:
            async for _ in stream:
                pass
        assert mid_stream.value.error == "an error was encountered while running the model"
        assert mid_stream.value.status_code == -1  # the official client loses the 200
        ollama_emulator.faults.add(path="/api/generate", status=503)
        with pytest.raises(ollama.ResponseError) as busy:
            await client.generate("llama3.2", "x")
        assert busy.value.status_code == 503


# ---------------------------------------------------------------------- sync


def test_sync_client_against_thread(ollama_emulator_thread: EmulatorThread) -> None:
    with ollama.Client(host=ollama_emulator_thread.url) as client:
        assert {m.model for m in client.list().models} >= {"llama3.2:latest", "llava:latest"}
        assert client.show("qwen3").capabilities == ["completion", "tools", "thinking"]

        reply = client.chat("llama3.2", messages=[{"role": "user", "content": "hi"}])
        assert reply.message.content == "Echo: hi"
        parts = list(client.generate("llama3.2", "a b c", stream=True))
        assert "".join(p.response for p in parts) == "Echo: a b c"
        assert parts[-1].done is True

        image = base64.b64encode(b"not really a png").decode()
        seen = client.generate("llava", "describe", images=[image])
        assert seen.response.startswith("I see 1 image.")

        tools_reply = client.chat(
            "llama3.2", messages=[{"role": "user", "content": "call get_weather"}],
            tools=[WEATHER_DICT_TOOL],
        )
        assert tools_reply.message.tool_calls
        call = tools_reply.message.tool_calls[0]
        assert (call.function.name, dict(call.function.arguments)) == (
            "get_weather", {"city": "Paris", "days": 1}
        )

        progress = list(client.pull("tinyllama", stream=True))
        assert progress[-1].status == "success"
        assert client.embed("all-minilm", "x").embeddings[0]
        assert client.ps().models

        assert client.copy("tinyllama", "tiny2").status == "success"
        assert client.delete("tiny2").status == "success"
        with pytest.raises(ollama.ResponseError) as missing:
            client.show("tiny2")
        assert missing.value.status_code == 404

        ollama_emulator_thread.faults.script("/api/tags", [503])
        with pytest.raises(ollama.ResponseError) as busy:
            client.list()
        assert busy.value.status_code == 503
        assert client.list().models


# --------------------------------------------------------------------- System One

SYSTEMONE_QUESTIONS = {
    "team": {
        "type": "choice",
        "instructions": "Which team should handle this ticket?",
        "criteria": {"billing": "Payments and refunds", "technical": "Software errors"},
    },
    "urgent": {"type": "noul", "instructions": "Is it urgent?",
               "criteria": {"false": "No", "true": "Yes"}},
    "severity": {"type": "score", "instructions": {"rate": "How bad is it?"},
                 "criteria": ["minor", "major", "outage"]},
}


def _check_systemone(response: ollama.SystemOneResponse) -> None:
    assert response.model == "nimble"
    team = response.answers["team"]
    assert isinstance(team, ollama.SystemOneChoiceAnswer)
    assert team.choice in ("billing", "technical")
    assert abs(sum(team.probabilities.values()) - 1.0) < 1e-9
    urgent = response.answers["urgent"]
    assert isinstance(urgent, ollama.SystemOneNoulAnswer) and 0.0 < urgent.noul < 1.0
    severity = response.answers["severity"]
    assert isinstance(severity, ollama.SystemOneScoreAnswer)
    assert severity.legend == {"0": "minor", "1": "major", "2": "outage"}
    assert response.usage.input_tokens > 0 and response.usage.output_tokens == 3


@pytest.mark.ollama_emulator(models=["llama3.2", "nimble"])
async def test_async_systemone(ollama_emulator: OllamaEmulator) -> None:
    async with ollama.AsyncClient(host=ollama_emulator.url) as client:
        response = await client.systemone(
            model="nimble", state="Our checkout has returned 500 errors since 9am.",
            questions=SYSTEMONE_QUESTIONS, keep_alive="5m")
        _check_systemone(response)
        with pytest.raises(ollama.ResponseError) as refused:
            await client.systemone(model="llama3.2", state="s", questions=SYSTEMONE_QUESTIONS)
        assert refused.value.status_code == 400
        assert refused.value.error == '"llama3.2" does not support decision'
    assert ollama_emulator.requests[0].json["keep_alive"] == "5m"


def test_sync_systemone() -> None:
    with EmulatorThread(models=["nimble"]) as emu, ollama.Client(host=emu.url) as client:
        _check_systemone(client.systemone(
            model="nimble", state={"errors": [500, 502]}, questions=SYSTEMONE_QUESTIONS))

"""Every endpoint over real loopback sockets, through both the async and the sync client."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ollama_core import (
    BadRequestError,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    CreateRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    GenerateResponse,
    IncompleteStreamError,
    InvalidRequestError,
    MalformedLineError,
    NotFoundError,
    ProgressResponse,
    ServiceUnavailableError,
    StreamErrorLine,
    StreamInterruptedError,
    ToolCall,
)

from .conftest import Api

HELLO = [{"role": "user", "content": "hello there"}]


def last_body(api: Api, path: str) -> dict[str, Any]:
    matching = [r for r in api.emulator.requests if r.path == path]
    assert matching, f"no request reached {path}"
    body = matching[-1].json
    assert isinstance(body, dict)
    return body


async def test_version_and_availability(api: Api) -> None:
    assert await api.call("version") == "0.33.0"
    assert await api.call("is_available") is True


async def test_list_models(api: Api) -> None:
    tags = await api.call("list_models")
    names = [m.name for m in tags.models]
    assert "llama3.2:latest" in names and "all-minilm:latest" in names
    entry = tags.models[0]
    assert entry.size and entry.size > 0 and len(entry.digest or "") == 64
    assert entry.details is not None and entry.details.format == "gguf"


async def test_list_running_follows_use_and_unload(api: Api) -> None:
    assert (await api.call("list_running")).models == []
    await api.call("generate", GenerateRequest(model="llama3.2", prompt="hi"))
    running = (await api.call("list_running")).models
    assert [m.name for m in running] == ["llama3.2:latest"]
    assert running[0].expires_at and running[0].size_vram is not None
    await api.call("generate", GenerateRequest(model="llama3.2", keep_alive=0))
    assert (await api.call("list_running")).models == []


async def test_model_info(api: Api) -> None:
    info = await api.call("model_info", "llava")
    assert "vision" in info.capabilities
    assert info.details is not None and info.details.family
    assert info.model_info.get("tokenizer.ggml.tokens") == []
    verbose = await api.call("model_info", "llava", True)
    assert verbose.model_info["tokenizer.ggml.tokens"]
    assert last_body(api, "/api/show") == {"model": "llava", "verbose": True}


async def test_chat_is_sent_as_a_stream_and_types_the_answer(api: Api) -> None:
    reply = await api.call("chat", ChatRequest(model="llama3.2", messages=HELLO,
                                               options={"temperature": 0}, keep_alive="5m"))
    assert isinstance(reply, ChatResponse)
    assert reply.done is True and reply.done_reason == "stop"
    assert reply.message.role == "assistant" and "hello there" in reply.message.content
    assert reply.eval_count and reply.metrics.tokens_per_second
    body = last_body(api, "/api/chat")
    assert body["stream"] is True  # folded into one answer by the transport
    assert body["options"] == {"temperature": 0} and body["keep_alive"] == "5m"


async def test_chat_accepts_plain_dicts_like_ollama_python(api: Api) -> None:
    reply = await api.call("chat", {"model": "llama3.2", "messages": HELLO})
    assert reply["message"]["content"] == reply.message.content


async def test_chat_stream_sends_stream_true_and_ends_with_done(api: Api) -> None:
    chunks = await api.collect("chat_stream", ChatRequest(model="llama3.2", messages=HELLO))
    assert last_body(api, "/api/chat")["stream"] is True
    assert all(not c.done for c in chunks[:-1]) and chunks[-1].done
    assert "".join(c.message.content for c in chunks).strip().endswith("hello there")
    assert chunks[-1].total_duration and chunks[-1].eval_count


async def test_thinking_with_level(api: Api) -> None:
    reply = await api.call("chat", ChatRequest(model="qwen3", messages=HELLO, think="max"))
    assert reply.message.thinking and reply.message.content
    assert last_body(api, "/api/chat")["think"] == "max"
    with pytest.raises(BadRequestError, match="does not support thinking"):
        await api.call("chat", ChatRequest(model="llama3.2", messages=HELLO, think=True))


async def test_tool_call_round_trip_keeps_the_call_id(api: Api) -> None:
    tool = {"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}
    ask = ChatRequest(model="llama3.2", tools=[tool],
                      messages=[{"role": "user", "content": "get_weather for Paris?"}])
    reply = await api.call("chat", ask)
    call = reply.message.tool_calls[0]
    assert isinstance(call, ToolCall) and call.function.name == "get_weather"
    assert isinstance(call.function.arguments, dict) and call.function.arguments["city"]
    assert call.id
    history = [*ask.messages, reply.message,
               ChatMessage(role="tool", content="11 degrees", tool_name="get_weather",
                           tool_call_id=call.id)]
    final = await api.call("chat", ChatRequest(model="llama3.2", messages=history, tools=[tool]))
    assert "11 degrees" in final.message.content
    sent = last_body(api, "/api/chat")["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id and sent[2]["tool_call_id"] == call.id


async def test_streamed_tool_call_arrives_in_a_non_final_chunk(api: Api) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}
    chunks = await api.collect("chat_stream", ChatRequest(
        model="llama3.2", tools=[tool], messages=[{"role": "user", "content": "lookup x"}]))
    calls = [c for c in chunks if c.message.tool_calls]
    assert len(calls) == 1 and not calls[0].done and chunks[-1].done


async def test_structured_output_follows_the_schema(api: Api) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "age": {"type": "integer"}},
              "required": ["name", "age"]}
    reply = await api.call("chat", ChatRequest(model="llama3.2", messages=HELLO, format=schema))
    data = json.loads(reply.message.content)
    assert isinstance(data["name"], str) and isinstance(data["age"], int)
    assert last_body(api, "/api/chat")["format"] == schema


async def test_images_are_sent_as_base64(api: Api) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    reply = await api.call("chat", ChatRequest(model="llava", messages=[
        {"role": "user", "content": "what is this?", "images": [png]}]))
    assert "1 image" in reply.message.content
    assert last_body(api, "/api/chat")["messages"][0]["images"] == [png]


async def test_generate_with_every_option(api: Api) -> None:
    reply = await api.call("generate", GenerateRequest(
        model="llama3.2", prompt="why?", system="be brief",
        options={"num_predict": 4, "seed": 1}, logprobs=True, top_logprobs=2, truncate=True))
    assert isinstance(reply, GenerateResponse) and reply.done_reason == "length"
    assert reply.eval_count == 4 and reply.context
    assert reply.logprobs and reply.logprobs[0].top_logprobs
    body = last_body(api, "/api/generate")
    assert body["stream"] is True and body["system"] == "be brief" and body["top_logprobs"] == 2


async def test_generate_stream_counts_chunks(api: Api) -> None:
    chunks = await api.collect("generate_stream", GenerateRequest(
        model="llama3.2", prompt="x", options={"num_predict": 25}))
    assert len(chunks) == 26 and chunks[-1].done and chunks[-1].done_reason == "length"


async def test_load_and_unload(api: Api) -> None:
    loaded = await api.call("generate", GenerateRequest(model="llama3.2"))
    assert loaded.done_reason == "load"
    unloaded = await api.call("chat", ChatRequest(model="llama3.2", messages=[], keep_alive=0))
    assert unloaded.done_reason == "unload"


async def test_embed_batch_and_dimensions(api: Api) -> None:
    reply = await api.call("embed", EmbedRequest(model="all-minilm", input=["a", "b", "c"]))
    assert len(reply.embeddings) == 3 and all(len(v) == 384 for v in reply.embeddings)
    cut = await api.call("embed", EmbedRequest(model="all-minilm", input="a", dimensions=8))
    assert len(cut.embeddings) == 1 and len(cut.embeddings[0]) == 8


async def test_legacy_embeddings(api: Api) -> None:
    reply = await api.call("embeddings", EmbeddingsRequest(model="all-minilm", prompt="a"))
    assert len(reply.embedding) == 384


async def test_pull_without_and_with_progress(api: Api) -> None:
    final = await api.call("pull_model", "mistral")
    assert isinstance(final, ProgressResponse) and final.status == "success"
    lines = await api.collect("pull_model_stream", "tinyllama")
    statuses = [line.status for line in lines]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    layer = [line for line in lines if line.digest and line.completed is not None]
    assert layer and all(0 <= line.completed <= (line.total or 0) for line in layer)
    assert "tinyllama:latest" in [m.name for m in (await api.call("list_models")).models]


async def test_pull_of_an_unknown_model_raises_the_stream_error(api: Api) -> None:
    with pytest.raises(StreamErrorLine, match="file does not exist") as info:
        await api.collect("pull_model_stream", "no-such-model")
    assert info.value.status_code == 200
    with pytest.raises(Exception, match="file does not exist") as info2:
        await api.call("pull_model", "no-such-model")
    assert getattr(info2.value, "status_code", None) == 500


async def test_push(api: Api) -> None:
    lines = await api.collect("push_model_stream", "llama3.2")
    assert lines[0].status == "retrieving manifest" and lines[-1].status == "success"
    assert (await api.call("push_model", "llama3.2")).status == "success"


async def test_blobs_and_create_from_files(api: Api, tmp_path: Path) -> None:
    data = b"GGUF" + bytes(range(256)) * 64
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert await api.call("blob_exists", digest) is False
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    assert await api.call("push_blob", path) == digest
    assert await api.call("blob_exists", digest) is True
    posts = [r for r in api.emulator.requests if r.method == "POST" and "blobs" in r.path]
    assert await api.call("push_blob", data) == digest
    # Already there: checked with HEAD, not sent again.
    assert [r for r in api.emulator.requests if r.method == "POST" and "blobs" in r.path] == posts
    lines = await api.collect("create_model_stream", CreateRequest(
        model="mine", files={"model.gguf": digest}, system="be nice"))
    assert lines[-1].status == "success"
    info = await api.call("model_info", "mine")
    assert info.system == "be nice"


async def test_create_copy_delete(api: Api) -> None:
    final = await api.call("create_model", CreateRequest(model="base2", from_="llama3.2",
                                                         system="hi"))
    assert final.status == "success"
    assert last_body(api, "/api/create")["from"] == "llama3.2"
    assert await api.call("copy_model", "base2", "base3") is None
    names = [m.name for m in (await api.call("list_models")).models]
    assert "base3:latest" in names
    assert await api.call("delete_model", "base3") is None
    with pytest.raises(NotFoundError):
        await api.call("delete_model", "base3")
    with pytest.raises(NotFoundError):
        await api.call("copy_model", "ghost", "x")


async def test_missing_model_is_a_typed_404_with_ollamas_text(api: Api) -> None:
    with pytest.raises(NotFoundError) as info:
        await api.call("chat", ChatRequest(model="nope", messages=HELLO))
    assert info.value.status_code == 404 and info.value.error == "model 'nope' not found"
    with pytest.raises(NotFoundError):
        await api.collect("chat_stream", ChatRequest(model="nope", messages=HELLO))
    with pytest.raises(NotFoundError):
        await api.call("model_info", "nope")


@pytest.mark.parametrize(("request_obj", "field"), [
    ({"model": "", "messages": HELLO}, "model"),
    ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
    ({"model": "m", "messages": HELLO, "options": {"num_predict": "5"}}, "options.num_predict"),
    ({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["%%%"]}]},
     "messages.0.images.0"),
    ({"model": "m", "messages": HELLO, "think": "extreme"}, "think"),
])
async def test_bad_request_names_the_field_and_sends_nothing(
        api: Api, request_obj: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await api.call("chat", request_obj)
    assert info.value.field == field and field in str(info.value)
    with pytest.raises(InvalidRequestError):
        await api.collect("chat_stream", request_obj)
    assert api.emulator.hits() == 0


@pytest.mark.parametrize(("method", "args", "field"), [
    ("model_info", ("",), "model"),
    ("copy_model", ("a", ""), "destination"),
    ("delete_model", ("",), "model"),
    ("blob_exists", ("md5:abc",), "digest"),
    ("push_blob", ("/no/such/file",), "data"),
])
async def test_bad_arguments_of_management_calls(
        api: Api, method: str, args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await api.call(method, *args)
    assert info.value.field == field
    assert api.emulator.hits() == 0


async def test_server_error_status_and_retry_after_are_kept(api: Api) -> None:
    api.emulator.faults.add(path="/api/chat", status=503, retry_after=7)
    with pytest.raises(ServiceUnavailableError) as info:
        await api.call("chat", ChatRequest(model="llama3.2", messages=HELLO))
    assert info.value.status_code == 503 and info.value.retry_after == 7.0
    assert "server busy" in info.value.error


async def test_error_line_mid_stream_raises_after_the_chunks_before_it(api: Api) -> None:
    api.emulator.faults.add(path="/api/generate", error_after=3)
    seen: list[Any] = []
    with pytest.raises(StreamErrorLine) as info:
        await api.collect("generate_stream", GenerateRequest(
            model="llama3.2", prompt="x", options={"num_predict": 10}), on_chunk=seen.append)
    assert len(seen) == 3 and info.value.status_code == 200
    assert "error was encountered" in info.value.error


async def test_stream_cut_before_done_is_incomplete(api: Api) -> None:
    api.emulator.faults.add(path="/api/chat", truncate_after=2)
    seen: list[Any] = []
    with pytest.raises(IncompleteStreamError):
        await api.collect("chat_stream", ChatRequest(model="llama3.2", messages=HELLO),
                          on_chunk=seen.append)
    assert len(seen) == 2


async def test_progress_stream_cut_before_success_is_incomplete(api: Api) -> None:
    api.emulator.faults.add(path="/api/pull", truncate_after=3)
    with pytest.raises(IncompleteStreamError, match="success"):
        await api.collect("pull_model_stream", "tinyllama")


async def test_malformed_line_names_the_line(api: Api) -> None:
    api.emulator.faults.add(path="/api/chat", malformed_after=2)
    with pytest.raises(MalformedLineError) as info:
        await api.collect("chat_stream", ChatRequest(model="llama3.2", messages=HELLO))
    assert info.value.line_number == 3 and "broken" in info.value.excerpt


async def test_reset_mid_stream_is_a_stream_interruption(api: Api) -> None:
    api.emulator.faults.add(path="/api/chat", reset_after=2)
    seen: list[Any] = []
    with pytest.raises(StreamInterruptedError) as info:
        await api.collect("chat_stream", ChatRequest(
            model="llama3.2", messages=HELLO, options={"num_predict": 50}), on_chunk=seen.append)
    assert len(seen) == 2
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("fault", [{"blank_lines": True}, {"split_writes": True}])
async def test_stream_framing_faults_are_transparent(api: Api, fault: dict[str, Any]) -> None:
    api.emulator.faults.add(path="/api/generate", **fault)
    chunks = await api.collect("generate_stream", GenerateRequest(
        model="llama3.2", prompt="naïve café ✓ 日本語", options={"num_predict": 30}))
    reference = await api.collect("generate_stream", GenerateRequest(
        model="llama3.2", prompt="naïve café ✓ 日本語", options={"num_predict": 30}))
    assert [c.response for c in chunks] == [c.response for c in reference]

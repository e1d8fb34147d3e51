"""ollama-python habits: keyword calls, its keyword names and method names, ``stream=True``
refused, functions as tools, its pydantic objects, paths as images.

Every call runs against the emulator through both clients (the ``api`` fixture), and the
body the emulator received is checked, so "accepted" means "sent as the wire expects".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ollama
import pytest

from ollama_core import (
    ChatRequest,
    CreateRequest,
    EmbedRequest,
    GenerateRequest,
    InvalidRequestError,
    OllamaClient,
    Options,
    SyncOllamaClient,
)
from ollama_core.emulator import EmulatorThread

from .conftest import Api
from .typecheck import mypy_strict

HI = [{"role": "user", "content": "hi"}]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)


def _last(api: Api, path: str) -> dict[str, Any]:
    request = [r for r in api.emulator.requests if r.path == path][-1]
    body: dict[str, Any] = request.json
    return body


# -- keyword calls -----------------------------------------------------------------------------


async def test_chat_generate_embed_take_keywords(api: Api) -> None:
    reply = await api.call("chat", model="llama3.2", messages=HI, options={"temperature": 0})
    assert "hi" in reply.message.content
    assert _last(api, "/api/chat") == {"model": "llama3.2", "messages": HI,
                                       "options": {"temperature": 0}, "stream": True}
    answer = await api.call("generate", model="llama3.2", prompt="hello", system="terse")
    assert answer.done
    body = _last(api, "/api/generate")
    assert (body["prompt"], body["system"]) == ("hello", "terse")
    vectors = await api.call("embed", model="all-minilm", input=["a", "b"], dimensions=8)
    assert [len(v) for v in vectors.embeddings] == [8, 8]
    legacy = await api.call("embeddings", model="all-minilm", prompt="a")
    assert legacy.embedding


async def test_stream_methods_take_keywords(api: Api) -> None:
    chunks = await api.collect("chat_stream", model="llama3.2", messages=HI)
    assert chunks[-1].done and len(chunks) > 1
    chunks = await api.collect("generate_stream", model="llama3.2", prompt="hello",
                               stream=True)
    assert chunks[-1].done
    assert _last(api, "/api/generate")["stream"] is True


async def test_keywords_override_and_extend_a_request(api: Api) -> None:
    request = ChatRequest(model="qwen3", messages=HI, options={"temperature": 1})
    await api.call("chat", request, model="llama3.2", options=Options(seed=7), keep_alive=0)
    body = _last(api, "/api/chat")
    assert body["model"] == "llama3.2"
    assert body["options"] == {"seed": 7}  # the keyword replaces the field, as a whole
    assert body["keep_alive"] == 0
    assert request.model == "qwen3"  # the request object is not modified
    await api.call("generate", {"model": "llama3.2", "prompt": "a"}, prompt="b", raw=None)
    assert _last(api, "/api/generate")["prompt"] == "b"
    assert "raw" not in _last(api, "/api/generate")  # None is "not given"


async def test_a_bad_keyword_value_names_its_field(api: Api) -> None:
    with pytest.raises(InvalidRequestError) as err:
        await api.call("chat", model="llama3.2", messages=[{"role": 4, "content": "x"}])
    assert err.value.field == "messages.0.role"
    with pytest.raises(InvalidRequestError) as err:
        await api.call("embed", model="all-minilm", input="x", dimensions="8")
    assert err.value.field == "dimensions"
    assert api.emulator.hits("/api/chat") == api.emulator.hits("/api/embed") == 0


@pytest.mark.parametrize(("method", "kwargs"), [
    ("chat", {"model": "llama3.2", "mesages": HI}),
    ("chat_stream", {"model": "llama3.2", "prompt": "x"}),
    ("generate", {"model": "llama3.2", "messages": HI}),
    ("embed", {"model": "all-minilm", "prompt": "x"}),
    ("embeddings", {"model": "all-minilm", "input": "x"}),
    ("create_model", {"model": "m", "from": "llama3.2"}),
])
async def test_an_unknown_keyword_is_an_invalid_request_naming_it(
        api: Api, method: str, kwargs: dict[str, Any]) -> None:
    bad = next(k for k in kwargs if k != "model")
    with pytest.raises(InvalidRequestError, match=f"{bad}: {method}\\(\\) has no such") as err:
        if method.endswith("_stream"):
            await api.collect(method, **kwargs)
        else:
            await api.call(method, **kwargs)
    assert err.value.field == bad
    assert len(api.emulator.requests) == 0


async def test_no_model_at_all_is_reported_as_the_missing_field(api: Api) -> None:
    with pytest.raises(InvalidRequestError) as err:
        await api.call("chat")
    assert err.value.field == "model"


async def test_a_model_name_as_the_request_gets_a_hint(api: Api) -> None:
    with pytest.raises(InvalidRequestError, match=r"got str \(give the model as model=\.\.\.\)"):
        await api.call("generate", "llama3.2")


async def test_create_takes_from_underscore(api: Api) -> None:
    progress = await api.call("create_model", model="mine", from_="llama3.2", system="Be brief.")
    assert progress.status == "success"
    body = _last(api, "/api/create")
    assert (body["from"], body["system"]) == ("llama3.2", "Be brief.")
    assert "from_" not in body
    chunks = await api.collect("create_model_stream", CreateRequest(model="mine2"),
                               from_="mine")
    assert chunks[-1].status == "success"
    assert "mine2:latest" in {m.name for m in (await api.call("list_models")).models}


async def test_model_keyword_where_ours_says_name(api: Api) -> None:
    info = await api.call("model_info", model="llama3.2")
    assert "tools" in info.capabilities
    assert (await api.call("pull_model", model="gemma3")).status == "success"
    chunks = await api.collect("pull_model_stream", model="tinyllama")
    assert chunks[-1].status == "success"
    assert (await api.call("push_model", model="gemma3")).status == "success"
    chunks = await api.collect("push_model_stream", model="gemma3")
    assert chunks[-1].status == "success"
    await api.call("delete_model", model="tinyllama")
    assert "tinyllama:latest" not in {m.name for m in (await api.call("list_models")).models}
    assert _last(api, "/api/delete") == {"model": "tinyllama"}


async def test_two_different_model_names_or_none_are_refused(api: Api) -> None:
    with pytest.raises(InvalidRequestError, match="two model names") as err:
        await api.call("pull_model", "gemma3", model="phi4")
    assert err.value.field == "model"
    with pytest.raises(InvalidRequestError, match="needs a model name"):
        await api.call("delete_model")
    assert (await api.call("model_info", "llama3.2", model="llama3.2")).details.family
    assert api.emulator.hits("/api/pull") == api.emulator.hits("/api/delete") == 0


# -- stream=True given to a method that returns the whole answer ----------------------------


@pytest.mark.parametrize(("method", "stream_method", "request_"), [
    ("chat", "chat_stream", {"model": "llama3.2", "messages": HI, "stream": True}),
    ("generate", "generate_stream", GenerateRequest(model="llama3.2", prompt="x", stream=True)),
    ("create_model", "create_model_stream", {"model": "m", "from": "llama3.2", "stream": True}),
])
async def test_stream_true_in_a_request_is_refused_naming_the_stream_method(
        api: Api, method: str, stream_method: str, request_: Any) -> None:
    with pytest.raises(InvalidRequestError, match=f"call {stream_method}\\(\\) instead") as err:
        await api.call(method, request_)
    assert err.value.field == "stream"
    assert len(api.emulator.requests) == 0


@pytest.mark.parametrize(("method", "kwargs"), [
    ("chat", {"model": "llama3.2", "messages": HI}),
    ("generate", {"model": "llama3.2", "prompt": "x"}),
    ("create_model", {"model": "m", "from_": "llama3.2"}),
    ("pull_model", {"model": "gemma3"}),
    ("push_model", {"model": "gemma3"}),
    ("pull", {"model": "gemma3"}),
])
async def test_stream_true_keyword_is_refused(api: Api, method: str,
                                              kwargs: dict[str, Any]) -> None:
    target = {"pull": "pull_model"}.get(method, method)
    with pytest.raises(InvalidRequestError, match=f"call {target}_stream\\(\\) instead"):
        await api.call(method, stream=True, **kwargs)
    assert len(api.emulator.requests) == 0


async def test_stream_false_is_accepted(api: Api) -> None:
    reply = await api.call("chat", {"model": "llama3.2", "messages": HI, "stream": False})
    assert reply.done
    assert (await api.call("generate", model="llama3.2", prompt="x", stream=False)).done
    assert (await api.call("pull_model", "gemma3", stream=False)).status == "success"


# -- ollama-python's method names ------------------------------------------------------------


@pytest.mark.parametrize("cls", [OllamaClient, SyncOllamaClient])
def test_familiar_names_are_aliases_of_ours(cls: type[Any]) -> None:
    pairs = {"list": "list_models", "show": "model_info", "ps": "list_running",
             "pull": "pull_model", "push": "push_model", "create": "create_model",
             "copy": "copy_model", "delete": "delete_model"}
    for alias, ours in pairs.items():
        assert getattr(cls, alias) is getattr(cls, ours), alias


async def test_familiar_names_work(api: Api) -> None:
    assert "llama3.2:latest" in {m.name for m in (await api.call("list")).models}
    assert (await api.call("show", "llama3.2")).details.family == "llama"
    await api.call("generate", model="llama3.2", prompt="x")
    assert [m.name for m in (await api.call("ps")).models] == ["llama3.2:latest"]
    assert (await api.call("pull", "gemma3")).status == "success"
    await api.call("copy", "gemma3", "user/gemma3")
    assert (await api.call("push", "user/gemma3")).status == "success"
    await api.call("create", model="mine", from_="gemma3")
    await api.call("delete", "user/gemma3")
    names = {m.name for m in (await api.call("list")).models}
    assert "mine:latest" in names and "user/gemma3:latest" not in names


# -- tools as functions ----------------------------------------------------------------------


def add_two_numbers(a: int, b: int) -> int:
    """Add two numbers.

    Args:
      a: the first number
      b: the second number
    """
    return a + b


def test_functions_as_tools_need_the_tool_calling_plugin() -> None:
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[]) as client:
        with pytest.raises(InvalidRequestError,
                           match=r"tools\.1: a Python function \(add_two_numbers\).*"
                                 r"tool_calling plugin: enable it") as err:
            client.chat(model="llama3.2", messages=HI,
                        tools=[{"type": "function", "function": {"name": "f"}},
                               add_two_numbers])
        assert err.value.field == "tools.1"
        assert emu.hits("/api/chat") == 0


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_functions_as_tools_with_the_plugin(kind: str) -> None:
    with EmulatorThread() as emu:
        if kind == "async":
            async with OllamaClient(emu.url, plugins=["tool_calling"]) as client:
                reply = await client.chat(model="llama3.2", messages=HI,
                                          tools=[add_two_numbers])
                registered = client.plugin("tool_calling").tools
        else:
            with SyncOllamaClient(emu.url, plugins=["tool_calling"]) as sync:
                reply = sync.chat({"model": "llama3.2", "messages": HI,
                                   "tools": [add_two_numbers]})
                registered = sync.plugin("tool_calling").tools
        assert reply.done
        # the same definition ollama-python's convert_function_to_tool makes
        expected = ollama._utils.convert_function_to_tool(add_two_numbers).model_dump(
            exclude_none=True)
        assert emu.requests[-1].json["tools"] == [expected]
        assert registered == []  # a function given in a call is not registered


def test_a_function_without_a_schema_is_an_invalid_request_naming_the_entry() -> None:
    def takes_bytes(data: bytes) -> None:
        """Take bytes."""

    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=["tool_calling"]) as c:
        with pytest.raises(InvalidRequestError, match=r"tools\.0: ") as err:
            c.chat(model="llama3.2", messages=HI, tools=[takes_bytes])
        assert err.value.field == "tools.0"
        assert emu.hits("/api/chat") == 0


# -- ollama-python's own objects ---------------------------------------------------------------


async def test_ollama_python_message_options_and_tool_objects(api: Api) -> None:
    tool = ollama._utils.convert_function_to_tool(add_two_numbers)
    await api.call("chat", model="llama3.2",
                   messages=[ollama.Message(role="user", content="hi")],
                   options=ollama.Options(temperature=0, num_ctx=2048), tools=[tool])
    body = _last(api, "/api/chat")
    assert body["messages"] == HI
    assert body["options"] == {"temperature": 0, "num_ctx": 2048}
    assert body["tools"] == [tool.model_dump(exclude_none=True)]
    # inside our own request objects too, and as create's parameters
    await api.call("chat", ChatRequest(model="llama3.2",
                                       messages=[ollama.Message(role="user", content="hi")]))
    assert _last(api, "/api/chat")["messages"] == HI
    await api.call("embed", EmbedRequest(model="all-minilm", input="x",
                                         options=ollama.Options(seed=3)))
    assert _last(api, "/api/embed")["options"] == {"seed": 3}
    await api.call("create_model", model="mine", from_="llama3.2",
                   parameters=ollama.Options(temperature=0.5))
    assert _last(api, "/api/create")["parameters"] == {"temperature": 0.5}


async def test_an_ollama_python_request_object_is_a_request(api: Api) -> None:
    request = ollama._types.ChatRequest(model="llama3.2", messages=[ollama.Message(role="user",
                                                                        content="hi")])
    reply = await api.call("chat", request)
    assert reply.done
    assert _last(api, "/api/chat")["messages"] == HI


# -- images as paths -------------------------------------------------------------------------


def test_paths_as_images_need_the_vision_support_plugin(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[]) as client:
        with pytest.raises(InvalidRequestError,
                           match=r"images\.0: a path .*vision_support plugin") as err:
            client.generate(model="llava", prompt="what is this?", images=[image])
        assert err.value.field == "images.0"
        with pytest.raises(InvalidRequestError) as err:
            client.chat(model="llava", messages=[
                {"role": "user", "content": "x", "images": [PNG, image]}])
        assert err.value.field == "messages.0.images.1"
        assert len(emu.requests) == 0


def test_paths_as_images_with_the_plugin(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=["vision_support"]) as c:
        c.generate(GenerateRequest(model="llava", prompt="what is this?", images=[image]))
        import base64

        assert emu.requests[-1].json["images"] == [base64.b64encode(PNG).decode()]


# -- what type checkers see ------------------------------------------------------------------

_TYPED_USE = '''
from pathlib import Path
import ollama
from ollama_core import ChatRequest, GenerateRequest, OllamaClient, Options, SyncOllamaClient

def add(a: int, b: int) -> int:
    return a + b

def sync(c: SyncOllamaClient) -> None:
    r = c.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}], tools=[add],
               options={"temperature": 0}, keep_alive="5m", think="high", stream=False)
    print(r.message.content)
    c.chat(ChatRequest(model="x"), model="y", options=Options(seed=1))
    c.chat(model="x", messages=[ollama.Message(role="user", content="hi")],
           options=ollama.Options(temperature=0))
    c.generate(model="x", prompt="p", images=[Path("a.png"), b"raw", "b64"])
    GenerateRequest(model="x", images=[Path("a.png")])
    ChatRequest.builder().model("x").user("hi", images=[Path("a.png")]).build()
    GenerateRequest.builder().model("x").image(Path("a.png")).images([b"raw"]).build()
    for chunk in c.chat_stream(model="x", messages=[], stream=True):
        print(chunk.message.content)
    c.embed(model="m", input=["a"])
    c.create(model="m", from_="x", system="s")
    c.pull("m"); c.pull(model="m"); c.show(model="m"); c.delete("m"); c.copy("a", "b")
    print(c.list().models, c.ps().models, c.push(model="m").status)
    # the alias named `list` does not shadow the builtin in the clients' annotations
    names: list[str] = c.plugins + c.async_client.plugins
    print(names[0].upper())

async def asynchronous(c: OllamaClient) -> None:
    r = await c.generate(model="llama3.2", prompt="x")
    print(r.response)
    async for chunk in c.generate_stream(model="x", prompt="p"):
        print(chunk.response)
    print((await c.list()).models)
'''

_TYPED_WRONG = '''
from ollama_core import SyncOllamaClient

def wrong(c: SyncOllamaClient) -> None:
    c.chat(model="x", stream=True)
    c.chat(model="x", mesages=[])
    c.generate(model="x", prompt=3)
'''


def test_mypy_strict_accepts_the_keyword_calls_and_catches_wrong_ones(tmp_path: Path) -> None:
    out, error_lines = mypy_strict(tmp_path, _TYPED_USE, _TYPED_WRONG)
    errors = [line.split(": error: ")[1] for line in error_lines]
    assert all("wrong.py" in line for line in error_lines), out
    assert len(errors) == 3, out
    assert 'Argument "stream" to "chat"' in errors[0]
    assert 'Unexpected keyword argument "mesages"' in errors[1]
    assert 'Argument "prompt" to "generate"' in errors[2]

"""Tests of ``ollama_plugins.tool_calling``: schemas from type hints and docstrings, the
registry, executing tool calls, the stream accumulator, the plugin's configuration and
hook, and full round trips against the emulator over loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NewType, Optional, TypedDict

import pytest

from ollama_core import (
    ChatMessage,
    ChatResponse,
    InvalidConfigError,
    OllamaClient,
    SyncOllamaClient,
    ToolCall,
    ToolCallFunction,
)
from ollama_core.emulator import EmulatorThread, OllamaEmulator
from ollama_plugins.tool_calling import (
    ToolCallAccumulator,
    ToolCallError,
    ToolCallingPlugin,
    ToolRegistry,
    ToolResults,
    function_to_tool,
)

# --------------------------------------------------------------------------------------------
# Types used in signatures (module level: type hints must resolve from the module)
# --------------------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Point:
    """A point on the map.

    Attributes:
        lat: Latitude in degrees.
    """

    lat: float
    lon: float = 0.0


@dataclasses.dataclass
class Plain:
    x: int


class Filter(TypedDict, total=False):
    tag: str
    limit: int


class Range(TypedDict):
    low: int
    high: int


@dataclasses.dataclass
class Node:
    children: list[Node]


UserId = NewType("UserId", int)


def _schema(fn: Callable[..., Any]) -> dict[str, Any]:
    parameters = function_to_tool(fn).to_dict()["function"]["parameters"]
    assert isinstance(parameters, dict)
    return parameters


def _param_schema(annotation: Any) -> dict[str, Any]:
    """The property schema of a one-parameter function annotated with ``annotation``."""

    def fn(x):  # type: ignore[no-untyped-def]
        return x

    fn.__annotations__ = {"x": annotation}
    return _schema(fn)["properties"]["x"]  # type: ignore[no-any-return]


POINT_SCHEMA = {
    "type": "object",
    "description": "A point on the map.",
    "properties": {
        "lat": {"type": "number", "description": "Latitude in degrees."},
        "lon": {"type": "number"},
    },
    "required": ["lat"],
}

# --------------------------------------------------------------------------------------------
# function_to_tool: one case per type
# --------------------------------------------------------------------------------------------

SCHEMA_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("int", int, {"type": "integer"}),
    ("float", float, {"type": "number"}),
    ("bool", bool, {"type": "boolean"}),
    ("str", str, {"type": "string"}),
    ("None", None, {"type": "null"}),
    ("list[int]", list[int], {"type": "array", "items": {"type": "integer"}}),
    ("bare list", list, {"type": "array"}),
    ("Sequence[str]", Sequence[str], {"type": "array", "items": {"type": "string"}}),
    ("tuple[int, ...]", tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
    ("tuple[int, str]", tuple[int, str],
     {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
      "minItems": 2, "maxItems": 2}),
    ("bare tuple", tuple, {"type": "array"}),
    ("set[str]", set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
    ("bare dict", dict, {"type": "object"}),
    ("dict[str, Any]", dict[str, Any], {"type": "object"}),
    ("dict[str, float]", dict[str, float],
     {"type": "object", "additionalProperties": {"type": "number"}}),
    ("Mapping[str, int]", Mapping[str, int],
     {"type": "object", "additionalProperties": {"type": "integer"}}),
    ("Optional[int]", Optional[int], {"type": "integer"}),  # noqa: UP045 - the old spelling
    ("int | None", int | None, {"type": "integer"}),
    ("int | str", int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ("int | str | None", int | str | None,
     {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ("Literal str", Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
    ("Literal int", Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
    ("Literal mixed", Literal[1, "a"], {"enum": [1, "a"]}),
    ("Enum", Color, {"type": "string", "enum": ["red", "green"]}),
    ("IntEnum", Priority, {"type": "integer", "enum": [1, 2]}),
    ("dataclass", Point, POINT_SCHEMA),
    ("dataclass without docstring", Plain,
     {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}),
    ("TypedDict total=False", Filter,
     {"type": "object", "properties": {"tag": {"type": "string"}, "limit": {"type": "integer"}},
      "required": []}),
    ("TypedDict", Range,
     {"type": "object", "properties": {"low": {"type": "integer"}, "high": {"type": "integer"}},
      "required": ["low", "high"]}),
    ("Annotated description", Annotated[int, "How many."],
     {"type": "integer", "description": "How many."}),
    ("Annotated keywords", Annotated[int, "Count.", {"minimum": 0}],
     {"type": "integer", "description": "Count.", "minimum": 0}),
    ("Annotated Optional", Annotated[Optional[str], "Name."],  # noqa: UP045
     {"type": "string", "description": "Name."}),
    ("list of dataclasses", list[Point], {"type": "array", "items": POINT_SCHEMA}),
    ("nested containers", dict[str, list[int | None]],
     {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}}),
    ("union with list", list[str] | str,
     {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]}),
    ("Any", Any, {}),
    ("NewType", UserId, {"type": "integer"}),
]


@pytest.mark.parametrize(("annotation", "expected"), [c[1:] for c in SCHEMA_CASES],
                         ids=[c[0] for c in SCHEMA_CASES])
def test_schema_of_each_type(annotation: Any, expected: dict[str, Any]) -> None:
    assert _param_schema(annotation) == expected


def test_missing_annotation_means_any_value() -> None:
    def fn(x, y: int):  # type: ignore[no-untyped-def]
        return x

    assert _schema(fn)["properties"] == {"x": {}, "y": {"type": "integer"}}


@pytest.mark.parametrize(("annotation", "message"), [
    (bytes, "cannot describe bytes"),
    (complex, "cannot describe complex"),
    (dict[int, str], "key type must be str"),
    (Node, "recursive types are not supported"),
    (Callable[[int], int], "cannot describe"),
], ids=["bytes", "complex", "int keys", "recursive", "callable"])
def test_unsupported_types_fail_at_registration(annotation: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message) as info:
        _param_schema(annotation)
    assert "parameter 'x'" in str(info.value)


def test_unresolvable_hint_names_the_tool() -> None:
    def fn(x: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(TypeError, match="cannot resolve the type hints of tool 'fn'"):
        function_to_tool(fn)


def test_required_iff_no_default() -> None:
    def fn(a: int, b: int = 1, c: int | None = None, d: Optional[int] = 2,  # noqa: UP045
           e: int | None = None, *, f: str, g: str = "") -> None:
        pass

    assert _schema(fn)["required"] == ["a", "f"]

    def optional_without_default(x: int | None) -> None:
        pass

    assert _schema(optional_without_default)["required"] == ["x"]


class Tools:
    def method(self, city: str) -> str:
        return city

    @classmethod
    def factory(cls, n: int) -> int:
        return n

    def __call__(self, q: str) -> str:
        return q


def test_self_cls_args_kwargs_are_skipped() -> None:
    def variadic(a: int, *args: int, b: str = "", **kwargs: str) -> None:
        pass

    assert _schema(variadic) == {"type": "object", "properties": {
        "a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["a"]}
    assert _schema(Tools().method)["properties"] == {"city": {"type": "string"}}
    assert _schema(Tools.factory)["properties"] == {"n": {"type": "integer"}}
    assert _schema(Tools.method)["properties"] == {"city": {"type": "string"}}
    tool = function_to_tool(Tools())
    assert tool.to_dict()["function"]["name"] == "Tools"
    assert tool.to_dict()["function"]["parameters"]["properties"] == {"q": {"type": "string"}}


def test_partial_is_described_by_its_function() -> None:
    function = function_to_tool(functools.partial(google, "Paris")).to_dict()["function"]
    assert function["name"] == "google"
    assert function["description"] == "Get the weather for a city."
    assert function["parameters"]["properties"] == {
        "days": {"type": "integer", "description": "How many days."}}
    assert function["parameters"]["required"] == []


# --------------------------------------------------------------------------------------------
# Docstrings
# --------------------------------------------------------------------------------------------


def google(city: str, days: int = 1) -> str:
    """Get the weather
    for a city.

    Longer text that is not part of the summary.

    Args:
        city: The city name,
            for example Paris.
        days (int): How many days.

    Returns:
        The forecast.
    """
    return city


def numpy(city: str, days: int = 1) -> str:
    """Get the weather
    for a city.

    Longer text that is not part of the summary.

    Parameters
    ----------
    city : str
        The city name,
        for example Paris.
    days : int, optional
        How many days.

    Returns
    -------
    str
        The forecast.
    """
    return city


def sphinx(city: str, days: int = 1) -> str:
    """Get the weather
    for a city.

    Longer text that is not part of the summary.

    :param city: The city name,
        for example Paris.
    :param int days: How many days.
    :returns: The forecast.
    """
    return city


@pytest.mark.parametrize("fn", [google, numpy, sphinx], ids=["google", "numpy", "sphinx"])
def test_docstring_styles(fn: Callable[..., Any]) -> None:
    assert function_to_tool(fn).to_dict() == {
        "type": "function",
        "function": {
            "name": fn.__name__,
            "description": "Get the weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city name, for example Paris."},
                    "days": {"type": "integer", "description": "How many days."},
                },
                "required": ["city"],
            },
        },
    }


def test_annotated_description_wins_over_docstring_and_overrides_apply() -> None:
    def fn(city: Annotated[str, "From the annotation."]) -> None:
        """Summary.

        Args:
            city: From the docstring.
        """

    function = function_to_tool(fn, name="lookup", description="Custom.").to_dict()["function"]
    assert function["name"] == "lookup"
    assert function["description"] == "Custom."
    assert function["parameters"]["properties"]["city"]["description"] == "From the annotation."


def test_no_docstring_no_description() -> None:
    def bare(x: int) -> int:
        return x

    assert "description" not in function_to_tool(bare).to_dict()["function"]


@pytest.mark.parametrize("name", ["", "has space", "<lambda>", "x" * 65])
def test_invalid_tool_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid tool name"):
        function_to_tool(lambda: None, name=name if name != "<lambda>" else None)


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def test_register_forms() -> None:
    registry = ToolRegistry()

    @registry.register
    def bare(x: int) -> int:
        return x

    @registry.register()
    def called(x: int) -> int:
        return x

    @registry.register(name="renamed", description="Renamed.")
    def original(x: int) -> int:
        return x

    def plain(x: int) -> int:
        return x

    assert registry.register(plain) is plain
    assert bare(1) == 1 and original(2) == 2  # the decorators return the function itself
    assert registry.names == ["bare", "called", "renamed", "plain"]
    assert [t.to_dict()["function"]["name"] for t in registry.tools] == registry.names
    assert registry.tools[2].to_dict()["function"]["description"] == "Renamed."
    assert "renamed" in registry and "original" not in registry
    entry = registry.get("renamed")
    assert entry is not None and entry.function is original
    assert registry.get("missing") is None
    assert len(registry) == 4 and list(registry) == registry.names


def test_register_duplicate_and_unregister() -> None:
    registry = ToolRegistry([google])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(google)
    assert registry.unregister("google").function is google
    assert "google" not in registry
    with pytest.raises(KeyError, match="no tool named 'google'"):
        registry.unregister("google")
    registry.register(google)  # free again
    assert registry.names == ["google"]


# --------------------------------------------------------------------------------------------
# Executing tool calls
# --------------------------------------------------------------------------------------------


def _call(name: str, arguments: Any = None, id: str | None = None,
          index: int | None = None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "arguments": {} if arguments is None else arguments}
    if index is not None:
        function["index"] = index
    call: dict[str, Any] = {"function": function}
    if id is not None:
        call["id"] = id
    return call


def _sync_add(a: int, b: int) -> int:
    return a + b


async def _async_add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


@pytest.mark.parametrize("fn", [_sync_add, _async_add], ids=["sync", "async"])
async def test_execute_sync_and_async_tools(fn: Callable[..., Any]) -> None:
    registry = ToolRegistry()
    registry.register(fn, name="add")
    results = await registry.execute_tool_calls([_call("add", {"a": 2, "b": 3}, id="c1")])
    assert isinstance(results, ToolResults) and results.ok
    assert [m.to_dict() for m in results] == [
        {"role": "tool", "content": "5", "tool_name": "add", "tool_call_id": "c1"}]


@pytest.mark.parametrize(("result", "content"), [
    ("plain text", "plain text"),
    ({"temp": 21, "sky": "clair"}, '{"temp": 21, "sky": "clair"}'),
    ([1, 2], "[1, 2]"),
    (None, "null"),
    (Point(1.0), '{"lat": 1.0, "lon": 0.0}'),
    (Color.RED, '"red"'),
    (Path("/tmp/x"), '"/tmp/x"'),
], ids=["str", "dict", "list", "None", "dataclass", "enum", "path"])
async def test_result_content(result: Any, content: str) -> None:
    registry = ToolRegistry()
    registry.register(lambda: result, name="get")
    (message,) = await registry.execute_tool_calls([_call("get")])
    assert message.content == content


async def test_unserialisable_result_is_an_error() -> None:
    registry = ToolRegistry()
    registry.register(lambda: object(), name="get")
    results = await registry.execute_tool_calls([_call("get")])
    assert results[0].content.startswith("error: the result of tool 'get' is not JSON")
    assert isinstance(results.errors[0].exception, ToolCallError)


def _wire_message() -> dict[str, Any]:
    return {"role": "assistant", "content": "",
            "tool_calls": [_call("add", {"a": 1, "b": 1}, id="x"), _call("add", {"a": 2, "b": 2})]}


@pytest.mark.parametrize("source", [
    ChatResponse.from_dict({"model": "m", "message": _wire_message(), "done": True}),
    ChatMessage.from_dict(_wire_message()),
    {"model": "m", "message": _wire_message(), "done": True},
    _wire_message(),
    [ToolCall.from_dict(c) for c in _wire_message()["tool_calls"]],
    _wire_message()["tool_calls"],
    # Wire dicts where a typed function belongs work too (the core allows them).
    [ToolCall(function={"name": "add", "arguments": {"a": 1, "b": 1}},  # type: ignore[arg-type]
              id="x"),
     ToolCall(function=ToolCallFunction(name="add", arguments={"a": 2, "b": 2}))],
], ids=["ChatResponse", "ChatMessage", "response dict", "message dict", "ToolCall list",
        "dict list", "mapping functions"])
async def test_execute_accepts_every_source(source: Any) -> None:
    registry = ToolRegistry()
    registry.register(_sync_add, name="add")
    results = await registry.execute_tool_calls(source)
    assert [(m.content, m.tool_call_id) for m in results] == [("2", "x"), ("4", None)]


async def test_no_tool_calls_gives_no_messages() -> None:
    registry = ToolRegistry([_sync_add])
    message = ChatMessage("assistant", "no tools needed")
    assert await registry.execute_tool_calls(message) == []
    with pytest.raises(TypeError, match="expected a ChatResponse"):
        await registry.execute_tool_calls(42)


async def test_async_calls_run_concurrently_results_in_call_order() -> None:
    second_started = asyncio.Event()
    registry = ToolRegistry()

    @registry.register
    async def first() -> str:
        # Only finishes if `second` runs while this one waits: proves concurrency.
        await asyncio.wait_for(second_started.wait(), 5)
        return "first"

    @registry.register
    async def second() -> str:
        second_started.set()
        return "second"

    results = await registry.execute_tool_calls([_call("first", id="1"), _call("second", id="2")])
    assert [(m.content, m.tool_call_id) for m in results] == [("first", "1"), ("second", "2")]


async def test_sync_calls_run_in_threads_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=5)
    loop_thread = threading.get_ident()
    registry = ToolRegistry()

    @registry.register
    def meet(who: str) -> str:
        assert threading.get_ident() != loop_thread  # never blocks the event loop
        barrier.wait()  # both calls must be in flight at once to pass
        return who

    results = await registry.execute_tool_calls(
        [_call("meet", {"who": "a"}), _call("meet", {"who": "b"})])
    assert [m.content for m in results] == ["a", "b"] and results.ok


async def test_sequential_execution_keeps_side_effect_order() -> None:
    seen: list[int] = []
    registry = ToolRegistry()

    @registry.register
    async def log(n: int) -> int:
        await asyncio.sleep(0.01 * (3 - n))  # later calls would finish first if concurrent
        seen.append(n)
        return n

    await registry.execute_tool_calls([_call("log", {"n": n}) for n in range(3)],
                                      concurrent=False)
    assert seen == [0, 1, 2]


async def test_unknown_tool() -> None:
    registry = ToolRegistry()
    registry.register(_sync_add, name="b_add")
    registry.register(_async_add, name="a_add")
    results = await registry.execute_tool_calls([_call("nope", id="c9")])
    assert results[0].to_dict() == {
        "role": "tool", "content": "error: unknown tool 'nope'; available: a_add, b_add",
        "tool_name": "nope", "tool_call_id": "c9"}
    (error,) = results.errors
    assert (error.position, error.name, error.tool_call_id) == (0, "nope", "c9")
    assert isinstance(error.exception, ToolCallError)


def kitchen_sink(city: str, days: int = 1, unit: Color = Color.RED,
                 where: Point | None = None, span: tuple[int, int] = (0, 1),
                 tags: list[str] | None = None, level: Priority = Priority.LOW) -> dict[str, Any]:
    return {"city": city, "days": days, "unit": unit, "where": where, "span": span,
            "tags": tags, "level": level}


@pytest.mark.parametrize(("arguments", "problems"), [
    ({}, ["missing required argument 'city'"]),
    ({"city": "P", "color": "red"}, ["unexpected argument 'color'"]),
    ({"city": 3}, ["'city': expected string, got integer"]),
    ({"city": "P", "days": "2"}, ["'days': expected integer, got string"]),
    ({"city": "P", "days": 1.5}, ["'days': expected integer, got number"]),
    ({"city": "P", "days": True}, ["'days': expected integer, got boolean"]),
    ({"city": "P", "unit": "blue"}, ["'unit': expected one of 'red', 'green', got 'blue'"]),
    ({"city": "P", "level": True}, ["'level': expected one of 1, 2, got true"]),
    ({"city": "P", "where": {"lon": "x", "alt": 1}},
     ["missing required field 'where.lat'", "'where.lon': expected number, got string",
      "unexpected field 'where.alt'"]),
    ({"city": "P", "span": [1]}, ["'span': expected array of 2 items, got 1"]),
    ({"city": "P", "tags": ["a", 2]}, ["'tags[1]': expected string, got integer"]),
    ({"days": "x", "extra": 1},
     ["missing required argument 'city'", "'days': expected integer, got string",
      "unexpected argument 'extra'"]),
    ("not json", ["arguments are not valid JSON"]),
    ([1, 2], ["arguments must be a JSON object, got list"]),
], ids=["missing", "unexpected", "str type", "int from str", "int from float", "int from bool",
        "enum value", "int enum from bool", "nested object", "tuple length", "array item",
        "several", "bad json string", "not an object"])
async def test_bad_arguments_are_reported(arguments: Any, problems: list[str]) -> None:
    registry = ToolRegistry([kitchen_sink])
    results = await registry.execute_tool_calls([_call("kitchen_sink", arguments, id="c")])
    content = results[0].content
    assert content.startswith("error: invalid arguments for tool 'kitchen_sink': ")
    for problem in problems:
        assert problem in content
    assert results[0].tool_call_id == "c"
    assert len(results.errors) == 1 and results.errors[0].message == content


async def test_arguments_are_converted_to_the_declared_types() -> None:
    registry = ToolRegistry([kitchen_sink])
    arguments = {"city": "P", "days": 2.0, "unit": "green", "where": {"lat": 1},
                 "span": [3, 4], "tags": None, "level": 2}
    results = await registry.execute_tool_calls([_call("kitchen_sink", arguments)])
    assert results.ok
    assert json.loads(results[0].content) == {
        "city": "P", "days": 2, "unit": "green", "where": {"lat": 1.0, "lon": 0.0},
        "span": [3, 4], "tags": None, "level": 2}


def converting(where: Point, unit: Color, span: tuple[int, int], level: Priority,
               ids: set[int], f: float) -> str:
    assert isinstance(where, Point) and where == Point(1.0, 2.0)
    assert unit is Color.GREEN and level is Priority.HIGH
    assert span == (3, 4) and ids == {1, 2}
    assert isinstance(f, float) and f == 2.0
    return "ok"


async def test_values_reach_the_function_as_python_types() -> None:
    registry = ToolRegistry([converting])
    arguments = {"where": {"lat": 1, "lon": 2.0}, "unit": "green", "span": [3, 4],
                 "level": 2, "ids": [1, 2, 1], "f": 2}
    results = await registry.execute_tool_calls([_call("converting", arguments)])
    assert results.ok, results.errors
    assert results[0].content == "ok"


def positional(a: int, b: int = 10, /, c: int = 100) -> int:
    return a + b + c


def with_kwargs(a: int, **rest: int) -> dict[str, int]:
    return {"a": a, **rest}


@pytest.mark.parametrize(("fn", "arguments", "content"), [
    (positional, {"a": 1}, "111"),
    (positional, {"a": 1, "c": 0}, "11"),
    (positional, {"a": 1, "b": 2, "c": 3}, "6"),
    (with_kwargs, {"a": 1, "z": 2}, '{"a": 1, "z": 2}'),
    (with_kwargs, {"a": 1, "z": "x"}, "error: invalid arguments for tool 'with_kwargs': "
                                      "'z': expected integer, got string"),
], ids=["positional only", "positional gap", "all given", "kwargs", "kwargs checked"])
async def test_parameter_kinds(fn: Callable[..., Any], arguments: dict[str, Any],
                               content: str) -> None:
    registry = ToolRegistry([fn])
    results = await registry.execute_tool_calls([_call(fn.__name__, arguments)])
    assert results[0].content == content


async def test_json_string_arguments_are_accepted() -> None:
    registry = ToolRegistry([_sync_add])
    arguments: Any = '{"a": 1, "b": 2}'  # what OpenAI-style servers send
    call = ToolCall(function=ToolCallFunction(name="_sync_add", arguments=arguments))
    results = await registry.execute_tool_calls([call])
    assert results[0].content == "3"


def _raise_sync(x: int) -> int:
    raise ValueError(f"bad x {x}")


async def _raise_async(x: int) -> int:
    raise ValueError(f"bad x {x}")


@pytest.mark.parametrize("fn", [_raise_sync, _raise_async], ids=["sync", "async"])
async def test_exceptions_are_reported_logged_and_recorded(
        fn: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    registry = ToolRegistry()
    registry.register(fn, name="boom")
    registry.register(_sync_add, name="add")
    with caplog.at_level(logging.WARNING, logger="ollama_plugins.tool_calling"):
        results = await registry.execute_tool_calls(
            [_call("add", {"a": 1, "b": 1}), _call("boom", {"x": 7}, id="b1")])
    assert [m.content for m in results] == ["2", "error: ValueError: bad x 7"]
    (error,) = results.errors
    assert isinstance(error.exception, ValueError) and str(error.exception) == "bad x 7"
    assert (error.position, error.name, error.tool_call_id) == (1, "boom", "b1")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "boom" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[1] is error.exception
    with pytest.raises(ExceptionGroup) as group:
        results.raise_errors()
    assert group.value.exceptions == (error.exception,)
    ToolResults([]).raise_errors()  # nothing to raise


async def test_timeout() -> None:
    registry = ToolRegistry()

    @registry.register
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    @registry.register
    async def own_timeout() -> str:
        raise TimeoutError("upstream timed out")

    started = time.monotonic()
    results = await registry.execute_tool_calls([_call("slow"), _call("own_timeout")],
                                                timeout=0.05)
    assert time.monotonic() - started < 2
    assert results[0].content == ("error: TimeoutError: tool 'slow' did not finish within "
                                  "0.05 seconds")
    assert isinstance(results.errors[0].exception, ToolCallError)
    # A TimeoutError raised by the tool itself is the tool's own failure.
    assert results[1].content == "error: TimeoutError: upstream timed out"
    assert isinstance(results.errors[1].exception, TimeoutError)


async def test_cancellation_propagates() -> None:
    registry = ToolRegistry()

    @registry.register
    async def forever() -> None:
        await asyncio.sleep(60)

    task = asyncio.ensure_future(registry.execute_tool_calls([_call("forever")]))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_execute_sync_variant() -> None:
    registry = ToolRegistry([_sync_add, _async_add])
    results = registry.execute_tool_calls_sync(
        [_call("_sync_add", {"a": 1, "b": 2}), _call("_async_add", {"a": 3, "b": 4})])
    assert [m.content for m in results] == ["3", "7"]


async def test_execute_sync_variant_refuses_inside_a_loop() -> None:
    with pytest.raises(RuntimeError, match="await execute_tool_calls"):
        ToolRegistry().execute_tool_calls_sync([])


# --------------------------------------------------------------------------------------------
# ToolCallAccumulator
# --------------------------------------------------------------------------------------------


def _chunk(content: str = "", *, thinking: str | None = None,
           calls: list[dict[str, Any]] | None = None, done: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if calls is not None:
        message["tool_calls"] = calls
    chunk: dict[str, Any] = {"model": "m", "message": message, "done": done}
    if done:
        chunk.update(done_reason="stop", eval_count=5, eval_duration=1_000_000)
    return chunk


@pytest.mark.parametrize("typed", [False, True], ids=["dicts", "ChatResponse"])
def test_accumulator_over_multi_chunk_tool_calls(typed: bool) -> None:
    chunks = [
        _chunk(thinking="Let me "),
        _chunk(thinking="check."),
        _chunk(calls=[_call("a", {"x": 1}, id="c1", index=0)]),
        _chunk("Checking"),
        _chunk(calls=[_call("b", {}, id="c2", index=1), _call("b", {}, id="c3", index=2)]),
        _chunk(" now."),
        _chunk(calls=[_call("b", {}, id="c3", index=3)]),  # a repeat is a call too
        _chunk(done=True),
    ]
    acc = ToolCallAccumulator()
    for chunk in chunks:
        acc.add(ChatResponse.from_dict(chunk) if typed else chunk)
        assert acc.done is chunk["done"]
    assert acc.chunks == len(chunks)
    assert acc.final is not None and acc.final.metrics.eval_count == 5
    assert acc.message().to_dict() == {
        "role": "assistant",
        "content": "Checking now.",
        "thinking": "Let me check.",
        "tool_calls": [
            _call("a", {"x": 1}, id="c1", index=0),
            _call("b", {}, id="c2", index=1),
            _call("b", {}, id="c3", index=2),
            _call("b", {}, id="c3", index=3),
        ],
    }


@pytest.mark.parametrize(("indexes", "expected"), [
    ([2, 0, 1], ["b", "c", "a"]),
    ([None, None, None], ["a", "b", "c"]),
    ([1, None, 0], ["a", "b", "c"]),  # incomplete indexes: arrival order
    ([0, 0, 1], ["a", "b", "c"]),  # stable
], ids=["by index", "no index", "some index", "equal index"])
def test_accumulator_honours_index(indexes: list[int | None], expected: list[str]) -> None:
    acc = ToolCallAccumulator()
    for name, index in zip("abc", indexes):
        acc.add(_chunk(calls=[_call(name, index=index)]))
    assert [c.function.name for c in acc.tool_calls] == expected


def test_accumulator_plain_answer_and_copies() -> None:
    acc = ToolCallAccumulator()
    acc.add(ChatMessage("assistant", "Hello"))
    acc.add(_chunk(", world", done=True))
    assert acc.message().to_dict() == {"role": "assistant", "content": "Hello, world"}
    assert acc.tool_calls == [] and acc.thinking == ""

    acc = ToolCallAccumulator()
    acc.add(_chunk(calls=[_call("a", {"x": 1})]))
    first = acc.message()
    assert first.tool_calls is not None
    first.tool_calls[0].function.arguments["x"] = 99
    assert acc.tool_calls[0].function.arguments == {"x": 1}


# --------------------------------------------------------------------------------------------
# The plugin: configuration and hook
# --------------------------------------------------------------------------------------------


@pytest.fixture
def tools_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module of tools, for the ``tools`` setting."""
    (tmp_path / "my_tools_for_tests.py").write_text(
        "def shout(text: str) -> str:\n"
        "    '''Upper-case the text.'''\n"
        "    return text.upper()\n\n"
        "def whisper(text: str) -> str:\n"
        "    return text.lower()\n\n"
        "NOT_CALLABLE = 3\n\n"
        "def untyped_bytes(data: bytes) -> None:\n"
        "    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_tools_for_tests"


def test_plugin_defaults() -> None:
    plugin = ToolCallingPlugin({})
    assert ToolCallingPlugin.name == "tool_calling"
    assert (plugin.attach, plugin.timeout, len(plugin.registry)) == (False, None, 0)
    assert ToolCallingPlugin().tools == []


def test_plugin_config_tools(tools_module: str) -> None:
    plugin = ToolCallingPlugin({"tools": [f"{tools_module}:shout"], "attach": True,
                                "timeout": 3})
    assert plugin.registry.names == ["shout"] and plugin.attach and plugin.timeout == 3.0
    assert plugin.tools[0].to_dict()["function"]["description"] == "Upper-case the text."


@pytest.mark.parametrize(("config", "message"), [
    ({"colour": 1}, "unknown key 'colour' (known: attach, timeout, tools)"),
    ({"attach": "yes"}, "attach: must be true or false, got 'yes'"),
    ({"timeout": 0}, "timeout: must be greater than 0, got 0"),
    ({"timeout": True}, "timeout: must be a number or null, got True"),
    ({"timeout": "5"}, "timeout: must be a number or null, got '5'"),
    ({"tools": "pkg:fn"}, "tools: must be a list"),
    ({"tools": [1]}, "tools[0]: must be a string, got 1"),
    ({"tools": ["no_colon"]}, "tools[0]: 'no_colon' is not of the form"),
    ({"tools": ["no_such_module_xyz:f"]}, "tools[0]: cannot import 'no_such_module_xyz'"),
    ({"tools": ["{mod}:shout", "{mod}:missing"]}, "tools[1]: 'my_tools_for_tests' has no "
                                                  "attribute 'missing'"),
    ({"tools": ["{mod}:NOT_CALLABLE"]}, "tools[0]: '{mod}:NOT_CALLABLE' is a int"),
    ({"tools": ["{mod}:untyped_bytes"]}, "tools: '{mod}:untyped_bytes': tool 'untyped_bytes'"),
], ids=["unknown key", "attach", "timeout zero", "timeout bool", "timeout str", "tools str",
        "tools items", "tools form", "tools import", "tools attribute", "tools callable",
        "tools schema"])
def test_plugin_config_errors(config: dict[str, Any], message: str, tools_module: str) -> None:
    if "tools" in config and isinstance(config["tools"], list):
        config = {"tools": [t.format(mod=tools_module) if isinstance(t, str) else t
                            for t in config["tools"]]}
    with pytest.raises(InvalidConfigError, match="^plugin 'tool_calling': ") as info:
        ToolCallingPlugin(config)
    assert message.format(mod=tools_module) in str(info.value)


def test_reconfigure_keeps_code_tools_and_swaps_config_tools(tools_module: str) -> None:
    plugin = ToolCallingPlugin({"tools": [f"{tools_module}:shout"]})
    plugin.register(_sync_add)
    plugin.reconfigure({"tools": [f"{tools_module}:whisper"], "attach": True})
    assert plugin.registry.names == ["_sync_add", "whisper"] and plugin.attach
    with pytest.raises(InvalidConfigError, match="unknown key 'nope'"):
        plugin.reconfigure({"nope": 1})
    assert plugin.registry.names == ["_sync_add", "whisper"]  # a bad config changes nothing


@pytest.mark.parametrize(("attach", "endpoint", "body", "gets_tools"), [
    (True, "chat", {"model": "m"}, True),
    (True, "chat", {"model": "m", "tools": None}, True),
    (True, "chat", {"model": "m", "tools": []}, False),  # an explicit "no tools"
    (True, "chat", {"model": "m", "tools": [{"type": "function", "function": {"name": "x"}}]},
     False),
    (True, "generate", {"model": "m"}, False),
    (False, "chat", {"model": "m"}, False),
], ids=["missing", "none", "explicit empty", "explicit", "generate", "attach off"])
def test_attach_hook(attach: bool, endpoint: str, body: dict[str, Any], gets_tools: bool) -> None:
    plugin = ToolCallingPlugin({"attach": attach})
    plugin.register(_sync_add)
    before = dict(body)
    plugin.ollama_prepare_request(endpoint=endpoint, body=body)
    if gets_tools:
        assert body["tools"] == [function_to_tool(_sync_add).to_dict()]
    else:
        assert body == before


def test_attach_with_empty_registry_adds_nothing() -> None:
    body: dict[str, Any] = {"model": "m"}
    ToolCallingPlugin({"attach": True}).ollama_prepare_request(endpoint="chat", body=body)
    assert body == {"model": "m"}


async def test_plugin_execute_uses_its_timeout_and_registry() -> None:
    plugin = ToolCallingPlugin({"timeout": 0.05})

    @plugin.register
    async def slow() -> None:
        await asyncio.sleep(5)

    results = await plugin.execute_tool_calls([_call("slow")])
    assert "did not finish within 0.05 seconds" in results[0].content
    other = ToolRegistry([_sync_add])
    results = await plugin.execute_tool_calls([_call("_sync_add", {"a": 1, "b": 1})],
                                              registry=other)
    assert results[0].content == "2"
    empty = ToolRegistry()  # an empty registry is still the one asked for
    results = await plugin.execute_tool_calls([_call("slow")], registry=empty)
    assert results[0].content == "error: unknown tool 'slow'; available: none"


# --------------------------------------------------------------------------------------------
# Round trips against the emulator (real loopback sockets)
# --------------------------------------------------------------------------------------------


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Get the current weather for a city.

    Args:
        city: The city name.
        unit: The temperature unit.
    """
    return {"city": city, "temperature": 21, "unit": unit}


async def get_time(city: str) -> str:
    """Get the local time in a city."""
    await asyncio.sleep(0)
    return f"12:00 in {city}"


@pytest.mark.parametrize("model", ["llama3.2:latest", "qwen3:latest"])
async def test_round_trip(emulator: OllamaEmulator, model: str) -> None:
    async with OllamaClient(emulator.url, plugins=[ToolCallingPlugin]) as client:
        plugin: ToolCallingPlugin = client.plugin("tool_calling")
        plugin.register(get_weather)
        plugin.register(get_time)
        messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris? "
                                                           "Use get_weather."}]
        reply = await client.chat({"model": model, "messages": messages, "tools": plugin.tools})
        sent = emulator.requests[-1].json
        assert sent["tools"] == [function_to_tool(get_weather).to_dict(),
                                 function_to_tool(get_time).to_dict()]
        (call,) = reply.message.tool_calls or []
        assert isinstance(call, ToolCall) and call.id

        results = await plugin.execute_tool_calls(reply)
        assert results.ok
        assert [m.to_dict() for m in results] == [{
            "role": "tool", "tool_name": "get_weather", "tool_call_id": call.id,
            "content": '{"city": "Paris", "temperature": 21, "unit": "celsius"}'}]

        messages += [reply.message, *results]
        final = await client.chat({"model": model, "messages": messages, "tools": plugin.tools})
        assert not final.message.tool_calls
        assert '"temperature": 21' in final.message.content
        sent_messages = emulator.requests[-1].json["messages"]
        assert sent_messages[-1]["tool_call_id"] == call.id
        assert sent_messages[-2]["tool_calls"][0]["id"] == call.id


async def test_streamed_round_trip_with_accumulator(emulator: OllamaEmulator) -> None:
    async with OllamaClient(emulator.url, plugins=[ToolCallingPlugin]) as client:
        plugin: ToolCallingPlugin = client.plugin("tool_calling")
        plugin.register(get_weather)
        plugin.register(get_time)
        messages: list[Any] = [{"role": "user",
                                "content": "Use get_weather and get_time for Paris."}]
        acc = ToolCallAccumulator()
        async for chunk in client.chat_stream({"model": "qwen3:latest", "messages": messages,
                                               "tools": plugin.tools}):
            acc.add(chunk)
        assert acc.done and acc.chunks > 2 and acc.thinking
        names = [c.function.name for c in acc.tool_calls]
        assert names == ["get_weather", "get_time"]

        results = await plugin.execute_tool_calls(acc.tool_calls)
        assert [m.content for m in results] == [
            '{"city": "Paris", "temperature": 21, "unit": "celsius"}', "12:00 in Paris"]
        messages += [acc.message(), *results]

        final = ToolCallAccumulator()
        async for chunk in client.chat_stream({"model": "qwen3:latest", "messages": messages}):
            final.add(chunk)
        assert final.tool_calls == []
        assert "12:00 in Paris" in final.content and '"temperature": 21' in final.content


async def test_attach_over_the_wire(emulator: OllamaEmulator) -> None:
    # A configured instance: plugin_config only reaches plugins named by entry point.
    plugin = ToolCallingPlugin({"attach": True})
    plugin.register(get_weather)
    request = {"model": "llama3.2:latest", "messages": [{"role": "user", "content": "Weather?"}]}
    async with OllamaClient(emulator.url, plugins=[plugin]) as client:
        reply = await client.chat(request)
        assert emulator.requests[-1].json["tools"] == [function_to_tool(get_weather).to_dict()]
        assert reply.message.tool_calls

        client.configure_plugin("tool_calling", {"attach": False})
        assert client.plugin("tool_calling") is plugin  # reconfigured in place, tools kept
        reply = await client.chat(request)
        assert "tools" not in emulator.requests[-1].json
        assert not reply.message.tool_calls


def test_sync_client_round_trip() -> None:
    with EmulatorThread() as emulator, \
            SyncOllamaClient(emulator.url, plugins=[ToolCallingPlugin]) as client:
        plugin: ToolCallingPlugin = client.plugin("tool_calling")
        plugin.register(get_weather)
        messages: list[Any] = [{"role": "user", "content": "get_weather for Paris"}]
        reply = client.chat({"model": "llama3.2:latest", "messages": messages,
                             "tools": plugin.tools})
        results = plugin.execute_tool_calls_sync(reply)
        messages += [reply.message, *results]
        final = client.chat({"model": "llama3.2:latest", "messages": messages})
        assert '"temperature": 21' in final.message.content


"""The tool registry and the execution of the tool calls a model asked for.

Execution happens only when :meth:`ToolRegistry.execute_tool_calls` is called: there is no
automatic call-and-resend loop, because whether to run a model's request (and whether to
send the results back) is the application's decision.

Failures never escape as exceptions and are never dropped either. Each failed call still
yields a ``role: "tool"`` message whose content starts with ``error:`` (so the model can
correct itself), and is recorded in :attr:`ToolResults.errors`; an exception raised by a
tool is also logged at WARNING with its traceback on the ``ollama_plugins.tool_calling``
logger. :meth:`ToolResults.raise_errors` turns the recorded failures into an
``ExceptionGroup`` for callers that prefer exceptions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar, overload

from ollama_core import ChatMessage, MessageRole, Tool, ToolCall, ToolCallFunction

from ._schema import ArgumentError, CompiledFunction, compile_function

__all__ = [
    "RegisteredTool",
    "ToolCallError",
    "ToolCallsSource",
    "ToolError",
    "ToolRegistry",
    "ToolResults",
    "tool_calls_of",
]

logger = logging.getLogger("ollama_plugins.tool_calling")

F = TypeVar("F", bound=Callable[..., Any])

#: What :meth:`ToolRegistry.execute_tool_calls` accepts: a chat response, an assistant
#: message (typed or wire dicts), or the tool calls themselves.
ToolCallsSource: TypeAlias = Any


@dataclasses.dataclass(frozen=True, slots=True)
class RegisteredTool:
    """One registered function, its tool definition and its argument checker."""

    name: str
    function: Callable[..., Any]
    tool: Tool
    compiled: CompiledFunction

    @property
    def is_async(self) -> bool:
        """Whether calling the function returns an awaitable (it is then awaited, not run in
        a thread)."""
        fn = self.function
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None))


class ToolCallError(Exception):
    """A tool call that could not run: unknown tool, bad arguments, timeout or a result
    that is not JSON. (Exceptions raised by a tool itself are kept as they are.)"""


@dataclasses.dataclass(frozen=True, slots=True)
class ToolError:
    """One failed tool call.

    ``position`` is the call's index in the model's list (and so in the results);
    ``exception`` is what the tool raised, or a :class:`ToolCallError` describing why it
    could not run.
    """

    position: int
    name: str
    tool_call_id: str | None
    message: str
    exception: Exception


class ToolResults(list[ChatMessage]):
    """The ``role: "tool"`` messages of one execution, in the order of the calls, plus the
    failures among them in :attr:`errors` (empty when every call succeeded)."""

    def __init__(self, messages: Iterable[ChatMessage] = (),
                 errors: Iterable[ToolError] = ()) -> None:
        super().__init__(messages)
        self.errors: list[ToolError] = list(errors)

    @property
    def ok(self) -> bool:
        """True when every call succeeded."""
        return not self.errors

    def raise_errors(self) -> None:
        """Raise an ``ExceptionGroup`` of every failure's exception, if there was any."""
        if self.errors:
            raise ExceptionGroup(f"{len(self.errors)} tool call(s) failed",
                                 [e.exception for e in self.errors])


def _as_call(item: Any, *, from_server: bool = False) -> ToolCall:
    if isinstance(item, ToolCall):
        return item
    if isinstance(item, Mapping):
        return ToolCall.from_dict(item)
    if from_server:
        # What the server sent is kept as the call's function; running it reports it as a
        # malformed call to the model, like any other call that cannot run.
        return ToolCall.from_dict({"function": item})
    raise TypeError(f"expected a ToolCall or a dict, got {type(item).__name__}")


def tool_calls_of(source: ToolCallsSource) -> list[ToolCall]:
    """The tool calls in ``source``: a ``ChatResponse``, a ``ChatMessage``, their wire
    dicts (``{"message": {...}}`` / ``{"tool_calls": [...]}``), or a list of calls."""
    if isinstance(source, (list, tuple)):
        return [_as_call(c) for c in source]
    if isinstance(source, Mapping):
        message = source.get("message")
        calls = (message.get("tool_calls") if isinstance(message, Mapping)
                 else source.get("tool_calls"))
    elif hasattr(source, "message"):
        calls = source.message.tool_calls
    elif hasattr(source, "tool_calls"):
        calls = source.tool_calls
    else:
        raise TypeError("expected a ChatResponse, a ChatMessage or a list of tool calls, "
                        f"got {type(source).__name__}")
    # Read from an answer: whatever the server put there (not a list, items that are not
    # objects) becomes calls that are reported as malformed, never a crash here.
    if calls is None:
        return []
    if not isinstance(calls, (list, tuple)):
        calls = [calls]
    return [_as_call(c, from_server=True) for c in calls]


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def result_content(result: Any) -> str:
    """A tool's return value as message content: a ``str`` as is, anything else as JSON
    (dataclasses, enums, sets, dates and paths included)."""
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=_json_default)


def _arguments(function: ToolCallFunction) -> Mapping[str, Any]:
    args: Any = function.arguments
    if isinstance(args, str):
        # Ollama sends an object; a JSON string is what OpenAI-style servers send, so
        # accept it rather than fail a call that is otherwise fine.
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ArgumentError([f"arguments are not valid JSON: {exc}"]) from None
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise ArgumentError([f"arguments must be a JSON object, got {type(args).__name__}"])
    return args


class ToolRegistry:
    """Named Python functions a model may call.

    ``register`` works as a plain call or as a decorator, with or without arguments::

        registry = ToolRegistry()

        @registry.register
        def get_weather(city: str) -> str: ...

        @registry.register(name="add", description="Add two integers.")
        def plus(a: int, b: int) -> int: ...

        registry.register(len_of_text)
    """

    def __init__(self, functions: Iterable[Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, RegisteredTool] = {}
        for fn in functions:
            self.register(fn)

    @overload
    def register(self, fn: F, *, name: str | None = None,
                 description: str | None = None) -> F: ...

    @overload
    def register(self, fn: None = None, *, name: str | None = None,
                 description: str | None = None) -> Callable[[F], F]: ...

    def register(self, fn: F | None = None, *, name: str | None = None,
                 description: str | None = None) -> F | Callable[[F], F]:
        """Register ``fn`` as a tool and return it unchanged (so it works as a decorator).

        Raises:
            ValueError: a tool of that name is registered already (unregister it first:
                silently replacing a tool would hide a naming clash), or the name is
                invalid.
            TypeError: a parameter's type has no JSON Schema.
        """
        if fn is None:
            def decorator(func: F) -> F:
                return self.register(func, name=name, description=description)
            return decorator
        compiled = compile_function(fn, name=name, description=description)
        if compiled.name in self._tools:
            raise ValueError(f"a tool named {compiled.name!r} is already registered")
        self._tools[compiled.name] = RegisteredTool(compiled.name, fn, compiled.tool, compiled)
        return fn

    def unregister(self, name: str) -> RegisteredTool:
        """Remove the tool called ``name`` and return it; ``KeyError`` if there is none."""
        try:
            return self._tools.pop(name)
        except KeyError:
            raise KeyError(f"no tool named {name!r} is registered") from None

    def get(self, name: str) -> RegisteredTool | None:
        """The tool called ``name``, or ``None``."""
        return self._tools.get(name)

    def __getitem__(self, name: str) -> RegisteredTool:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._tools))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({list(self._tools)!r})"

    @property
    def names(self) -> list[str]:
        """The registered tool names, in registration order."""
        return list(self._tools)

    @property
    def tools(self) -> list[Tool]:
        """The tool definitions, in registration order, for ``ChatRequest(tools=...)``."""
        return [t.tool for t in self._tools.values()]

    # -- execution ---------------------------------------------------------------------

    async def execute_tool_calls(self, source: ToolCallsSource, *,
                                 timeout: float | None = None,
                                 concurrent: bool = True) -> ToolResults:
        """Run the tool calls in ``source`` and return one ``role: "tool"`` message each.

        Sync functions run in a worker thread (``asyncio.to_thread``), async ones are
        awaited. With ``concurrent`` (the default) all calls run at once; either way the
        results are in the order of the calls. Each message carries ``tool_name`` and, when
        the call had an ``id``, ``tool_call_id``.

        A call that fails produces a message starting with ``error:`` (unknown tool, invalid
        arguments, the tool's exception as ``error: ValueError: ...``, or a timeout) and a
        :class:`ToolError` in the result's ``errors``; see the module docstring.

        Args:
            source: a ``ChatResponse``, an assistant ``ChatMessage``, their wire dicts, or
                a list of ``ToolCall`` (or wire dicts).
            timeout: seconds each call may take (``None``: no limit). A sync function that
                overruns keeps running in its thread; only its result is abandoned.
            concurrent: run the calls at the same time (``False``: one after another, for
                tools whose side effects must happen in order).
        """
        calls = tool_calls_of(source)
        if concurrent:
            outcomes = await asyncio.gather(
                *(self._run(i, call, timeout) for i, call in enumerate(calls)))
        else:
            outcomes = [await self._run(i, call, timeout) for i, call in enumerate(calls)]
        return ToolResults([m for m, _ in outcomes], [e for _, e in outcomes if e is not None])

    def execute_tool_calls_sync(self, source: ToolCallsSource, *,
                                timeout: float | None = None,
                                concurrent: bool = True) -> ToolResults:
        """:meth:`execute_tool_calls` for code without an event loop (e.g. with
        ``SyncOllamaClient``). Async tools run on a temporary event loop, so they must not
        use objects bound to another loop.

        Raises:
            RuntimeError: called from inside a running event loop (await
                :meth:`execute_tool_calls` there instead).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.execute_tool_calls(source, timeout=timeout,
                                                       concurrent=concurrent))
        raise RuntimeError("execute_tool_calls_sync() cannot run inside an event loop; "
                           "use 'await execute_tool_calls(...)'")

    async def _run(self, position: int, call: ToolCall, timeout: float | None,
                   ) -> tuple[ChatMessage, ToolError | None]:
        """One call's message and, if it failed, its error. Never raises (except for
        cancellation, which must propagate)."""
        function: Any = call.function
        if isinstance(function, Mapping):
            function = ToolCallFunction.from_dict(function)
        name = function.name if isinstance(function, ToolCallFunction) else None
        if not isinstance(name, str):
            name = ""
        try:
            if not isinstance(function, ToolCallFunction) or not name:
                shown = repr(function if not isinstance(function, ToolCallFunction)
                             else function.to_dict())[:200]
                raise ToolCallError(f"malformed tool call (no function name): {shown}")
            entry = self._tools.get(name)
            if entry is None:
                available = ", ".join(sorted(self._tools)) or "none"
                raise ToolCallError(f"unknown tool {name!r}; available: {available}")
            try:
                args, kwargs = entry.compiled.bind(_arguments(function))
            except ArgumentError as exc:
                raise ToolCallError(f"invalid arguments for tool {name!r}: {exc}") from exc
            result = await self._invoke(entry, args, kwargs, timeout)
            try:
                content = result_content(result)
            except (TypeError, ValueError) as exc:
                raise ToolCallError(f"the result of tool {name!r} is not JSON serialisable: "
                                    f"{exc}") from exc
        except ToolCallError as exc:
            error = ToolError(position, name, call.id, f"error: {exc}", exc)
        except Exception as exc:  # the tool's own failure: reported to the model and caller
            logger.warning("tool %r (call %d) raised %s: %s", name, position,
                           type(exc).__name__, exc, exc_info=exc)
            error = ToolError(position, name, call.id, f"error: {type(exc).__name__}: {exc}",
                              exc)
        else:
            return self._message(name, call, content), None
        return self._message(name, call, error.message), error

    @staticmethod
    def _message(name: str, call: ToolCall, content: str) -> ChatMessage:
        return ChatMessage(MessageRole.TOOL, content, tool_name=name or None,
                           tool_call_id=call.id)

    @staticmethod
    async def _invoke(entry: RegisteredTool, args: Sequence[Any], kwargs: dict[str, Any],
                      timeout: float | None) -> Any:
        if entry.is_async:
            awaitable: Awaitable[Any] = entry.function(*args, **kwargs)
        else:
            awaitable = asyncio.to_thread(_call_sync, entry.function, args, kwargs)
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return await awaitable
        except TimeoutError:
            # Only our own deadline is reported as a timeout of the call; a TimeoutError
            # the tool raised itself is the tool's failure like any other exception.
            if not deadline.expired():
                raise
            raise ToolCallError(f"TimeoutError: tool {entry.name!r} did not finish within "
                                f"{timeout:g} seconds") from None


def _call_sync(fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        # A sync callable that returned an awaitable (e.g. a lambda around a coroutine
        # function) cannot be awaited from the worker thread.
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError("a sync tool returned an awaitable; declare it 'async def'")
    return result

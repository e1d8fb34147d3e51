"""``MockTransport``: answers from a function instead of the network, for tests.

It replaces only the network: the client's hooks, middlewares (retry, breaker, failover,
cache...), timeouts, error statuses, body checks and typing run exactly as they do over
aiohttp, because all of them live above the transport (``ollama_core._attempt``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Union

from .._exceptions import ClientClosedError, InvalidConfigError
from .._envelope import Request, Response
from .base import IteratorStream, TransportRequest, TransportResponse, transport_error

__all__ = ["MockTransport", "MockResult"]

#: What a handler may return (see :class:`MockTransport`).
MockResult = Union[dict[str, Any], list[dict[str, Any]], Response, TransportResponse, None]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_JSON = "application/json; charset=utf-8"
_NDJSON = "application/x-ndjson"


class MockTransport:
    """A transport that calls ``handler(request)`` instead of going to a server.

    ``handler`` gets the :class:`~ollama_core.Request` of the attempt (``endpoint``,
    ``json``, ``upstream``, ``attempt``...) and may be a plain or an ``async`` function.
    What it returns is the answer, status 200 unless it says otherwise:

    - a ``dict``: a JSON body. A call the client sends as a stream (``chat``,
      ``generate``, ``pull_model``... see ``stream_on_wire``) reads it as its only line,
      so it must be the last one (``"done": true``, ``"status": "success"``);
    - a ``list`` of dicts: an NDJSON stream, one line each;
    - ``None``: an empty body (what copy and delete answer);
    - a :class:`~ollama_core.Response`: its status and headers, and its ``body`` (JSON;
      ``bytes`` as they are) or, for ``Response.from_lines(...)`` or any response with
      ``lines=``, its lines as NDJSON, read as they come (an async generator that sleeps
      is a slow server: the idle timeout applies);
    - a :class:`TransportResponse`: bytes exactly as given (a malformed body, odd headers).

    Raising is a failure of the exchange: an ``OllamaError`` (``ConnectError``,
    ``ServiceUnavailableError``...) is raised as it is; any other exception goes through
    :func:`~ollama_core._transports.base.transport_error`: the built-in ``TimeoutError``
    is a ``FirstByteTimeout``, ``ConnectionRefusedError`` a ``ConnectError``, anything
    else a ``ReadError`` raised from it (as a broken connection would be), so retry,
    breaker and failover treat it as a network failure.

    An ``async`` handler of a plain call is bounded by ``first_byte`` as a server would
    be (``FirstByteTimeout``); a stream's ``first_byte``, ``idle`` and the deadline are
    enforced by the client, as over aiohttp.

    ``calls`` counts the attempts handled. After ``aclose()`` (which the client's own
    close does) every request raises ``ClientClosedError``.
    """

    def __init__(self, handler: Callable[[Request], MockResult | Awaitable[MockResult]]) -> None:
        self.handler = handler
        self.calls = 0
        self._closed = False

    async def handle(self, request: TransportRequest) -> TransportResponse:
        if self._closed:
            raise ClientClosedError("the client is closed")
        self.calls += 1
        try:
            result: Any = self.handler(request.request)
            if inspect.isawaitable(result):
                if request.read_timeout is not None:
                    async with asyncio.timeout(request.read_timeout):
                        result = await result
                else:
                    result = await result
        except Exception as exc:
            error = transport_error(exc, request.where)
            if error is exc:
                raise
            raise error from exc
        return _answer(result, request.where)

    async def aclose(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        name = getattr(self.handler, "__qualname__", type(self.handler).__name__)
        return f"<MockTransport {name}>"


def _answer(result: Any, where: str) -> TransportResponse:
    if isinstance(result, TransportResponse):
        return result
    if result is None:
        return _bytes(200, {}, b"", where)
    if isinstance(result, dict):
        return _bytes(200, {"Content-Type": _JSON}, _dumps(result).encode(), where)
    if isinstance(result, list):
        pieces = [_dumps(line).encode() + b"\n" for line in result]
        return TransportResponse(200, {"Content-Type": _NDJSON},
                                 IteratorStream(pieces, where=where))
    if isinstance(result, Response):
        headers = dict(result.headers)
        if result.is_stream:
            headers.setdefault("Content-Type", _NDJSON)
            return TransportResponse(result.status, headers,
                                     IteratorStream(_ndjson(result), where=where))
        body = result.body
        if isinstance(body, (bytes, bytearray)):
            content = bytes(body)
        elif body is None:
            content = b""
        else:
            headers.setdefault("Content-Type", _JSON)
            content = _dumps(body).encode()
        return _bytes(result.status, headers, content, where)
    # An OllamaError, so the client raises it as it is instead of as a broken exchange.
    raise InvalidConfigError(
        f"a MockTransport handler returned {type(result).__name__}; expected a dict, a list "
        f"of dicts, None, a Response or a TransportResponse")


def _bytes(status: int, headers: Mapping[str, str], content: bytes,
           where: str) -> TransportResponse:
    headers = {**headers, "Content-Length": str(len(content))}
    return TransportResponse(status, headers, IteratorStream((content,) if content else (),
                                                             where=where))


async def _ndjson(response: Response) -> AsyncIterator[bytes]:
    async for line in response:
        yield _dumps(line).encode() + b"\n"

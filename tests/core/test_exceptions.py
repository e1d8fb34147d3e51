"""The exception tree, its built-in compatibility, and the one aiohttp mapping."""

from __future__ import annotations

import asyncio
import builtins

import aiohttp
import pytest

import ollama_core
from ollama_core import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ConnectTimeout,
    FirstByteTimeout,
    IdleTimeout,
    NotFoundError,
    OllamaError,
    PermissionDeniedError,
    RateLimitError,
    ReadError,
    ResponseError,
    ServerError,
    ServiceUnavailableError,
    StreamErrorLine,
    StreamInterruptedError,
    TransportError,
    parse_retry_after,
)
from ollama_core._exceptions import response_error_for
from ollama_core._transports.aiohttp import map_aiohttp_errors


def test_every_public_error_is_in_the_documented_tree() -> None:
    doc = ollama_core._exceptions.__doc__ or ""
    for name in ollama_core.__all__:
        obj = getattr(ollama_core, name)
        if isinstance(obj, type) and issubclass(obj, OllamaError):
            assert name in doc, f"{name} is missing from the tree in _exceptions' docstring"


def test_builtin_compatibility() -> None:
    assert issubclass(ConnectError, builtins.ConnectionError)
    assert issubclass(StreamInterruptedError, builtins.ConnectionError)
    assert issubclass(FirstByteTimeout, builtins.TimeoutError)
    assert issubclass(FirstByteTimeout, asyncio.TimeoutError)
    assert issubclass(ollama_core.InvalidRequestError, ValueError)
    assert issubclass(StreamErrorLine, ResponseError)


@pytest.mark.parametrize(("status", "cls"), [
    (400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError),
    (404, NotFoundError), (429, RateLimitError), (500, ServerError), (502, ServerError),
    (503, ServiceUnavailableError), (418, ResponseError),
])
def test_status_classes(status: int, cls: type[ResponseError]) -> None:
    err = response_error_for(status, {"error": "boom"}, {})
    assert type(err) is cls
    assert err.status_code == status and err.error == "boom"
    assert str(err) == f"boom (status code: {status})"


def test_error_text_is_kept_when_body_is_not_json() -> None:
    err = response_error_for(404, None, {}, "404 page not found")
    assert err.error == "404 page not found"


def test_bare_403_explains_the_host_guard() -> None:
    err = response_error_for(403, None, {}, "")
    assert "Host" in err.error


def test_401_exposes_signin_url() -> None:
    err = response_error_for(401, {"error": "unauthorized", "signin_url": "https://x/connect"}, {})
    assert isinstance(err, AuthenticationError) and err.signin_url == "https://x/connect"


def test_retry_after_seconds_and_http_date() -> None:
    err = response_error_for(429, {"error": "slow down"}, {"Retry-After": "2"})
    assert isinstance(err, RateLimitError) and err.retry_after == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


class _OSErr(OSError):
    pass


def _connector_error() -> aiohttp.ClientConnectorError:
    from aiohttp.client_reqrep import ConnectionKey

    key = ConnectionKey("h", 1, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))


@pytest.mark.parametrize(("raised", "phase", "expected"), [
    (_connector_error(), "request", ConnectError),
    (aiohttp.ConnectionTimeoutError(), "request", ConnectTimeout),
    (aiohttp.ServerTimeoutError(), "request", FirstByteTimeout),
    (aiohttp.ServerTimeoutError(), "stream", IdleTimeout),
    (aiohttp.ServerDisconnectedError(), "request", ReadError),
    (aiohttp.ServerDisconnectedError(), "stream", StreamInterruptedError),
    (aiohttp.ClientPayloadError("reset"), "stream", StreamInterruptedError),
    (builtins.TimeoutError(), "request", FirstByteTimeout),
    (aiohttp.ClientError("odd"), "request", TransportError),
])
def test_aiohttp_errors_are_mapped_from_the_original(
        raised: BaseException, phase: str, expected: type[OllamaError]) -> None:
    with pytest.raises(expected) as info:
        with map_aiohttp_errors("http://user:pw@h:1", phase=phase):
            raise raised
    assert info.value.__cause__ is raised
    assert "pw" not in str(info.value)


def test_cancellation_is_never_mapped() -> None:
    with pytest.raises(asyncio.CancelledError):
        with map_aiohttp_errors("http://h:1"):
            raise asyncio.CancelledError()


def test_headers_are_case_insensitive() -> None:
    err = response_error_for(503, {"error": "busy"}, {"retry-after": "3"})
    assert isinstance(err, ServerError) and err.retry_after == 3.0

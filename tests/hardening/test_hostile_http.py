"""Peers that do not speak HTTP, or speak it broken, are broken connections, not a 400.

aiohttp reports its own parser's refusals as a ``ClientResponseError`` with status 400 (or
a ``ClientPayloadError``); none of them is an answer of the server. Each case below is a
real peer on a raw socket: the client must raise ``ProtocolError`` (a ``ReadError``), and
the real retry, failover and circuit-breaker plugins must treat it as the broken
connection it is. A genuine 400 stays ``BadRequestError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
import yarl
from aiohttp import http_exceptions
from multidict import CIMultiDict, CIMultiDictProxy

from ollama_core import (
    AllEndpointsFailedError,
    BadRequestError,
    CircuitOpenError,
    FakeClock,
    IdleTimeout,
    OllamaClient,
    ProtocolError,
    ReadError,
    ResponseError,
    StreamInterruptedError,
    SyncOllamaClient,
    Timeouts,
    TransportError,
)
from ollama_core._transports.aiohttp import map_aiohttp_errors
from tests.hostile import STREAM_HEAD, Conn, HostileServer, chunked, http_response, open_sockets

TAGS = http_response(200, {"models": []})
LINE = b'{"model":"m","message":{"role":"assistant","content":"a"},"done":false}\n'
DONE = b'{"model":"m","message":{"role":"assistant","content":""},"done":true}\n'

# Whole answers that break HTTP before any body is read.
BROKEN = {
    "ssh banner": b"SSH-2.0-OpenSSH_9.6\r\n",
    "json without http": b'{"models": []}\r\n\r\n',
    "tls record, no line end": b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26\x03\x03",
    "bad status code": b"HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\n{}",
    "bad http version": b"HTTP/9.9 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    "non-numeric content-length": b"HTTP/1.1 200 OK\r\nContent-Length: xyz\r\n\r\n{}",
    "negative content-length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}",
    "two content-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "chunked and content-length":
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
    "bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "chunk without its CRLF":
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
    "binary header": b"HTTP/1.1 200 OK\r\n\x00\x01garbage\r\nContent-Length: 2\r\n\r\n{}",
    "header without colon": b"HTTP/1.1 200 OK\r\nnot a header\r\nContent-Length: 2\r\n\r\n{}",
    "header line too long": b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
    "body not gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
}


def answer_once(payload: bytes) -> Callable[[Conn], Awaitable[None]]:
    async def handler(conn: Conn) -> None:
        if await conn.read_request() is not None:
            await conn.send(payload)
            await conn.reader.read()  # hold the connection until the client drops it
    return handler


def broken_then(payload: bytes, good: bytes, broken: int = 1) -> Callable[[Conn], Awaitable[None]]:
    """The first ``broken`` connections answer ``payload``, every later one ``good``."""
    seen = [0]

    async def handler(conn: Conn) -> None:
        while await conn.read_request() is not None:
            seen[0] += 1
            await conn.send(payload if seen[0] <= broken else good)
            if seen[0] <= broken:
                await conn.reader.read()
                return
    return handler


@pytest.mark.parametrize("payload", BROKEN.values(), ids=BROKEN.keys())
async def test_broken_http_is_a_protocol_error_not_a_400(payload: bytes) -> None:
    async with HostileServer(answer_once(payload)) as server:
        url = server.url
        async with OllamaClient(url, plugins=[], timeout=10) as client:
            with pytest.raises(ProtocolError) as info:
                await client.list_models()
    error = info.value
    assert isinstance(error, ReadError) and isinstance(error, TransportError)
    assert isinstance(error, ConnectionError)
    assert not isinstance(error, ResponseError)
    assert "does not speak valid HTTP" in str(error) and url in str(error)
    assert error.__cause__ is not None  # aiohttp's own error stays visible


async def test_garbage_mid_body_fails_at_once_instead_of_hanging() -> None:
    # aiohttp's parser rejects the second chunk header after the body started; it drops the
    # connection and its read timer but never tells the body reader. Without the
    # transport's watch the call would wait forever (no timeout covers it).
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n")
        await asyncio.sleep(0.05)
        await conn.send(b"not a chunk size\r\n")
        await conn.reader.read()

    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=[], timeout=30) as client:
            with pytest.raises(ProtocolError, match="chunk size"):
                await client.list_models()
            assert open_sockets(server.port) == 0


async def test_a_body_cut_short_is_a_read_error() -> None:
    payload = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}"

    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(payload)  # and close: 98 bytes short

    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            with pytest.raises(ReadError) as info:
                await client.list_models()
    assert not isinstance(info.value, ResponseError)
    assert "StreamInterrupted" not in type(info.value).__name__  # a plain call has no stream


async def test_a_real_400_is_still_a_bad_request() -> None:
    payload = http_response(400, {"error": "model is required"}, reason="Bad Request")
    async with HostileServer(answer_once(payload)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            with pytest.raises(BadRequestError) as info:
                await client.list_models()
    assert info.value.status_code == 400 and info.value.error == "model is required"


# -- streams ---------------------------------------------------------------------------------

async def test_broken_http_before_a_stream_starts_is_a_protocol_error() -> None:
    async with HostileServer(answer_once(b"SSH-2.0-OpenSSH_9.6\r\n")) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            stream = client.chat_stream({"model": "m", "messages": []})
            with pytest.raises(ProtocolError):
                await stream.__anext__()


@pytest.mark.parametrize("tail", [b"zz\r\n", b"XX5\r\nabcde\r\n", b"SSH-2.0-OpenSSH_9.6\r\n\r\n"],
                         ids=["bad chunk size", "chunk without CRLF", "protocol switch"])
async def test_broken_http_mid_stream_is_a_stream_interruption(tail: bytes) -> None:
    # The idle timeout (20 s) is far away: the error must come from the breakage itself.
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD + f"{len(LINE):x}\r\n".encode() + LINE + b"\r\n")
        await asyncio.sleep(0.05)
        await conn.send(tail)
        await conn.reader.read()

    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=[], timeout=20) as client:
            stream = client.chat_stream({"model": "m", "messages": []})
            chunks = []
            with pytest.raises(StreamInterruptedError) as info:
                async for chunk in stream:
                    chunks.append(chunk.content)
            assert open_sockets(server.port) == 0
    assert chunks == ["a"]
    assert not isinstance(info.value, (ResponseError, IdleTimeout))
    assert "broke HTTP mid-stream" in str(info.value)


async def test_an_aggregated_call_broken_mid_stream_is_a_read_error() -> None:
    # A plain chat goes on the wire as a stream and is folded in the transport: a
    # breakage inside it is a plain call's broken connection, retryable like one.
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD + f"{len(LINE):x}\r\n".encode() + LINE + b"\r\n")
        await asyncio.sleep(0.05)
        await conn.send(b"zz\r\n")
        await conn.reader.read()

    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=[], timeout=20) as client:
            with pytest.raises((ReadError, StreamInterruptedError)) as info:
                await client.chat({"model": "m", "messages": []})
    assert isinstance(info.value, ConnectionError)
    assert not isinstance(info.value, (ResponseError, IdleTimeout))


# -- the real plugins ------------------------------------------------------------------------

async def test_retry_retries_an_idempotent_call_after_broken_http() -> None:
    handler = broken_then(b"HTTP/1.1 abc OK\r\n\r\n", TAGS)
    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=["retry"], timeout=10, clock=FakeClock(
                autoadvance=True), plugin_config={"retry": {"base_delay": 0.01}}) as client:
            tags = await client.list_models()
    assert tags.models == []
    assert len(server.requests) == 2
    assert client.plugin("retry").stats.retries == 1


async def test_retry_does_not_repeat_a_non_idempotent_call_after_broken_http() -> None:
    handler = broken_then(b"HTTP/1.1 abc OK\r\n\r\n", http_response(200, b""), broken=5)
    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=["retry"], timeout=10, clock=FakeClock(
                autoadvance=True), plugin_config={"retry": {"base_delay": 0.01}}) as client:
            with pytest.raises(ProtocolError):
                await client.copy_model("a", "b")
    assert len(server.requests) == 1  # it may have reached the server: not sent twice


async def test_failover_moves_on_from_broken_http() -> None:
    async with HostileServer(answer_once(b"SSH-2.0-OpenSSH_9.6\r\n")) as bad, \
            HostileServer(broken_then(b"", TAGS, broken=0)) as good:
        async with OllamaClient(bad.url, plugins=["failover"], timeout=10, clock=FakeClock(),
                                plugin_config={"failover": {"endpoints": [bad.url, good.url]}},
                                ) as client:
            tags = await client.list_models()
            assert tags.models == []
            assert len(bad.requests) == 1 and len(good.requests) == 1
            assert not client.upstreams.primary.is_available(client.clock.now())  # marked down


async def test_failover_does_not_move_a_non_idempotent_call_after_broken_http() -> None:
    async with HostileServer(answer_once(b"SSH-2.0-OpenSSH_9.6\r\n")) as bad, \
            HostileServer(broken_then(b"", http_response(200, b""), broken=0)) as good:
        config = {"endpoints": [bad.url, good.url], "cooldown": 0}
        async with OllamaClient(bad.url, plugins=["failover"], timeout=10, clock=FakeClock(),
                                plugin_config={"failover": config}) as client:
            # It may have reached the server: raised as is, not sent to the next one.
            with pytest.raises(ProtocolError):
                await client.copy_model("a", "b")
    assert len(bad.requests) == 1 and good.requests == []


async def test_failover_reports_broken_http_on_every_endpoint() -> None:
    async with HostileServer(answer_once(b"HTTP/1.1 abc\r\n\r\n")) as one, \
            HostileServer(answer_once(b"garbage\r\n\r\n")) as two:
        async with OllamaClient(one.url, plugins=["failover"], timeout=10, clock=FakeClock(),
                                plugin_config={"failover": {"endpoints": [one.url, two.url]}},
                                ) as client:
            with pytest.raises(AllEndpointsFailedError) as info:
                await client.list_models()
    assert all(isinstance(e, ProtocolError) for e in info.value.failures.values())


async def test_the_breaker_counts_broken_http_as_a_failure() -> None:
    async with HostileServer(answer_once(b"SSH-2.0-OpenSSH_9.6\r\n")) as server:
        async with OllamaClient(server.url, plugins=["circuit_breaker"], timeout=10,
                                clock=FakeClock(),
                                plugin_config={"circuit_breaker": {"fail_max": 2}}) as client:
            for _ in range(2):
                with pytest.raises(ProtocolError):
                    await client.list_models()
            with pytest.raises(CircuitOpenError):
                await client.list_models()
            assert client.plugin("circuit_breaker").state(endpoint="tags") == "open"
    assert server.connections == 2  # the third call never reached the network


def test_sync_client_raises_the_same_protocol_error() -> None:
    async def serve(ready: asyncio.Future[str], stop: asyncio.Event) -> None:
        async with HostileServer(answer_once(b"HTTP/1.1 abc\r\n\r\n")) as server:
            ready.set_result(server.url)
            await stop.wait()

    loop = asyncio.new_event_loop()
    try:
        ready: asyncio.Future[str] = loop.create_future()
        stop = asyncio.Event()
        task = loop.create_task(serve(ready, stop))
        url = loop.run_until_complete(ready)
        import threading

        runner = threading.Thread(target=loop.run_until_complete, args=(task,))
        runner.start()
        try:
            with SyncOllamaClient(url, plugins=[], timeout=Timeouts(first_byte=10)) as client:
                with pytest.raises(ProtocolError):
                    client.list_models()
        finally:
            loop.call_soon_threadsafe(stop.set)
            runner.join(10)
    finally:
        loop.close()


# -- the mapping rule itself -----------------------------------------------------------------

def _raised(exc: BaseException, phase: str) -> BaseException:
    with pytest.raises(Exception) as info, map_aiohttp_errors("http://u:pw@h:1", phase=phase):
        raise exc
    assert "pw" not in str(info.value)
    return info.value


def _with_cause(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


def test_only_the_parsers_refusals_become_protocol_errors() -> None:
    info = aiohttp.RequestInfo(yarl.URL("http://h:1/"), "GET", CIMultiDictProxy(CIMultiDict()))
    parse = http_exceptions.BadStatusLine("SSH-2.0")
    refused = _with_cause(aiohttp.ClientResponseError(info, (), status=400, message="x"), parse)
    assert type(_raised(refused, "request")) is ProtocolError
    assert type(_raised(refused, "stream")) is StreamInterruptedError
    # A ClientResponseError that is not the parser's (a redirect loop, a proxy's refusal)
    # carries a status the peer really sent.
    redirects = aiohttp.TooManyRedirects(info, (), status=301, message="too many")
    mapped = _raised(redirects, "request")
    assert isinstance(mapped, ResponseError) and mapped.status_code == 301
    # A body cut short is a broken connection, a body that cannot be decoded broken HTTP.
    short = _with_cause(aiohttp.ClientPayloadError("short"),
                        http_exceptions.ContentLengthError("Not enough data"))
    assert type(_raised(short, "request")) is ReadError
    assert type(_raised(short, "stream")) is StreamInterruptedError
    cut = _with_cause(aiohttp.ClientPayloadError("cut"), http_exceptions.TransferEncodingError(
        "Not enough data to satisfy transfer length header."))
    assert type(_raised(cut, "request")) is ReadError
    undecodable = _with_cause(aiohttp.ClientPayloadError("gzip"),
                              http_exceptions.ContentEncodingError("Can not decode"))
    assert type(_raised(undecodable, "request")) is ProtocolError

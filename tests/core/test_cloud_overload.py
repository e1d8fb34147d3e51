"""The cloud's second 503 wording, ``Server overloaded, please retry shortly (ref: <id>)``,
sent without Retry-After: a ServiceUnavailableError that keeps the ref, over a real socket."""

from __future__ import annotations

import pytest

from ollama_core import OllamaClient, ServiceUnavailableError
from ollama_core._exceptions import ServerError, response_error_for
from tests.hostile import Conn, HostileServer, http_response

REF = "3f2a9c1e-0b7d-4e51-9a55-1c2d3e4f5a6b"
OVERLOADED = f"Server overloaded, please retry shortly (ref: {REF})"


async def test_overloaded_answer_is_service_unavailable_with_its_ref() -> None:
    async def overloaded(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(http_response(503, {"error": OVERLOADED},
                                      reason="Service Unavailable"))

    async with HostileServer(overloaded) as server:
        async with OllamaClient(server.url, plugins=[]) as client:
            with pytest.raises(ServiceUnavailableError) as info:
                await client.chat(model="gpt-oss:120b-cloud",
                                  messages=[{"role": "user", "content": "hi"}])
    error = info.value
    assert error.status_code == 503 and error.ref == REF
    assert error.retry_after is None and "Retry-After" not in error.headers
    assert REF in str(error)  # logged with the message
    assert len(server.requests) == 1


async def test_the_busy_wording_has_no_ref() -> None:
    async def busy(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(http_response(503, {"error": "server busy, please try again.  "
                                                     "maximum pending requests exceeded"},
                                      headers={"Retry-After": "2"}))

    async with HostileServer(busy) as server:
        async with OllamaClient(server.url, plugins=[]) as client:
            with pytest.raises(ServiceUnavailableError) as info:
                await client.list_models()
    assert info.value.ref is None and info.value.retry_after == 2


def test_overloaded_wording_behind_another_5xx_is_still_service_unavailable() -> None:
    error = response_error_for(502, {"error": OVERLOADED})
    assert isinstance(error, ServiceUnavailableError) and error.ref == REF
    assert type(response_error_for(502, {"error": "bad gateway"})) is ServerError

"""An Authorization header the user sets explicitly, in any letter case, is sent once and
wins over ``api_key``: HTTP header names are case-insensitive, so sending both would leave
the server to choose (and leak the key the user meant to replace)."""

from __future__ import annotations

import pytest

from ollama_core import OllamaClient, Request
from tests.hostile import Conn, HostileServer, http_response

pytestmark = pytest.mark.asyncio


async def _auth_lines(client_kwargs: dict[str, object],
                      request_headers: dict[str, str] | None = None) -> list[str]:
    heads: list[bytes] = []

    async def record(conn: Conn) -> None:
        heads.append(await conn.reader.readuntil(b"\r\n\r\n"))
        await conn.send(http_response(200, {"version": "1"}))

    async with HostileServer(record) as server:
        async with OllamaClient(server.url, plugins=[], **client_kwargs) as client:  # type: ignore[arg-type]
            if request_headers is None:
                await client.version()
            else:
                await client.send(Request("GET", "/api/version", "version",
                                          headers=request_headers))
    lines = heads[0].decode("latin-1").split("\r\n")
    return [line for line in lines if line.lower().startswith("authorization:")]


@pytest.mark.parametrize("name", ["authorization", "AUTHORIZATION", "Authorization"])
async def test_a_client_header_in_any_case_replaces_the_api_key(name: str) -> None:
    lines = await _auth_lines({"api_key": "the-key", "headers": {name: "Token mine"}})
    assert [line.split(":", 1)[1].strip() for line in lines] == ["Token mine"]


async def test_a_request_header_in_another_case_replaces_the_api_key() -> None:
    lines = await _auth_lines({"api_key": "the-key"}, {"authorization": "Token per-call"})
    assert [line.split(":", 1)[1].strip() for line in lines] == ["Token per-call"]


async def test_without_an_explicit_header_the_api_key_is_sent_once() -> None:
    lines = await _auth_lines({"api_key": "the-key"})
    assert [line.split(":", 1)[1].strip() for line in lines] == ["Bearer the-key"]

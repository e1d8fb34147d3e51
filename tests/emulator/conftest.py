"""Shared helpers for the emulator tests.

The ``ollama_emulator`` / ``ollama_emulator_thread`` fixtures come from
``ollama_core.emulator.pytest_plugin``, which the installed package registers through its
``pytest11`` entry point (before installation: ``pytest -p ollama_core.emulator.pytest_plugin``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio

from ollama_core.emulator import OllamaEmulator


@dataclass
class Reply:
    """A whole HTTP response, read and decoded."""

    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def text(self) -> str:
        return self.raw.decode()

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def lines(self) -> list[Any]:
        """The NDJSON objects of a streamed body."""
        return [json.loads(line) for line in self.raw.splitlines() if line.strip()]


class Api:
    """An aiohttp session aimed at one emulator."""

    def __init__(self, emulator: OllamaEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session

    async def call(
        self, method: str, path: str, body: Any = None, *, data: bytes | None = None
    ) -> Reply:
        kwargs: dict[str, Any] = {}
        if data is not None:
            kwargs["data"] = data
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.emulator.url + path, **kwargs) as resp:
            raw = await resp.read()
            return Reply(resp.status, dict(resp.headers), raw)

    async def post(self, path: str, body: Any = None, *, data: bytes | None = None) -> Reply:
        return await self.call("POST", path, body, data=data)

    async def get(self, path: str) -> Reply:
        return await self.call("GET", path)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture
async def api(ollama_emulator: OllamaEmulator, http: aiohttp.ClientSession) -> Api:
    return Api(ollama_emulator, http)

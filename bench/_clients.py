"""The four clients under test, behind one small interface.

Each adapter does the same work the way a user of that client would write it:

1. ``aiohttp``: the floor. One ``ClientSession``; ``async for line in resp.content`` and
   ``json.loads`` per line. A plain chat goes on the wire as a stream, as OllamaClient's
   does by default (``stream_on_wire``), and its lines' texts are joined. No typing, no
   checks beyond ``raise_for_status``.
2. ``official``: the ``ollama`` package's ``AsyncClient`` (httpx + pydantic).
3. ``core``: ``OllamaClient(url, plugins=[])``.
4. ``core+plugins``: ``OllamaClient`` with retry, circuit breaker, rate limiting (limits set
   high), failover (one endpoint) and health checks: the ones that can be loaded today.

Every client gets its library's defaults except the connection-pool size, which is raised
to ``pool`` (1000 for the 1000-concurrent-streams scenario) where a default would queue or
deadlock streams that are held open together.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

__all__ = [
    "CHAT_MODEL",
    "CLIENT_KEYS",
    "EMBED_MODEL",
    "RELIABILITY_PLUGINS",
    "BOUND_KEY",
    "PLAIN_WIRE_KEY",
    "BenchClient",
    "chat_body",
    "make_client",
    "reliability_stack",
]

CHAT_MODEL = "llama3.2"
EMBED_MODEL = "nomic-embed-text"

#: Column order of every table.
CLIENT_KEYS = ("aiohttp", "official", "core", "core+plugins")
#: Scenario (a) only: the bound of any client on aiohttp, and client 4 sending the official
#: client's wire request.
BOUND_KEY = "aiohttp-alone"
PLAIN_WIRE_KEY = "core+plugins-plain"
LABELS = {
    BOUND_KEY: "0 aiohttp alone, nothing parsed",
    "aiohttp": "1 plain aiohttp + json.loads",
    "official": "2 official ollama.AsyncClient",
    "core": "3 OllamaClient, no plugins",
    "core+plugins": "4 OllamaClient + reliability plugins",
    PLAIN_WIRE_KEY: "4p client 4, stream_on_wire=False",
}

#: The benchmark's plain chat, as every client sends it (``stream`` aside).
def chat_body(prompt: str, num_predict: int) -> dict[str, Any]:
    return {"model": CHAT_MODEL, "messages": _messages(prompt),
            "options": {"num_predict": num_predict}}

#: What client 4 enables, in this order, with settings that never throttle the benchmark.
RELIABILITY_PLUGINS = ("retry", "circuit_breaker", "rate_limiting", "failover", "health_checks")


def _plugin_settings(url: str) -> dict[str, dict[str, Any]]:
    return {
        "rate_limiting": {"rate": 1e9, "burst": 10**9},
        "failover": {"endpoints": [url]},
        "health_checks": {"interval": 30},
    }


def reliability_stack(url: str) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, str]]:
    """The plugins of client 4 that load with their settings, and why the others do not.

    Returns ``(names, plugin_config, missing)`` where ``missing`` maps a plugin name to the
    reason it was left out (not written yet, failed to import, rejected the settings).
    """
    from ollama_core import InvalidConfigError, OllamaClient

    settings = _plugin_settings(url)
    names: list[str] = []
    config: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    for name in RELIABILITY_PLUGINS:
        section = settings.get(name)
        try:
            probe = OllamaClient(url, plugins=[name],
                                 plugin_config={name: section} if section else None)
        except InvalidConfigError as exc:
            missing[name] = str(exc).splitlines()[0][:120]
            continue
        except Exception as exc:  # a plugin under construction may fail in any way
            missing[name] = f"{type(exc).__name__}: {exc}"[:120]
            continue
        del probe  # never opened: nothing to close
        names.append(name)
        if section:
            config[name] = section
    return names, config, missing


class BenchClient:
    """The operations the scenarios need. Subclasses implement them idiomatically."""

    key = ""

    def __init__(self, url: str, pool: int) -> None:
        self.url = url
        self.pool = pool

    async def start(self) -> None:
        """Create sessions inside the running loop."""

    async def chat(self, prompt: str, num_predict: int) -> str:
        raise NotImplementedError

    async def stream(self, num_predict: int,
                     after_first: Callable[[], Awaitable[None]] | None = None) -> int:
        """Stream a chat of ``num_predict`` tokens; returns the number of chunks read.
        ``after_first`` is awaited once the first chunk arrived (the stream held open)."""
        raise NotImplementedError

    async def embed(self, inputs: Sequence[str]) -> int:
        raise NotImplementedError

    def connections_in_use(self) -> int | None:
        """Connections checked out of the client's pool right now (None: cannot tell)."""
        return None

    def connections_pooled(self) -> int | None:
        """Connections the pool holds, in use or idle (None: cannot tell)."""
        return None

    async def close(self) -> None:
        raise NotImplementedError

    def closed_cleanly(self) -> bool | None:
        """After ``close()``: did the client's pool end up closed and empty?"""
        return None


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


# -- 0. aiohttp alone --------------------------------------------------------------------------


class AiohttpAlone(BenchClient):
    """What any client built on aiohttp pays at least: the same wire request as client 1,
    sent with a prebuilt body, and its whole answer read as bytes, nothing parsed. It is
    not a usable client; its CPU per request bounds what a client on aiohttp can reach."""

    key = BOUND_KEY

    async def start(self) -> None:
        self.connector = aiohttp.TCPConnector(limit=self.pool)
        self.session = aiohttp.ClientSession(connector=self.connector)
        self._bodies: dict[tuple[str, int], bytes] = {}

    async def chat(self, prompt: str, num_predict: int) -> str:
        data = self._bodies.get((prompt, num_predict))
        if data is None:
            data = json.dumps({**chat_body(prompt, num_predict), "stream": True}).encode()
            self._bodies[(prompt, num_predict)] = data
        async with self.session.post(self.url + "/api/chat", data=data,
                                     headers={"Content-Type": "application/json"}) as resp:
            resp.raise_for_status()
            await resp.read()
        return ""

    async def close(self) -> None:
        await self.session.close()


# -- 1. plain aiohttp ------------------------------------------------------------------------


class PlainAiohttp(BenchClient):
    key = "aiohttp"

    async def start(self) -> None:
        self.connector = aiohttp.TCPConnector(limit=self.pool)
        self.session = aiohttp.ClientSession(connector=self.connector)

    async def chat(self, prompt: str, num_predict: int) -> str:
        # The same wire request as OllamaClient's plain chat (``stream_on_wire``): a
        # stream, its NDJSON lines read and folded as a naive client would.
        body = {"model": CHAT_MODEL, "messages": _messages(prompt), "stream": True,
                "options": {"num_predict": num_predict}}
        parts: list[str] = []
        async with self.session.post(self.url + "/api/chat", data=json.dumps(body),
                                     headers={"Content-Type": "application/json"}) as resp:
            resp.raise_for_status()
            async for line in resp.content:
                if not line.strip():
                    continue
                chunk = json.loads(line)
                parts.append(chunk["message"]["content"])
                if chunk.get("done"):
                    break
        return "".join(parts)

    async def chat_plain_wire(self, prompt: str, num_predict: int) -> str:
        """The same chat with ``"stream": false`` on the wire (one body)."""
        body = {"model": CHAT_MODEL, "messages": _messages(prompt), "stream": False,
                "options": {"num_predict": num_predict}}
        async with self.session.post(self.url + "/api/chat", data=json.dumps(body),
                                     headers={"Content-Type": "application/json"}) as resp:
            resp.raise_for_status()
            data = json.loads(await resp.read())
        return data["message"]["content"]

    async def stream(self, num_predict: int,
                     after_first: Callable[[], Awaitable[None]] | None = None) -> int:
        body = {"model": CHAT_MODEL, "messages": _messages("stream"), "stream": True,
                "options": {"num_predict": num_predict}}
        chunks = 0
        async with self.session.post(self.url + "/api/chat", data=json.dumps(body),
                                     headers={"Content-Type": "application/json"}) as resp:
            resp.raise_for_status()
            async for line in resp.content:
                if not line.strip():
                    continue
                chunk = json.loads(line)
                chunks += 1
                if chunks == 1 and after_first is not None:
                    await after_first()
                if chunk.get("done"):
                    break
        return chunks

    async def embed(self, inputs: Sequence[str]) -> int:
        body = {"model": EMBED_MODEL, "input": list(inputs)}
        async with self.session.post(self.url + "/api/embed", data=json.dumps(body),
                                     headers={"Content-Type": "application/json"}) as resp:
            resp.raise_for_status()
            data = json.loads(await resp.read())
        return len(data["embeddings"])

    def connections_in_use(self) -> int | None:
        return len(self.connector._acquired)

    def connections_pooled(self) -> int | None:
        idle = sum(len(v) for v in self.connector._conns.values())
        return idle + len(self.connector._acquired)

    async def close(self) -> None:
        await self.session.close()

    def closed_cleanly(self) -> bool | None:
        return self.session.closed and self.connector.closed and not self.connector._acquired


# -- 2. the official client --------------------------------------------------------------------


class Official(BenchClient):
    key = "official"

    async def start(self) -> None:
        import httpx
        import ollama

        kwargs: dict[str, Any] = {}
        if self.pool > 100:  # httpx's default pool is 100 connections
            kwargs["limits"] = httpx.Limits(max_connections=self.pool,
                                            max_keepalive_connections=self.pool)
        self.client = ollama.AsyncClient(host=self.url, **kwargs)

    async def chat(self, prompt: str, num_predict: int) -> str:
        resp = await self.client.chat(model=CHAT_MODEL, messages=_messages(prompt),
                                      options={"num_predict": num_predict})
        return resp.message.content or ""

    async def stream(self, num_predict: int,
                     after_first: Callable[[], Awaitable[None]] | None = None) -> int:
        chunks = 0
        async for _part in await self.client.chat(
                model=CHAT_MODEL, messages=_messages("stream"), stream=True,
                options={"num_predict": num_predict}):
            chunks += 1
            if chunks == 1 and after_first is not None:
                await after_first()
        return chunks

    async def embed(self, inputs: Sequence[str]) -> int:
        resp = await self.client.embed(model=EMBED_MODEL, input=list(inputs))
        return len(resp.embeddings)

    def _pool(self) -> Any:
        return self.client._client._transport._pool

    def connections_in_use(self) -> int | None:
        try:
            return sum(1 for c in self._pool().connections if not c.is_idle())
        except AttributeError:
            return None

    def connections_pooled(self) -> int | None:
        try:
            return len(self._pool().connections)
        except AttributeError:
            return None

    async def close(self) -> None:
        await self.client.close()

    def closed_cleanly(self) -> bool | None:
        try:
            return self.client._client.is_closed and not self._pool().connections
        except AttributeError:
            return None


# -- 3 and 4. OllamaClient ----------------------------------------------------------------------


class Core(BenchClient):
    key = "core"

    def __init__(self, url: str, pool: int, plugins: Sequence[Any] = (),
                 plugin_config: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(url, pool)
        self.plugins = list(plugins)
        self.plugin_config = plugin_config

    #: ``OllamaClient(stream_on_wire=...)``: False sends ``"stream": false`` as the
    #: official client does.
    stream_on_wire = True

    async def start(self) -> None:
        from ollama_core import OllamaClient

        kwargs: dict[str, Any] = {}
        if not self.stream_on_wire:
            kwargs["stream_on_wire"] = False
        if self.pool > 100:  # OllamaClient's default pool is 100 connections
            kwargs["max_connections"] = self.pool
        self.client = OllamaClient(self.url, plugins=self.plugins,
                                   plugin_config=self.plugin_config, **kwargs)
        self._last_session: aiohttp.ClientSession | None = None
        await self.client.__aenter__()

    async def chat(self, prompt: str, num_predict: int) -> str:
        resp = await self.client.chat({"model": CHAT_MODEL, "messages": _messages(prompt),
                                       "options": {"num_predict": num_predict}})
        return resp.message.content

    async def stream(self, num_predict: int,
                     after_first: Callable[[], Awaitable[None]] | None = None) -> int:
        chunks = 0
        async with self.client.chat_stream({"model": CHAT_MODEL,
                                            "messages": _messages("stream"),
                                            "options": {"num_predict": num_predict}}) as stream:
            async for _chunk in stream:
                chunks += 1
                if chunks == 1 and after_first is not None:
                    await after_first()
        return chunks

    async def embed(self, inputs: Sequence[str]) -> int:
        resp = await self.client.embed({"model": EMBED_MODEL, "input": list(inputs)})
        return len(resp.embeddings)

    async def embed_arrays(self, inputs: Sequence[str]) -> int:
        """``embed(..., arrays=True)``: each row an ``array('d')``."""
        resp = await self.client.embed({"model": EMBED_MODEL, "input": list(inputs)},
                                       arrays=True)
        return len(resp.embeddings)

    def _connector(self) -> aiohttp.BaseConnector | None:
        session = self.client._transport.session
        return session.connector if session is not None else None

    def connections_in_use(self) -> int | None:
        connector = self._connector()
        return len(connector._acquired) if connector is not None else 0

    def connections_pooled(self) -> int | None:
        connector = self._connector()
        if connector is None:
            return 0
        return sum(len(v) for v in connector._conns.values()) + len(connector._acquired)

    async def close(self) -> None:
        self._last_session = self.client._transport.session
        await self.client.aclose()

    def closed_cleanly(self) -> bool | None:
        session = self._last_session
        if session is None:
            return True
        connector = session.connector
        return session.closed and (connector is None or (connector.closed
                                                         and not connector._acquired))


def make_client(key: str, url: str, pool: int = 100, *,
                stack: tuple[list[str], dict[str, dict[str, Any]]] | None = None) -> BenchClient:
    """A fresh, unstarted client of kind ``key`` (see ``CLIENT_KEYS``)."""
    if key == "aiohttp":
        return PlainAiohttp(url, pool)
    if key == "official":
        return Official(url, pool)
    if key == "core":
        return Core(url, pool)
    if key == BOUND_KEY:
        return AiohttpAlone(url, pool)
    if key in ("core+plugins", PLAIN_WIRE_KEY):
        names, config = stack if stack is not None else ([], {})
        client = Core(url, pool, names, config)
        client.key = key
        client.stream_on_wire = key != PLAIN_WIRE_KEY
        return client
    raise ValueError(f"unknown client {key!r}")

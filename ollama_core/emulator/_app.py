"""The emulator server: an aiohttp application on loopback that speaks Ollama's API.

Requests pass one middleware that records them, picks the fault rule that applies and
lets it act before the endpoint runs; endpoints then answer through a
:class:`~._writer.Responder` that applies the rest of the rule. The ``/_emulator``
control paths (faults and recorded requests over HTTP) bypass all of that, and answer
only requests addressed to the emulator with JSON bodies (see :mod:`._guard`).
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final

from aiohttp import hdrs, web

from .._redact import redact_headers
from ._faults import FaultRule, FaultSet
from ._guard import control_refusal, header_digests, is_loopback
from ._handlers import BODY_KEY, RESPONDER_KEY, OllamaRoutes
from ._models import ModelRecord
from ._services import ServiceRoutes
from ._state import EmulatorState, LoadedModel, RecordedRequest
from ._systemone import DecisionRoutes
from ._writer import JSON_TYPE, Responder

__all__ = ["BeyondLoopbackWarning", "OllamaEmulator"]


class BeyondLoopbackWarning(UserWarning):
    """An emulator asked to listen where other machines can reach it."""


CONTROL_PREFIX: Final = "/_emulator"
# Blob uploads carry whole model files.
_MAX_BODY: Final = 1 << 34
# How long stop() lets handlers notice their connection is gone before cancelling them.
_SHUTDOWN_TIMEOUT: Final = 0.1

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


class OllamaEmulator:
    """A deterministic Ollama server on a real socket, with fault injection.

    ::

        async with OllamaEmulator() as emu:
            emu.faults.add(path="/api/chat", status=503, times=2)
            ...  # point a client at emu.url

    ``models`` (installed models) and ``registry`` (what ``/api/pull`` can fetch) take a
    mapping of :class:`ModelRecord`, or an iterable of records and catalogue names;
    ``None`` means the defaults. ``chunk_delay`` paces every stream.
    ``stop()`` closes every connection; ``start()`` again reuses the same port.

    A ``host`` beyond loopback (``0.0.0.0``, a LAN address, a name) gets a
    :class:`BeyondLoopbackWarning`. The control API (``/_emulator/...``) answers only a
    ``Host`` of ``localhost``, ``127.0.0.1``, ``[::1]`` or the bound address, with the
    emulator's port (else 403), and only JSON bodies (else 415); recorded requests
    mask secret headers (see :class:`RecordedRequest`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        models: Mapping[str, ModelRecord] | Iterable[str | ModelRecord] | None = None,
        version: str = "0.33.0",
        chunk_delay: float = 0.0,
        registry: Mapping[str, ModelRecord] | Iterable[str | ModelRecord] | None = None,
    ) -> None:
        if not is_loopback(host):
            warnings.warn(
                f"the Ollama emulator will listen on {host!r}, beyond loopback: other machines "
                "can reach it and its /_emulator control API (faults, recorded requests); "
                "bind 127.0.0.1 unless that is intended",
                BeyondLoopbackWarning,
                stacklevel=2,
            )
        self.host = host
        self._port = port
        self.state = EmulatorState.create(models, registry, version, chunk_delay)
        self._routes = OllamaRoutes(self.state)
        self._services = ServiceRoutes(self.state)
        self._decisions = DecisionRoutes(self.state)
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> OllamaEmulator:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = web.Application(middlewares=[self._middleware], client_max_size=_MAX_BODY)
        app.add_routes(self._control_routes())
        app.add_routes(self._routes.route_table())
        app.add_routes(self._services.route_table())
        app.add_routes(self._decisions.route_table())
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        # Remember the port chosen for port=0, so a restart comes back on it.
        self._port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop listening and close every connection (streams in progress are cut)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for site in list(runner.sites):
            await site.stop()
        if runner.server is not None:
            # like a server process going away: every connection closes now, even those
            # in the middle of a stream (aiohttp alone would wait for handlers to finish)
            for handler in runner.server.connections:
                if handler.transport is not None:
                    handler.transport.close()
        await runner.cleanup()

    async def __aenter__(self) -> OllamaEmulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<OllamaEmulator {self.url} {state}, {len(self.models)} models>"

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    # ------------------------------------------------------------------ state

    @property
    def faults(self) -> FaultSet:
        return self.state.faults

    @property
    def models(self) -> dict[str, ModelRecord]:
        """Installed models by name; pull, create, copy and delete change it."""
        return self.state.models

    @property
    def registry(self) -> dict[str, ModelRecord]:
        """What ``/api/pull`` can fetch, by name."""
        return self.state.registry

    @property
    def blobs(self) -> dict[str, int]:
        """Uploaded blobs: ``sha256:<hex>`` -> size in bytes."""
        return self.state.blobs

    @property
    def loaded(self) -> list[LoadedModel]:
        """Models ``/api/ps`` currently lists."""
        return self.state.running()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request that reached the server, oldest first (a copy)."""
        return self.state.requests

    def hits(self, path: str | None = None, method: str | None = None) -> int:
        """How many recorded requests match ``path`` and ``method``."""
        return self.state.hits(path, method)

    def clear_requests(self) -> None:
        self.state.clear_requests()

    @property
    def open_connections(self) -> int:
        """Server-side connections open right now (idle keep-alive ones included)."""
        server = self._runner.server if self._runner is not None else None
        if server is None:
            return 0
        return sum(1 for handler in server.connections if handler.transport is not None)

    async def wait_for_connections(self, count: int = 0, timeout: float = 2.0) -> bool:
        """Wait until at most ``count`` connections are open; False on timeout.

        A client closing its socket is seen by the server one loop turn or so later,
        so tests should wait here rather than read :attr:`open_connections` at once.
        """
        deadline = time.monotonic() + timeout
        while self.open_connections > count:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    # ------------------------------------------------------------- middleware

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            refusal = control_refusal(
                request.method,
                request.headers.getall(hdrs.HOST, []),
                request.headers.get(hdrs.CONTENT_TYPE, ""),
                request.body_exists,
                bound_host=self.host,
                port=self._port,
            )
            if refusal is not None:
                return self._reply({"error": refusal[1]}, refusal[0])
            return await handler(request)
        raw = await request.read()
        parsed = _parse_json(raw) if not request.path.startswith("/api/blobs/") else None
        self.state.record(
            RecordedRequest(
                method=request.method,
                path=request.path,
                json=parsed,
                headers=redact_headers(request.headers),
                time=time.time(),
                _secret_digests=header_digests(request.headers),
            )
        )
        rule = self.state.faults.take(request.method, request.path)
        model = parsed.get("model") if isinstance(parsed, dict) else None
        responder = Responder(
            request,
            rule,
            chunk_delay=self.state.chunk_delay,
            model=model if isinstance(model, str) else None,
        )
        early = await responder.prelude()
        if early is not None:
            return early
        request[RESPONDER_KEY] = responder
        request[BODY_KEY] = raw
        try:
            return await handler(request)
        except web.HTTPMethodNotAllowed as exc:
            # gin's plain-text 405 (HandleMethodNotAllowed = true)
            return web.Response(
                status=405,
                body=b"405 method not allowed",
                headers={
                    "Content-Type": "text/plain",
                    "Allow": ", ".join(sorted(exc.allowed_methods)),
                },
            )
        except web.HTTPNotFound:
            return web.Response(
                status=404, body=b"404 page not found", headers={"Content-Type": "text/plain"}
            )

    # ------------------------------------------------------------ control API

    def _control_routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{CONTROL_PREFIX}/faults", self._get_faults, allow_head=False),
            web.post(f"{CONTROL_PREFIX}/faults", self._post_fault),
            web.post(f"{CONTROL_PREFIX}/faults/script", self._post_script),
            web.delete(f"{CONTROL_PREFIX}/faults", self._delete_faults),
            web.get(f"{CONTROL_PREFIX}/requests", self._get_requests, allow_head=False),
            web.delete(f"{CONTROL_PREFIX}/requests", self._delete_requests),
        ]

    @staticmethod
    def _reply(body: Any, status: int = 200) -> web.Response:
        return web.Response(
            status=status, text=json.dumps(body), headers={"Content-Type": JSON_TYPE}
        )

    async def _get_faults(self, request: web.Request) -> web.StreamResponse:
        return self._reply({"faults": [rule.to_dict() for rule in self.faults.rules]})

    async def _read_object(self, request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "body must be JSON"}), content_type="application/json"
            ) from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "body must be a JSON object"}),
                content_type="application/json",
            )
        return data

    async def _post_fault(self, request: web.Request) -> web.StreamResponse:
        data = await self._read_object(request)
        try:
            rule = FaultRule.from_dict(data)
        except ValueError as exc:
            return self._reply({"error": str(exc)}, 400)
        self.faults.add(rule)
        return self._reply({"fault": rule.to_dict()}, 201)

    async def _post_script(self, request: web.Request) -> web.StreamResponse:
        data = await self._read_object(request)
        statuses = data.pop("statuses", None)
        path = data.pop("path", None)
        if not isinstance(statuses, list) or not all(
            s is None or (isinstance(s, int) and not isinstance(s, bool)) for s in statuses
        ):
            return self._reply({"error": "statuses must be a list of status codes"}, 400)
        try:
            FaultRule.from_dict({"path": path, **data})  # field names and values
            added = self.faults.script(path, statuses, **data)
        except (TypeError, ValueError) as exc:
            return self._reply({"error": str(exc)}, 400)
        return self._reply({"faults": [rule.to_dict() for rule in added]}, 201)

    async def _delete_faults(self, request: web.Request) -> web.StreamResponse:
        self.faults.clear()
        return self._reply({"faults": []})

    async def _get_requests(self, request: web.Request) -> web.StreamResponse:
        return self._reply(
            {
                "requests": [
                    {
                        "method": r.method,
                        "path": r.path,
                        "json": r.json,
                        "headers": r.headers,
                        "time": r.time,
                    }
                    for r in self.state.requests
                ]
            }
        )

    async def _delete_requests(self, request: web.Request) -> web.StreamResponse:
        self.state.clear_requests()
        return self._reply({"requests": []})

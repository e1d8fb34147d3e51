"""The account, cloud and web endpoints: what a server answers about itself and ollama.com.

``/api/status``, ``/api/me``, ``/api/signout``, ``/api/experimental/model-recommendations``
and the web routes in both places they exist: the local server's
``/api/experimental/web_search|web_fetch`` (which Ollama proxies to ollama.com, signed
with the server's own key, after dropping the caller's ``Authorization``) and ollama.com's
own ``/api/web_search|web_fetch`` (which want the caller's ``Authorization: Bearer`` key).
One emulator serves both, so a test can point a client's cloud URL at one emulator and its
server URL at another, and see which one received the key. With ``state.cloud_url`` set, the
local routes proxy to that URL as Ollama does to ollama.com: the caller's headers stay
behind, and the call carries the server's own signature instead.

Results are deterministic: the same query or URL always gives the same answer.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

import aiohttp
from aiohttp import web

from ._bind import BindError, bind
from ._handlers import request_context
from ._state import EmulatorState
from ._writer import Responder

__all__ = ["ServiceRoutes"]

# server/routes.go signinURLStr, with the emulator's host name and key
SIGNIN_URL: Final = "https://ollama.com/connect?name=emulator&key=ZW11bGF0b3I"
# internal/cloud: DisabledError(operation)
_CLOUD_DISABLED: Final = "ollama cloud is disabled"
_WEB_SEARCH: Final = "web search is unavailable"
_WEB_FETCH: Final = "web fetch is unavailable"
# ollama.com's documented web search bounds: 5 results unless asked, 10 at most.
DEFAULT_MAX_RESULTS: Final = 5
MAX_RESULTS: Final = 10
#: What the emulated server sends ollama.com in place of the caller's ``Authorization``
#: (Ollama signs the proxied call with its own key).
SERVER_SIGNATURE: Final = "Bearer emulator-server-signature"
_PROXY_TIMEOUT: Final = aiohttp.ClientTimeout(total=30)
_URL: Final = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_BEARER: Final = re.compile(r"^Bearer\s+\S+", re.IGNORECASE)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"


def search_results(query: str, max_results: int) -> list[dict[str, str]]:
    """The deterministic hits for ``query``: ``max_results`` of them (within bounds)."""
    count = DEFAULT_MAX_RESULTS if max_results <= 0 else min(max_results, MAX_RESULTS)
    slug = _slug(query)
    return [
        {
            "title": f"{query} ({index})",
            "url": f"https://example.com/{slug}/{index}",
            "content": f"Result {index} for {query}: a page that mentions {query}.",
        }
        for index in range(1, count + 1)
    ]


def fetched_page(url: str) -> dict[str, Any]:
    """The deterministic page behind ``url``: a title, text, and links from it."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    base = url.rstrip("/")
    return {
        "title": f"Page {digest}",
        "content": f"The content of {url}.",
        "links": [f"{base}/about", f"{base}/contact"],
    }


class ServiceRoutes:
    """The account, status, recommendation and web routes of one emulated server."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def route_table(self) -> list[web.RouteDef]:
        return [
            web.get("/api/status", self.status, allow_head=False),
            web.post("/api/me", self.me),
            web.post("/api/signout", self.signout),
            web.get(
                "/api/experimental/model-recommendations", self.recommendations,
                allow_head=False,
            ),
            web.post("/api/experimental/web_search", self.experimental_web_search),
            web.post("/api/experimental/web_fetch", self.experimental_web_fetch),
            web.post("/api/web_search", self.cloud_web_search),
            web.post("/api/web_fetch", self.cloud_web_fetch),
        ]

    # ----------------------------------------------------------------- server

    async def status(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/status``: ``source`` is ``"none"`` unless cloud is disabled (the
        emulator says ``"env"`` then, as ``OLLAMA_NO_CLOUD`` would)."""
        responder, _ = request_context(request)
        disabled = self.state.cloud_disabled
        return await responder.json(
            {"cloud": {"disabled": disabled, "source": "env" if disabled else "none"}}
        )

    async def recommendations(self, request: web.Request) -> web.StreamResponse:
        responder, _ = request_context(request)
        return await responder.json({"recommendations": list(self.state.recommendations)})

    # ---------------------------------------------------------------- account

    async def me(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/me``: the signed-in user (``state.user``), whose empty plan reads
        ``free``; signed out, the server's 401 with a sign-in URL."""
        responder, _ = request_context(request)
        user = self.state.user
        if user is None or not user.get("name"):
            return await responder.json(
                {"error": "unauthorized", "signin_url": SIGNIN_URL}, status=401
            )
        body = dict(user)
        if not str(body.get("plan") or "").strip():
            body["plan"] = "free"
        return await responder.json(body)

    async def signout(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/signout``: 200 with a ``null`` body, as gin writes ``c.JSON(200,
        nil)``; signed out already, the server's 401."""
        responder, _ = request_context(request)
        if self.state.user is None:
            return await responder.error(401, "you are not currently signed in")
        self.state.user = None
        return await responder.json(None)

    # -------------------------------------------------------------------- web

    async def experimental_web_search(self, request: web.Request) -> web.StreamResponse:
        """The local server's route. Ollama drops the caller's ``Authorization`` here and
        proxies the body to ollama.com with its own signature; the emulator answers as that
        proxy would, never looking at the caller's key."""
        return await self._experimental(request, "web_search", _WEB_SEARCH)

    async def experimental_web_fetch(self, request: web.Request) -> web.StreamResponse:
        return await self._experimental(request, "web_fetch", _WEB_FETCH)

    async def cloud_web_search(self, request: web.Request) -> web.StreamResponse:
        """ollama.com's route: a request without ``Authorization: Bearer <key>`` gets 401
        ``unauthorized``."""
        return await self._cloud(request, "web_search")

    async def cloud_web_fetch(self, request: web.Request) -> web.StreamResponse:
        return await self._cloud(request, "web_fetch")

    async def _experimental(
        self, request: web.Request, endpoint: str, operation: str
    ) -> web.StreamResponse:
        responder, raw = request_context(request)
        if not raw.strip():
            return await responder.error(400, "missing request body")
        if self.state.cloud_disabled:
            return await responder.error(403, f"{_CLOUD_DISABLED}: {operation}")
        if self.state.cloud_url:
            return await self._proxy(responder, raw, f"{self.state.cloud_url}/api/{endpoint}")
        return await self._answer(responder, raw, endpoint)

    @staticmethod
    async def _proxy(responder: Responder, raw: bytes, url: str) -> web.StreamResponse:
        """Forward the body to the cloud with the server's signature and none of the
        caller's headers; the cloud's status and body come back as they are (a cloud that
        cannot be reached is a 502, as in Ollama's proxy)."""
        headers = {"Content-Type": "application/json", "Authorization": SERVER_SIGNATURE}
        try:
            async with aiohttp.ClientSession(timeout=_PROXY_TIMEOUT) as session, \
                    session.post(url, data=raw, headers=headers) as reply:
                body = await reply.read()
                content_type = reply.headers.get("Content-Type")
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return await responder.error(502, str(exc) or type(exc).__name__)
        return await responder.body(body, status=status, content_type=content_type)

    async def _cloud(self, request: web.Request, endpoint: str) -> web.StreamResponse:
        responder, raw = request_context(request)
        if not _BEARER.match(request.headers.get("Authorization", "")):
            return await responder.error(401, "unauthorized")
        return await self._answer(responder, raw, endpoint)

    async def _answer(self, responder: Responder, raw: bytes, endpoint: str) -> web.StreamResponse:
        """The web answer itself. Its checks and texts are the emulator's own: the Go
        source read has only the proxy, not ollama.com's service."""
        try:
            body = bind(raw, endpoint)
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        if endpoint == "web_search":
            query = body.get("query") or ""
            if not query.strip():
                return await responder.error(400, "query is required")
            max_results = int(body.get("max_results") or 0)
            if max_results < 0:
                return await responder.error(400, "max_results must not be negative")
            return await responder.json({"results": search_results(query, max_results)})
        url = body.get("url") or ""
        if not url:
            return await responder.error(400, "url is required")
        if not _URL.match(url):
            return await responder.error(400, f"invalid url: {url}")
        return await responder.json(fetched_page(url))

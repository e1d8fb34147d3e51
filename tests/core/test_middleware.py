"""The middleware chain: explicit order, built once, printable."""

from __future__ import annotations

from dataclasses import dataclass, field

from ollama_core import Handler, Middleware, MiddlewareChain, Request, Response


@dataclass
class Recorder:
    name: str
    order: int
    log: list[str] = field(default_factory=list)

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        self.log.append(f"{self.name}>")
        response = await call_next(request)
        self.log.append(f"<{self.name}")
        return response


async def test_lower_order_is_outer_and_ties_keep_registration_order() -> None:
    log: list[str] = []
    mws = [Recorder("c", 300, log), Recorder("a", 100, log), Recorder("b1", 200, log),
           Recorder("b2", 200, log)]

    async def terminal(request: Request) -> Response:
        log.append("transport")
        return Response(request, 200, body={})

    chain = MiddlewareChain(mws, terminal)
    await chain(Request("GET", "/api/tags", "tags"))
    assert log == ["a>", "b1>", "b2>", "c>", "transport", "<c", "<b2", "<b1", "<a"]
    assert chain.names() == ["a", "b1", "b2", "c"]
    assert chain.describe().splitlines() == [
        "  100  a", "  200  b1", "  200  b2", "  300  c", "    -  transport (aiohttp)"]
    assert all(isinstance(m, Middleware) for m in mws)


async def test_a_middleware_may_short_circuit() -> None:
    class Hit:
        name, order = "cache", 1

        async def __call__(self, request: Request, call_next: Handler) -> Response:
            return Response(request, 200, body={"cached": True})

    async def terminal(request: Request) -> Response:  # pragma: no cover - must not run
        raise AssertionError("transport reached")

    response = await MiddlewareChain([Hit()], terminal)(Request("GET", "/", "x"))
    assert response.body == {"cached": True}


def test_request_repr_hides_credentials() -> None:
    req = Request("POST", "/api/chat", "chat", headers={"Authorization": "Bearer sk-123"})
    assert "sk-123" not in repr(req)
    assert "***" in repr(req)

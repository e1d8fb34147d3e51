"""The circuit breaker's middleware: one store decision per attempt, the outcome reported
when the response ends (the policy is in :mod:`ollama_plugins.circuit_breaker._plugin`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ollama_core.ext import ORDER_BREAKER, Handler, Request, Response

from .store import CLOSED

if TYPE_CHECKING:
    from ._circuit import Circuit
    from ._plugin import CircuitBreakerPlugin

__all__ = ["BreakerMiddleware"]


class BreakerMiddleware:
    """Admits, rejects and reports every attempt of its client, through the public API of
    its plugin."""

    name: str = "circuit_breaker"
    order: int = ORDER_BREAKER

    __slots__ = ("plugin",)

    def __init__(self, plugin: CircuitBreakerPlugin) -> None:
        self.plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        plugin = self.plugin
        circuit = plugin.circuit_for(request)
        store = plugin.store
        verdict = store.peek(circuit.key)
        if verdict is None:
            verdict = await store.admit(circuit.key, plugin.settings.half_open_max_calls)
        lease = None
        if verdict is not CLOSED or not circuit.closed:
            lease = plugin.follow(circuit, verdict, request)
        generation = circuit.generation
        try:
            response = await call_next(request)
        except BaseException as exc:
            plugin.report(circuit, generation, lease, exc)
            raise
        if response.finished:
            plugin.report(circuit, generation, lease, None)
        else:
            response.on_done(_Outcome(plugin, circuit, generation, lease))
        return response


class _Outcome:
    """Reports a stream's end to the plugin (``plugin.report``). Held by every open stream
    until it ends: one small object, where a ``functools.partial`` of the bound method
    takes three (the partial, the bound method, the arguments' tuple)."""

    __slots__ = ("plugin", "circuit", "generation", "lease")

    def __init__(self, plugin: CircuitBreakerPlugin, circuit: Circuit, generation: int,
                 lease: Any) -> None:
        self.plugin = plugin
        self.circuit = circuit
        self.generation = generation
        self.lease = lease

    def __call__(self, error: BaseException | None) -> None:
        self.plugin.report(self.circuit, self.generation, self.lease, error)

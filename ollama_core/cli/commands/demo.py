"""The main job (``make demo``): the whole client at work against the embedded emulator.

Part one walks the API: list models, a streamed chat printed as it arrives, a generate,
an embed, a pull with progress. Part two turns on the full plugin stack, injects faults
into the emulators and prints what the plugins do about them as it happens: retries,
circuit-breaker transitions, a failover to a second server, a cache hit.

With ``--host URL`` (or ``--host env`` for ``OLLAMA_HOST``) part one runs against a real
server instead; part two always uses emulators, since it breaks them on purpose.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from ..._client import OllamaClient
from ..._events import Event
from ..._exceptions import CircuitOpenError, OllamaError
from ..._types import ChatRequest, EmbedRequest, GenerateRequest
from ...hookspecs import hookimpl
from ..errors import EXIT_OK
from ..output.humanize import plural

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["demo", "event_text", "run_demo"]


def event_text(event: Event) -> str:
    """An event as the demo prints it: like ``str(event)``, except that clock readings
    (``retry_at``) are told relative to the event, ``retry in 0.300s``, since a raw
    monotonic reading means nothing to a reader."""
    details: list[str] = []
    for key, value in event.data.items():
        if key.endswith("_at") and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            delta = value - event.time
            when = f"in {delta:.3f}s" if delta >= 0 else f"{-delta:.3f}s ago"
            details.append(f"{key.removesuffix('_at')} {when}")
        else:
            details.append(f"{key}={round(value, 3) if isinstance(value, float) else value}")
    return f"[{event.source}] {event.name}: {', '.join(details)}"


class _EventPrinter:
    """A plugin that prints every event the reliability plugins emit, as it happens."""

    name = "demo_event_printer"

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.events: list[Event] = []

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        self.events.append(event)
        print(f"    event  {event_text(event)}", file=self.out, flush=True)


def _heading(out: TextIO, text: str) -> None:
    print(f"\n== {text}", file=out, flush=True)


async def _tour(client: OllamaClient, out: TextIO, chat_model: str, embed_model: str,
                pull_model: str) -> None:
    _heading(out, f"server {client.base_url} (version {await client.version()})")

    _heading(out, "list models")
    for entry in (await client.list_models()).models:
        details = entry.details
        print(f"  {entry.name:<28} {entry.size or 0:>12,} bytes  "
              f"{details.parameter_size if details else ''}", file=out)

    _heading(out, f"streamed chat with {chat_model}")
    stream = client.chat_stream(ChatRequest(model=chat_model, messages=[
        {"role": "user", "content": "Say hello to the people running Ollama in production."}]))
    print("  assistant: ", end="", file=out, flush=True)
    async with stream:
        async for chunk in stream:
            print(chunk.message.content, end="", file=out, flush=True)
    final = stream.last
    tps = final.metrics.tokens_per_second if final is not None else None
    ttfc = stream.metrics.time_to_first_chunk
    print(f"\n  [{stream.metrics.chunks} chunks, {stream.metrics.bytes} bytes, "
          f"first chunk after {ttfc * 1000 if ttfc is not None else 0:.1f} ms, "
          f"{tps or 0:.1f} tokens/s reported by the server]", file=out)

    _heading(out, f"generate with {chat_model}")
    gen = await client.generate(GenerateRequest(model=chat_model, prompt="Why is the sky blue?",
                                                options={"num_predict": 12}))
    print(f"  {gen.response.strip()}", file=out)
    print(f"  [done_reason={gen.done_reason}, eval_count={gen.eval_count}]", file=out)

    _heading(out, f"embed with {embed_model}")
    emb = await client.embed(EmbedRequest(model=embed_model, input=["first text", "second"]))
    for i, vector in enumerate(emb.embeddings):
        preview = ", ".join(f"{x:+.3f}" for x in vector[:4])
        print(f"  input {i}: {len(vector)} dims [{preview}, ...]", file=out)

    _heading(out, f"pull {pull_model}")
    async with client.pull_model_stream(pull_model) as progress:
        async for line in progress:
            if line.total and line.completed is not None:
                pct = 100 * line.completed / line.total
                print(f"  {line.status:<40} {pct:5.1f}%", file=out)
            else:
                print(f"  {line.status}", file=out)


async def _reliability(out: TextIO) -> None:
    from ...emulator import OllamaEmulator

    chat = ChatRequest(model="llama3.2", messages=[{"role": "user", "content": "ping"}])
    printer = _EventPrinter(out)

    async with OllamaEmulator() as primary, OllamaEmulator() as second:
        _heading(out, "retry: the server answers 503 twice, then recovers")
        primary.faults.script("/api/chat", [503, 503])
        async with OllamaClient(primary.url, plugins=["retry", printer], plugin_config={
                "retry": {"base_delay": 0.05, "max_delay": 0.2}}) as client:
            reply = await client.chat(chat)
        attempts = primary.hits("/api/chat")
        print(f"  answer {reply.message.content.strip()!r} after "
              f"{attempts} {plural(attempts, 'attempt')}", file=out)

        _heading(out, "circuit_breaker: three failures open it; it probes again later")
        primary.faults.add(path="/api/generate", status=500, times=3)
        config: dict[str, dict[str, Any]] = {
            "circuit_breaker": {"fail_max": 3, "reset_timeout": 0.3}}
        request = GenerateRequest(model="llama3.2", prompt="hi", options={"num_predict": 2})
        async with OllamaClient(primary.url, plugins=["circuit_breaker", printer],
                                plugin_config=config) as client:
            for i in range(5):
                before = primary.hits("/api/generate")
                try:
                    await client.generate(request)
                    outcome = "ok"
                except CircuitOpenError as exc:
                    outcome = f"refused at once: {exc}"
                except OllamaError as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                sent = primary.hits("/api/generate") - before
                print(f"  call {i + 1}: {outcome} ({sent} {plural(sent, 'request')} sent)",
                      file=out)
            await asyncio.sleep(0.35)  # the demo runs on the real clock
            await client.generate(request)
            breaker = client.plugin("circuit_breaker")
            print(f"  after the reset timeout a probe succeeded; the breaker is "
                  f"{breaker.state(endpoint='generate')}", file=out)

        _heading(out, "failover + health_checks: the primary goes away and comes back")
        async with OllamaClient(primary.url, plugins=["retry", "failover", "health_checks",
                                                      printer], plugin_config={
                "retry": {"base_delay": 0.05},
                "failover": {"endpoints": [primary.url, second.url], "cooldown": 0.5},
                "health_checks": {"interval": 0.1, "timeout": 0.5,
                                  "unhealthy_threshold": 1, "healthy_threshold": 1},
                }) as client:
            await client.list_models()
            await primary.stop()
            print("  (primary stopped)", file=out)
            for i in range(3):
                tags = await client.list_models()
                print(f"  list_models #{i + 1}: {len(tags.models)} models, second server has "
                      f"answered {second.hits('/api/tags')} so far", file=out)
            await primary.start()
            print("  (primary restarted)", file=out)
            health = client.plugin("health_checks")
            await health.check_now()
            await asyncio.sleep(0.6)  # let the cooldown pass on the real clock
            before = primary.hits("/api/tags")
            await client.list_models()
            print(f"  the next call went to the primary again: "
                  f"{primary.hits('/api/tags') - before == 1}", file=out)

        _heading(out, "rate_limiting: 4 per second, burst 2; six calls at once")
        loop = asyncio.get_running_loop()
        async with OllamaClient(primary.url, plugins=["rate_limiting"], plugin_config={
                "rate_limiting": {"rate": 4, "burst": 2}}) as client:
            start = loop.time()

            async def timed(i: int) -> str:
                await client.version()
                return f"call {i + 1} at +{loop.time() - start:.2f}s"

            for line in await asyncio.gather(*(timed(i) for i in range(6))):
                print(f"  {line}", file=out)

        _heading(out, "request_caching: the second identical embed is served from memory")
        async with OllamaClient(primary.url, plugins=["request_caching", printer]) as client:
            before = primary.hits("/api/embed")
            embed = EmbedRequest(model="all-minilm", input="cache me")
            await client.embed(embed)
            await client.embed(embed)
            print(f"  2 embed calls, {primary.hits('/api/embed') - before} reached the server; "
                  f"stats {client.plugin('request_caching').stats()}", file=out)

        _heading(out, "the full stack, outermost first")
        async with OllamaClient(primary.url, plugins="full") as client:
            for line in client.describe_chain().splitlines():
                print(f"    {line}", file=out)

    kinds = sorted({e.name for e in printer.events})
    print(f"\n  events seen: {', '.join(kinds)}", file=out)


async def run_demo(host: str | None = None, out: TextIO = sys.stdout,
                   reliability: bool = True) -> None:
    """Run the demo; ``host`` targets a real server for the API tour."""
    if host is not None:
        url = None if host == "env" else host
        async with OllamaClient(url, plugins=[]) as client:
            if not await client.is_available():
                raise OllamaError(f"no Ollama server answers at {client.base_url}")
            await _tour(client, out, os.environ.get("OLLAMA_CORE_DEMO_MODEL", "llama3.2"),
                        os.environ.get("OLLAMA_CORE_DEMO_EMBED_MODEL", "all-minilm"),
                        os.environ.get("OLLAMA_CORE_DEMO_PULL_MODEL", "tinyllama"))
    else:
        from ...emulator import OllamaEmulator

        async with OllamaEmulator() as emu:
            print(f"embedded Ollama emulator listening on {emu.url}", file=out)
            async with OllamaClient(emu.url, plugins=[]) as client:
                await _tour(client, out, "llama3.2", "all-minilm", "tinyllama")
    if reliability:
        await _reliability(out)
    print("\ndemo finished", file=out)


def demo(session: Session) -> int:
    """``ollama-core [--host URL | --emulator] demo [--no-reliability]``."""
    args = session.args
    asyncio.run(run_demo(session.host, out=session.out,
                         reliability=not args.no_reliability))
    return EXIT_OK

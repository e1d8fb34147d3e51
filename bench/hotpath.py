"""The client's own Python per chunk and per request, without the network.

``.venv/bin/python bench/hotpath.py`` answers from ``MockTransport`` (no socket, no server)
and prints the best of five of ``time.process_time()``:

- per chunk: one ``chat_stream`` of 50 000 chat lines, given in 64 KiB pieces;
- per request: 5 000 non-streaming ``chat`` calls, each answered by 17 lines (the
  benchmark's plain chat, sent as a stream and folded).

Both for ``OllamaClient`` without plugins and with the benchmark's five reliability
plugins (client 3 and client 4 of ``bench/run.py``). It isolates what the client adds above
the transport, which ``bench/run.py`` measures against the floor over real sockets
(BENCHMARKS.md, "Faster than the floor").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import RELIABILITY_PLUGINS, _plugin_settings  # noqa: E402

from ollama_core import OllamaClient  # noqa: E402
from ollama_core._transports.base import TransportResponse  # noqa: E402
from ollama_core._transports.mock import MockTransport  # noqa: E402

URL = "http://127.0.0.1:9"  # never connected to: MockTransport answers


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _chat_lines(n: int) -> bytes:
    partial = [_line({"model": "llama3.2", "created_at": "2026-12-02T08:00:00.123456Z",
                      "message": {"role": "assistant", "content": f"tok{i % 10} "},
                      "done": False}) for i in range(n - 1)]
    final = _line({"model": "llama3.2", "created_at": "2026-12-02T08:00:01.0Z",
                   "message": {"role": "assistant", "content": ""}, "done": True,
                   "done_reason": "stop", "total_duration": 1, "load_duration": 1,
                   "prompt_eval_count": 3, "prompt_eval_duration": 4,
                   "eval_count": n - 1, "eval_duration": 5})
    return b"".join(partial) + final


def _client(body: bytes, piece: int, plugins: bool) -> OllamaClient:
    pieces = [body[i:i + piece] for i in range(0, len(body), piece)]

    def handler(request: Any) -> TransportResponse:
        return TransportResponse.from_bytes(200, {"Content-Type": "application/x-ndjson"},
                                            list(pieces))

    if plugins:
        return OllamaClient(URL, transport=MockTransport(handler),
                            plugins=list(RELIABILITY_PLUGINS),
                            plugin_config=_plugin_settings(URL))
    return OllamaClient(URL, transport=MockTransport(handler), plugins=[])


async def per_chunk(plugins: bool, chunks: int, repeat: int) -> float:
    request = {"model": "llama3.2", "messages": [{"role": "user", "content": "stream"}]}
    async with _client(_chat_lines(chunks), 64 * 1024, plugins) as client:
        best = float("inf")
        for _ in range(repeat):
            started = time.process_time()
            seen = 0
            async for _chunk in client.chat_stream(request):
                seen += 1
            best = min(best, time.process_time() - started)
            assert seen == chunks, seen
    return best / chunks


async def per_request(plugins: bool, calls: int, repeat: int) -> float:
    request = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello"}],
               "options": {"num_predict": 16}}
    async with _client(_chat_lines(17), 1 << 20, plugins) as client:
        for _ in range(200):
            await client.chat(request)
        best = float("inf")
        for _ in range(repeat):
            started = time.process_time()
            for _ in range(calls):
                await client.chat(request)
            best = min(best, time.process_time() - started)
    return best / calls


async def main(quick: bool) -> None:
    chunks, calls, repeat = (2_000, 200, 1) if quick else (50_000, 5_000, 5)
    for plugins in (False, True):
        label = "client 4 (five plugins)" if plugins else "client 3 (no plugins)"
        chunk = await per_chunk(plugins, chunks, repeat)
        call = await per_request(plugins, calls, repeat)
        print(f"{label:<26} {chunk * 1e6:6.2f} us per chunk   {call * 1e6:7.1f} us per request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    asyncio.run(main(parser.parse_args().quick))

"""Scenario (c), memory half: N streams held open at once, measured in a fresh process.

Run by ``bench/run.py`` as ``python bench/_memory.py --url U --port P --client K ...``;
prints one JSON object. A fresh interpreter per client keeps one client's garbage and
allocator high-water mark out of the next one's figures (RSS in particular).

Method: the client is created and warmed up (one stream, so lazily built objects exist),
then ``tracemalloc`` starts and N streams are opened together. Each stream, after its
first chunk, waits at a barrier until all N are open (that is the "N open streams"
moment: traced memory and RSS are read there), then all read to the end. Reported per
stream: the tracemalloc peak over the whole run divided by N (the figure the target is
judged on), the traced memory held at the barrier divided by N, and the RSS growth from
before the streams to the barrier divided by N. tracemalloc counts Python allocations only
(objects, buffers, bytes read from sockets); kernel socket buffers are not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import make_client, reliability_stack  # noqa: E402
from _server import count_server_connections  # noqa: E402

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int | None:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


async def measure(url: str, port: int, key: str, streams: int, chunks: int,
                  barrier_timeout: float) -> dict[str, Any]:
    stack = reliability_stack(url)[:2] if key == "core+plugins" else None
    client = make_client(key, url, pool=max(streams, 100), stack=stack)
    await client.start()
    await client.stream(chunks)  # warm-up: sessions, lazy imports, first connection
    opened = 0
    all_open = asyncio.Event()
    at_barrier: dict[str, Any] = {}

    async def barrier() -> None:
        nonlocal opened
        opened += 1
        if opened == streams:
            at_barrier["traced"] = tracemalloc.get_traced_memory()[0]
            at_barrier["rss"] = rss_bytes()
            at_barrier["server_connections"] = count_server_connections(port)
            all_open.set()
        else:
            try:
                await asyncio.wait_for(all_open.wait(), barrier_timeout)
            except TimeoutError:
                all_open.set()  # let everybody go; reported as not all open

    gc.collect()
    rss0 = rss_bytes()
    tracemalloc.start()
    started = time.perf_counter()
    results = await asyncio.gather(*(client.stream(chunks, after_first=barrier)
                                     for _ in range(streams)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    in_use = client.connections_in_use()
    pooled = client.connections_pooled()
    await client.close()
    await asyncio.sleep(0)
    rss_at = at_barrier.get("rss")
    return {
        "client": key,
        "streams": streams,
        "chunks_per_stream": chunks,
        "all_open_together": opened == streams and "traced" in at_barrier,
        "opened": opened,
        "errors": errors[:5],
        "error_count": len(errors),
        "chunks_read": sum(r for r in results if isinstance(r, int)),
        "seconds_under_tracemalloc": elapsed,
        "tracemalloc_peak_per_stream": peak / streams,
        "tracemalloc_held_per_stream": at_barrier.get("traced", 0) / streams,
        "rss_growth_per_stream": ((rss_at - rss0) / streams
                                  if rss_at is not None and rss0 is not None else None),
        "server_connections_all_open": at_barrier.get("server_connections"),
        "in_use_after": in_use,
        "pooled_after": pooled,
        "closed_cleanly": client.closed_cleanly(),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client", required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--barrier-timeout", type=float, default=60.0)
    args = parser.parse_args()
    result = asyncio.run(measure(args.url, args.port, args.client, args.streams, args.chunks,
                                 args.barrier_timeout))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

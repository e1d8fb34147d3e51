"""Scenario (c), memory half: N streams held open at once, measured in a fresh process.

Run by ``bench/run.py`` as ``python bench/_memory.py --url U --port P --client K ...``;
prints one JSON object. A fresh interpreter per client keeps one client's garbage and
allocator high-water mark out of the next one's figures (RSS in particular).

Method: two passes, each with a fresh client that is warmed up first (one stream, so
lazily built objects exist), then opens N streams together. Each stream, after its first
chunk, waits at a barrier until all N are open (the "N open streams" moment, when memory
is read), then all read to the end. Pass 1 runs without tracemalloc and gives the RSS
growth from before the streams to the barrier (tracemalloc's own bookkeeping would
inflate RSS). Pass 2 runs under tracemalloc (started just before the streams, so the
baseline is 0) and gives the peak of traced memory over the whole pass (the figure the
target is judged on) and the traced memory held at the barrier. All are divided by N.
tracemalloc counts Python allocations only (objects, buffers, bytes read from sockets);
kernel socket buffers are in neither figure.
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


async def _pass(url: str, port: int, key: str, streams: int, chunks: int,
                barrier_timeout: float, traced: bool, wave: int | None = None) -> dict[str, Any]:
    """Open ``streams`` streams with a fresh client, all held open at a barrier."""
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
            at_barrier["traced"] = tracemalloc.get_traced_memory()[0] if traced else None
            at_barrier["rss"] = rss_bytes()
            # Reading /proc/net/tcp with thousands of sockets allocates megabytes for a
            # moment: the benchmark's own, not the client's. Keep the peak so far, count,
            # then start the peak again from what the client holds.
            at_barrier["peak_before"] = tracemalloc.get_traced_memory()[1] if traced else None
            at_barrier["server_connections"] = count_server_connections(port)
            if traced:
                tracemalloc.reset_peak()
            all_open.set()
        else:
            try:
                await asyncio.wait_for(all_open.wait(), barrier_timeout)
            except TimeoutError:
                at_barrier["timed_out"] = True
                all_open.set()  # let everybody go; reported as not all open

    gc.collect()
    rss0 = rss_bytes()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    opening = asyncio.Semaphore(wave) if wave else None

    async def one() -> int:
        # With ``wave``, at most that many streams are being opened at a time (the
        # emulator's listen backlog is 128: ten thousand simultaneous connects would
        # overflow it and wait out the kernel's SYN retries). Each stream gives its slot
        # back at its first chunk and stays open at the barrier like the others.
        if opening is None:
            return await client.stream(chunks, after_first=barrier)
        await opening.acquire()
        held = True

        async def first() -> None:
            nonlocal held
            held = False
            opening.release()
            await barrier()

        try:
            return await client.stream(chunks, after_first=first)
        finally:
            if held:
                opening.release()

    results = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    if peak is not None and at_barrier.get("peak_before") is not None:
        peak = max(peak, at_barrier["peak_before"])
    if traced:
        tracemalloc.stop()
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    in_use = client.connections_in_use()
    pooled = client.connections_pooled()
    await client.close()
    await asyncio.sleep(0)
    rss_at = at_barrier.get("rss")
    return {
        "all_open_together": (opened == streams and "rss" in at_barrier
                              and not at_barrier.get("timed_out")),
        "opened": opened,
        "errors": errors[:5],
        "error_count": len(errors),
        "chunks_read": sum(r for r in results if isinstance(r, int)),
        "seconds": elapsed,
        "peak": peak,
        "held": at_barrier.get("traced"),
        "rss_growth": rss_at - rss0 if rss_at is not None and rss0 is not None else None,
        "server_connections_all_open": at_barrier.get("server_connections"),
        "in_use_after": in_use,
        "pooled_after": pooled,
        "closed_cleanly": client.closed_cleanly(),
    }


async def measure(url: str, port: int, key: str, streams: int, chunks: int,
                  barrier_timeout: float, wave: int | None = None) -> dict[str, Any]:
    # RSS first, in a process that has not held the streams before (tracemalloc's own
    # bookkeeping would inflate it); then tracemalloc, with a fresh client so that the
    # connections are allocated (and counted) again.
    rss = await _pass(url, port, key, streams, chunks, barrier_timeout, traced=False, wave=wave)
    mem = await _pass(url, port, key, streams, chunks, barrier_timeout, traced=True, wave=wave)
    both = (rss, mem)
    return {
        "client": key,
        "streams": streams,
        "chunks_per_stream": chunks,
        "opened_at_most_at_once": wave or streams,
        "all_open_together": all(p["all_open_together"] for p in both),
        "errors": rss["errors"] + mem["errors"],
        "error_count": rss["error_count"] + mem["error_count"],
        "chunks_read": mem["chunks_read"],
        "seconds_without_tracemalloc": rss["seconds"],
        "seconds_under_tracemalloc": mem["seconds"],
        "tracemalloc_peak_per_stream": mem["peak"] / streams,
        "tracemalloc_held_per_stream": (mem["held"] or 0) / streams,
        "rss_growth_per_stream": (rss["rss_growth"] / streams
                                  if rss["rss_growth"] is not None else None),
        "server_connections_all_open": mem["server_connections_all_open"],
        "in_use_after": max(p["in_use_after"] or 0 for p in both),
        "pooled_after": mem["pooled_after"],
        "closed_cleanly": all(p["closed_cleanly"] is not False for p in both),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client", required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--barrier-timeout", type=float, default=60.0)
    parser.add_argument("--wave", type=int, default=None,
                        help="open at most this many streams at a time (default: all at once)")
    args = parser.parse_args()
    result = asyncio.run(measure(args.url, args.port, args.client, args.streams, args.chunks,
                                 args.barrier_timeout, args.wave))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

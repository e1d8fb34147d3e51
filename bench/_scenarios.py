"""The five scenarios. Each returns a plain dict (for ``--json``) with a ``rows`` list (one per
client or variant, best figure first) and a ``checks`` list (target, measured, PASS/MISS).

Method shared by all timed scenarios: every client is warmed up first (connections open,
lazy imports done); then the repetitions run with the clients in rotating order (so a
slow patch of the machine does not always hit the same client), ``gc.collect()`` before
each, and the best repetition is kept (the least disturbed one; the median is kept in the
JSON too). Wall time is what the targets are judged on. Client CPU time (this process only)
and the emulator's CPU time (read from /proc) are reported next to it: the emulator runs in
its own process on the same 2 cores, so server time is part of every wall-clock figure and
a busy machine slows every client.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _clients import (
    BOUND_KEY,
    CLIENT_KEYS,
    EMBED_MODEL,
    PLAIN_WIRE_KEY,
    BenchClient,
    Core,
    chat_body,
    make_client,
    reliability_stack,
)
from _server import EmulatorProcess, ReplayProcess

from ollama_core import hookimpl

__all__ = ["Sizes", "FULL", "QUICK", "SCENARIOS"]


@dataclass(frozen=True)
class Sizes:
    chats: int
    chat_warmup: int
    chat_reps: int
    concurrency: tuple[int, ...]
    stream_chunks: int
    stream_warmup: int
    stream_reps: int
    streams: int
    stream_len: int
    many_reps: int
    embed_inputs: int
    embed_calls: int
    parse_number: int
    parse_repeat: int
    hook_chunks: int
    hook_reps: int
    scale: tuple[int, ...] = (100, 1000, 10_000)
    big_embed: tuple[int, int] = (1024, 1024)
    startup_runs: int = 7


FULL = Sizes(chats=3000, chat_warmup=200, chat_reps=3, concurrency=(1, 32),
             stream_chunks=50_000, stream_warmup=5_000, stream_reps=15,
             streams=1000, stream_len=100, many_reps=2,
             embed_inputs=64, embed_calls=20, parse_number=10, parse_repeat=7,
             hook_chunks=50_000, hook_reps=7)
QUICK = Sizes(chats=64, chat_warmup=8, chat_reps=1, concurrency=(1, 32),
              stream_chunks=2_000, stream_warmup=200, stream_reps=1,
              streams=50, stream_len=20, many_reps=1,
              embed_inputs=8, embed_calls=2, parse_number=2, parse_repeat=2,
              hook_chunks=2_000, hook_reps=1, scale=(10, 20, 40), big_embed=(64, 256),
              startup_runs=1)


class Context:
    """What every scenario needs: the emulator, the sizes, client 4's plugin stack."""

    def __init__(self, emulator: EmulatorProcess, sizes: Sizes,
                 stack: tuple[list[str], dict[str, dict[str, Any]]],
                 missing: dict[str, str], pinned: int | None = None) -> None:
        self.emulator = emulator
        #: The CPU the emulator is pinned to (a replay server goes there too), or None.
        self.pinned = pinned
        self.sizes = sizes
        self.stack = stack
        self.missing = missing

    def client(self, key: str, pool: int = 100) -> BenchClient:
        return make_client(key, self.emulator.url, pool, stack=self.stack)

    def status(self, ok: bool, involves_client4: bool = True) -> str:
        """PASS/MISS, marked PENDING when client 4 runs without all its plugins."""
        word = "PASS" if ok else "MISS"
        if involves_client4 and self.missing:
            return f"{word} (PENDING: client 4 lacks {', '.join(sorted(self.missing))})"
        return word


def _order(keys: tuple[str, ...] | list[str], rep: int) -> list[str]:
    keys = list(keys)
    shift = rep % len(keys)
    return keys[shift:] + keys[:shift]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def _timed(emulator: EmulatorProcess, work: Callable[[], Awaitable[int]]
                 ) -> tuple[float, float, float | None, int]:
    """Run ``work`` once: (wall s, client CPU s, server CPU s or None, units done)."""
    gc.collect()
    server0 = emulator.cpu_seconds()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    units = await work()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    server1 = emulator.cpu_seconds()
    server = server1 - server0 if server0 is not None and server1 is not None else None
    return wall, cpu, server, units


def _summarise(samples: list[tuple[float, float, float | None, int]], unit_scale: float = 1e6
               ) -> dict[str, Any]:
    """Best and median rate, least client and server CPU per unit (in microseconds)."""
    rates = [units / wall for wall, _, _, units in samples]
    cpus = [cpu / units * unit_scale for _, cpu, _, units in samples]
    servers = [s / units * unit_scale for _, _, s, units in samples if s is not None]
    return {
        "best_rate": max(rates),
        "median_rate": _median(rates),
        "rates": rates,
        "client_cpu_us": min(cpus),
        "client_cpu_us_median": _median(cpus),
        "client_cpus_us": cpus,
        "server_cpu_us": min(servers) if servers else None,
    }


# -- (a) non-streaming chats -------------------------------------------------------------------


async def _chats(client: BenchClient, count: int, concurrency: int) -> int:
    todo = iter(range(count))

    async def worker() -> None:
        for _ in todo:
            await client.chat("hello there", 16)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count


_CONSTRUCTION = """
import json, time, timeit
from ollama_core import OllamaClient
started = time.perf_counter()
OllamaClient("http://127.0.0.1:9", plugins="full")
first = time.perf_counter() - started
later = min(timeit.repeat(lambda: OllamaClient("http://127.0.0.1:9", plugins="full"),
                          number=20, repeat=5)) / 20
print(json.dumps({"first_ms": first * 1e3, "later_ms": later * 1e3}))
"""


def construction_figure() -> dict[str, float]:
    """``OllamaClient(plugins="full")`` in a fresh process: the first client (entry points
    read, plugins imported) and each later one (best of 5 x 20, after the first)."""
    out = subprocess.run([sys.executable, "-c", _CONSTRUCTION], capture_output=True,
                         text=True, check=True, timeout=120)
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


#: Scenario (a)'s rows: the aiohttp bound, the four clients, and client 4 on the official
#: client's wire request.
A_KEYS = (BOUND_KEY, *CLIENT_KEYS, PLAIN_WIRE_KEY)


async def _a_rows(ctx: Context, server: EmulatorProcess | ReplayProcess,
                  concurrencies: tuple[int, ...]) -> dict[int, dict[str, Any]]:
    """Every client of ``A_KEYS`` against ``server``: warm-up, then the repetitions in
    rotating order, per concurrency."""
    sizes = ctx.sizes
    names, config, _missing = reliability_stack(server.url)
    clients = {key: make_client(key, server.url, stack=(names, config)) for key in A_KEYS}
    by_concurrency: dict[int, dict[str, Any]] = {}
    try:
        for client in clients.values():
            await client.start()
        for conc in concurrencies:
            for client in clients.values():
                await _chats(client, sizes.chat_warmup, conc)
            server.clear_requests()
            samples: dict[str, list[Any]] = {key: [] for key in A_KEYS}
            for rep in range(sizes.chat_reps):
                for key in _order(A_KEYS, rep):
                    samples[key].append(await _timed(
                        server, lambda c=clients[key]: _chats(c, sizes.chats, conc)))
                    server.clear_requests()
            by_concurrency[conc] = {key: _summarise(s) for key, s in samples.items()}
    finally:
        for client in clients.values():
            await client.close()
    return by_concurrency


async def scenario_a(ctx: Context) -> dict[str, Any]:
    sizes = ctx.sizes
    result: dict[str, Any] = {"title": f"(a) {sizes.chats} non-streaming chats",
                              "by_concurrency": await _a_rows(ctx, ctx.emulator,
                                                              sizes.concurrency),
                              "checks": []}
    # The same chats against a server that costs almost nothing (bench/_replay.py): the
    # emulator's answers, recorded and replayed, so each client's CPU is its own.
    replay = ReplayProcess(ctx.emulator.url, chat_body("hello there", 16), cpu=ctx.pinned)
    with replay:
        result["replay"] = await _a_rows(ctx, replay, (32,))
    for conc, rows in result["by_concurrency"].items():
        result["checks"].append(_cpu_check(
            ctx, "a", f"c={conc}: client 4 CPU/request <= plain aiohttp's", rows,
            "core+plugins", "aiohttp", 1.0))
    emulator_rows = result["by_concurrency"].get(32)
    replay_rows = result["replay"][32]
    if emulator_rows is not None:
        for key, label in (("core+plugins", "client 4"),
                           (PLAIN_WIRE_KEY, "client 4, stream_on_wire=False")):
            result["checks"].append(_times_check(
                ctx, "a", f"c=32: {label} >= 15x the official client (client CPU, replay "
                f"server)", replay_rows, emulator_rows, key, 15.0))
    return result


def _times_check(ctx: Context, scenario: str, target: str, rows: dict[str, Any],
                 emulator_rows: dict[str, Any], key: str, at_least: float) -> dict[str, Any]:
    """A throughput target against the official client, judged on client CPU per request
    (medians): the official client's over ``key``'s, against the replay server. The
    wall-clock ratio, the emulator's figure and the bound of any aiohttp client (``0
    aiohttp alone``) are shown beside."""
    def times(r: dict[str, Any], k: str) -> float:
        return float(r["official"]["client_cpu_us_median"] / r[k]["client_cpu_us_median"])

    ratio = times(rows, key)
    wall = rows[key]["best_rate"] / rows["official"]["best_rate"]
    ok = ratio >= at_least
    text = (f"{ratio:.2f}x (wall clock {wall:.2f}x; against the emulator "
            f"{times(emulator_rows, key):.2f}x; aiohttp alone reaches {times(rows, BOUND_KEY):.2f}x"
            f" here, {times(emulator_rows, BOUND_KEY):.2f}x against the emulator)")
    return {"scenario": scenario, "target": target, "measured": text, "value": ratio,
            "ok": ok, "status": ctx.status(ok)}


def _cpu_check(ctx: Context, scenario: str, target: str, rows: dict[str, Any], key: str,
               other: str, at_most: float) -> dict[str, Any]:
    """A client-CPU target: ``key``'s median client CPU per unit at most ``at_most`` times
    ``other``'s (medians of the repetitions; the wall-clock ratio is shown beside)."""
    mine = rows[key]["client_cpu_us_median"]
    theirs = rows[other]["client_cpu_us_median"]
    ratio = mine / theirs
    wall = rows[key]["best_rate"] / rows[other]["best_rate"]
    ok = ratio <= at_most
    return {"scenario": scenario, "target": target,
            "measured": (f"{ratio:.2f}x ({mine:.1f} vs {theirs:.1f} us, medians; "
                         f"wall clock {wall:.2f}x the rate)"),
            "value": ratio, "ok": ok, "status": ctx.status(ok)}


def _check(ctx: Context, scenario: str, target: str, measured: float, floor: float,
           involves_client4: bool = True, cpu_ratio: float | None = None) -> dict[str, Any]:
    """A ratio target, judged on wall clock; the client-CPU ratio is shown beside it."""
    ok = measured >= floor
    text = f"{measured:.2f}x"
    if cpu_ratio is not None:
        text += f" (by client CPU {cpu_ratio:.2f}x)"
    return {"scenario": scenario, "target": target, "measured": text, "value": measured,
            "cpu_ratio": cpu_ratio, "ok": ok, "status": ctx.status(ok, involves_client4)}


def _cpu_ratio(rows: dict[str, Any], key: str, other: str) -> float | None:
    """How many times less client CPU per unit ``key`` needs than ``other``."""
    mine, theirs = rows[key]["client_cpu_us"], rows[other]["client_cpu_us"]
    return theirs / mine if mine else None


# -- (b) one long stream -----------------------------------------------------------------------


def _count_marshmallow_loads() -> tuple[Callable[[], int], Callable[[], None]]:
    """Count marshmallow schema loads (validate() runs one) until the returned undo runs."""
    from marshmallow import schema as ma_schema

    original = ma_schema.Schema._do_load
    calls = [0]

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(self, *args, **kwargs)

    ma_schema.Schema._do_load = counting  # type: ignore[method-assign]

    def undo() -> None:
        ma_schema.Schema._do_load = original  # type: ignore[method-assign]

    return (lambda: calls[0]), undo


async def scenario_b(ctx: Context) -> dict[str, Any]:
    sizes = ctx.sizes
    n = sizes.stream_chunks
    clients = {key: ctx.client(key) for key in CLIENT_KEYS}
    samples: dict[str, list[Any]] = {key: [] for key in CLIENT_KEYS}
    marshmallow_calls = None
    try:
        for client in clients.values():
            await client.start()
            await client.stream(sizes.stream_warmup)
        for rep in range(sizes.stream_reps):
            for key in _order(CLIENT_KEYS, rep):
                samples[key].append(await _timed(
                    ctx.emulator, lambda c=clients[key]: c.stream(n)))
        # Not timed: how often marshmallow runs for one plain call and for one stream of
        # client 4 (nested schemas count once each).
        count, undo = _count_marshmallow_loads()
        try:
            await clients["core+plugins"].chat("hello there", 16)
            per_call = count()
            chunks = await clients["core+plugins"].stream(n)
        finally:
            undo()
        marshmallow_calls = {"per_call": per_call, "per_stream": count() - per_call,
                             "chunks": chunks}
    finally:
        for client in clients.values():
            await client.close()
    rows = {key: _summarise(s) for key, s in samples.items()}
    base = rows["aiohttp"]["best_rate"]
    c4 = rows["core+plugins"]["best_rate"]
    checks = [
        _cpu_check(ctx, "b", "client 4 CPU/chunk <= 0.7x plain aiohttp's", rows,
                   "core+plugins", "aiohttp", 0.7),
        _check(ctx, "b", "client 4 >= 1.1x official chunks/s",
               c4 / rows["official"]["best_rate"], 1.1,
               cpu_ratio=_cpu_ratio(rows, "core+plugins", "official")),
    ]
    result_wall = c4 / base
    assert marshmallow_calls is not None
    per_chunk = (marshmallow_calls["per_stream"] - marshmallow_calls["per_call"]) \
        / marshmallow_calls["chunks"]
    ok = per_chunk <= 0
    checks.append({"scenario": "b", "target": "marshmallow not on the per-chunk path",
                   "measured": (f"{per_chunk:g} loads/chunk ({marshmallow_calls['per_stream']} "
                                f"per stream = {marshmallow_calls['per_call']} per request)"),
                   "value": per_chunk, "ok": ok, "status": ctx.status(ok)})
    return {"title": f"(b) one streamed chat of {n} chunks", "chunks": n + 1, "rows": rows,
            "wall_vs_aiohttp": result_wall,
            "marshmallow": marshmallow_calls, "checks": checks}


# -- (c) many concurrent streams -------------------------------------------------------------


async def _many_streams(client: BenchClient, streams: int, length: int) -> int:
    counts = await asyncio.gather(*(client.stream(length) for _ in range(streams)))
    return sum(counts)


#: Streams being opened at a time in the scale runs (below the emulator's listen backlog).
SCALE_WAVE = 100


def _memory_child(ctx: Context, key: str, streams: int | None = None,
                  wave: int | None = None) -> dict[str, Any]:
    script = Path(__file__).resolve().parent / "_memory.py"
    sizes = ctx.sizes
    proc = subprocess.run(
        [sys.executable, str(script), "--url", ctx.emulator.url, "--port",
         str(ctx.emulator.port), "--client", key, "--streams",
         str(streams if streams is not None else sizes.streams),
         "--chunks", str(sizes.stream_len), "--barrier-timeout", "300",
         *(["--wave", str(wave)] if wave else [])],
        capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        return {"client": key, "failed": proc.stderr.strip().splitlines()[-1:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


async def scenario_c(ctx: Context) -> dict[str, Any]:
    sizes = ctx.sizes
    emulator = ctx.emulator
    rows: dict[str, Any] = {}
    for key in CLIENT_KEYS:
        client = ctx.client(key, pool=sizes.streams)
        await client.start()
        samples = []
        leak: dict[str, Any] = {}
        try:
            await _many_streams(client, min(50, sizes.streams), sizes.stream_len)  # warm-up
            for _ in range(sizes.many_reps):
                samples.append(await _timed(emulator, lambda c=client: _many_streams(
                    c, sizes.streams, sizes.stream_len)))
                emulator.clear_requests()
            leak["in_use_after_streams"] = client.connections_in_use()
            leak["pooled_after_streams"] = client.connections_pooled()
            leak["server_open_before_close"] = emulator.open_connections()
        finally:
            await client.close()
        await asyncio.sleep(0)
        leak["closed_cleanly"] = client.closed_cleanly()
        leak["server_open_after_close"] = emulator.wait_for_connections(0, timeout=5.0)
        walls = [wall for wall, _, _, _ in samples]
        rows[key] = {
            "best_seconds": min(walls),
            "median_seconds": _median(walls),
            "chunks_per_s": max(u / w for w, _, _, u in samples),
            "client_cpu_us_per_chunk": min(c / u * 1e6 for _, c, _, u in samples),
            "leaks": leak,
        }
    for key in CLIENT_KEYS:  # memory: a fresh process per client (see _memory.py)
        rows[key]["memory"] = _memory_child(ctx, key)
        emulator.wait_for_connections(0, timeout=5.0)
        emulator.clear_requests()
    checks = []
    memory4 = rows["core+plugins"]["memory"]
    mem4 = memory4.get("tracemalloc_peak_per_stream")
    together = memory4.get("all_open_together") is True
    ok = mem4 is not None and mem4 <= 32 * 1024 and together
    checks.append({"scenario": "c", "target": "client 4 <= 32 KiB per open stream",
                   "measured": (f"{mem4 / 1024:.1f} KiB" if mem4 is not None else "failed")
                   + ("" if together else " (streams were not all open together)"),
                   "value": mem4, "ok": ok, "status": ctx.status(ok)})
    for key in ("core", "core+plugins"):
        leak = rows[key]["leaks"]
        mem = rows[key]["memory"]
        ok = (leak["in_use_after_streams"] == 0 and leak["server_open_after_close"] == 0
              and leak["closed_cleanly"] is True and mem.get("in_use_after") == 0
              and mem.get("error_count", 1) == 0 and mem.get("all_open_together") is True)
        checks.append({
            "scenario": "c", "target": f"client {3 if key == 'core' else 4}: no connection leaks",
            "measured": (f"in use after: {leak['in_use_after_streams']}, server-side open "
                         f"after close: {leak['server_open_after_close']}"),
            "value": ok, "ok": ok, "status": ctx.status(ok, key == "core+plugins")})
    scale, scale_checks = _scale(ctx)
    return {"title": f"(c) {sizes.streams} concurrent streams of {sizes.stream_len} chunks",
            "rows": rows, "scale": scale, "checks": checks + scale_checks}


#: The clients of the scale table: the floor and client 4.
SCALE_CLIENTS = ("aiohttp", "core+plugins")


def _scale(ctx: Context) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """100, 1 000 and 10 000 streams held open together (each count in a fresh process, as
    in the memory table): time, tracemalloc peak, and the growth per added stream between
    consecutive counts, which is constant when memory grows linearly."""
    sizes = ctx.sizes
    table: dict[str, Any] = {}
    for key in SCALE_CLIENTS:
        table[key] = {}
        for n in sizes.scale:
            table[key][n] = _memory_child(ctx, key, n, wave=SCALE_WAVE)
            ctx.emulator.wait_for_connections(0, timeout=10.0)
            ctx.emulator.clear_requests()
    checks = []
    counts = list(sizes.scale)
    rows4 = table["core+plugins"]
    peaks = [rows4[n].get("tracemalloc_peak_per_stream") for n in counts]
    failed = [n for n in counts if rows4[n].get("failed") or rows4[n].get("error_count")
              or not rows4[n].get("all_open_together")]
    if None in peaks or failed:
        checks.append({"scenario": "c", "target": "scale: all streams open, no errors",
                       "measured": f"failed at {failed}", "value": None, "ok": False,
                       "status": ctx.status(False)})
        return table, checks
    totals = [p * n for p, n in zip(peaks, counts)]  # type: ignore[operator]
    growth = [(totals[i + 1] - totals[i]) / (counts[i + 1] - counts[i])
              for i in range(len(counts) - 1)]
    for n in counts:
        rows4[n]["peak_total"] = rows4[n]["tracemalloc_peak_per_stream"] * n
    table["growth_per_stream"] = growth
    # Per open stream: the growth from one count to the next (the fixed cost of the client
    # and of the process cancels out; at 100 streams it would dominate peak / streams).
    worst = max(growth)
    ok = worst <= 32 * 1024
    checks.append({"scenario": "c", "target": "scale: client 4 <= 32 KiB per added stream",
                   "measured": f"{worst / 1024:.1f} KiB at most ({', '.join(str(n) for n in counts)})",
                   "value": worst, "ok": ok, "status": ctx.status(ok)})
    spread = max(growth) / min(growth) if min(growth) > 0 else float("inf")
    ok = spread <= 1.25
    checks.append({"scenario": "c", "target": "scale: client 4 memory linear in streams",
                   "measured": ("growth per added stream " + " / ".join(
                       f"{g / 1024:.1f}" for g in growth) + f" KiB (spread {spread:.2f}x)"),
                   "value": spread, "ok": ok, "status": ctx.status(ok)})
    return table, checks


# -- (d) embedding parse -------------------------------------------------------------------------


#: The rows of (d) besides the four clients': client 4's ``embed(..., arrays=True)``; the
#: fastest list-returning parse measured (the same parse to doubles, then the lists); and
#: the bound of any parser returning lists of Python floats (building them alone).
ARRAYS_KEY = "core+plugins arrays"
LISTS_VIA_DOUBLES_KEY = "lists via doubles"
LISTS_ALONE_KEY = "lists alone"
D_LABELS = {
    ARRAYS_KEY: "4 ... embed(arrays=True), array('d')",
    LISTS_VIA_DOUBLES_KEY: "arrays=True, then row.tolist()",
    LISTS_ALONE_KEY: "building the lists alone",
}


def _parsers() -> dict[str, Callable[[bytes], Any]]:
    """Each client's own body-to-result code, called exactly as the client calls it."""
    from ollama import _types as official_types

    from ollama_core._shapes import decode_body
    from ollama_core._types import EmbedArraysResponse, EmbedResponse
    from ollama_core._vectors import decode_arrays, rows_as_arrays

    def core_parse(raw: bytes) -> Any:
        # Attempts._finish: ``decode_body(request.endpoint, body_bytes, where)``; then
        # OllamaClient.embed: ``EmbedResponse.from_dict(body)``.
        return EmbedResponse.from_dict(decode_body("embed", raw))

    def core_arrays(raw: bytes) -> Any:
        # The same with arrays=True: Attempts._finish decodes with ``decode_arrays``, then
        # OllamaClient.embed: ``EmbedArraysResponse.from_dict(rows_as_arrays(...))``.
        return EmbedArraysResponse.from_dict(rows_as_arrays("embed", decode_arrays("embed",
                                                                                   raw)))

    def lists_via_doubles(raw: bytes) -> Any:
        body = decode_arrays("embed", raw)
        body["embeddings"] = [row.tolist() for row in body["embeddings"]]
        return EmbedResponse.from_dict(body)

    return {
        "aiohttp": json.loads,
        # ollama.AsyncClient._request: ``cls(**(await self._request_raw(...)).json())``;
        # httpx's Response.json() is ``json.loads(self.content)``.
        "official": lambda raw: official_types.EmbedResponse(**json.loads(raw)),
        "core": core_parse,
        "core+plugins": core_parse,
        ARRAYS_KEY: core_arrays,
        LISTS_VIA_DOUBLES_KEY: lists_via_doubles,
    }


def _big_embed_body(template: bytes, rows: int, dims: int) -> bytes:
    """An embed answer of ``rows`` x ``dims`` floats written the way the emulator writes
    one (unit vectors at float32 precision, ``f"{v:.8g}"``, as Ollama sends them; the
    emulator's other fields): its models stop at 768 dimensions, so the large body is
    built here and only parsed."""
    import math
    import random

    body = json.loads(template)
    rng = random.Random(1024)
    vectors = []
    for _ in range(rows):
        vector = [rng.gauss(0.0, 1.0) for _ in range(dims)]
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        vectors.append([float(f"{x / norm:.8g}") for x in vector])
    body["embeddings"] = vectors
    return json.dumps(body).encode()


def _parse_rows(raw: bytes, number: int, repeat: int) -> dict[str, Any]:
    from array import array

    parsers = _parsers()
    # Lists of Python floats from doubles already parsed: what any list-returning parser
    # must at least spend after reading the numbers.
    doubles = [array("d", row) for row in json.loads(raw)["embeddings"]]
    work: dict[str, Callable[[], Any]] = {
        key: (lambda p=parsers[key]: p(raw))
        for key in (*CLIENT_KEYS, ARRAYS_KEY, LISTS_VIA_DOUBLES_KEY)}
    work[LISTS_ALONE_KEY] = lambda: [row.tolist() for row in doubles]
    for run in work.values():
        run()
    # Repetitions interleaved (each round times every row once): a change of load on
    # the machine during the measurement touches every row alike, not only the last.
    best = {key: float("inf") for key in work}
    for _ in range(repeat):
        for key, run in work.items():
            best[key] = min(best[key], timeit.timeit(run, number=number))
    return {key: {"parse_ms": best[key] / number * 1e3} for key in work}


async def scenario_d(ctx: Context) -> dict[str, Any]:
    import aiohttp

    sizes = ctx.sizes
    inputs = [f"benchmark input number {i}" for i in range(sizes.embed_inputs)]
    async with aiohttp.ClientSession() as session:
        async with session.post(ctx.emulator.url + "/api/embed",
                                json={"model": EMBED_MODEL, "input": inputs}) as resp:
            resp.raise_for_status()
            raw = await resp.read()
    shape = json.loads(raw)["embeddings"]
    rows = _parse_rows(raw, sizes.parse_number, sizes.parse_repeat)
    big_rows_n, big_dims = sizes.big_embed
    big = _big_embed_body(raw, big_rows_n, big_dims)
    big_rows = _parse_rows(big, max(1, sizes.parse_number // 5), max(3, sizes.parse_repeat // 2))
    clients = {key: ctx.client(key) for key in CLIENT_KEYS}
    calls: dict[str, Callable[[], Awaitable[int]]] = {
        key: (lambda c=clients[key]: c.embed(inputs)) for key in CLIENT_KEYS}
    core4 = clients["core+plugins"]
    assert isinstance(core4, Core)
    calls[ARRAYS_KEY] = lambda: core4.embed_arrays(inputs)
    try:
        for client in clients.values():
            await client.start()
        for call in calls.values():
            await call()
        latencies: dict[str, list[float]] = {key: [] for key in calls}
        for rep in range(sizes.embed_calls):
            for key in _order(tuple(calls), rep):
                t0 = time.perf_counter()
                await calls[key]()
                latencies[key].append(time.perf_counter() - t0)
        ctx.emulator.clear_requests()
    finally:
        for client in clients.values():
            await client.close()
    for key in calls:
        rows[key]["call_ms_median"] = _median(latencies[key]) * 1e3
        rows[key]["call_ms_best"] = min(latencies[key]) * 1e3
    checks = []
    for label, table in ((f"{len(shape)}x{len(shape[0]) if shape else 0}", rows),
                         (f"{big_rows_n}x{big_dims}", big_rows)):
        base = table["aiohttp"]["parse_ms"]
        speedup = base / table[ARRAYS_KEY]["parse_ms"]
        lists = base / table["core+plugins"]["parse_ms"]
        via = base / table[LISTS_VIA_DOUBLES_KEY]["parse_ms"]
        ok = speedup >= 4.0
        checks.append({"scenario": "d", "target": f"{label}: client 4 parses >= 4x faster "
                                                   f"than json.loads",
                       "measured": f"{speedup:.2f}x with arrays=True (lists: {lists:.2f}x; "
                                   f"arrays then row.tolist(): {via:.2f}x)",
                       "value": speedup, "ok": ok, "status": ctx.status(ok)})
    return {"title": f"(d) embed of {len(shape)} x {len(shape[0]) if shape else 0} floats "
                     f"({len(raw) / 1024:.0f} KiB body)",
            "body_bytes": len(raw), "rows": rows,
            "big_title": f"(d) embed body of {big_rows_n} x {big_dims} floats "
                         f"({len(big) / 1024 / 1024:.1f} MiB, parse only)",
            "big_body_bytes": len(big), "big_rows": big_rows, "checks": checks}


# -- (e) per-chunk hook cost ---------------------------------------------------------------------


class NoOpChunkHook:
    """Implements ``ollama_stream_chunk`` and does nothing."""

    def __init__(self, index: int) -> None:
        self.name = f"noop-chunk-{index}"

    @hookimpl
    def ollama_stream_chunk(self, request: Any, chunk: dict[str, Any]) -> None:
        return None


class NoOpOtherHook:
    """A registered plugin that implements another hook, not the chunk hook."""

    def __init__(self, index: int) -> None:
        self.name = f"noop-other-{index}"

    @hookimpl
    def ollama_event(self, client: Any, event: Any) -> None:
        return None


OTEL_LABEL = "the otel plugin (SDK providers)"


def _otel_plugins() -> list[Any]:
    """The otel plugin recording into real SDK providers (spans to an in-memory exporter,
    metrics to an in-memory reader), so its per-stream work is what a user pays."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ollama_plugins.otel import OtelPlugin

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return [OtelPlugin(tracer_provider=tracer_provider, meter_provider=meter_provider)]


def _have_otel_sdk() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:
        return False


HOOK_VARIANTS = (
    ("no plugins", lambda: []),
    ("8 plugins, none with the chunk hook", lambda: [NoOpOtherHook(i) for i in range(8)]),
    ("1 no-op chunk hook", lambda: [NoOpChunkHook(0)]),
    ("8 no-op chunk hooks", lambda: [NoOpChunkHook(i) for i in range(8)]),
    *(((OTEL_LABEL, _otel_plugins),) if _have_otel_sdk() else ()),
)


async def scenario_e(ctx: Context) -> dict[str, Any]:
    sizes = ctx.sizes
    n = sizes.hook_chunks
    clients: dict[str, Core] = {}
    hook_calls: dict[str, int] = {}
    samples: dict[str, list[Any]] = {label: [] for label, _ in HOOK_VARIANTS}
    try:
        for label, plugins in HOOK_VARIANTS:
            client = Core(ctx.emulator.url, 100, plugins())
            await client.start()
            await client.stream(sizes.stream_warmup)
            clients[label] = client
            # Not timed: count the chunk-hook dispatches of one short stream.
            pm = client.client.plugin_manager
            original = pm.stream_chunk
            calls = [0]

            def counting(request: Any, chunk: dict[str, Any], _o: Any = original,
                         _c: list[int] = calls) -> dict[str, Any]:
                _c[0] += 1
                return _o(request, chunk)  # type: ignore[no-any-return]

            pm.stream_chunk = counting  # type: ignore[method-assign]
            chunks = await client.stream(100)
            del pm.stream_chunk
            hook_calls[label] = calls[0] // max(chunks, 1)
        labels = [label for label, _ in HOOK_VARIANTS]
        for rep in range(sizes.hook_reps):
            for label in _order(labels, rep):
                samples[label].append(await _timed(
                    ctx.emulator, lambda c=clients[label]: c.stream(n)))
    finally:
        for client in clients.values():
            await client.close()
    rows = {label: _summarise(s) for label, s in samples.items()}
    base = rows["no plugins"]
    for label, row in rows.items():
        row["hook_dispatches_per_chunk"] = hook_calls[label]
        row["extra_cpu_us_per_chunk"] = row["client_cpu_us"] - base["client_cpu_us"]
        row["extra_wall_us_per_chunk"] = 1e6 / row["best_rate"] - 1e6 / base["best_rate"]
    # "No measurable cost": the chunk hook is never dispatched (counted), and the extra
    # client CPU per chunk is below the method's resolution, taken as 5 % of the baseline
    # (the best-of-N CPU figures of identical runs differ by about that much).
    other = rows["8 plugins, none with the chunk hook"]
    noise = 0.05 * base["client_cpu_us"]
    ok = other["hook_dispatches_per_chunk"] == 0 and other["extra_cpu_us_per_chunk"] <= noise
    checks = [{"scenario": "e",
               "target": "no chunk-hook plugin: no measurable per-chunk cost",
               "measured": (f"{other['hook_dispatches_per_chunk']} dispatches/chunk, "
                            f"{other['extra_cpu_us_per_chunk']:+.2f} us CPU/chunk "
                            f"(resolution {noise:.2f})"),
               "value": other["extra_cpu_us_per_chunk"], "ok": ok,
               "status": ctx.status(ok, involves_client4=False)}]
    otel = rows.get(OTEL_LABEL)
    if otel is not None:
        # Its per-stream work (a span, metrics) is spread over the stream's chunks; nothing
        # of it runs per chunk, so the same resolution applies.
        ok = otel["hook_dispatches_per_chunk"] == 0 and otel["extra_cpu_us_per_chunk"] <= noise
        checks.append({"scenario": "e", "target": "otel plugin: no measurable per-chunk cost",
                       "measured": (f"{otel['hook_dispatches_per_chunk']} dispatches/chunk, "
                                    f"{otel['extra_cpu_us_per_chunk']:+.2f} us CPU/chunk "
                                    f"(resolution {noise:.2f})"),
                       "value": otel["extra_cpu_us_per_chunk"], "ok": ok,
                       "status": ctx.status(ok, involves_client4=False)})
    return {"title": f"(e) per-chunk hook cost, OllamaClient, stream of {n} chunks",
            "rows": rows, "noise_us": noise, "checks": checks}


async def scenario_f(ctx: Context) -> dict[str, Any]:
    """An open circuit breaker refuses a call without touching the network: how long the
    refusal takes, against one real (successful) call to the same server."""
    import time

    from ollama_core import CircuitOpenError, OllamaClient

    calls = 20 if ctx.sizes is QUICK else 2000
    config = {"circuit_breaker": {"fail_max": 3, "reset_timeout": 3600}}
    async with OllamaClient(ctx.emulator.url, plugins=["circuit_breaker"],
                            plugin_config=config) as client:
        ok_times = []
        for _ in range(max(10, calls // 20)):
            start = time.perf_counter()
            await client.version()
            ok_times.append(time.perf_counter() - start)
        # Open the breaker of the "version" endpoint with server errors.
        ctx.emulator.add_fault({"path": "/api/version", "status": 500, "times": 3})
        for _ in range(3):
            try:
                await client.version()
            except Exception:
                pass
        sent_before = ctx.emulator.hits("/api/version")
        refused = []
        for _ in range(calls):
            start = time.perf_counter()
            try:
                await client.version()
            except CircuitOpenError:
                refused.append(time.perf_counter() - start)
        sent_after = ctx.emulator.hits("/api/version")
    refused.sort()
    ok_times.sort()
    p50 = refused[len(refused) // 2] * 1e6
    p99 = refused[int(len(refused) * 0.99) - 1] * 1e6
    rows = {"refused": {"count": len(refused), "p50_us": p50, "p99_us": p99,
                        "max_us": refused[-1] * 1e6, "requests_sent": sent_after - sent_before},
            "real call": {"count": len(ok_times), "p50_us": ok_times[len(ok_times) // 2] * 1e6}}
    ok = len(refused) == calls and sent_after == sent_before and p99 < 1000
    checks = [{"scenario": "f", "target": "open breaker: refusal < 1 ms, no request sent",
               "measured": (f"p99 {p99:.0f} us (p50 {p50:.0f}), "
                            f"{sent_after - sent_before} requests sent"),
               "value": p99, "ok": ok, "status": ctx.status(ok, involves_client4=False)}]
    return {"title": f"(f) {calls} calls refused by an open circuit breaker", "rows": rows,
            "checks": checks}


# -- (g) start-up -----------------------------------------------------------------------------


def _wall_of(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, timeout=60, env=env)
    return time.perf_counter() - started


def _compile_bytecode() -> None:
    """Write the bytecode of ``ollama_core`` and ``ollama_plugins``, as installing the
    wheel does (pip compiles every module). The editable install of a checkout has none,
    and where ``PYTHONDONTWRITEBYTECODE`` is set (this machine's environment, and CI's)
    importing never writes it, so every timed process would compile the sources again
    (about 45 ms of ``ollama-core list``): a cost no installed copy pays."""
    import compileall
    import importlib.util

    for name in ("ollama_core", "ollama_plugins"):
        spec = importlib.util.find_spec(name)
        for directory in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(directory, quiet=1)


async def scenario_g(ctx: Context) -> dict[str, Any]:
    """Start-up: fresh processes, wall clock from spawn to exit (median of the runs)."""
    import os
    import shutil

    runs = ctx.sizes.startup_runs
    python = sys.executable
    cli = shutil.which("ollama-core", path=str(Path(python).parent)) \
        or shutil.which("ollama-core")
    env = {**os.environ, "OLLAMA_HOST": ctx.emulator.url}
    commands: list[tuple[str, list[str], float | None]] = [
        ("python -c pass", [python, "-c", "pass"], None),
        ("python -c 'import aiohttp'", [python, "-c", "import aiohttp"], None),
        ("python -c 'import ollama_core'", [python, "-c", "import ollama_core"], 0.2),
    ]
    if cli is not None:
        commands += [("ollama-core --help", [cli, "--help"], 0.25),
                     ("ollama-core list (emulator running)", [cli, "list"], 0.35)]
    _compile_bytecode()
    rows: dict[str, Any] = {}
    for label, argv, _limit in commands:
        _wall_of(argv, env)  # warm the file cache
        walls = []
        for _ in range(runs):
            # Pinned like the clients (children inherit the CPU affinity).
            walls.append(await asyncio.to_thread(_wall_of, argv, env))
        rows[label] = {"median_s": _median(walls), "best_s": min(walls), "runs": walls}
    construction = construction_figure()
    checks = []
    for label, _argv, limit in commands:
        if limit is None:
            continue
        median = rows[label]["median_s"]
        ok = median <= limit
        checks.append({"scenario": "g", "target": f"{label} <= {limit:g} s",
                       "measured": f"{median:.3f} s (median of {runs})", "value": median,
                       "ok": ok, "status": ctx.status(ok, involves_client4=False)})
    return {"title": "(g) start-up", "rows": rows, "construction": construction,
            "checks": checks}


SCENARIOS: dict[str, Callable[[Context], Awaitable[dict[str, Any]]]] = {
    "a": scenario_a,
    "b": scenario_b,
    "c": scenario_c,
    "d": scenario_d,
    "e": scenario_e,
    "f": scenario_f,
    "g": scenario_g,
}

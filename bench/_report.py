"""Plain-text tables of the scenario results (what ``bench/run.py`` prints)."""

from __future__ import annotations

from typing import Any

from _clients import BOUND_KEY, CLIENT_KEYS, LABELS, PLAIN_WIRE_KEY
from _scenarios import D_LABELS

__all__ = ["HEADER", "render_scenario", "render_targets"]

#: The first line of every run (the smoke test looks for it).
HEADER = "ollama-core benchmark"

_LABEL_WIDTH = 38


def _table(columns: list[tuple[str, int]], rows: list[list[str]]) -> list[str]:
    head = "".join(name.ljust(width) if i == 0 else name.rjust(width)
                   for i, (name, width) in enumerate(columns))
    out = [head, "-" * len(head)]
    for row in rows:
        out.append("".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                           for i, (cell, (_, width)) in enumerate(zip(row, columns))))
    return out


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _rate_rows(rows: dict[str, Any], digits: int = 0) -> list[list[str]]:
    base = rows["aiohttp"]["best_rate"]
    official = rows["official"]["best_rate"]
    out = []
    for key in [k for k in (BOUND_KEY, *CLIENT_KEYS, PLAIN_WIRE_KEY) if k in rows]:
        row = rows[key]
        out.append([LABELS[key], _num(row["best_rate"], digits), _num(row["median_rate"], digits),
                    _x(row["best_rate"] / base), _x(row["best_rate"] / official),
                    _num(row["client_cpu_us"], 1 if row["client_cpu_us"] < 100 else 0),
                    _num(row["server_cpu_us"], 1 if (row["server_cpu_us"] or 0) < 100 else 0)])
    return out


def _checks(result: dict[str, Any]) -> list[str]:
    return [f"  target: {c['target']}: {c['measured']} -> {c['status']}"
            for c in result.get("checks", [])]


def render_scenario(key: str, result: dict[str, Any], reps: str) -> list[str]:
    lines: list[str] = []
    if key == "a":
        tables = [(conc, rows, "") for conc, rows in result["by_concurrency"].items()]
        tables += [(conc, rows, ", against the replay server (bench/_replay.py)")
                   for conc, rows in result.get("replay", {}).items()]
        for conc, rows, where in tables:
            lines.append(f"{result['title']}, concurrency {conc}{where} ({reps})")
            lines += _table([("client", _LABEL_WIDTH), ("req/s", 10), ("median", 10),
                             ("vs aiohttp", 12), ("vs official", 13), ("client CPU", 12),
                             ("server CPU", 12)], _rate_rows(rows))
            lines.append(" " * _LABEL_WIDTH + "(CPU columns: microseconds per request)")
            lines += [line for line in _checks(result)
                      if f"c={conc}:" in line and ("replay" in line) == bool(where)]
            lines.append("")
        return lines
    if key == "b":
        lines.append(f"{result['title']} ({reps})")
        lines += _table([("client", _LABEL_WIDTH), ("chunks/s", 10), ("median", 10),
                         ("vs aiohttp", 12), ("vs official", 13), ("client CPU", 12),
                         ("server CPU", 12)], _rate_rows(result["rows"]))
        lines.append(" " * _LABEL_WIDTH + "(CPU columns: microseconds per chunk)")
        lines += _checks(result)
        return lines + [""]
    if key == "c":
        lines.append(f"{result['title']} ({reps}; memory: tracemalloc, one fresh process "
                     "per client, all streams open at once)")
        rows = result["rows"]
        base = rows["aiohttp"]["best_seconds"]
        official = rows["official"]["best_seconds"]
        table = []
        for k in CLIENT_KEYS:
            row = rows[k]
            mem = row["memory"]
            peak = mem.get("tracemalloc_peak_per_stream")
            held = mem.get("tracemalloc_held_per_stream")
            rss = mem.get("rss_growth_per_stream")
            leaks = row["leaks"]
            table.append([
                LABELS[k], _num(row["best_seconds"], 2), _num(row["chunks_per_s"]),
                _x(base / row["best_seconds"]), _x(official / row["best_seconds"]),
                _num(peak / 1024 if peak is not None else None, 1),
                _num(held / 1024 if held is not None else None, 1),
                _num(rss / 1024 if rss is not None else None, 1),
                f"{leaks['in_use_after_streams']}/{leaks['server_open_after_close']}",
            ])
        lines += _table([("client", _LABEL_WIDTH), ("total s", 9), ("chunks/s", 10),
                         ("vs aiohttp", 12), ("vs official", 13), ("peak KiB", 10),
                         ("held KiB", 10), ("RSS KiB", 9), ("leaks", 7)], table)
        lines.append(" " * _LABEL_WIDTH + "(KiB per open stream; leaks = connections in use "
                     "after the streams / server-side connections left after close)")
        scale = result.get("scale")
        if scale:
            lines.append("")
            lines.append("(c) scale: streams of the same length held open together, each count in "
                         "a fresh process (time without tracemalloc; memory: tracemalloc peak)")
            table = []
            for k in [k for k in CLIENT_KEYS if k in scale]:
                for n, mem in scale[k].items():
                    peak = mem.get("tracemalloc_peak_per_stream")
                    rss = mem.get("rss_growth_per_stream")
                    table.append([LABELS[k], f"{int(n):,}",
                                  _num(mem.get("seconds_without_tracemalloc"), 2),
                                  _num(peak * int(n) / 1024 / 1024 if peak is not None else None, 1),
                                  _num(peak / 1024 if peak is not None else None, 1),
                                  _num(rss / 1024 if rss is not None else None, 1),
                                  str(mem.get("error_count", mem.get("failed")))])
            lines += _table([("client", _LABEL_WIDTH), ("streams", 9), ("time s", 9),
                             ("peak MiB", 10), ("KiB/stream", 12), ("RSS KiB/str", 13),
                             ("errors", 8)], table)
            growth = scale.get("growth_per_stream")
            if growth:
                lines.append(" " * _LABEL_WIDTH + "client 4 growth per added stream between "
                             "counts: " + " / ".join(f"{g / 1024:.1f} KiB" for g in growth))
        lines += _checks(result)
        return lines + [""]
    if key == "d":
        lines.append(f"{result['title']} ({reps})")
        rows = result["rows"]
        base = rows["aiohttp"]["parse_ms"]
        official = rows["official"]["parse_ms"]
        table = [[LABELS.get(k) or D_LABELS[k], _num(rows[k]["parse_ms"], 2),
                  _x(rows[k]["parse_ms"] / base), _x(rows[k]["parse_ms"] / official),
                  _num(rows[k].get("call_ms_median"), 1), _num(rows[k].get("call_ms_best"), 1)]
                 for k in (*CLIENT_KEYS, *D_LABELS) if k in rows]
        lines += _table([("client", _LABEL_WIDTH), ("parse ms", 10), ("vs json.loads", 15),
                         ("vs official", 13), ("call ms med", 13), ("call ms best", 14)], table)
        lines.append(" " * _LABEL_WIDTH + "(parse: body bytes -> the client's result, lower is "
                     "better; call: whole embed call, server included)")
        lines.append(" " * _LABEL_WIDTH + "(arrays=True, then row.tolist(): the arrays' "
                     "row.tolist(); building the lists alone: row.tolist() per row from ready "
                     "doubles, what any parser returning lists spends on top of reading)")
        big = result.get("big_rows")
        if big:
            lines.append("")
            lines.append(result["big_title"])
            base = big["aiohttp"]["parse_ms"]
            lines += _table([("client", _LABEL_WIDTH), ("parse ms", 10), ("vs json.loads", 15)],
                            [[LABELS.get(k) or D_LABELS[k], _num(big[k]["parse_ms"], 2),
                              _x(big[k]["parse_ms"] / base)]
                             for k in (*CLIENT_KEYS, *D_LABELS) if k in big])
        lines += _checks(result)
        return lines + [""]
    if key == "e":
        lines.append(f"{result['title']} ({reps})")
        rows = result["rows"]
        table = [[label, _num(row["best_rate"]), _num(row["client_cpu_us"], 2),
                  f"{row['extra_cpu_us_per_chunk']:+.2f}", f"{row['extra_wall_us_per_chunk']:+.2f}",
                  str(row["hook_dispatches_per_chunk"])] for label, row in rows.items()]
        lines += _table([("plugins", _LABEL_WIDTH), ("chunks/s", 10), ("CPU us/chunk", 14),
                         ("extra CPU us", 14), ("extra wall us", 15), ("dispatches", 12)], table)
        lines.append(" " * _LABEL_WIDTH + "(extra: per chunk, against no plugins; dispatches: "
                     "chunk-hook calls per chunk)")
        lines += _checks(result)
        return lines + [""]
    if key == "f":
        lines.append(result["title"])
        rows = result["rows"]
        refused, real = rows["refused"], rows["real call"]
        lines += _table([("calls", _LABEL_WIDTH), ("count", 8), ("p50 us", 10), ("p99 us", 10),
                         ("requests sent", 15)],
                        [["refused (breaker open)", str(refused["count"]),
                          _num(refused["p50_us"], 1), _num(refused["p99_us"], 1),
                          str(refused["requests_sent"])],
                         ["real call (breaker closed)", str(real["count"]),
                          _num(real["p50_us"], 1), "", ""]])
        lines += _checks(result)
        return lines + [""]
    if key == "g":
        lines.append(f"{result['title']} ({reps})")
        table = [[label, _num(row["median_s"] * 1e3, 0), _num(row["best_s"] * 1e3, 0)]
                 for label, row in result["rows"].items()]
        lines += _table([("fresh process", _LABEL_WIDTH), ("median ms", 11), ("best ms", 10)],
                        table)
        construction = result["construction"]
        lines.append(f"OllamaClient(plugins=\"full\"): {construction['later_ms']:.2f} ms each "
                     f"(the first in a process: {construction['first_ms']:.1f} ms)")
        lines += _checks(result)
        return lines + [""]
    raise ValueError(key)


def render_targets(results: dict[str, dict[str, Any]]) -> list[str]:
    checks = [c for r in results.values() for c in r.get("checks", [])]
    width = max([len(c["target"]) for c in checks] + [20]) + 2
    mwidth = max([len(c["measured"]) for c in checks] + [10]) + 2
    head = "    " + "target".ljust(width) + "measured".ljust(mwidth) + "result"
    lines = ["Targets (measured in this run)", head, "-" * (len(head) + 8)]
    for c in checks:
        lines.append(f"({c['scenario']}) " + c["target"].ljust(width) + c["measured"].ljust(mwidth)
                     + c["status"])
    return lines

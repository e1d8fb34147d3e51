"""Byte-level details of how the Go server writes JSON and timestamps.

Clients meet these details on the wire, so the emulator reproduces them: Go's
``encoding/json`` writes UTF-8 as is but escapes ``<``, ``>``, ``&``, U+2028 and U+2029;
``time.Time`` marshals as RFC 3339 with up to nine fractional digits, trailing zeros
trimmed, and ``Z`` for a zero offset.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Final

__all__ = [
    "go_dumps",
    "go_quote",
    "go_str",
    "now_local_rfc3339",
    "parse_rfc3339",
    "rfc3339_local",
    "rfc3339_utc",
]

_GO_ESCAPES: Final = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_NS: Final = 1_000_000_000


def go_dumps(obj: Any) -> str:
    """Serialise like Go's ``json.Marshal``: compact, raw UTF-8, HTML characters escaped."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).translate(_GO_ESCAPES)


def go_str(text: str) -> str:
    """One JSON string literal, Go style (the hot path of token streaming)."""
    return json.dumps(text, ensure_ascii=False).translate(_GO_ESCAPES)


def go_quote(text: str) -> str:
    """Go's ``%q`` for the ASCII-ish strings that appear in error messages."""
    return json.dumps(text)


class _SecondCache:
    """Formatting the date part is the slow bit; a stream stays within one second for
    thousands of chunks, so the last formatted second is remembered."""

    __slots__ = ("sec", "text")

    def __init__(self) -> None:
        self.sec = -1
        self.text = ""

    def get(self, sec: int) -> str:
        if sec != self.sec:
            self.text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            self.sec = sec
        return self.text


_utc_cache = _SecondCache()


def rfc3339_utc(ns: int | None = None) -> str:
    """``time.Now().UTC()`` as Go marshals it, e.g. ``2026-01-01T00:00:00.2Z``."""
    sec, frac = divmod(time.time_ns() if ns is None else ns, _NS)
    base = _utc_cache.get(sec)
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def rfc3339_local(ns: int) -> str:
    """A local-time timestamp with its offset, as Go marshals ``time.Now()``."""
    sec, frac = divmod(ns, _NS)
    local = datetime.fromtimestamp(sec, tz=timezone.utc).astimezone()
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    base = local.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        base = f"{base}.{frac:09d}".rstrip("0")
    if minutes == 0:
        return base + "Z"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{base}{sign}{hours:02d}:{mins:02d}"


def now_local_rfc3339() -> str:
    return rfc3339_local(time.time_ns())


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch; only used to sort models by modification time."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0

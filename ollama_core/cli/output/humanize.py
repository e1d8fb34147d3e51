"""Sizes, times and digests the way the Ollama CLI prints them."""

from __future__ import annotations

import datetime as _dt
import re

__all__ = ["human_bytes", "human_duration", "human_rate", "parse_time", "plural",
           "relative_time", "short_digest"]


def plural(count: int, word: str, many: str | None = None) -> str:
    """``word`` for one, ``many`` (default ``word + "s"``) for any other count."""
    return word if count == 1 else many or word + "s"


def human_bytes(n: int | None) -> str:
    """Decimal units, as ``ollama list`` prints them: ``2.0 GB``, ``274 MB``."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(text: str | None) -> _dt.datetime | None:
    """An RFC 3339 timestamp as Ollama sends it (nanoseconds, ``Z`` or an offset)."""
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(_FRACTION.sub(r"\1", text).replace("Z", "+00:00"))
    except ValueError:
        return None


def relative_time(text: str | None, now: _dt.datetime | None = None) -> str:
    """``3 minutes ago`` / ``4 minutes from now``, like the Ollama CLI."""
    when = parse_time(text)
    if when is None:
        return text or ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    seconds = (when - now).total_seconds()
    future, seconds = seconds > 0, abs(seconds)
    if seconds > 100 * 365 * 86400:
        return "Forever"
    if seconds < 1:
        return "Less than a second" if future else "Just now"
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
                       ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size:
            count = int(seconds // size)
            phrase = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"{phrase} from now" if future else f"{phrase} ago"
    raise AssertionError("unreachable")  # pragma: no cover


def short_digest(digest: str | None) -> str:
    """The 12 hex digits ``ollama list`` shows for ``sha256:...``."""
    return (digest or "").removeprefix("sha256:")[:12]


def human_rate(bytes_per_second: float) -> str:
    """A transfer speed: ``55 MB/s``."""
    return f"{human_bytes(int(bytes_per_second))}/s"


def human_duration(seconds: float) -> str:
    """A short duration as the Ollama progress bars print one: ``8s``, ``1m24s``, ``2h5m``."""
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"

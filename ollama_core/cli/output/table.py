"""Left-aligned columns four spaces apart, like ``ollama list`` and ``ollama ps``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["table"]


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    all_rows = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(headers))]
    return "\n".join(
        "    ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in all_rows) + "\n"

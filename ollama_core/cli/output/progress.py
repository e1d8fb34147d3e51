"""Progress of pull, push and create: a redrawn bar on a terminal, short lines elsewhere."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

from ..interrupt import cancel_on_interrupt
from .humanize import human_bytes, short_digest

if TYPE_CHECKING:
    from ..._sync import SyncStream
    from ..._types import ProgressResponse
    from ..session import Session

__all__ = ["ProgressPrinter", "print_progress"]


class ProgressPrinter:
    """Progress of pull/push/create.

    On a terminal each step (a status, or a layer's digest) is one line redrawn in place
    with ``\\r`` as it advances and left behind when the next step starts. Anywhere else
    (a pipe, a log file) a plain line is printed per step and per 10% of each layer, so
    logs stay short even for the thousands of updates a real pull sends.
    """

    _REDRAW_EVERY = 0.1  # seconds; a real pull sends updates far faster than anyone reads

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.key: tuple[str, str | None] | None = None
        self.last_width = 0
        self.last_decile = -1
        self.last_draw = 0.0
        encoding = (getattr(out, "encoding", None) or "").lower()
        self.fill, self.empty = ("█", " ") if "utf" in encoding else ("#", "-")

    def _line(self, progress: ProgressResponse, bar: bool) -> str:
        label = progress.status
        digest = progress.digest
        if digest and short_digest(digest) not in label and digest != "0":
            label = f"{label} {short_digest(digest)}"
        fraction = progress.fraction
        if fraction is None:
            return label
        pct = min(100.0, 100 * fraction)
        sizes = f"{human_bytes(progress.completed or 0)}/{human_bytes(progress.total)}"
        if not bar:
            return f"{label}: {pct:3.0f}% ({sizes})"
        filled = int(pct / 5)
        gauge = self.fill * filled + self.empty * (20 - filled)
        return f"{label} {pct:3.0f}% ▕{gauge}▏ {sizes}" if self.fill == "█" else \
            f"{label} {pct:3.0f}% [{gauge}] {sizes}"

    def update(self, progress: ProgressResponse) -> None:
        key = (progress.status, progress.digest)
        new_step = key != self.key
        fraction = progress.fraction
        if self.tty:
            now = time.monotonic()
            finished = fraction is not None and fraction >= 1
            if not new_step and not finished and now - self.last_draw < self._REDRAW_EVERY:
                return
            if new_step and self.key is not None:
                self.out.write("\n")
                self.last_width = 0
            line = self._line(progress, bar=True)
            self.out.write("\r" + line + " " * max(0, self.last_width - len(line)))
            self.last_width = len(line)
            self.last_draw = now
        else:
            decile = -1 if fraction is None else int(min(fraction, 1.0) * 10)
            if not new_step and decile == self.last_decile:
                return
            self.last_decile = decile
            self.out.write(self._line(progress, bar=False) + "\n")
        self.key = key
        self.out.flush()

    def finish(self) -> None:
        if self.tty and self.key is not None:
            self.out.write("\n")
            self.out.flush()
        self.key = None


def print_progress(session: Session, stream: SyncStream[ProgressResponse]) -> None:
    """Consume a progress stream: NDJSON with ``--json``, else a :class:`ProgressPrinter`."""
    printer = ProgressPrinter(session.out, session.out.isatty())
    try:
        with stream, cancel_on_interrupt(stream):
            for line in stream:
                if session.json:
                    session.emit_json(line.to_dict())
                else:
                    printer.update(line)
    finally:
        if not session.json:
            printer.finish()

"""Progress of pull, push and create: a redrawn bar on a terminal, short lines elsewhere."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from ..interrupt import cancel_on_interrupt
from .humanize import human_bytes, human_duration, human_rate, short_digest

if TYPE_CHECKING:
    from ..._sync import SyncStream
    from ..._types import ProgressResponse
    from ..session import Session

__all__ = ["ProgressPrinter", "Speed", "print_progress"]


class Speed:
    """Bytes per second over the last few seconds of one step's updates."""

    WINDOW = 5.0  # seconds: steady enough to read, quick to follow a change

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, completed: int) -> None:
        self.samples.append((now, completed))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.WINDOW:
            self.samples.popleft()

    def rate(self) -> float | None:
        """Bytes per second, or ``None`` before two updates some time apart."""
        if len(self.samples) < 2:
            return None
        (t0, c0), (t1, c1) = self.samples[0], self.samples[-1]
        if t1 <= t0 or c1 <= c0:
            return None
        return (c1 - c0) / (t1 - t0)


class ProgressPrinter:
    """Progress of pull/push/create.

    On a terminal each step (a status, or a layer's digest) is one line redrawn in place
    with ``\\r`` as it advances and left behind when the next step starts. Anywhere else
    (a pipe, a log file) a plain line is printed per step and per 10% of each layer, so
    logs stay short even for the thousands of updates a real pull sends. While a layer
    moves, both show its speed and the time left, as ``ollama pull`` does. ``clock``
    (seconds, monotonic) is there for tests.
    """

    _REDRAW_EVERY = 0.1  # seconds; a real pull sends updates far faster than anyone reads

    def __init__(self, out: TextIO, tty: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.tty = tty
        self.clock = clock
        self.speed = Speed()
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
        rate = self.speed.rate() if fraction < 1 else None
        left = (max(0, (progress.total or 0) - (progress.completed or 0)) / rate
                if rate else None)
        if not bar:
            if rate is None or left is None:
                return f"{label}: {pct:3.0f}% ({sizes})"
            return (f"{label}: {pct:3.0f}% ({sizes}, {human_rate(rate)}, "
                    f"{human_duration(left)} left)")
        filled = int(pct / 5)
        gauge = self.fill * filled + self.empty * (20 - filled)
        line = f"{label} {pct:3.0f}% ▕{gauge}▏ {sizes}" if self.fill == "█" else \
            f"{label} {pct:3.0f}% [{gauge}] {sizes}"
        if rate is not None and left is not None:
            line += f"  {human_rate(rate)}  {human_duration(left)}"
        return line

    def update(self, progress: ProgressResponse) -> None:
        key = (progress.status, progress.digest)
        new_step = key != self.key
        fraction = progress.fraction
        now = self.clock()
        if new_step:
            self.speed = Speed()
        if fraction is not None:
            self.speed.add(now, progress.completed or 0)
        if self.tty:
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

"""Ctrl-C during a stream: cancel the stream first, so the server stops generating."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._sync import SyncStream

__all__ = ["cancel_on_interrupt"]


@contextlib.contextmanager
def cancel_on_interrupt(stream: SyncStream[Any]) -> Iterator[None]:
    """Turn Ctrl-C during a stream into ``stream.cancel()``, then ``KeyboardInterrupt``.

    Letting ``KeyboardInterrupt`` fly out of the blocking read would abandon a read still
    running on the client's loop thread; cancelling through the stream's own API drops
    the connection (so the server stops generating), ends the iteration cleanly, and
    only then reports the interruption. A second Ctrl-C interrupts at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    interrupted = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if interrupted:
            raise KeyboardInterrupt
        interrupted = True
        stream.cancel()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt

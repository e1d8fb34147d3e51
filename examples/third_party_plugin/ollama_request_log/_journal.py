"""An append-only JSON Lines file fed through a queue by one writer task.

``open()`` opens the file, then starts the writer; ``aclose()`` undoes that in reverse:
it lets the writer write everything queued and stop, then closes the file. Calls never
wait for the disk: :meth:`Journal.put` queues a line or, when the queue is full, drops it
and counts it in ``dropped``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import IO, Any

__all__ = ["Journal"]

log = logging.getLogger("ollama_request_log")

_STOP = object()


def _write(file: IO[str], text: str) -> None:
    file.write(text)
    file.flush()


class Journal:
    """See the module docstring. ``written`` and ``dropped`` count lines."""

    def __init__(self, path: str, queue_size: int) -> None:
        self.path = path
        self.queue_size = queue_size
        self.written = 0
        self.dropped = 0
        self._file: IO[str] | None = None
        self._queue: asyncio.Queue[object] | None = None
        self._writer: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._file is not None

    async def open(self) -> None:
        """Open the file (in a thread: the loop never waits for the disk), then start the
        writer. If the writer cannot start, the file is closed again."""
        if self._file is not None:
            raise RuntimeError(f"journal {self.path!r} is already open")
        file = await asyncio.to_thread(open, self.path, "a", encoding="utf-8")
        log.debug("journal opened: %s", self.path)
        try:
            queue: asyncio.Queue[object] = asyncio.Queue(self.queue_size)
            writer = asyncio.get_running_loop().create_task(
                self._run(file, queue), name=f"request_log journal {self.path}")
        except BaseException:
            file.close()
            log.debug("journal closed: %s", self.path)
            raise
        self._file, self._queue, self._writer = file, queue, writer
        log.debug("journal writer started")

    def put(self, record: dict[str, Any]) -> bool:
        """Queue one line; ``False`` (and ``dropped`` counted) when closed or full."""
        queue = self._queue
        if queue is None or queue.full():
            self.dropped += 1
            return False
        queue.put_nowait(record)
        return True

    async def aclose(self) -> None:
        """Stop the writer once everything queued is written, then close the file."""
        file, queue, writer = self._file, self._queue, self._writer
        self._file = self._queue = self._writer = None
        try:
            if queue is not None and writer is not None:
                if not writer.done():
                    await queue.put(_STOP)
                await writer  # raises what broke the writer, after the file is closed
                log.debug("journal writer stopped")
        finally:
            if file is not None:
                await asyncio.to_thread(file.close)
                log.debug("journal closed: %s", self.path)

    async def _run(self, file: IO[str], queue: asyncio.Queue[object]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty():  # everything already waiting goes in one write
                batch.append(queue.get_nowait())
            lines = [json.dumps(r, default=str) + "\n" for r in batch if r is not _STOP]
            if lines:
                await asyncio.to_thread(_write, file, "".join(lines))
                self.written += len(lines)
            if _STOP in batch:
                return

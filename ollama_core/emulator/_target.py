"""Run against a real server when one is named, else against an emulator started for it.

Examples, demos and users' own scripts share this choice; each is a few lines here instead
of a copy in every script.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator

from ._app import OllamaEmulator
from ._thread import EmulatorThread

__all__ = ["ollama_server", "ollama_server_sync"]

Announce = Callable[[str], None] | None


def _say(url: str) -> str:
    return f"(no --host or OLLAMA_HOST: using an embedded emulator at {url})"


@contextlib.asynccontextmanager
async def ollama_server(host: str | None, *, announce: Announce = print) -> AsyncIterator[str]:
    """Yield ``host`` if given, else the URL of an :class:`OllamaEmulator` started for the
    duration of the block (and stopped after). ``announce`` is told which one was chosen."""
    if host:
        yield host
        return
    async with OllamaEmulator() as emulator:
        if announce is not None:
            announce(_say(emulator.url))
        yield emulator.url


@contextlib.contextmanager
def ollama_server_sync(host: str | None, *, announce: Announce = print) -> Iterator[str]:
    """The synchronous twin of :func:`ollama_server`, with an :class:`EmulatorThread`."""
    if host:
        yield host
        return
    with EmulatorThread() as emulator:
        if announce is not None:
            announce(_say(emulator.url))
        yield emulator.url

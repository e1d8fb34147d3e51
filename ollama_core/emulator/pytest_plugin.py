"""pytest fixtures for the Ollama emulator (registered through the ``pytest11`` entry point).

``ollama_emulator``
    async fixture: a started :class:`OllamaEmulator` on ``127.0.0.1:0``, stopped after.
``ollama_emulator_thread``
    sync fixture: an :class:`EmulatorThread` for synchronous code.

Both read constructor arguments from an ``ollama_emulator`` marker on the test::

    @pytest.mark.ollama_emulator(chunk_delay=0.01, models=["llama3.2", "mistral"])
    async def test_slow_stream(ollama_emulator): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from ._app import OllamaEmulator
from ._thread import EmulatorThread

__all__ = ["ollama_emulator", "ollama_emulator_thread"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ollama_emulator(**kwargs): arguments for the ollama_emulator fixtures "
        "(models, registry, version, chunk_delay)",
    )


def _marker_kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("ollama_emulator")
    return dict(marker.kwargs) if marker is not None else {}


@pytest_asyncio.fixture
async def ollama_emulator(request: pytest.FixtureRequest) -> AsyncIterator[OllamaEmulator]:
    """A running emulator on a free loopback port."""
    async with OllamaEmulator("127.0.0.1", 0, **_marker_kwargs(request)) as emulator:
        yield emulator


@pytest.fixture
def ollama_emulator_thread(request: pytest.FixtureRequest) -> Iterator[EmulatorThread]:
    """A running emulator in a background thread, for synchronous tests."""
    with EmulatorThread("127.0.0.1", 0, **_marker_kwargs(request)) as emulator:
        yield emulator

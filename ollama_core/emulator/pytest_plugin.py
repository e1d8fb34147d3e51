"""pytest fixtures for the Ollama emulator (registered through the ``pytest11`` entry point).

``ollama_emulator``
    async fixture: a started :class:`OllamaEmulator` on ``127.0.0.1:0``, stopped after
    (needs pytest-asyncio).
``ollama_emulator_thread``
    sync fixture: an :class:`EmulatorThread` for synchronous code.

Both read constructor arguments from an ``ollama_emulator`` marker on the test::

    @pytest.mark.ollama_emulator(chunk_delay=0.01, models=["llama3.2", "mistral"])
    async def test_slow_stream(ollama_emulator): ...

The entry point loads this module in every pytest run of an environment where
ollama-core is installed, so it imports nothing heavy up front and does not require
pytest-asyncio unless the async fixture is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
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


@pytest.fixture
def ollama_emulator_thread(request: pytest.FixtureRequest) -> Iterator[EmulatorThread]:
    """A running emulator in a background thread, for synchronous tests."""
    from ._thread import EmulatorThread

    with EmulatorThread("127.0.0.1", 0, **_marker_kwargs(request)) as emulator:
        yield emulator


async def _running_emulator(request: pytest.FixtureRequest) -> AsyncIterator[OllamaEmulator]:
    """A running emulator on a free loopback port."""
    from ._app import OllamaEmulator

    async with OllamaEmulator("127.0.0.1", 0, **_marker_kwargs(request)) as emulator:
        yield emulator


def _needs_pytest_asyncio() -> None:
    pytest.fail("the ollama_emulator fixture needs pytest-asyncio (pip install pytest-asyncio)")


ollama_emulator: Any
try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the environment
    ollama_emulator = pytest.fixture(_needs_pytest_asyncio, name="ollama_emulator")
else:
    ollama_emulator = pytest_asyncio.fixture(_running_emulator, name="ollama_emulator")

"""Shared fixtures of the plugin tests: a live emulator on loopback and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ollama_core import FakeClock
from ollama_core.emulator import OllamaEmulator


@pytest.fixture
async def emulator() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emu:
        yield emu


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()

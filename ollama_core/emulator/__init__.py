"""An in-process Ollama server for tests, benchmarks and examples.

:class:`OllamaEmulator` is a real aiohttp server on loopback that answers the Ollama REST
API (``/api/chat``, ``/api/generate``, ``/api/pull``, ...) with the server's shapes,
status codes and error texts, deterministically, and can be told to misbehave
(:class:`FaultRule`). :class:`EmulatorThread` runs one in a background thread for
synchronous code; ``python -m ollama_core.emulator`` serves one from the command line.
"""

from __future__ import annotations

from ._app import BeyondLoopbackWarning, OllamaEmulator
from ._faults import FaultRule, FaultSet
from ._models import DEFAULT_MODELS, DEFAULT_REGISTRY, ModelRecord
from ._state import EmulatorState, LoadedModel, RecordedRequest
from ._target import ollama_server, ollama_server_sync
from ._thread import EmulatorThread

__all__ = [
    "BeyondLoopbackWarning",
    "DEFAULT_MODELS",
    "DEFAULT_REGISTRY",
    "EmulatorState",
    "EmulatorThread",
    "FaultRule",
    "FaultSet",
    "LoadedModel",
    "ModelRecord",
    "OllamaEmulator",
    "RecordedRequest",
    "ollama_server",
    "ollama_server_sync",
]

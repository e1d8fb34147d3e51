"""Fixtures of the conformance suite: the target server, a client per test, and helpers
that turn a missing capability into a skip whose reason names the model.

Checks assert what any correct server and real model satisfy (shapes, invariants,
status codes), never the emulator's exact text.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ollama_core import NotFoundError, OllamaClient, Timeouts
from ollama_core.emulator import EmulatorThread

from . import _target
from ._target import Target

#: The done reasons a finished generation may carry.
GENERATION_DONE_REASONS = frozenset({"stop", "length"})

# Capabilities per (server, model), from /api/show, asked once per run.
_capabilities: dict[tuple[str, str], list[str]] = {}
_skipped: list[tuple[str, str]] = []


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The server under test: the live one named by --ollama-host, else an emulator."""
    url = _target.live_url(pytestconfig)
    if url is not None:
        yield Target("live", url, _target.models_for(pytestconfig, live=True))
        return
    with EmulatorThread() as emulator:
        yield Target("emulator", emulator.url, _target.models_for(pytestconfig, live=False))


def client_for(target: Target, **kwargs: Any) -> OllamaClient:
    """A client of the target (``OLLAMA_API_KEY`` is sent if set, for servers behind
    authentication); a real model on a CPU may take a while to load."""
    kwargs.setdefault("plugins", [])
    kwargs.setdefault("timeout", Timeouts(connect=5, first_byte=55, idle=55))
    return OllamaClient(target.url, **kwargs)


@pytest.fixture
async def client(target: Target) -> AsyncIterator[OllamaClient]:
    async with client_for(target) as c:
        yield c


async def capabilities(client: OllamaClient, model: str) -> list[str]:
    key = (client.base_url, model)
    if key not in _capabilities:
        _capabilities[key] = list((await client.model_info(model)).capabilities or [])
    return _capabilities[key]


#: Which option chooses the model a capability is asked of.
_OPTION_FOR = {"vision": "--conformance-vision-model", "embedding": "--conformance-embed-model"}


async def require(client: OllamaClient, model: str, capability: str) -> None:
    """Skip the test, with the reason, when ``model`` lacks ``capability``."""
    caps = await capabilities(client, model)
    if capability not in caps:
        option = _OPTION_FOR.get(capability, "--conformance-chat-model")
        pytest.skip(f"{model} has no {capability!r} capability (it has {', '.join(caps)}); "
                    f"choose a model that has it with {option}")


async def no_think(client: OllamaClient, model: str) -> dict[str, Any]:
    """``{"think": False}`` for a thinking model, so a short answer is not all thinking;
    nothing for other models."""
    return {"think": False} if "thinking" in await capabilities(client, model) else {}


def options(num_predict: int = 32) -> dict[str, Any]:
    """Deterministic and short: a real model then answers in about a second."""
    return {"temperature": 0, "seed": 7, "num_predict": num_predict}


def unique_name(prefix: str = "conformance") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}:latest"


class Scratch:
    """Names for models a test creates or copies; whatever still exists at teardown
    is deleted."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def name(self) -> str:
        name = unique_name()
        self.names.append(name)
        return name


@pytest.fixture
async def scratch(client: OllamaClient) -> AsyncIterator[Scratch]:
    made = Scratch()
    yield made
    for name in made.names:
        try:
            await client.delete_model(name)
        except NotFoundError:
            pass  # the test deleted it itself


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "tests/conformance/" in report.nodeid.replace("\\", "/"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        _skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say why each check was skipped: a skip means the chosen model cannot do it."""
    if _skipped:
        terminalreporter.section("conformance checks skipped")
        for nodeid, reason in _skipped:
            terminalreporter.write_line(f"{nodeid}: {reason}")

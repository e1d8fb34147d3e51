"""Every test here runs without the network: opening a socket fails the test.

The guard replaces ``socket.socket`` for each test; a socket made from an existing file
descriptor (the event loop's self-pipe, built by ``socket.socketpair``) is allowed, any
other is refused and remembered, and the test fails at teardown even if the error was
swallowed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Any, ...]]]:
    opened: list[tuple[Any, ...]] = []
    real = socket.socket

    class Guarded(real):  # type: ignore[misc, valid-type]
        def __init__(self, family: Any = -1, type: Any = -1, proto: Any = -1,
                     fileno: Any = None) -> None:
            if fileno is None:
                opened.append((family, type, proto))
                raise OSError("a sockets-free test tried to open a socket")
            super().__init__(family, type, proto, fileno)

    monkeypatch.setattr(socket, "socket", Guarded)
    yield opened
    assert opened == [], f"sockets were opened: {opened}"

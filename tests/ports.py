"""Loopback ports that refuse connections, for tests of an unreachable server.

A port bound and then released is free again: a server started later with port 0 (an
emulator of the same test run) may be given it, and the "unreachable" URL then answers.
:func:`refused_port` keeps its socket bound, never listening, until the test process
exits: a connection to it is refused at once, and no other socket can take the port.
"""

from __future__ import annotations

import atexit
import socket

_HELD: list[socket.socket] = []


def refused_port() -> int:
    """A loopback port where nothing listens, held for the rest of the test run."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # no SO_REUSEADDR: no other socket can bind it meanwhile
    _HELD.append(sock)
    return int(sock.getsockname()[1])


@atexit.register
def _release() -> None:
    for sock in _HELD:
        sock.close()
    _HELD.clear()

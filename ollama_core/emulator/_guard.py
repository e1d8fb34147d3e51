"""What keeps a test server from being an open door on the machine that runs it.

The ``/_emulator`` control API can arm faults and read every recorded request, so it
answers only requests that name the emulator itself in ``Host`` (a web page that rebinds
its own domain to 127.0.0.1 still sends that domain) and that carry a JSON body type (a
cross-site form or ``text/plain`` POST cannot set one without a CORS preflight, which the
emulator never grants). Recorded headers whose name suggests a secret are masked by the
client's own rule (``ollama_core._redact``: an ``Authorization`` keeps its scheme), so
neither the control API nor a ``repr`` in a test log shows a key. The Ollama API itself
checks none of this, like the real server.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Mapping
from typing import Final

from .._redact import is_secret_header

__all__ = [
    "control_refusal",
    "header_digest",
    "header_digests",
    "is_loopback",
]

# host, or [v6 host], then an optional :port
_HOST_HEADER: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]/@]+)(?::([0-9]{1,5}))?")
_LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
# Keyed per process: a recorded digest can be checked against a value in this process,
# and is worthless anywhere else (no offline guessing of short keys).
_DIGEST_KEY: Final = secrets.token_bytes(32)


def header_digest(value: str) -> bytes:
    raw = value.encode("utf-8", "surrogateescape")
    return hmac.new(_DIGEST_KEY, raw, hashlib.sha256).digest()


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    bare = host.strip("[]").lower()
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:  # "" (every interface), or a name that may resolve anywhere
        return False


def _host_names(bound: str) -> frozenset[str]:
    bare = bound.strip("[]").lower()
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return _LOOPBACK_NAMES | {bare} if bare else _LOOPBACK_NAMES
    if address.is_unspecified:
        # A web page reaches a server bound to every interface at http://0.0.0.0:<port>,
        # so the wildcard is never a name the control API answers to.
        return _LOOPBACK_NAMES
    return _LOOPBACK_NAMES | {f"[{address}]" if address.version == 6 else str(address)}


def control_refusal(
    method: str,
    hosts: list[str],
    content_type: str,
    has_body: bool,
    *,
    bound_host: str,
    port: int,
) -> tuple[int, str] | None:
    """Why a control API request is refused, as ``(status, message)``; ``None`` to serve it.

    ``hosts`` is every ``Host`` header the request carried: exactly one must name the
    emulator (a loopback name or the bound address) with its port (80 when omitted). A
    request with a body (any POST, PUT or PATCH) must say it is JSON.
    """
    if len(hosts) != 1:
        return 403, "the control API needs exactly one Host header"
    match = _HOST_HEADER.fullmatch(hosts[0].strip())
    if match is None:
        return 403, "the control API answers only requests addressed to the emulator"
    name = match.group(1).lower()
    if name.startswith("["):
        try:
            name = f"[{ipaddress.IPv6Address(name[1:-1])}]"
        except ValueError:
            return 403, "the control API answers only requests addressed to the emulator"
    named_port = int(match.group(2)) if match.group(2) else 80
    if name not in _host_names(bound_host) or named_port != port:
        return 403, "the control API answers only requests addressed to the emulator"
    if (method.upper() in _BODY_METHODS or has_body) and not _is_json_type(content_type):
        return 415, "the control API takes JSON bodies: send Content-Type: application/json"
    return None


def _is_json_type(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json"))


def header_digests(headers: Mapping[str, str]) -> dict[str, bytes]:
    """Digests of the secret headers' values, by lowercased name."""
    return {
        name.lower(): header_digest(value)
        for name, value in headers.items()
        if is_secret_header(name)
    }

"""Parsing and validation of the failover plugin's ``endpoints`` setting.

Endpoint URLs follow the same rules as the client's own base URL (Ollama's ``OLLAMA_HOST``
parsing): no scheme means ``http`` on port 11434 (bare ``ollama.com`` means
``https://ollama.com:443``), ``http``/``https`` without a port mean 80/443, a sub-path is
kept for reverse proxies, and the bind-all addresses ``0.0.0.0``/``::`` become loopback.
The core's own parser is private, so this is a small re-implementation of those rules.

Nothing here ever puts an API key or URL credentials into a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yarl

from ollama_core import InvalidConfigError

__all__ = ["EndpointSpec", "parse_endpoints"]

_DEFAULT_PORT = 11434
_USERINFO = re.compile(r"//[^/@]*@")
_ENDPOINT_KEYS = frozenset({"url", "api_key"})


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One configured endpoint: its normalised URL and optional API key (never shown)."""

    url: yarl.URL
    api_key: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        return str(self.url.with_user(None))


def _safe(text: str) -> str:
    """``text`` with any ``user:password@`` removed, for error messages."""
    return _USERINFO.sub("//", text)


def parse_url(value: str, where: str) -> yarl.URL:
    """Normalise one endpoint URL with Ollama's host rules; ``where`` names it in errors."""
    raw = value.strip().strip("\"'").strip()
    if not raw:
        raise InvalidConfigError(f"failover: {where}: empty URL")
    if raw == "ollama.com":
        return yarl.URL("https://ollama.com:443")
    scheme, sep, rest = raw.partition("://")
    if sep:
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise InvalidConfigError(
                f"failover: {where}: unsupported URL scheme {scheme!r} in {_safe(raw)!r}")
        default_port = 443 if scheme == "https" else 80
    else:
        scheme, rest = "http", raw
        default_port = _DEFAULT_PORT
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        userinfo, hostpart = "", rest
    hostport, slash, path = hostpart.partition("/")
    path = "/" + path.strip("/") if slash and path.strip("/") else ""
    if "?" in path or "#" in path or "?" in hostport or "#" in hostport:
        raise InvalidConfigError(
            f"failover: {where}: a base URL cannot carry a query or fragment: {_safe(raw)!r}")
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else tail
    elif hostport.count(":") > 1:  # bare IPv6: no port can be told apart
        host, port_text = hostport, ""
    else:
        host, _, port_text = hostport.partition(":")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            raise InvalidConfigError(
                f"failover: {where}: invalid port {port_text!r} in {_safe(raw)!r}")
        port = int(port_text)
    else:
        port = default_port
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    netloc = f"[{host}]" if ":" in host else host
    auth = f"{userinfo}@" if userinfo else ""
    try:
        url = yarl.URL(f"{scheme}://{auth}{netloc}:{port}{path}", encoded=False)
    except ValueError as exc:
        raise InvalidConfigError(f"failover: {where}: invalid URL {_safe(raw)!r}") from exc
    if not url.host:
        raise InvalidConfigError(f"failover: {where}: no host in {_safe(raw)!r}")
    return url


def _parse_key(value: object, where: str) -> str | None:
    if value is None:
        return None
    # The value itself is never echoed: it is a secret even when malformed.
    if not isinstance(value, str) or not value.strip():
        raise InvalidConfigError(f"failover: {where}.api_key must be a non-empty string")
    if any(c in value for c in "\r\n\0") or value != value.strip():
        raise InvalidConfigError(
            f"failover: {where}.api_key contains whitespace or control characters")
    return value


def parse_endpoints(value: object) -> tuple[EndpointSpec, ...]:
    """Validate the ``endpoints`` setting: a non-empty list of URL strings or
    ``{"url": ..., "api_key": ...}`` mappings, without duplicates."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidConfigError(
            "failover: endpoints must be a list of URLs or {'url', 'api_key'} mappings")
    if not value:
        raise InvalidConfigError("failover: endpoints must not be empty")
    specs: list[EndpointSpec] = []
    seen: dict[yarl.URL, int] = {}
    for index, item in enumerate(value):
        where = f"endpoints[{index}]"
        if isinstance(item, str):
            spec = EndpointSpec(parse_url(item, where))
        elif isinstance(item, Mapping):
            unknown = set(item) - _ENDPOINT_KEYS
            if unknown:
                raise InvalidConfigError(
                    f"failover: {where}: unknown key(s) {sorted(map(str, unknown))} "
                    f"(allowed: api_key, url)")
            url = item.get("url")
            if not isinstance(url, str):
                raise InvalidConfigError(f"failover: {where}.url must be a string")
            spec = EndpointSpec(parse_url(url, where), _parse_key(item.get("api_key"), where))
        else:
            raise InvalidConfigError(
                f"failover: {where} must be a URL string or a mapping with 'url', "
                f"got {type(item).__name__}")
        key = spec.url.with_user(None)
        if key in seen:
            raise InvalidConfigError(
                f"failover: {where} ({spec.display}) duplicates endpoints[{seen[key]}]")
        seen[key] = index
        specs.append(spec)
    return tuple(specs)

"""Base-URL handling with Ollama's own ``OLLAMA_HOST`` rules, and credentials in URLs."""

from __future__ import annotations

import base64
import os
import re
import warnings
from collections.abc import Mapping

import yarl

from ._exceptions import InvalidConfigError

__all__ = ["DEFAULT_HOST", "basic_auth_header", "parse_host", "resolve_base_url"]

DEFAULT_HOST = "http://localhost:11434"
_DEFAULT_PORT = 11434
_USERINFO = re.compile(r"^([a-zA-Z]+://)?[^/@]*@")


def _safe(value: str) -> str:
    """``value`` without ``user:password@``, for messages."""
    return _USERINFO.sub(lambda m: m.group(1) or "", value.strip())


def parse_host(value: str) -> yarl.URL:
    """Normalise a host the way Ollama parses ``OLLAMA_HOST``, for connecting.

    - surrounding whitespace and quotes are removed;
    - no scheme means ``http`` and port 11434, except bare ``ollama.com`` which is
      ``https://ollama.com:443``;
    - ``http://`` without a port means 80, ``https://`` means 443;
    - a sub-path is kept (for reverse proxies serving Ollama under a prefix);
    - the bind-all addresses ``0.0.0.0`` and ``::`` become loopback, since they are valid
      to listen on but not to connect to;
    - a port that is not a number in 0-65535 falls back to the default, with a warning.

    >>> str(parse_host("1.2.3.4"))
    'http://1.2.3.4:11434'
    >>> parse_host("https://example.com/ollama").port
    443
    >>> str(parse_host("0.0.0.0"))
    'http://127.0.0.1:11434'
    >>> str(parse_host("::1"))
    'http://[::1]:11434'
    """
    raw = value.strip().strip("\"'").strip()
    if not raw:
        return yarl.URL(f"http://127.0.0.1:{_DEFAULT_PORT}")
    if raw == "ollama.com":
        return yarl.URL("https://ollama.com:443")
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "http", raw
        default_port = _DEFAULT_PORT
    else:
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise InvalidConfigError(
                f"unsupported URL scheme {scheme!r} in host {_safe(value)!r}")
        default_port = 443 if scheme == "https" else 80
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        userinfo, hostpart = "", rest
    hostport, slash, path = hostpart.partition("/")
    path = "/" + path.strip("/") if slash and path.strip("/") else ""
    host, port = _split_host_port(hostport, default_port, value)
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    netloc_host = f"[{host}]" if ":" in host else host
    auth = f"{userinfo}@" if userinfo else ""
    try:
        return yarl.URL(f"{scheme}://{auth}{netloc_host}:{port}{path}", encoded=False)
    except ValueError as exc:
        raise InvalidConfigError(f"invalid host {_safe(value)!r}") from exc


def _split_host_port(hostport: str, default_port: int, original: str) -> tuple[str, int]:
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif hostport.count(":") > 1:  # a bare IPv6 address: no port can be told apart
        return hostport, default_port
    else:
        host, _, port_text = hostport.partition(":")
    if not port_text:
        return host, default_port
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        warnings.warn(f"invalid port in host {_safe(original)!r}; using {default_port}",
                      stacklevel=4)
        return host, default_port
    return host, port


def resolve_base_url(base_url: str | yarl.URL | None,
                     environ: Mapping[str, str] | None = None) -> yarl.URL:
    """The client's base URL: the argument, else ``OLLAMA_HOST``, else the default."""
    if isinstance(base_url, yarl.URL):
        base_url = str(base_url)
    if base_url is None:
        env = os.environ if environ is None else environ
        base_url = env.get("OLLAMA_HOST") or DEFAULT_HOST
    return parse_host(base_url)


def basic_auth_header(url: yarl.URL) -> str | None:
    """``Basic ...`` from ``user:password@`` in ``url``, or ``None``."""
    if url.user is None:
        return None
    token = f"{url.user}:{url.password or ''}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")

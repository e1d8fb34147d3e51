"""Base-URL handling with Ollama's own ``OLLAMA_HOST`` rules, credentials in URLs, and the
checks on what every request carries to the host (extra headers, the API key).

Messages about a host setting show it through :func:`~ollama_core._redact.mask_url`, so a
password never appears in an error or a warning, however the setting is mistyped.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
import warnings
from collections.abc import Mapping
from typing import Any

import yarl

from ._exceptions import InvalidConfigError
from ._redact import mask_url

__all__ = ["DEFAULT_HOST", "basic_auth_header", "check_api_key", "check_header_value",
           "check_headers", "parse_host", "resolve_base_url"]

DEFAULT_HOST = "http://localhost:11434"
_DEFAULT_PORT = 11434

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")
# A word, then ":" with or without slashes, or "//", at the start of text that has no
# "://": "http:/host", "https:user:pw@host", "https//host", but also "host:8080".
_BAD_SEPARATOR = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)(:[/\\]*|//)")
# After "word:", a port ("host:8080", "host:8080/path") rather than the rest of a URL.
_PORT_NEXT = re.compile(r"(\d*)(?:/|\Z)")


def _looks_like_http(word: str) -> bool:
    """Whether ``word`` is ``http``/``https`` or one typo away from one (``htps``,
    ``htttp``, ``hhtps``, ``httpss``...): text starting with it was meant as a scheme."""
    word = word.lower()
    return any(_one_edit_apart(word, target) for target in ("http", "https"))


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                                   and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _refuse(value: str, why: str) -> InvalidConfigError:
    return InvalidConfigError(f"invalid host {mask_url(value)!r}: {why}")


def _check_scheme_less(raw: str, value: str) -> None:
    """Refuse text without ``://`` that was evidently meant to have a scheme.

    Without this, ``https:user:pw@host`` would read as user ``https`` at ``host`` over
    plain ``http`` and send the password in clear, and ``http:/host`` would connect to a
    host called ``http``.
    """
    match = _BAD_SEPARATOR.match(raw)
    if match is None:
        return
    word, sep = match.group(1), match.group(2)
    http_like = _looks_like_http(word)
    if sep == ":":
        port = _PORT_NEXT.match(raw, match.end())
        if port is not None and (port.group(1) or not http_like):
            return  # "host:8080": a port, not a scheme
        if not http_like:
            return  # "alice:pw@host": a user name in scheme-less text
    elif sep == "//" and not http_like:
        return  # "host//path"
    if http_like and word.lower() not in ("http", "https"):
        raise _refuse(value, f"unsupported URL scheme {word!r} (expected 'http://' or "
                             f"'https://')")
    raise _refuse(value, f"a URL scheme must be followed by '://' (did you mean "
                         f"'{word.lower() if http_like else word}://'?)")


def _unquote(part: str) -> str:
    """Percent-decode a user name or password written in a URL (``p%40ss`` is ``p@ss``).

    Text that is not valid percent-encoding (``100%``, ``%zz``, or bytes that are not
    UTF-8) is taken literally, so a raw ``%`` in a password works too."""
    if "%" not in part:
        return part
    try:
        return urllib.parse.unquote(part, errors="strict")
    except UnicodeDecodeError:
        return part


def parse_host(value: str) -> yarl.URL:
    """Normalise a host the way Ollama parses ``OLLAMA_HOST``, for connecting.

    - surrounding whitespace and quotes are removed (``.env`` files quote values; Ollama
      strips them too);
    - no scheme means ``http`` and port 11434, except bare ``ollama.com`` which is
      ``https://ollama.com:443``;
    - ``http://`` without a port means 80, ``https://`` means 443;
    - a sub-path is kept (for reverse proxies serving Ollama under a prefix);
    - the bind-all addresses ``0.0.0.0`` and ``::`` become loopback, since they are valid
      to listen on but not to connect to;
    - a port that is not a number in 0-65535 falls back to the default, with a warning;
    - ``user:password@`` is kept for Basic auth. Everything up to the last ``@`` is the
      user-info, so a password may contain ``@``, ``/`` and ``:``; percent-encoding in it
      is decoded (``p%40ss`` is ``p@ss``), a ``%`` that is not an escape is kept as is;
    - a scheme other than ``http``/``https``, or one written without ``://``
      (``https:user:pw@host``, ``http:/host``, ``https//host``, ``htps://host``), is an
      :class:`InvalidConfigError`, so a mistyped ``https`` never sends a password over
      plain ``http``. Messages never show the credentials.

    >>> str(parse_host("1.2.3.4"))
    'http://1.2.3.4:11434'
    >>> parse_host("https://example.com/ollama").port
    443
    >>> str(parse_host("0.0.0.0"))
    'http://127.0.0.1:11434'
    >>> str(parse_host("::1"))
    'http://[::1]:11434'
    >>> parse_host("http://alice:p@ss/w:rd@proxy:8080").password
    'p@ss/w:rd'
    """
    if not isinstance(value, str):
        raise InvalidConfigError(f"host must be a string, got {type(value).__name__}")
    raw = value.strip().strip("\"'").strip()
    if not raw:
        return yarl.URL(f"http://127.0.0.1:{_DEFAULT_PORT}")
    if raw == "ollama.com":
        return yarl.URL("https://ollama.com:443")
    scheme, sep, rest = raw.partition("://")
    if not sep:
        _check_scheme_less(raw, value)
        scheme, rest = "http", raw
        default_port = _DEFAULT_PORT
    else:
        if not _SCHEME.match(scheme):
            # Not even the shape of a scheme ("alice:pw://..."): never echo it.
            raise _refuse(value, "expected 'http://' or 'https://' at the start")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            hint = " (a typo?)" if _looks_like_http(scheme) else ""
            raise _refuse(value, f"unsupported URL scheme {scheme!r}{hint}; expected "
                                 f"'http://' or 'https://'")
        default_port = 443 if scheme == "https" else 80
    doubled = _BAD_SEPARATOR.match(rest)
    if doubled is not None and doubled.group(2).startswith(":/") and \
            _looks_like_http(doubled.group(1)):
        raise _refuse(value, "two URL schemes")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        userinfo, hostpart = "", rest
    elif userinfo.startswith(("/", "\\")):
        raise _refuse(value, "too many '/' after the scheme")
    if "://" in hostpart:
        raise _refuse(value, "two URL schemes")
    hostport, slash, path = hostpart.partition("/")
    path = "/" + path.strip("/") if slash and path.strip("/") else ""
    host, port = _split_host_port(hostport, default_port, value)
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    user: str | None = None
    password: str | None = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        user = _unquote(user_text)
        password = _unquote(password_text) if colon else None
    try:
        return yarl.URL.build(scheme=scheme, user=user, password=password, host=host,
                              port=port, path=path, encoded=False)
    except (ValueError, TypeError) as exc:
        # yarl's own message quotes the host part only, but say it without it anyway.
        raise _refuse(value, "not a valid host name or address") from exc


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
        warnings.warn(f"invalid port in host {mask_url(original)!r}; using {default_port}",
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
    if url.user is None and url.password is None:
        return None
    token = f"{url.user or ''}:{url.password or ''}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


# --------------------------------------------------------------------------------------
# Headers and API keys: checked when the client is built or configured, so a bad value is
# an InvalidConfigError there, not a ValueError from aiohttp at the first call (or worse,
# a header line the server echoes back in its error).
# --------------------------------------------------------------------------------------

# RFC 9110 token characters: what a header name may contain.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters (tab excepted), DEL and lone surrogates cannot be sent in a value.
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_CHAR_NAMES = {"\n": "a line feed (\\n)", "\r": "a carriage return (\\r)",
               "\0": "a NUL character", " ": "a space", "\t": "a tab"}


def _describe_char(char: str) -> str:
    known = _CHAR_NAMES.get(char)
    if known is not None:
        return known
    if "\ud800" <= char <= "\udfff":
        return f"a lone surrogate (U+{ord(char):04X})"
    if char.isprintable() and not char.isspace():
        return repr(char)
    return f"the control character U+{ord(char):04X}"


def check_header_value(value: object, what: str) -> str:
    """``value`` if it can be sent as a header value, else :class:`InvalidConfigError`.

    ``what`` names the setting in the message (``"api_key"``, ``"headers['X-Key']"``); the
    value itself is never shown, since it may be a secret even when it is malformed."""
    if not isinstance(value, str):
        raise InvalidConfigError(f"{what} must be a string, got {type(value).__name__}")
    bad = _BAD_VALUE_CHAR.search(value)
    if bad is not None:
        hint = ""
        if bad.group() in "\r\n" and not value[bad.start():].strip():
            hint = " (a value read from a file keeps its trailing newline: strip it)"
        raise InvalidConfigError(
            f"{what} contains {_describe_char(bad.group())} at position {bad.start()}; "
            f"a header value cannot carry control characters{hint}")
    return value


def check_api_key(value: object, what: str = "api_key") -> str | None:
    """An API key as sent in ``Authorization: Bearer``: ``None`` or ``""`` mean none."""
    if value is None or value == "":
        return None
    return check_header_value(value, what)


def check_headers(headers: Any, what: str = "headers") -> dict[str, str]:
    """A copy of ``headers`` after checking every name (an HTTP token) and value."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidConfigError(
            f"{what} must be a mapping of header names to values, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str):
            raise InvalidConfigError(
                f"{what}: header names must be strings, got {type(name).__name__}")
        if not _HEADER_NAME.fullmatch(name):
            # Show only the name up to the bad character: a name like
            # "Authorization: Bearer sk-..." carries the secret after it.
            good = _HEADER_NAME.match(name)
            end = good.end() if good is not None else 0
            shown = f" starting {name[:end]!r}" if end else ""
            why = (f"contains {_describe_char(name[end])} at position {end}" if name
                   else "is empty")
            raise InvalidConfigError(
                f"{what}: invalid header name{shown}: it {why}; a name is letters, digits "
                f"and !#$%&'*+-.^_`|~ only")
        checked[name] = check_header_value(value, f"{what}[{name!r}]")
    return checked

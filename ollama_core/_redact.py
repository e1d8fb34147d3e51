"""What may be shown of secrets: URLs without their credentials, headers without their values.

Every message, ``repr``, log line, warning or CLI output that shows a server URL goes
through :func:`mask_url`, and every one that shows headers through :func:`redact_headers`.
Both are deliberately simple and err on the side of hiding too much: they work on text that
may not even parse as a URL (a mistyped ``OLLAMA_HOST`` is exactly what an error message is
about), so they never depend on parsing it first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yarl

__all__ = ["MASK", "is_secret_header", "mask_url", "redact_headers"]

MASK = "***"

# The scheme of a URL as written: a word followed by ":" and slashes ("https://",
# "http:/"), or "http:"/"https//" (typos a message is about). A bare "word:" is not taken
# as a scheme: in "alice:pw@host" it is a user name.
_SCHEME_PREFIX = re.compile(
    r"""\s*["']?(?:[A-Za-z][A-Za-z0-9+.-]*:[/\\]+|https?(?::|[/\\]+))""", re.IGNORECASE)

# Any header name containing one of these is taken to carry a credential: Authorization,
# Proxy-Authorization, X-Api-Key, X-Auth-Token, Cookie, X-Session-Id, X-Client-Secret,
# X-Password, X-Credentials... Hiding a harmless header costs nothing; showing a key does.
_SECRET_NAME = re.compile(r"auth|cookie|key|token|secret|session|passw|credential",
                          re.IGNORECASE)
# "Bearer abc" keeps "Bearer": the scheme tells what was sent without telling the secret.
_AUTH_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +\S")


def mask_url(value: object) -> str:
    """``value`` (a URL or the text of a host setting) with any credentials masked.

    A parsed ``yarl.URL`` loses its user-info entirely (``http://host:11434``). Text that
    may be mistyped is masked without being parsed: everything between the scheme (if
    any) and the *last* ``@`` becomes ``***``, so a password containing ``@``, ``/``,
    ``:`` or ``%`` (encoded or not), or a user name alone, is never shown.

    >>> mask_url("http://alice:p@ss/w:rd@example.com:8080/ollama")
    'http://***@example.com:8080/ollama'
    >>> mask_url("https:alice:pw@example.com")
    'https:***@example.com'
    >>> mask_url(yarl.URL("http://alice:pw@example.com:8080"))
    'http://example.com:8080'
    >>> mask_url("localhost:11434")
    'localhost:11434'
    """
    if isinstance(value, yarl.URL):
        try:
            if value.raw_user is None and value.raw_password is None:
                return str(value)
            return str(value.with_user(None))
        except Exception:  # noqa: BLE001 - a message must never fail: fall back to the text
            pass
    text = str(value)
    at = text.rfind("@")
    if at < 0:
        return text
    scheme = _SCHEME_PREFIX.match(text)
    start = scheme.end() if scheme is not None else 0
    return f"{text[:start]}{MASK}{text[at:]}"


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a credential, judged by its name (see ``_SECRET_NAME``).

    >>> [is_secret_header(n) for n in ("Authorization", "X-API-Key", "Accept", "Set-Cookie")]
    [True, True, False, True]
    """
    return _SECRET_NAME.search(name) is not None


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` safe to print: every credential-bearing value is masked.

    An ``Authorization``-like value keeps its scheme (``Bearer ***``, ``Basic ***``); any
    other secret becomes ``***``.

    >>> redact_headers({"Authorization": "Bearer sk-1", "X-Api-Key": "k", "Accept": "*/*"})
    {'Authorization': 'Bearer ***', 'X-Api-Key': '***', 'Accept': '*/*'}
    """
    out: dict[str, str] = {}
    for name, value in headers.items():
        text = str(name)
        if is_secret_header(text):
            scheme = _AUTH_SCHEME.match(value) if isinstance(value, str) and \
                text.lower().endswith("authorization") else None
            out[name] = f"{scheme.group(1)} {MASK}" if scheme else MASK
        else:
            out[name] = value
    return out

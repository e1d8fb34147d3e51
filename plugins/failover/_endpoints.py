"""Parsing and validation of the failover plugin's ``endpoints`` setting.

Endpoint URLs follow the same rules as the client's own base URL (Ollama's ``OLLAMA_HOST``
parsing): no scheme means ``http`` on port 11434 (bare ``ollama.com`` means
``https://ollama.com:443``), ``http``/``https`` without a port mean 80/443, a sub-path is
kept for reverse proxies, and the bind-all addresses ``0.0.0.0``/``::`` become loopback.
The rules themselves are the core's (``ollama_core.parse_host``); this module adds the
stricter checks a configuration file deserves.

Nothing here ever puts an API key or URL credentials into a message: URLs are shown
through the core's one masking rule (``mask_url``), and API keys are checked with the same
rule as the client's own key (``check_header_value``), so a key with a line break is an
``InvalidConfigError`` when the plugin is configured, never a failure at the first call.

Errors are :class:`~ollama_core.ext.ConfigValueError` naming the entry
(``endpoints[1].api_key``); the plugin's config parser turns them into the one
configuration error format (``plugin 'failover': endpoints[1].api_key: ...``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yarl

from ollama_core import InvalidConfigError, parse_host
from ollama_core.ext import ConfigValueError
from ollama_core._host import check_header_value
from ollama_core._redact import mask_url

__all__ = ["EndpointSpec", "parse_endpoints"]

_ENDPOINT_KEYS = frozenset({"url", "api_key"})


@dataclass(frozen=True, slots=True, repr=False)
class EndpointSpec:
    """One configured endpoint: its normalised URL and optional API key (neither the key
    nor the URL's credentials are ever shown)."""

    url: yarl.URL
    api_key: str | None = field(default=None)

    @property
    def display(self) -> str:
        return mask_url(self.url)

    def __repr__(self) -> str:
        key = ", api_key='***'" if self.api_key else ""
        return f"EndpointSpec({self.display!r}{key})"


def parse_url(value: str, where: str) -> yarl.URL:
    """Normalise one endpoint URL with Ollama's host rules (``ollama_core.parse_host``),
    more strictly than for the client's own URL: a bad port, a query or a fragment is a
    configuration error here, not a warning. ``where`` names the entry in errors."""
    raw = value.strip().strip("\"'").strip()
    if not raw:
        raise ConfigValueError(where, "empty URL")
    # After the user-info only: a password may contain "?" or "#".
    tail = raw.rpartition("@")[2]
    if "?" in tail or "#" in tail:
        raise ConfigValueError(
            where, f"a base URL cannot carry a query or fragment: {mask_url(raw)!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            url = parse_host(raw)
    except InvalidConfigError as exc:
        raise ConfigValueError(where, str(exc)) from None
    except UserWarning:  # parse_host warns about a port it cannot use
        raise ConfigValueError(where, f"invalid port in {mask_url(raw)!r}") from None
    if not url.host:
        raise ConfigValueError(where, f"no host in {mask_url(raw)!r}")
    return url


def _parse_key(value: object, where: str) -> str | None:
    if value is None:
        return None
    # The value itself is never echoed: it is a secret even when malformed.
    key = f"{where}.api_key"
    if not isinstance(value, str) or not value.strip():
        raise ConfigValueError(key, "must be a non-empty string")
    try:
        check_header_value(value, key)
    except InvalidConfigError as exc:
        raise ConfigValueError(key, str(exc).removeprefix(f"{key} ")) from None
    if value != value.strip():
        raise ConfigValueError(key, "has whitespace around it")
    return value


def parse_endpoints(value: object) -> tuple[EndpointSpec, ...]:
    """Validate the ``endpoints`` setting: a non-empty list of URL strings or
    ``{"url": ..., "api_key": ...}`` mappings, without duplicates."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigValueError(
            "endpoints", "must be a list of URLs or {'url', 'api_key'} mappings")
    if not value:
        raise ConfigValueError("endpoints", "must not be empty")
    specs: list[EndpointSpec] = []
    seen: dict[yarl.URL, int] = {}
    for index, item in enumerate(value):
        where = f"endpoints[{index}]"
        if isinstance(item, str):
            spec = EndpointSpec(parse_url(item, where))
        elif isinstance(item, Mapping):
            unknown = sorted(str(k) for k in item if k not in _ENDPOINT_KEYS)
            if unknown:
                raise ConfigValueError(where, f"unknown key {unknown[0]!r} (known: "
                                              f"{', '.join(sorted(_ENDPOINT_KEYS))})")
            url = item.get("url")
            if not isinstance(url, str):
                raise ConfigValueError(f"{where}.url", "is required" if url is None
                                       else "must be a string")
            spec = EndpointSpec(parse_url(url, where), _parse_key(item.get("api_key"), where))
        else:
            raise ConfigValueError(
                where, f"must be a URL string or a mapping with 'url', "
                       f"got {type(item).__name__}")
        key = spec.url.with_user(None)
        if key in seen:
            raise ConfigValueError(
                where, f"{spec.display} duplicates endpoints[{seen[key]}]")
        seen[key] = index
        specs.append(spec)
    return tuple(specs)

"""The declared settings of the rate limiting plugin (the only place their defaults are
written). What each one means is in the policy text, :mod:`ollama_plugins.rate_limiting._plugin`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ollama_core.ext import PluginConfig, PluginConfigError, parse_config, setting

from .._redis import SharedStoreConfig, fail_closed_setting
from .store import LimitSpec

__all__ = ["DEFAULT_RATE", "EndpointLimits", "RateLimitingConfig", "parse_settings",
           "resolve_limits"]

#: Tokens per second when ``rate`` is not set.
DEFAULT_RATE = 10.0

_PLUGIN = "rate_limiting"
_LIMIT_KEYS = ("rate", "burst", "max_wait", "max_concurrent")


def _endpoint_sections(value: dict[str, Any]) -> dict[str, Any]:
    for name in value:
        if not name:
            raise ValueError("endpoint names must not be empty")
    return value


@dataclass(frozen=True, slots=True)
class EndpointLimits(PluginConfig):
    """The limits of one endpoint (a section of ``endpoints``; unset keys come from the
    top level)."""

    rate: float | None = setting(DEFAULT_RATE, above=0, unit="per second",
                                 doc="tokens added per second; null: no token bucket")
    burst: int | None = setting(None, minimum=1, default_text="rate rounded up",
                                doc="the bucket's capacity")
    max_wait: float | None = setting(None, minimum=0, unit="s",
                                     doc="longest wait; 0 rejects at once; null: no limit")
    max_concurrent: int | None = setting(None, minimum=1, doc="calls in flight at once")


@dataclass(frozen=True, slots=True)
class RateLimitingConfig(SharedStoreConfig):
    """Settings of the ``rate_limiting`` plugin (the shared-store keys come from
    :class:`~ollama_plugins._redis.SharedStoreConfig`)."""

    rate: float | None = setting(DEFAULT_RATE, above=0, unit="per second",
                                 doc="tokens added per second; null: no token bucket")
    burst: int | None = setting(None, minimum=1, default_text="rate rounded up",
                                doc="the bucket's capacity")
    max_wait: float | None = setting(None, minimum=0, unit="s",
                                     doc="longest wait; 0 rejects at once; null: no limit")
    max_concurrent: int | None = setting(None, minimum=1, doc="calls in flight at once")
    per_upstream: bool = setting(False, doc="separate limiters per server as well")
    endpoints: dict[str, Any] = setting(default_factory=dict, check=_endpoint_sections,
                                        default_text="no overrides",
                                        doc="per-endpoint overrides of the four limits")
    fail_closed: bool = fail_closed_setting()
    store_processes: int = setting(1, minimum=1,
                                   doc="processes sharing the limits; while the shared "
                                       "store is down each keeps rate / this")


def _spec(limits: EndpointLimits | RateLimitingConfig) -> LimitSpec:
    rate, burst = limits.rate, limits.burst
    if burst is None:
        burst = max(1, math.ceil(rate)) if rate is not None else 1
    return LimitSpec(rate=rate, burst=burst, max_wait=limits.max_wait,
                     max_concurrent=limits.max_concurrent)


def _no_null_burst(section: Mapping[str, Any], prefix: str) -> None:
    # ``burst`` is derived when absent; written out, it must be a number.
    if "burst" in section and section["burst"] is None:
        raise PluginConfigError(_PLUGIN, f"{prefix}burst",
                                "must be an integer, got null")


def parse_settings(raw: Mapping[str, Any] | None) -> RateLimitingConfig:
    """The shared parser, plus the sections of ``endpoints`` (through
    :func:`resolve_limits`).

    :raises PluginConfigError: a bad value or an unknown key, named with its dotted path.
    """
    if isinstance(raw, Mapping):
        _no_null_burst(raw, "")
    settings = parse_config(RateLimitingConfig, raw, plugin=_PLUGIN)
    resolve_limits(settings)
    return settings


def resolve_limits(settings: RateLimitingConfig) -> tuple[LimitSpec, dict[str, LimitSpec]]:
    """The default limits and the limits of each endpoint of ``endpoints`` (each section
    parsed with the shared parser, unset keys inheriting the top level, ``burst`` derived
    from the section's own rate unless set).

    :raises PluginConfigError: a bad section, named with its dotted path.
    """
    inherited = {key: getattr(settings, key) for key in _LIMIT_KEYS}
    overrides: dict[str, LimitSpec] = {}
    for endpoint, section in settings.endpoints.items():
        prefix = f"endpoints.{endpoint}."
        if isinstance(section, Mapping):
            _no_null_burst(section, prefix)
        limits = parse_config(EndpointLimits, section, plugin=_PLUGIN, prefix=prefix,
                              defaults=inherited)
        overrides[endpoint] = _spec(limits)
    return _spec(settings), overrides

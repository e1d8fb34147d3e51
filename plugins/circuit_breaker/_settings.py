"""Validated settings of the circuit breaker plugin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ollama_core import InvalidConfigError

__all__ = ["DEFAULTS", "Settings", "parse_settings"]

DEFAULTS: Final[dict[str, Any]] = {
    "fail_max": 5,
    "reset_timeout": 30.0,
    "half_open_max_calls": 1,
    "success_threshold": 1,
    "reset_timeout_multiplier": 1.0,
    "max_reset_timeout": None,
}


@dataclass(frozen=True, slots=True)
class Settings:
    fail_max: int
    reset_timeout: float
    half_open_max_calls: int
    success_threshold: int
    reset_timeout_multiplier: float
    max_reset_timeout: float


def _integer(cfg: Mapping[str, Any], key: str) -> int:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidConfigError(f"circuit_breaker: {key} must be an integer >= 1, got {value!r}")
    return value


def _positive(cfg: Mapping[str, Any], key: str, *, minimum: float = 0.0,
              strict: bool = True) -> float:
    value = cfg[key]
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or value != value
            or value < minimum or (strict and value == minimum)):
        relation = ">" if strict else ">="
        raise InvalidConfigError(
            f"circuit_breaker: {key} must be a number {relation} {minimum:g}, got {value!r}")
    return float(value)


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """Validate ``config`` (unknown keys are errors) and fill in the defaults."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise InvalidConfigError(
            f"circuit_breaker: unknown configuration key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(DEFAULTS))})")
    cfg = {**DEFAULTS, **config}
    fail_max = _integer(cfg, "fail_max")
    reset_timeout = _positive(cfg, "reset_timeout")
    half_open = _integer(cfg, "half_open_max_calls")
    success_threshold = _integer(cfg, "success_threshold")
    multiplier = _positive(cfg, "reset_timeout_multiplier", minimum=1.0, strict=False)
    if cfg["max_reset_timeout"] is None:
        max_reset = 10.0 * reset_timeout
    else:
        max_reset = _positive(cfg, "max_reset_timeout")
        if max_reset < reset_timeout:
            raise InvalidConfigError(
                f"circuit_breaker: max_reset_timeout ({max_reset:g}) must be >= "
                f"reset_timeout ({reset_timeout:g})")
    return Settings(fail_max, reset_timeout, half_open, success_threshold, multiplier, max_reset)

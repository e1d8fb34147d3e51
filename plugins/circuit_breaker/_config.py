"""The declared settings of the circuit breaker plugin (the only place their defaults are
written). What each one means is in the policy text, :mod:`ollama_plugins.circuit_breaker._plugin`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ollama_core.ext import ConfigValueError, setting

from .._redis import SharedStoreConfig, fail_closed_setting

__all__ = ["CircuitBreakerConfig"]


@dataclass(frozen=True, slots=True)
class CircuitBreakerConfig(SharedStoreConfig):
    """Settings of the ``circuit_breaker`` plugin (the shared-store keys come from
    :class:`~ollama_plugins._redis.SharedStoreConfig`)."""

    fail_max: int = setting(5, minimum=1, doc="consecutive failures that open a breaker")
    reset_timeout: float = setting(30.0, above=0, unit="s", doc="first open period")
    half_open_max_calls: int = setting(1, minimum=1, doc="probes at once in half-open")
    success_threshold: int = setting(1, minimum=1, doc="successful probes that close it")
    reset_timeout_multiplier: float = setting(1.0, minimum=1,
                                              doc="growth of the open period per trip")
    max_reset_timeout: float | None = setting(None, above=0,
                                              default_text="10 x reset_timeout",
                                              doc="longest open period")
    fail_closed: bool = fail_closed_setting()

    def validate(self) -> None:
        if self.max_reset_timeout is not None and self.max_reset_timeout < self.reset_timeout:
            raise ConfigValueError(
                "max_reset_timeout", f"must be at least reset_timeout "
                f"({self.reset_timeout:g}), got {self.max_reset_timeout:g}")

    @property
    def longest_open(self) -> float:
        """``max_reset_timeout``, or ten times ``reset_timeout`` when it is not set."""
        if self.max_reset_timeout is None:
            return 10.0 * self.reset_timeout
        return self.max_reset_timeout

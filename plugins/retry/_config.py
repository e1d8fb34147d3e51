"""The declared settings of the retry plugin (the only place their defaults are written).

The meaning of each key is in the policy text, :mod:`ollama_plugins.retry._plugin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ollama_core.ext import PluginConfig, setting

__all__ = ["DEFAULT_RETRY_STATUSES", "RetryConfig"]

#: The HTTP statuses retried when ``retry_on_status`` is not set.
DEFAULT_RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})


def _error_statuses(statuses: frozenset[int]) -> frozenset[int]:
    for status in sorted(statuses):
        if not 400 <= status <= 599:
            raise ValueError(f"entries must be HTTP error statuses (400-599), got {status!r}")
    return statuses


@dataclass(frozen=True, slots=True)
class RetryConfig(PluginConfig):
    """Settings of the ``retry`` plugin."""

    max_attempts: int = setting(3, minimum=1, doc="attempts per call, the first included")
    base_delay: float = setting(0.5, minimum=0, unit="s", doc="cap of the first backoff")
    multiplier: float = setting(2.0, minimum=1, doc="growth of the cap per retry")
    max_delay: float = setting(30.0, minimum=0, unit="s", doc="largest cap")
    jitter: Literal["full", "equal", "none"] = setting("full", doc="how a delay is drawn")
    max_elapsed: float | None = setting(None, above=0, unit="s",
                                        doc="overall retry deadline of a call")
    retry_on_status: frozenset[int] = setting(DEFAULT_RETRY_STATUSES, check=_error_statuses,
                                              doc="HTTP statuses worth retrying")
    max_retry_after: float = setting(60.0, minimum=0, unit="s",
                                     doc="longest Retry-After obeyed")
    budget_ratio: float | None = setting(0.2, minimum=0,
                                         doc="retries per call in the window; null: no budget")
    budget_min_retries: int = setting(3, minimum=0, doc="retries the budget always allows")
    budget_window: float = setting(10.0, above=0, unit="s", doc="the budget's window")
    seed: int | None = setting(None, doc="seeds the jitter's random source")

"""The declared settings of the otel plugin (the only place their defaults are written).

The meaning of each key is in :mod:`ollama_plugins.otel._plugin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ollama_core.ext import PluginConfig, setting

__all__ = ["OtelConfig"]


def _provider(kind: str, method: str) -> Any:
    def check(value: Any) -> Any:
        if not callable(getattr(value, method, None)):
            raise ValueError(f"must be an OpenTelemetry {kind} provider (with .{method}()), "
                             f"got {type(value).__name__}")
        return value
    return check


@dataclass(frozen=True, slots=True)
class OtelConfig(PluginConfig):
    """Settings of the ``otel`` plugin."""

    propagate: bool = setting(
        False, doc="inject the W3C traceparent header of each attempt into its request")
    capture_content: bool | None = setting(
        None, default_text="from OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        doc="record message content on the call spans (None: as the variable says)")
    tracer_provider: Any = setting(
        None, check=_provider("tracer", "get_tracer"), default_text="the global one",
        doc="the TracerProvider to use (None: the global one)")
    meter_provider: Any = setting(
        None, check=_provider("meter", "get_meter"), default_text="the global one",
        doc="the MeterProvider to use (None: the global one)")

    def to_dict(self) -> dict[str, Any]:
        """The effective settings; a provider object is shown by its class name."""
        out: dict[str, Any] = {"propagate": self.propagate, "capture_content": self.capture_content}
        for key in ("tracer_provider", "meter_provider"):
            value = getattr(self, key)
            out[key] = None if value is None else type(value).__name__
        return out

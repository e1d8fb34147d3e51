"""The error of a policy that fails closed while its shared store is down."""

from __future__ import annotations

from ollama_core.ext import PluginError

__all__ = ["StoreUnavailable"]


class StoreUnavailable(PluginError):
    """The shared store did not answer and the policy fails closed (``fail_closed``): the
    call is refused, nothing was sent. The message names the plugin and the store (its
    URL without credentials). Catch it as ``ollama_plugins._redis.StoreUnavailable`` or
    as any ``PluginError``."""

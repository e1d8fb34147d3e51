"""Failover: spread calls over several Ollama servers and move away from failing ones.

The plugin: :class:`FailoverPlugin`; its settings: :class:`FailoverConfig`. The policy
(which server an attempt goes to, which failures move a call, what happens when every
server failed): the docstring of :mod:`ollama_plugins.failover._plugin`, the one place it
is written down.
"""

from ._endpoints import EndpointSpec
from ._plugin import POLICIES, FailoverConfig, FailoverPlugin
from .policy import FailoverMiddleware

__all__ = ["POLICIES", "EndpointSpec", "FailoverConfig", "FailoverMiddleware", "FailoverPlugin"]

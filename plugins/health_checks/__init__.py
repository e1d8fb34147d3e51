"""Health checks: probe every upstream in the background and publish a verdict per server.

The plugin: :class:`HealthChecksPlugin`; its settings: :class:`HealthChecksConfig`. The
policy (how servers are probed, when a verdict flips, how verdicts feed failover): the
docstring of :mod:`ollama_plugins.health_checks._plugin`, the one place it is written down.
"""

from ._plugin import HealthChecksConfig, HealthChecksPlugin
from .policy import HealthProber, ProbeState

__all__ = ["HealthChecksConfig", "HealthChecksPlugin", "HealthProber", "ProbeState"]

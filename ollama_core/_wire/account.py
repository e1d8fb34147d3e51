"""Server and account state: ``GET /api/status``, ``POST /api/me`` and
``GET /api/experimental/model-recommendations`` (Go ``api/types.go``: ``StatusResponse``,
``CloudStatus``, ``UserResponse``, ``ModelRecommendationsResponse``)."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from ._decl import Wire, declare, wire

__all__ = [
    "CloudStatus",
    "ModelRecommendation",
    "ModelRecommendationsResponse",
    "StatusResponse",
    "UserResponse",
]


@declare()
class CloudStatus(Wire):
    """``cloud`` of ``GET /api/status``: whether cloud models are turned off, and by what."""

    disabled: bool = wire(default=False, doc="Cloud models are turned off on this server.")
    source: str = wire(default="", doc="What turned them off (e.g. the environment).")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class StatusResponse(Wire):
    """``GET /api/status``."""

    cloud: CloudStatus = wire(one=CloudStatus, default_factory=CloudStatus,
                              doc="The server's cloud setting.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class UserResponse(Wire):
    """``POST /api/me``: the ollama.com user the server is signed in as."""

    id: str = wire(default="", doc="The user's id (a UUID).")
    email: str = wire(default="", doc="E-mail address.")
    name: str = wire(default="", doc="User name.")
    bio: str | None = wire(default=None, doc="Profile text, if set.")
    avatarurl: str | None = wire(default=None, doc="Avatar image URL, if set.")
    firstname: str | None = wire(default=None, doc="First name, if set.")
    lastname: str | None = wire(default=None, doc="Last name, if set.")
    plan: str | None = wire(default=None, doc="Subscription plan, if any.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class ModelRecommendation(Wire):
    """One entry of ``GET /api/experimental/model-recommendations``."""

    model: str = wire(default="", doc="Model name to pull or run.")
    description: str = wire(default="", doc="What the model is good at.")
    context_length: int | None = wire(default=None, doc="Context window, in tokens.")
    max_output_tokens: int | None = wire(default=None, doc="Longest answer, in tokens.")
    vram_bytes: int | None = wire(default=None, doc="Memory it needs, in bytes.")
    required_plan: str | None = wire(default=None, doc="The ollama.com plan it needs, if any.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class ModelRecommendationsResponse(Wire):
    """``GET /api/experimental/model-recommendations``."""

    recommendations: list[ModelRecommendation] = wire(
        many=ModelRecommendation, default_factory=list, doc="Recommended models, best first.")
    extra: dict[str, Any] = field(default_factory=dict)

"""The mutable state of one emulated server: models, blobs, loaded models, requests."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ._faults import FaultSet
from ._guard import header_digest
from ._models import DEFAULT_MODELS, DEFAULT_REGISTRY, ModelRecord, build_model_map, normalize_name

__all__ = ["DEFAULT_USER", "EmulatorState", "LoadedModel", "RecordedRequest"]

#: The ollama.com account a fresh emulator is signed in as (``POST /api/me``).
DEFAULT_USER: Final[Mapping[str, Any]] = MappingProxyType({
    "id": "0e8f4f4c-6c1a-4b8e-9d7e-2f1d5a3c9b10",
    "email": "emulator@example.com",
    "name": "emulator",
    "plan": "free",
})

#: Ollama's default keep-alive (OLLAMA_KEEP_ALIVE) and context size below 23 GiB of VRAM.
DEFAULT_KEEP_ALIVE = 300.0
DEFAULT_NUM_CTX = 4096


@dataclass(frozen=True)
class RecordedRequest:
    """One request that reached the emulator (recorded before any fault applied).

    ``json`` is the parsed body, or ``None`` when there was none or it was not JSON.
    ``headers`` hold every header, except that one whose name suggests a secret
    (``Authorization``, ``Cookie``, anything with auth, key, token, secret, session,
    password or credential: the client's own rule) is masked: ``"***"``, or
    ``"Bearer ***"`` for an ``Authorization`` that names its scheme. What was sent in it can still be checked in this process with
    :meth:`has_header`.
    """

    method: str
    path: str
    json: Any
    headers: dict[str, str]
    time: float
    # keyed digests of the masked values, by lowercased name (see _guard.header_digest)
    _secret_digests: Mapping[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def has_header(self, name: str, value: str) -> bool:
        """Whether the request carried header ``name`` (any case) with exactly ``value``;
        works for masked headers too, without the record holding their value."""
        digest = self._secret_digests.get(name.lower())
        if digest is not None:
            return hmac.compare_digest(digest, header_digest(value))
        wanted = name.lower()
        return any(k.lower() == wanted and v == value for k, v in self.headers.items())


@dataclass
class LoadedModel:
    """A model in memory, as ``/api/ps`` lists it; ``expires`` is ``inf`` for forever."""

    record: ModelRecord
    expires: float
    context_length: int


@dataclass
class EmulatorState:
    models: dict[str, ModelRecord]
    registry: dict[str, ModelRecord]
    version: str = "0.33.0"
    chunk_delay: float = 0.0
    faults: FaultSet = field(default_factory=FaultSet)
    blobs: dict[str, int] = field(default_factory=dict)
    loaded: dict[str, LoadedModel] = field(default_factory=dict)
    #: The signed-in ollama.com user (``/api/me``), ``None`` once signed out.
    user: dict[str, Any] | None = field(default_factory=lambda: dict(DEFAULT_USER))
    #: ``OLLAMA_NO_CLOUD``: ``/api/status`` says so and the web routes answer 403.
    cloud_disabled: bool = False
    #: Where the local ``/api/experimental/web_*`` routes proxy to (another emulator acting
    #: as ollama.com); ``None``: they answer themselves, as that proxy would.
    cloud_url: str | None = None
    #: ``/api/experimental/model-recommendations`` entries (built from the registry).
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    _requests: list[RecordedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(
        cls,
        models: Mapping[str, ModelRecord] | Iterable[str | ModelRecord] | None,
        registry: Mapping[str, ModelRecord] | Iterable[str | ModelRecord] | None,
        version: str,
        chunk_delay: float,
    ) -> EmulatorState:
        registry_map = build_model_map(registry, DEFAULT_REGISTRY)
        return cls(
            models=build_model_map(models, DEFAULT_MODELS),
            registry=registry_map,
            version=version,
            chunk_delay=chunk_delay,
            recommendations=[record.recommendation() for record in registry_map.values()],
        )

    # ----------------------------------------------------------------- models

    @staticmethod
    def _lookup(table: Mapping[str, ModelRecord], name: str) -> ModelRecord | None:
        wanted = normalize_name(name).lower()
        for key, record in table.items():
            if key.lower() == wanted:
                return record
        return None

    def find(self, name: str) -> ModelRecord | None:
        """The installed model called ``name`` (tag defaults to latest; any case)."""
        return self._lookup(self.models, name)

    def find_in_registry(self, name: str) -> ModelRecord | None:
        return self._lookup(self.registry, name)

    def install(self, record: ModelRecord) -> None:
        """Add or replace a model (an existing name in another case is replaced)."""
        existing = self.find(record.name)
        if existing is not None:
            del self.models[existing.name]
        self.models[record.name] = record

    def remove(self, record: ModelRecord) -> None:
        self.models.pop(record.name, None)
        self.loaded.pop(record.name, None)

    # ----------------------------------------------------------------- memory

    def touch(
        self, record: ModelRecord, keep_alive: float | None, options: Mapping[str, Any]
    ) -> None:
        """Mark ``record`` as used now; ``keep_alive`` 0 unloads it after the request."""
        if keep_alive == 0:
            self.loaded.pop(record.name, None)
            return
        seconds = DEFAULT_KEEP_ALIVE if keep_alive is None else keep_alive
        expires = math.inf if math.isinf(seconds) else time.time() + seconds
        num_ctx = options.get("num_ctx")
        if isinstance(num_ctx, (int, float)) and not isinstance(num_ctx, bool) and num_ctx > 0:
            context = int(num_ctx)
        elif record.has("embedding"):
            context = min(DEFAULT_NUM_CTX, record.context_length)
        else:
            context = DEFAULT_NUM_CTX
        self.loaded[record.name] = LoadedModel(record, expires, context)

    def unload(self, record: ModelRecord) -> None:
        self.loaded.pop(record.name, None)

    def running(self) -> list[LoadedModel]:
        """Loaded models that have not expired, longest remaining first (as /api/ps)."""
        now = time.time()
        for name in [n for n, m in self.loaded.items() if m.expires <= now]:
            del self.loaded[name]
        return sorted(self.loaded.values(), key=lambda m: m.expires, reverse=True)

    # --------------------------------------------------------------- requests

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def hits(self, path: str | None = None, method: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (path is None or r.path == path)
                and (method is None or r.method == method.upper())
            )

"""The session every command runs with: its arguments, its target, the client, the output."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from .._exceptions import InvalidConfigError, OllamaError
from .._sync import SyncOllamaClient
from .errors import EXIT_USAGE, CLIError

if TYPE_CHECKING:
    from ..emulator import EmulatorThread

__all__ = ["Session", "json_default", "plugin_config"]


def plugin_config(items: Iterable[tuple[list[str], Any]]) -> dict[str, dict[str, Any]]:
    """Nest ``--config`` items: ``a.b.c=1`` -> ``{"a": {"b": {"c": 1}}}``."""
    config: dict[str, Any] = {}
    for path, value in items:
        node = config
        for i, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CLIError(f"--config {'.'.join(path)}: {'.'.join(path[:i + 1])} "
                               "was already given a value", EXIT_USAGE)
            node = child
        node[path[-1]] = value
    return config


@dataclass
class Session:
    """What one command runs with: its arguments, its target and (lazily) a client."""

    args: argparse.Namespace
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    emulator: EmulatorThread | None = None
    _client: SyncOllamaClient | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def host(self) -> str | None:
        """The target URL (``None``: the client applies the ``OLLAMA_HOST`` rules)."""
        if self.emulator is not None:
            return self.emulator.url
        host: str | None = self.args.host
        return host

    def client_kwargs(self) -> dict[str, Any]:
        args = self.args
        kwargs: dict[str, Any] = {"plugins": args.plugins,
                                  "plugin_config": plugin_config(args.config)}
        if args.timeout is not None:
            kwargs["timeout"] = args.timeout
        return kwargs

    @property
    def client(self) -> SyncOllamaClient:
        if self._client is None:
            try:
                self._client = SyncOllamaClient(self.host, **self.client_kwargs())
            except (InvalidConfigError, ValueError, TypeError) as exc:
                # Building a client only reads configuration, so whatever fails here is
                # a configuration error, whichever plugin raised it.
                raise CLIError(f"invalid configuration: {exc}", EXIT_USAGE) from exc
        return self._client

    @property
    def url(self) -> str:
        """The server's URL for messages, without credentials."""
        if self._client is not None:
            return self._client.base_url
        from .._host import resolve_base_url
        from .._redact import mask_url

        try:
            return mask_url(resolve_base_url(self.host))
        except OllamaError:
            return mask_url(self.host)

    def close(self) -> None:
        client, self._client = self._client, None
        try:
            if client is not None:
                client.close()
        finally:
            emulator, self.emulator = self.emulator, None
            if emulator is not None:
                emulator.stop()

    # -- output ----------------------------------------------------------------------

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def emit_json(self, document: Any) -> None:
        """One JSON document on one line (NDJSON when called once per chunk)."""
        self.out.write(json.dumps(document, ensure_ascii=False, default=json_default) + "\n")
        self.out.flush()

    def warn(self, message: str) -> None:
        print(message, file=self.err, flush=True)


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback: the types' ``to_dict()``, dataclasses, sets, else ``str``."""
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if hasattr(value, "__dataclass_fields__"):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)

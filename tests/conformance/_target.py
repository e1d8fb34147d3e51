"""Where the conformance suite runs, and with which models.

Two targets share one suite:

- the emulator (the default, what ``make test`` runs): an in-process emulator thread,
  with models it knows (``qwen3`` for chat with thinking and tools, ``all-minilm`` for
  embeddings, ``llava`` for vision);
- a real server, named by ``--ollama-host URL`` (``make test-live`` passes
  ``$(OLLAMA_HOST)``): small default models, pulled when missing. Environment variables
  choose other models for this target only, so an exported setting never breaks
  ``make test``.

A live target that does not answer ends the run at once with one line naming the URL
(:func:`unreachable_message`), before any test is collected.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yarl

__all__ = [
    "EMULATOR_MODELS",
    "LIVE_MODELS",
    "PROBE_TIMEOUT",
    "Models",
    "Target",
    "add_options",
    "alternate_url",
    "ensure_models",
    "live_url",
    "models_for",
    "normalize_name",
    "probe",
    "unreachable_message",
]

#: Seconds the single availability probe of a live target may take.
PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Models:
    """The models the suite uses. ``vision`` ``None``: the chat model (checks needing
    vision are then skipped unless it has that capability)."""

    chat: str
    embed: str
    vision: str | None = None

    def all(self) -> list[str]:
        names = [self.chat, self.embed]
        if self.vision and self.vision not in names:
            names.append(self.vision)
        return names


#: Small models with the capabilities the suite exercises: qwen3:0.6b thinks and calls
#: tools; all-minilm is a 46 MB embedding model. No vision model by default (the small
#: ones are still gigabytes), so the image check is skipped unless one is chosen.
LIVE_MODELS = Models(chat="qwen3:0.6b", embed="all-minilm", vision=None)
#: The emulator's stand-ins (see ollama_core/emulator/_models.py).
EMULATOR_MODELS = Models(chat="qwen3", embed="all-minilm", vision="llava")

_OPTIONS = {
    "chat": ("--conformance-chat-model", "OLLAMA_CONFORMANCE_CHAT_MODEL",
             "chat model with completion, thinking and tools"),
    "embed": ("--conformance-embed-model", "OLLAMA_CONFORMANCE_EMBED_MODEL",
              "embedding model"),
    "vision": ("--conformance-vision-model", "OLLAMA_CONFORMANCE_VISION_MODEL",
               "model for the image checks (default: the chat model)"),
}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "Ollama conformance suite (tests/conformance)")
    group.addoption(
        "--ollama-host", metavar="URL", default=None,
        help="run the conformance suite against this Ollama server instead of the emulator "
             "(OLLAMA_HOST syntax; `make test-live` passes $OLLAMA_HOST)")
    for key, (flag, env, what) in _OPTIONS.items():
        live_default = getattr(LIVE_MODELS, key) or "the chat model"
        group.addoption(
            flag, metavar="MODEL", default=None,
            help=f"{what}; live default ${env} or {live_default}, "
                 f"emulator default {getattr(EMULATOR_MODELS, key)}")


def live_url(config: pytest.Config) -> str | None:
    """The live target's base URL, or ``None`` for the emulator."""
    value = config.getoption("--ollama-host", default=None)
    if value is None:
        return None
    from ollama_core import parse_host

    return str(parse_host(str(value))).rstrip("/")


def models_for(config: pytest.Config, live: bool) -> Models:
    """Command-line options first; then, for a live target only, the environment."""
    base = LIVE_MODELS if live else EMULATOR_MODELS
    chosen: dict[str, str | None] = {}
    for key, (flag, env, _) in _OPTIONS.items():
        value = config.getoption(flag, default=None)
        if not value and live:
            value = os.environ.get(env) or None
        chosen[key] = value or getattr(base, key)
    chat, embed = chosen["chat"], chosen["embed"]
    assert chat is not None and embed is not None
    return Models(chat=chat, embed=embed, vision=chosen["vision"])


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """One ``GET /`` with a short timeout; never raises."""
    from ollama_core import OllamaClient

    async def run() -> bool:
        async with OllamaClient(url, plugins=[]) as client:
            return await client.is_available(timeout=timeout)

    return asyncio.run(run())


def unreachable_message(url: str, timeout: float = PROBE_TIMEOUT) -> str:
    return (f"conformance: no Ollama server answered at {url} (GET / within {timeout:g}s); "
            f"start one with `ollama serve`, or point --ollama-host / OLLAMA_HOST "
            f"at a running server")


def ensure_models(url: str, models: Models, write: Callable[[str], None]) -> None:
    """Pull the models the server lacks, reporting each status change through ``write``.

    Raises ``RuntimeError`` naming the model when a pull fails."""
    from ollama_core import OllamaClient, OllamaError, Timeouts

    async def run() -> None:
        # A pull of a large model may be quiet for a while between progress lines.
        timeouts = Timeouts(connect=10, first_byte=600, idle=600)
        async with OllamaClient(url, timeout=timeouts, plugins=[]) as client:
            present = {normalize_name(m.name) for m in (await client.list_models()).models}
            for name in models.all():
                if normalize_name(name) in present:
                    continue
                write(f"conformance: pulling {name} (not on {url})")
                last = ""
                try:
                    async with client.pull_model_stream(name) as stream:
                        async for step in stream:
                            if step.status != last:
                                last = step.status
                                write(f"conformance: {name}: {step.status}")
                except OllamaError as exc:
                    raise RuntimeError(f"conformance: cannot pull {name} from {url}: {exc}"
                                       ) from exc

    asyncio.run(run())


@dataclass(frozen=True)
class Target:
    """The server under test."""

    kind: str  # "emulator" or "live"
    url: str
    models: Models

    @property
    def live(self) -> bool:
        return self.kind == "live"

    @property
    def vision_model(self) -> str:
        return self.models.vision or self.models.chat

    @property
    def host(self) -> str:
        return yarl.URL(self.url).host or ""

    @property
    def port(self) -> int:
        port = yarl.URL(self.url).port
        assert port is not None
        return port

    @property
    def local(self) -> bool:
        """Whether the server is on this machine's loopback, where this process's
        sockets to it can be counted (tests.hostile.open_sockets)."""
        return _is_loopback(self.host)


def normalize_name(name: str) -> str:
    """A model name as ``/api/tags`` lists it: the tag defaults to ``latest`` and the
    default registry prefix is dropped.

    >>> normalize_name("all-minilm"), normalize_name("registry.ollama.ai/library/qwen3:0.6b")
    ('all-minilm:latest', 'qwen3:0.6b')
    """
    name = name.strip()
    prefix = "registry.ollama.ai/library/"
    if name.lower().startswith(prefix):
        name = name[len(prefix):]
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def alternate_url(url: str) -> str | None:
    """A second URL for the same server (another name for its host), or ``None``.

    ``127.0.0.1`` and ``localhost`` stand for each other; a host name is replaced by an
    address it resolves to (``None`` when it resolves to nothing else)."""
    parsed = yarl.URL(url)
    host = parsed.host or ""
    if host == "localhost":
        other = "127.0.0.1"
    elif host == "127.0.0.1":
        other = "localhost"
    else:
        try:
            ipaddress.ip_address(host.strip("[]"))
            return None  # an address has no second spelling worth trusting
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(host, parsed.port, type=socket.SOCK_STREAM)
        except OSError:
            return None
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            return None
        other = addresses[0]
    return str(parsed.with_host(other))

"""What the chaos run calls, how it checks the answers, and what it measures around them.

Every call carries a marker the server records: ``keep_alive`` = ``MARK_BASE + index`` for
chat, generate and embed (the key of the request cache leaves ``keep_alive`` out, so
identical embeds still share one entry), a model name ``chaos-c<index>`` or
``chaos-n<index>`` for copy, push, delete and create. Expected answers come from a
fault-free emulator, read with ``urllib`` (not with the client under test).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ollama_core as oc
from _server import spawn_listening
from ollama_core import hookimpl

__all__ = [
    "API_STREAM",
    "CACHED",
    "CHAT_MODEL",
    "EMBED_MODEL",
    "MARK_BASE",
    "MIX",
    "NON_IDEMPOTENT",
    "NUM_PREDICT",
    "PATHS",
    "PROMPTS",
    "CallResult",
    "CallSpec",
    "EventLog",
    "References",
    "ServerProcess",
    "WireLog",
    "chat_body",
    "check_answer",
    "check_prefix",
    "detach",
    "embed_body",
    "generate_body",
    "make_specs",
    "marker_of",
    "open_sockets",
    "rss_kib",
    "run_call",
    "run_call_sync",
    "thread_names",
]

CHAT_MODEL = "llama3.2"
EMBED_MODEL = "nomic-embed-text"
MARK_BASE = 100_000

# Prompts the emulator echoes; some non-ASCII, so split writes cut inside characters.
PROMPTS = (
    "hello",
    "why is the sky blue",
    "one two three four five six",
    "ünïcödé wörds ☃ here",
    "日本語 の テキスト",
    "a longer prompt with several words to make a few more chunks in the stream",
    "emoji 🦙 and accents é è à",
    "tabs\tand  double  spaces",
)
EMBED_TEXTS = tuple(f"embed text {i} ☃" for i in range(24))
CACHED_TEXTS = tuple(f"cached text {i}" for i in range(8))
#: Stream lengths the cancelled-streams scenario asks for (``options.num_predict``).
NUM_PREDICT = (5, 20, 60, 120)

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
_MODEL_MARK = re.compile(r"chaos-[a-z](\d+)")

# Which calls go where, and how.
PATHS = {
    "chat": "/api/chat", "chat_stream": "/api/chat", "generate": "/api/generate",
    "generate_stream": "/api/generate", "embed": "/api/embed", "embed_cached": "/api/embed",
    "copy": "/api/copy", "push": "/api/push", "delete": "/api/delete", "create": "/api/create",
}
API_STREAM = frozenset({"chat_stream", "generate_stream"})
NON_IDEMPOTENT = frozenset({"copy", "push", "delete", "create"})
#: Calls the request cache may answer without reaching the server.
CACHED = frozenset({"embed_cached"})


# -- processes ------------------------------------------------------------------------------


class ServerProcess:
    """An emulator in its own process (``argv`` prints ``listening on URL`` first)."""

    def __init__(self, argv: Sequence[str], startup_timeout: float = 20.0) -> None:
        self.argv = list(argv)
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0

    @classmethod
    def emulator(cls) -> ServerProcess:
        return cls([sys.executable, "-m", "ollama_core.emulator", "--port", "0"])

    @classmethod
    def planned(cls, plan_file: Path) -> ServerProcess:
        script = Path(__file__).resolve().parent / "_chaos_server.py"
        return cls([sys.executable, str(script), "--plan", str(plan_file)])

    def start(self) -> ServerProcess:
        self.proc, self.url, self.port = spawn_listening(self.argv, self.startup_timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the server vanishes, as a crashed Ollama does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        """SIGSTOP: the server stops answering; its kernel still accepts connections."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        self.proc = None

    def _control(self, method: str, path: str) -> Any:
        req = urllib.request.Request(self.url + path, method=method,
                                     headers={"Content-Type": "application/json"})
        with _OPENER.open(req, timeout=60) as resp:
            return json.loads(resp.read())

    def recorded(self) -> list[dict[str, Any]]:
        """Every request the server recorded, oldest first."""
        data = self._control("GET", "/_emulator/requests")
        return list(data["requests"] if isinstance(data, dict) else data)

    def clear_recorded(self) -> None:
        self._control("DELETE", "/_emulator/requests")

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """A plain JSON POST with urllib: the reference answers, not the client under test."""
        req = urllib.request.Request(self.url + path, method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with _OPENER.open(req, timeout=30) as resp:
            raw = resp.read()
        if body.get("stream", True) is False or path == "/api/embed":
            return json.loads(raw)
        return [json.loads(line) for line in raw.splitlines() if line.strip()]

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- measurements -----------------------------------------------------------------------------


def rss_kib() -> int:
    """This process's resident set (VmRSS), KiB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def open_sockets(ports: Iterable[int]) -> int:
    """Established TCP connections of this process to any of ``ports`` (from /proc).

    The same reading as ``tests/hostile.open_sockets``: this process's socket inodes
    (``/proc/self/fd``) whose remote end is one of the ports in ``/proc/net/tcp{,6}``."""
    wanted = set(ports)
    inodes = set()
    fd_dir = f"/proc/{os.getpid()}/fd"
    for fd in os.listdir(fd_dir):
        with contextlib.suppress(OSError):
            target = os.readlink(os.path.join(fd_dir, fd))
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                if remote_port in wanted and cols[3] == "01" and cols[9] in inodes:
                    count += 1
    return count


def thread_names() -> list[str]:
    return sorted(t.name for t in threading.enumerate())


# -- plugins that watch the run -----------------------------------------------------------------


class EventLog:
    """Counts the events the plugins emit (retries, breaker transitions, failovers...)."""

    name = "chaos_event_log"

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.breaker_opens = 0

    @hookimpl
    def ollama_event(self, event: oc.Event) -> None:
        self.counts[event.name] = self.counts.get(event.name, 0) + 1
        if event.name == "circuit_state" and str(event.data.get("new", "")).lower() == "open":
            self.breaker_opens += 1


@dataclass(slots=True)
class WireEntry:
    upstream: str
    path: str
    marker: int | None
    error: str | None
    started: float
    ended: float = 0.0


class WireLog:
    """A middleware just above the transport: every attempt the client really sends, the
    server it went to, and how it ended (for a server whose own record dies with it)."""

    name = "chaos_wire_log"
    order = 900

    def __init__(self, default_url: str) -> None:
        self.default_url = default_url
        self.entries: list[WireEntry] = []

    @hookimpl
    def ollama_middlewares(self, client: Any) -> list[Any]:
        return [self]

    async def __call__(self, request: oc.Request, call_next: oc.Handler) -> oc.Response:
        upstream = request.upstream.url if request.upstream is not None else self.default_url
        entry = WireEntry(str(upstream).rstrip("/"), request.path,
                          marker_of(request.path, request.json), None, time.monotonic())
        self.entries.append(entry)
        try:
            return await call_next(request)
        except BaseException as exc:
            entry.error = type(exc).__name__
            raise
        finally:
            entry.ended = time.monotonic()


# -- the calls ---------------------------------------------------------------------------------


@dataclass(slots=True)  # thousands of these are alive at once: keep them small
class CallSpec:
    """One call of the workload: ``op`` (a key of ``PATHS``), ``index`` (its marker)."""

    op: str
    index: int
    prompt: int = 0
    num_predict: int | None = None


@dataclass(slots=True)
class CallResult:
    spec: CallSpec
    error: BaseException | None = None
    answer: Any = None
    chunks: list[str] = field(default_factory=list)
    done: bool = False
    started: float = 0.0
    ended: float = 0.0
    hung: bool = False
    wrong: str | None = None  # set when the answer was checked and dropped early
    checked: bool = False
    cancelled_at: int | None = None  # for cancelled streams: chunks read before cancelling

    @property
    def path(self) -> str:
        return PATHS[self.spec.op]


def marker_of(path: str, body: Any) -> int | None:
    """The call index a request carries (see the module docstring)."""
    if not isinstance(body, dict):
        return None
    if path in ("/api/chat", "/api/generate", "/api/embed"):
        value = body.get("keep_alive")
        if isinstance(value, str) and value.endswith("s") and value[:-1].isdigit():
            value = int(value[:-1])
        if isinstance(value, int) and not isinstance(value, bool) and value >= MARK_BASE:
            return value - MARK_BASE
        return None
    name = body.get("destination") if path == "/api/copy" else (
        body.get("model") or body.get("name"))
    match = _MODEL_MARK.fullmatch(str(name or "").split(":")[0])
    return int(match.group(1)) if match else None


def _messages(spec: CallSpec) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPTS[spec.prompt]}]


def _options(spec: CallSpec) -> dict[str, Any]:
    return {"num_predict": spec.num_predict} if spec.num_predict else {}


def chat_body(spec: CallSpec) -> dict[str, Any]:
    return {"model": CHAT_MODEL, "messages": _messages(spec), "options": _options(spec),
            "keep_alive": MARK_BASE + spec.index}


def generate_body(spec: CallSpec) -> dict[str, Any]:
    return {"model": CHAT_MODEL, "prompt": PROMPTS[spec.prompt], "options": _options(spec),
            "keep_alive": MARK_BASE + spec.index}


def embed_body(spec: CallSpec) -> dict[str, Any]:
    texts = CACHED_TEXTS if spec.op == "embed_cached" else EMBED_TEXTS
    return {"model": EMBED_MODEL, "input": [texts[spec.prompt % len(texts)]],
            "keep_alive": MARK_BASE + spec.index}


def copy_name(spec: CallSpec) -> str:
    return f"chaos-c{spec.index}"


#: Relative weight of each operation in the mixed workload; a "copy" slot runs copy, then
#: (one time in three) push, then delete of the copy, each its own call.
MIX = {"chat": 28, "chat_stream": 22, "generate": 10, "generate_stream": 6, "embed": 10,
       "embed_cached": 10, "copy": 8, "create": 3}


def make_specs(count: int, rng: random.Random, start: int = 0,
               mix: Mapping[str, int] = MIX, chain: bool = True) -> list[list[CallSpec]]:
    """About ``count`` calls as slots of one or more calls run in order by one worker.

    ``chain=False`` leaves a copy on its own (no push or delete of the copy): with several
    servers, the copy may live on one that is gone."""
    ops, weights = zip(*mix.items())
    slots: list[list[CallSpec]] = []
    index = start
    made = 0
    while made < count:
        op = rng.choices(ops, weights)[0]
        if op == "copy":
            slot = [CallSpec("copy", index)]
            if chain:
                if rng.random() < 1 / 3:
                    slot.append(CallSpec("push", index))
                slot.append(CallSpec("delete", index))
        else:
            slot = [CallSpec(op, index, prompt=rng.randrange(len(PROMPTS)))]
        slots.append(slot)
        made += len(slot)
        index += 1
    return slots


async def run_call(client: oc.OllamaClient, spec: CallSpec, *, guard: float = 60.0,
                   ) -> CallResult:
    """Run one call; ``guard`` seconds bound it (a call still running then is *hung*)."""
    result = CallResult(spec, started=time.monotonic())
    try:
        await asyncio.wait_for(_perform(client, spec, result), guard)
    except asyncio.TimeoutError as exc:
        # The client's own timeouts are also built-in TimeoutErrors: tell them apart.
        if isinstance(exc, oc.OllamaError):
            result.error = detach(exc)
        else:
            result.hung = True
            result.error = detach(exc)
    except Exception as exc:
        result.error = detach(exc)
    result.ended = time.monotonic()
    return result


def detach(exc: BaseException) -> BaseException:
    """``exc`` without its tracebacks (its own and those of its causes): a traceback keeps
    every frame of the failed call alive, client included, which would make the run's own
    results the largest thing in its RSS figure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__
    return exc


async def _perform(client: oc.OllamaClient, spec: CallSpec, result: CallResult) -> None:
    op = spec.op
    if op == "chat":
        result.answer = (await client.chat(chat_body(spec))).message.content
    elif op == "generate":
        result.answer = (await client.generate(generate_body(spec))).response
    elif op in API_STREAM:
        stream = (client.chat_stream(chat_body(spec)) if op == "chat_stream"
                  else client.generate_stream(generate_body(spec)))
        async with stream:
            async for chunk in stream:
                result.chunks.append(_chunk_text(chunk))
                result.done = bool(chunk.done)
        result.answer = "".join(result.chunks)
    elif op in ("embed", "embed_cached"):
        extensions = None if op == "embed_cached" else {"cache": False}
        result.answer = (await client.embed(embed_body(spec), extensions=extensions)).embeddings
    elif op == "copy":
        await client.copy_model(CHAT_MODEL, copy_name(spec))
        result.answer = True
    elif op == "push":
        result.answer = (await client.push_model(copy_name(spec))).status
    elif op == "delete":
        await client.delete_model(copy_name(spec))
        result.answer = True
    elif op == "create":
        result.answer = (await client.create_model(
            {"model": f"chaos-n{spec.index}", "from": CHAT_MODEL})).status
    else:
        raise ValueError(f"unknown op {op!r}")


def _chunk_text(chunk: Any) -> str:
    message = getattr(chunk, "message", None)
    if message is not None:
        return str(message.content or "")
    return str(getattr(chunk, "response", "") or "")


def run_call_sync(client: oc.SyncOllamaClient, spec: CallSpec) -> CallResult:
    """The same call through the blocking client."""
    result = CallResult(spec, started=time.monotonic())
    op = spec.op
    try:
        if op == "chat":
            result.answer = client.chat(chat_body(spec)).message.content
        elif op == "generate":
            result.answer = client.generate(generate_body(spec)).response
        elif op in API_STREAM:
            stream = (client.chat_stream(chat_body(spec)) if op == "chat_stream"
                      else client.generate_stream(generate_body(spec)))
            with stream:
                for chunk in stream:
                    result.chunks.append(_chunk_text(chunk))
                    result.done = bool(chunk.done)
            result.answer = "".join(result.chunks)
        elif op in ("embed", "embed_cached"):
            extensions = None if op == "embed_cached" else {"cache": False}
            result.answer = client.embed(embed_body(spec), extensions=extensions).embeddings
        elif op == "copy":
            client.copy_model(CHAT_MODEL, copy_name(spec))
            result.answer = True
        elif op == "push":
            result.answer = client.push_model(copy_name(spec)).status
        elif op == "delete":
            client.delete_model(copy_name(spec))
            result.answer = True
        elif op == "create":
            result.answer = client.create_model(
                {"model": f"chaos-n{spec.index}", "from": CHAT_MODEL}).status
        else:
            raise ValueError(f"unknown op {op!r}")
    except Exception as exc:
        result.error = detach(exc)
    result.ended = time.monotonic()
    return result


# -- expected answers ---------------------------------------------------------------------------


class References:
    """Fault-free answers, asked of a plain emulator with urllib, cached by request."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _get(self, path: str, body: dict[str, Any]) -> Any:
        body = {k: v for k, v in body.items() if k != "keep_alive"}
        key = path + json.dumps(body, sort_keys=True)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self.server.post(path, body)
            return self._cache[key]

    def prefetch(self) -> None:
        """Ask for every answer the workloads can need, before any timing starts."""
        for prompt in range(len(PROMPTS)):
            for num_predict in (None, *NUM_PREDICT):
                for op in ("chat", "generate"):
                    spec = CallSpec(op, 0, prompt=prompt, num_predict=num_predict)
                    self.text(spec)
                    self.chunks(spec)
        for op, texts in (("embed", EMBED_TEXTS), ("embed_cached", CACHED_TEXTS)):
            for i in range(len(texts)):
                self.vectors(CallSpec(op, 0, prompt=i))

    def text(self, spec: CallSpec) -> str:
        """The whole answer text of a chat or generate call."""
        if spec.op.startswith("chat"):
            body = dict(chat_body(spec), stream=False)
            return str(self._get("/api/chat", body)["message"]["content"])
        body = dict(generate_body(spec), stream=False)
        return str(self._get("/api/generate", body)["response"])

    def chunks(self, spec: CallSpec) -> list[str]:
        """The content of each streamed chunk of a chat or generate call."""
        if spec.op.startswith("chat"):
            lines = self._get("/api/chat", dict(chat_body(spec), stream=True))
            return [str(line.get("message", {}).get("content", "")) for line in lines]
        lines = self._get("/api/generate", dict(generate_body(spec), stream=True))
        return [str(line.get("response", "")) for line in lines]

    def vectors(self, spec: CallSpec) -> list[list[float]]:
        return list(self._get("/api/embed", embed_body(spec))["embeddings"])


def check_answer(result: CallResult, refs: References) -> str | None:
    """Why the answer of a successful call is wrong, or ``None`` when it is right."""
    if result.checked:
        return result.wrong
    op = result.spec.op
    if op in ("chat", "generate"):
        want = refs.text(result.spec)
        return None if result.answer == want else f"text {result.answer!r} != {want!r}"
    if op in API_STREAM:
        want_chunks = refs.chunks(result.spec)
        if not result.done:
            return "stream ended without done"
        if "".join(result.chunks) != "".join(want_chunks):
            return f"stream text {''.join(result.chunks)!r} != {''.join(want_chunks)!r}"
        return None
    if op in ("embed", "embed_cached"):
        return None if result.answer == refs.vectors(result.spec) else "embedding differs"
    if op in ("push", "create"):
        return None if result.answer == "success" else f"status {result.answer!r}"
    if op in ("copy", "delete"):
        return None if result.answer is True else "no answer"
    return f"unknown op {op!r}"


def check_prefix(result: CallResult, refs: References) -> str | None:
    """For a stream cut short on purpose: the chunks read are the start of the answer."""
    want = refs.chunks(result.spec)
    got = result.chunks
    if got != want[: len(got)]:
        return f"chunks {got[:5]!r}... are not a prefix of the answer"
    return None

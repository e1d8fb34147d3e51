"""The Ollama endpoints.

Each handler follows the order of checks in Ollama's ``server/routes.go``, because the
order decides which error a client sees when a request is wrong in several ways. Texts
and statuses are the server's. Where this emulator deliberately differs, the handler's
docstring says so.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from aiohttp import web

from ._bind import BindError, bind, keep_alive_seconds
from ._content import (
    Turn,
    build_turn,
    context_ids,
    embedding,
    format_content,
    logprob_entries,
    metrics,
    thinking_text,
    tokenize,
    tool_calls_for,
)
from ._models import MODELS_DIR, ModelRecord, full_name, is_valid_name, normalize_name, sha256_hex
from ._state import EmulatorState
from ._wire import (
    go_dumps,
    go_quote,
    go_str,
    now_local_rfc3339,
    parse_rfc3339,
    rfc3339_local,
    rfc3339_utc,
)
from ._writer import Responder

__all__ = ["OllamaRoutes", "RESPONDER_KEY", "BODY_KEY", "request_context"]

RESPONDER_KEY: Final = web.RequestKey("ollama_emulator.responder", Responder)
BODY_KEY: Final = web.RequestKey("ollama_emulator.body", bytes)

_DIGEST: Final = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")
_VISION_ERROR: Final = (
    "Failed to create new sequence: failed to process inputs: "
    "this model is missing data required for image input"
)
_PULL_MISSING: Final = "pull model manifest: file does not exist"
_QUANT_TYPES: Final = {
    "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
    "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "F16", "F32",
}
#: `option "x" must be of type ...` checks, as api.Options.FromMap does them.
_OPTION_KINDS: Final = {
    **dict.fromkeys(
        ["num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch",
         "num_gpu", "main_gpu", "num_thread", "draft_num_predict"],
        "integer",
    ),
    **dict.fromkeys(
        ["top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
         "frequency_penalty"],
        "float32",
    ),
    "use_mmap": "boolean",
    "stop": "array",
}
# Go's time.Duration maximum: what "keep loaded forever" expires at.
_FOREVER_NS: Final = 2**63 - 1

Progress = Iterator[dict[str, Any]]


def request_context(request: web.Request) -> tuple[Responder, bytes]:
    """The request's responder (its fault rule applied) and its raw body."""
    return request[RESPONDER_KEY], request[BODY_KEY]


_context = request_context


def _truthy_think(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value != "")


def _options_error(options: Any) -> str | None:
    if not isinstance(options, Mapping):
        return None
    for key, value in options.items():
        kind = _OPTION_KINDS.get(key)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind in ("integer", "float32") and not number:
            return f"option {go_quote(key)} must be of type {kind}"
        if kind == "boolean" and not isinstance(value, bool):
            return f"option {go_quote(key)} must be of type boolean"
        if kind == "array":
            if not isinstance(value, list):
                return f"option {go_quote(key)} must be of type array"
            if not all(isinstance(item, str) for item in value):
                return f"option {go_quote(key)} must be of an array of strings"
    return None


def _format_error(fmt: Any) -> str | None:
    if fmt is None or fmt == "" or fmt == "json" or isinstance(fmt, Mapping):
        return None
    return (
        f"invalid format: {go_quote(go_dumps(fmt))}; "
        'expected "json" or a valid JSON Schema object'
    )


def _line(item: Mapping[str, Any]) -> bytes:
    return go_dumps(item).encode() + b"\n"


class _Shape:
    """How chunks of one chat or generate answer are written.

    Plain content chunks, the bulk of every stream, are assembled from pre-built
    string pieces rather than dicts: a 50,000-chunk stream must cost the emulator
    well under a second.
    """

    def __init__(self, chat: bool, model: str, logprobs: bool, top: int) -> None:
        self.chat = chat
        self.model = model
        self.logprobs = logprobs
        self.top = top
        self._head = '{"model":' + go_str(model) + ',"created_at":"'
        self._mid = '","message":{"role":"assistant","content":' if chat else '","response":'
        self._tail = '},"done":false}\n' if chat else ',"done":false}\n'

    def _text(self, content: str, thinking: str) -> dict[str, Any]:
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            return {"message": message}
        out: dict[str, Any] = {"response": content}
        if thinking:
            out["thinking"] = thinking
        return out

    def chunk(self, content: str = "", thinking: str = "",
              tool_calls: list[dict[str, Any]] | None = None) -> bytes:
        if not (thinking or tool_calls or self.logprobs):
            return (self._head + rfc3339_utc() + self._mid + go_str(content) + self._tail).encode()
        item: dict[str, Any] = {"model": self.model, "created_at": rfc3339_utc()}
        item.update(self._text(content, thinking))
        if tool_calls:
            if self.chat:
                item["message"]["tool_calls"] = tool_calls
            else:
                item["tool_calls"] = tool_calls
        item["done"] = False
        if self.logprobs and (content or thinking):
            item["logprobs"] = logprob_entries(content or thinking, self.top)
        return _line(item)

    def final(self, turn: Turn, *, content: str = "", thinking: str = "",
              tool_calls: list[dict[str, Any]] | None = None,
              context: list[int] | None = None,
              logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The last chunk; with joined ``content`` etc. it is the ``stream:false`` body."""
        item: dict[str, Any] = {"model": self.model, "created_at": rfc3339_utc()}
        item.update(self._text(content, thinking))
        if tool_calls and self.chat:
            item["message"]["tool_calls"] = tool_calls
        item["done"] = True
        item["done_reason"] = turn.done_reason
        if context is not None:
            item["context"] = context
        item.update(metrics(turn))
        if tool_calls and not self.chat:
            item["tool_calls"] = tool_calls
        if logprobs:
            item["logprobs"] = logprobs
        return item


class OllamaRoutes:
    """The ``/`` and ``/api`` endpoints of one emulated server."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def route_table(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.root, allow_head=False),
            web.head("/", self.root),
            web.get("/api/version", self.version, allow_head=False),
            web.head("/api/version", self.version),
            web.get("/api/tags", self.tags, allow_head=False),
            web.head("/api/tags", self.tags),
            web.get("/api/ps", self.ps, allow_head=False),
            web.post("/api/show", self.show),
            web.post("/api/generate", self.generate),
            web.post("/api/chat", self.chat),
            web.post("/api/embed", self.embed),
            web.post("/api/embeddings", self.embeddings),
            web.post("/api/pull", self.pull),
            web.post("/api/push", self.push),
            web.post("/api/create", self.create),
            web.post("/api/copy", self.copy),
            web.delete("/api/delete", self.delete),
            web.head("/api/blobs/{digest}", self.blob_head),
            web.post("/api/blobs/{digest}", self.blob_upload),
        ]

    # ------------------------------------------------------------------ simple

    async def root(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="Ollama is running", content_type="text/plain")

    async def version(self, request: web.Request) -> web.StreamResponse:
        responder, _ = _context(request)
        return await responder.json({"version": self.state.version})

    async def tags(self, request: web.Request) -> web.StreamResponse:
        responder, _ = _context(request)
        records = sorted(
            self.state.models.values(), key=lambda r: parse_rfc3339(r.modified_at), reverse=True
        )
        return await responder.json({"models": [r.listing() for r in records]})

    async def ps(self, request: web.Request) -> web.StreamResponse:
        responder, _ = _context(request)
        entries = []
        for loaded in self.state.running():
            record = loaded.record
            if math.isinf(loaded.expires):
                expires = rfc3339_local(time.time_ns() + _FOREVER_NS)
            else:
                expires = rfc3339_local(int(loaded.expires * 1e9))
            entries.append(
                {
                    "name": record.name,
                    "model": record.name,
                    "size": record.size,
                    "digest": record.digest,
                    "details": record.details(),
                    "expires_at": expires,
                    "size_vram": record.size,
                    "context_length": loaded.context_length,
                }
            )
        return await responder.json({"models": entries})

    async def show(self, request: web.Request) -> web.StreamResponse:
        responder, raw = _context(request)
        try:
            body = bind(raw, "show")
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        name = body.get("model") or body.get("name") or ""
        if not name:
            return await responder.error(400, "model is required")
        if not is_valid_name(name):
            return await responder.error(400, "invalid model name")
        record = self.state.find(name)
        if record is None:
            # the server names the model as model.Name.DisplayShortest() does: x:latest
            return await responder.error(404, f"model '{normalize_name(name)}' not found")
        system = body.get("system") or ""
        options = body.get("options") or {}
        if system or options:
            # GetModelInfo: the request's system replaces the model's (in ``system`` and
            # the Modelfile); its options join the Modelfile's PARAMETER lines only, since
            # ``parameters`` is written before they are merged.
            shown = record.clone(system=system or record.system).show(bool(body.get("verbose")))
            shown["modelfile"] = record.clone(
                system=system or record.system, parameters={**record.parameters, **options}
            ).modelfile()
        else:
            shown = record.show(bool(body.get("verbose")))
        return await responder.json(shown)

    # -------------------------------------------------------------- inference

    def _schedule(
        self, record: ModelRecord, body: Mapping[str, Any], keep_alive: float | None
    ) -> str | None:
        """Load the model (``/api/ps``) unless its options are invalid (a 500 in Ollama,
        where the check happens while scheduling the runner)."""
        error = _options_error(body.get("options"))
        if error is None:
            options = body.get("options")
            self.state.touch(record, keep_alive, options if isinstance(options, Mapping) else {})
        return error

    async def generate(self, request: web.Request) -> web.StreamResponse:
        """``/api/generate``.

        Fill-in-the-middle (``suffix``) needs the ``insert`` capability, as in Ollama;
        of the catalogue models only ``qwen2.5-coder`` (pullable) has it.
        """
        responder, raw = _context(request)
        try:
            body = bind(raw, "generate")
            keep = keep_alive_seconds(body.get("keep_alive"))
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        top = int(body.get("top_logprobs") or 0)
        if not 0 <= top <= 20:
            return await responder.error(400, "top_logprobs must be between 0 and 20")
        name = body.get("model") or ""
        if name and not is_valid_name(name):
            return await responder.error(400, "invalid model name")
        record = self.state.find(name) if name else None
        if record is None:
            return await responder.error(404, f"model '{name}' not found")
        prompt: str = body.get("prompt") or ""
        if not prompt and keep == 0:
            self.state.unload(record)
            return await responder.json(self._lifecycle(name, chat=False, reason="unload"))
        if body.get("raw") and (body.get("template") or body.get("system") or body.get("context")):
            return await responder.error(
                400, "raw mode does not support template, system, or context"
            )
        think = body.get("think")
        if record.has("thinking"):
            think = True if think is None else think
        elif _truthy_think(think):
            return await responder.error(400, f"{go_quote(name)} does not support thinking")
        if not record.has("completion"):
            return await responder.error(400, f"{go_quote(name)} does not support generate")
        suffix: str = body.get("suffix") or ""
        if suffix and not record.has("insert"):
            return await responder.error(400, f"{full_name(record.name)} does not support insert")
        error = self._schedule(record, body, keep)
        if error is not None:
            return await responder.error(500, error)
        if not prompt:
            return await responder.json(self._lifecycle(name, chat=False, reason="load"))
        images = body.get("images") or []
        if images and not record.has("vision"):
            return await responder.error(500, _VISION_ERROR)
        fmt_error = _format_error(body.get("format"))
        if fmt_error is not None:
            return await responder.error(500, fmt_error)

        text = f"Echo: {prompt}"
        if suffix:
            text += f" ... {suffix}"
        if images:
            text = f"I see {len(images)} image{'s' if len(images) != 1 else ''}. {text}"
        context = body.get("context") or []
        system = body.get("system") or ""
        turn = build_turn(
            format_content(text, body.get("format")),
            thinking=thinking_text(prompt, think) if _truthy_think(think) else "",
            options=body.get("options"),
            prompt_tokens=len(tokenize(prompt)) + len(tokenize(system)) + len(context),
        )
        with_context = not body.get("raw")
        return await self._answer(
            responder, body, _Shape(False, name, bool(body.get("logprobs")), top), turn,
            context_of=(lambda: context_ids(prompt, turn.content)) if with_context else None,
        )

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """``/api/chat``.

        Tools: when ``tools`` are given and the last message is not a tool result, the
        answer is one chunk with ``tool_calls`` for every tool named in the last user
        message (the first tool when none is named), arguments built from the tool's
        parameter schema. After a tool result the answer quotes it.
        A model without ``tools`` gets Ollama's 400, whose text names the model in full
        (``registry.ollama.ai/library/llava:latest does not support tools``).
        """
        responder, raw = _context(request)
        try:
            body = bind(raw, "chat")
            keep = keep_alive_seconds(body.get("keep_alive"))
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        top = int(body.get("top_logprobs") or 0)
        if not 0 <= top <= 20:
            return await responder.error(400, "top_logprobs must be between 0 and 20")
        name = body.get("model") or ""
        if not name:
            return await responder.error(400, "model is required")
        if not is_valid_name(name):
            return await responder.error(400, "invalid model name")
        record = self.state.find(name)
        if record is None:
            return await responder.error(404, f"model '{name}' not found")
        messages: list[dict[str, Any]] = body.get("messages") or []
        if not messages and keep == 0:
            self.state.unload(record)
            return await responder.json(self._lifecycle(name, chat=True, reason="unload"))
        tools: list[Any] = body.get("tools") or []
        think = body.get("think")
        if record.has("thinking"):
            think = True if think is None else think
        elif _truthy_think(think):
            return await responder.error(400, f"{go_quote(name)} does not support thinking")
        if not record.has("completion"):
            return await responder.error(400, f"{go_quote(name)} does not support chat")
        if tools and not record.has("tools"):
            return await responder.error(400, f"{full_name(record.name)} does not support tools")
        error = self._schedule(record, body, keep)
        if error is not None:
            return await responder.error(500, error)
        if not messages:
            return await responder.json(self._lifecycle(name, chat=True, reason="load"))
        image_count = sum(len(m.get("images") or []) for m in messages)
        if image_count and not record.has("vision"):
            return await responder.error(500, _VISION_ERROR)
        fmt_error = _format_error(body.get("format"))
        if fmt_error is not None:
            return await responder.error(500, fmt_error)

        user_text = next(
            (m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), ""
        )
        calls: list[dict[str, Any]] = []
        if messages[-1].get("role") == "tool":
            results: list[str] = []
            for message in reversed(messages):
                if message.get("role") != "tool":
                    break
                results.insert(0, str(message.get("content") or "").strip().rstrip("."))
            text = "The tool said: " + "; ".join(results) + "."
        else:
            text = f"Echo: {user_text}"
            if tools:
                calls = tool_calls_for(tools, user_text, f"{name}/{len(messages)}/{user_text}")
        if image_count:
            text = f"I see {image_count} image{'s' if image_count != 1 else ''}. {text}"
        prompt_tokens = sum(len(tokenize(str(m.get("content") or ""))) + 4 for m in messages)
        turn = build_turn(
            "" if calls else format_content(text, body.get("format")),
            thinking=thinking_text(user_text, think) if _truthy_think(think) else "",
            options=body.get("options"),
            prompt_tokens=prompt_tokens,
            tool_calls=calls,
        )
        return await self._answer(
            responder, body, _Shape(True, name, bool(body.get("logprobs")), top), turn
        )

    @staticmethod
    def _lifecycle(name: str, *, chat: bool, reason: str) -> dict[str, Any]:
        """The one-object answer to a load or unload request (sent even when streaming)."""
        item: dict[str, Any] = {"model": name, "created_at": rfc3339_utc()}
        if chat:
            item["message"] = {"role": "assistant", "content": ""}
        else:
            item["response"] = ""
        item["done"] = True
        item["done_reason"] = reason
        return item

    async def _answer(
        self, responder: Responder, body: Mapping[str, Any], shape: _Shape, turn: Turn,
        context_of: Callable[[], list[int]] | None = None,
    ) -> web.StreamResponse:
        if body.get("stream") is False:
            logprobs: list[dict[str, Any]] = []
            if shape.logprobs:
                for token in (*turn.thinking, *turn.content):
                    logprobs.extend(logprob_entries(token, shape.top))
            return await responder.json(
                shape.final(
                    turn,
                    content="".join(turn.content),
                    thinking="".join(turn.thinking),
                    tool_calls=turn.tool_calls,
                    context=context_of() if context_of else None,
                    logprobs=logprobs,
                )
            )

        def lines() -> Iterator[bytes]:
            for token in turn.thinking:
                yield shape.chunk(thinking=token)
            if turn.tool_calls:
                yield shape.chunk(tool_calls=turn.tool_calls)
            for token in turn.content:
                yield shape.chunk(content=token)
            yield _line(shape.final(turn, context=context_of() if context_of else None))

        return await responder.stream(lines())

    # ------------------------------------------------------------- embeddings

    async def embed(self, request: web.Request) -> web.StreamResponse:
        """``/api/embed``. Every model can embed, as most can in Ollama; vectors have the
        model's ``vector_dims`` (768 for chat models) and are unit length."""
        responder, raw = _context(request)
        try:
            body = bind(raw, "embed")
            keep = keep_alive_seconds(body.get("keep_alive"))
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        name = body.get("model") or ""
        if name and not is_valid_name(name):
            return await responder.error(400, "invalid model name")
        given = body.get("input")
        if isinstance(given, str):
            inputs = [given] if given else []
        elif isinstance(given, list) and all(isinstance(item, str) for item in given):
            inputs = list(given)
        elif given is None:
            inputs = []
        else:
            return await responder.error(400, "invalid input type")
        record = self.state.find(name)
        if record is None:
            if not name:
                return await responder.error(404, f"model '{name}' not found")
            # getExistingName only fixes the case of a name; the missing model is found
            # missing when it is loaded (handleScheduleError's wording)
            return await responder.error(
                404, f"model {go_quote(name)} not found, try pulling it first"
            )
        error = self._schedule(record, body, keep)
        if error is not None:
            return await responder.error(500, error)
        if not inputs:
            return await responder.json({"model": name, "embeddings": []})
        counts = [len(tokenize(text)) or 1 for text in inputs]
        if body.get("truncate") is False and max(counts) > record.context_length:
            return await responder.error(400, "the input length exceeds the context length")
        dimensions = body.get("dimensions")
        vectors = [
            embedding(text, record.vector_dims, int(dimensions) if dimensions else None)
            for text in inputs
        ]
        tokens = sum(min(c, record.context_length) for c in counts)
        return await responder.json(
            {
                "model": name,
                "embeddings": vectors,
                "total_duration": 1_000_000 + tokens * 50_000 + 1_000_000,
                "load_duration": 1_000_000,
                "prompt_eval_count": tokens,
            }
        )

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        """Legacy ``/api/embeddings``: one prompt, one vector, no metrics."""
        responder, raw = _context(request)
        try:
            body = bind(raw, "embeddings")
            keep = keep_alive_seconds(body.get("keep_alive"))
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        name = body.get("model") or ""
        if not name:
            return await responder.error(400, "model is required")
        if not is_valid_name(name):
            return await responder.error(400, "invalid model name")
        record = self.state.find(name)
        if record is None:
            # this path skips the early existence check: the scheduler's wording
            return await responder.error(
                404, f"model {go_quote(name)} not found, try pulling it first"
            )
        error = self._schedule(record, body, keep)
        if error is not None:
            return await responder.error(500, error)
        prompt = body.get("prompt") or ""
        vector = embedding(prompt, record.vector_dims) if prompt else []
        return await responder.json({"embedding": vector})

    # ------------------------------------------------------- model management

    async def _progress(
        self, responder: Responder, items: Progress, stream: bool
    ) -> web.StreamResponse:
        """Send progress objects as NDJSON, or only the last one with ``stream: false``.

        An item with ``error`` ends the exchange. When it comes before anything was
        written it becomes a real HTTP status (its ``_status``, else 500), as Ollama's
        ``streamResponse``/``waitForStream`` do; later it is an NDJSON error line.
        """
        if not stream:
            latest: dict[str, Any] = {}
            for item in items:
                if "error" in item:
                    return await responder.error(item.get("_status", 500), item["error"])
                latest = item
            return await responder.json(latest)
        first = next(items, None)
        if first is not None and "error" in first:
            return await responder.error(first.get("_status", 500), first["error"])

        def lines() -> Iterator[bytes]:
            if first is not None:
                yield _line(first)
            for item in items:
                if "error" in item:
                    yield _line({"error": item["error"]})
                    return
                yield _line(item)

        return await responder.stream(lines())

    def _pull_items(self, source: ModelRecord, *, finish: bool = True) -> Progress:
        """Pull progress (F11); the model is installed only when the stream gets to
        ``writing manifest``, so a pull cut short by a fault installs nothing."""
        yield {"status": "pulling manifest"}
        for digest, size in source.layers():
            status = f"pulling {digest[7:19]}"
            yield {"status": status, "digest": digest, "total": size}
            for quarter in (1, 2, 3, 4):
                yield {"status": status, "digest": digest, "total": size,
                       "completed": size * quarter // 4}
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        self.state.install(source.clone(modified_at=now_local_rfc3339(), digest=source.digest))
        if finish:
            yield {"status": "success"}

    async def pull(self, request: web.Request) -> web.StreamResponse:
        """``/api/pull`` from the emulator's registry (constructor ``registry``)."""
        responder, raw = _context(request)
        try:
            body = bind(raw, "pull")
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        name = body.get("model") or body.get("name") or ""
        if not is_valid_name(name):
            return await responder.error(400, "invalid model name")
        source = self.state.find_in_registry(name)

        def missing() -> Progress:
            yield {"status": "pulling manifest"}
            yield {"error": _PULL_MISSING}

        items = self._pull_items(source) if source is not None else missing()
        return await self._progress(responder, items, body.get("stream") is not False)

    async def push(self, request: web.Request) -> web.StreamResponse:
        """``/api/push`` (F13). Any name may be pushed (the real registry would want a
        namespace you own). A model that is not installed fails the way Ollama's does:
        ``couldn't retrieve manifest`` and an error line (500 with ``stream: false``)."""
        responder, raw = _context(request)
        try:
            body = bind(raw, "push")
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        name = body.get("model") or body.get("name") or ""
        if not name:
            return await responder.error(400, "model is required")
        record = self.state.find(name) if is_valid_name(name) else None

        def items() -> Progress:
            yield {"status": "retrieving manifest"}
            if record is None:
                yield {"status": "couldn't retrieve manifest"}
                path = full_name(name).replace(":", "/")
                yield {"error": f"open {MODELS_DIR}/manifests/{path}: no such file or directory"}
                return
            for digest, size in record.layers():
                status = f"pushing {digest[7:19]}"
                for quarter in (0, 1, 2, 3, 4):
                    yield {"status": status, "digest": digest, "total": size,
                           "completed": size * quarter // 4}
            yield {"status": "pushing manifest"}
            yield {"status": "success"}

        return await self._progress(responder, items(), body.get("stream") is not False)

    async def create(self, request: web.Request) -> web.StreamResponse:
        """``/api/create`` from a model (``from``) or uploaded blobs (``files``).

        As in Ollama, checks on the request itself (name, file digests, missing blobs)
        are a 400 before anything streams. A ``from`` model that is not installed is
        pulled from the registry, with pull progress on the stream; if the registry
        lacks it too, the stream says ``pulling manifest`` and then carries the error
        line ``pull model manifest: file does not exist`` (with ``stream: false``: a
        500). ``quantize`` converts F16/F32 weights (uploaded files count as F16) and
        reports progress; quantized sources are refused as Ollama refuses them.
        """
        responder, raw = _context(request)
        try:
            body = bind(raw, "create")
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        name = body.get("model") or body.get("name") or ""
        if not is_valid_name(name):
            return await responder.error(400, "invalid model name")
        files: dict[str, str] = body.get("files") or {}
        for path in sorted(files):
            digest = files[path]
            match = _DIGEST.match(digest)
            if match is None:
                return await responder.error(
                    400, f"invalid digest for {path}: invalid digest format"
                )
            if self._blob_key(match) not in self.state.blobs:
                blob = digest.replace(":", "-")
                return await responder.error(
                    400,
                    f"blob not found for {path} (digest {digest}): "
                    f"open {MODELS_DIR}/blobs/{blob}: no such file or directory",
                )
        items = self._create_items(name, body, files)
        return await self._progress(responder, items, body.get("stream") is not False)

    def _create_items(
        self, name: str, body: Mapping[str, Any], files: Mapping[str, str]
    ) -> Progress:
        source_name: str = body.get("from") or ""
        base: ModelRecord | None = None
        if source_name:
            base = self.state.find(source_name)
            if base is None:
                registry_copy = self.state.find_in_registry(source_name)
                if registry_copy is None:
                    yield {"status": "pulling manifest"}
                    yield {"error": _PULL_MISSING}
                    return
                yield from self._pull_items(registry_copy, finish=False)
                base = self.state.find(source_name)
                assert base is not None
            for digest, _size in base.layers():
                yield {"status": f"using existing layer {digest}"}
        elif files:
            yield {"status": "parsing GGUF"}
            for path in sorted(files):
                yield {"status": f"using existing layer {files[path]}"}
        else:
            yield {"error": "neither 'from' or 'files' was specified", "_status": 400}
            return

        source_level = base.quantization_level if base is not None else "F16"
        level = source_level
        quantize: str = body.get("quantize") or body.get("quantization") or ""
        if quantize:
            level = quantize.upper()
            if level not in _QUANT_TYPES:
                yield {"error": f"unsupported quantization type {quantize}", "_status": 400}
                return
            if source_level not in ("F16", "F32"):
                yield {
                    "error": "quantization is only supported for F16 and F32 models",
                    "_status": 400,
                }
                return
            total = max(base.size if base is not None else self._files_size(files), 1)
            status = f"quantizing {source_level} model to {level}"
            for quarter in (1, 2, 3, 4):
                yield {"status": status, "digest": "0", "total": total,
                       "completed": total * quarter // 4}
            yield {"status": f"creating new layer sha256:{sha256_hex(name + '/weights/' + level)}"}

        changes: dict[str, Any] = {}
        for key in ("template", "system", "license", "parameters", "messages"):
            value = body.get(key)
            if value in (None, "", [], {}):
                continue
            if key == "license" and isinstance(value, list):
                value = "\n".join(value)
            if key == "parameters" and base is not None and isinstance(value, Mapping):
                value = {**base.parameters, **value}
            changes[key] = value
            layer = sha256_hex(f"{name}/{key}/{go_dumps(value)}")
            yield {"status": f"creating new layer sha256:{layer}"}
        yield {"status": "writing manifest"}
        self.state.install(self._created_record(name, base, files, level, changes))
        yield {"status": "success"}

    def _created_record(
        self, name: str, base: ModelRecord | None, files: Mapping[str, str], level: str,
        changes: dict[str, Any],
    ) -> ModelRecord:
        stamp = now_local_rfc3339()
        if base is not None:
            record = base.clone(name=name, modified_at=stamp, parent_model=base.name,
                                quantization_level=level, **changes)
        else:
            size = self._files_size(files)
            record = ModelRecord(
                name=name, family="llama", parameter_size="1B", quantization_level=level,
                capabilities=["completion"], size=max(size, 1), modified_at=stamp,
                parameter_count=1_000_000_000, context_length=4096, embedding_length=2048,
                **changes,
            )
        if "template" in changes:
            # capabilities that come from the template follow the new template
            template = record.template
            kept = [c for c in record.capabilities if c not in ("tools", "insert", "thinking")]
            derived = [
                cap for cap, marker in (("tools", ".Tools"), ("insert", ".Suffix"),
                                        ("thinking", ".Thinking"))
                if marker in template
            ]
            record.capabilities = kept + derived
        return record

    async def copy(self, request: web.Request) -> web.StreamResponse:
        responder, raw = _context(request)
        try:
            body = bind(raw, "copy")
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        source: str = body.get("source") or ""
        destination: str = body.get("destination") or ""
        if not is_valid_name(source):
            return await responder.error(400, f"source {go_quote(source)} is invalid")
        if not is_valid_name(destination):
            return await responder.error(400, f"destination {go_quote(destination)} is invalid")
        record = self.state.find(source)
        if record is None:
            return await responder.error(404, f"model {go_quote(source)} not found")
        self.state.install(
            record.clone(name=normalize_name(destination), digest=record.digest,
                         modified_at=now_local_rfc3339())
        )
        return await responder.empty()

    async def delete(self, request: web.Request) -> web.StreamResponse:
        responder, raw = _context(request)
        try:
            body = bind(raw, "delete")
        except BindError as exc:
            return await responder.error(exc.status, exc.message)
        name = body.get("model") or body.get("name") or ""
        if not is_valid_name(name):
            return await responder.error(400, f"name {go_quote(name)} is invalid")
        record = self.state.find(name)
        if record is None:
            return await responder.error(404, f"model '{name}' not found")
        self.state.remove(record)
        return await responder.empty()

    # ------------------------------------------------------------------ blobs

    @staticmethod
    def _blob_key(match: re.Match[str]) -> str:
        return "sha256:" + match.group(1)

    def _files_size(self, files: Mapping[str, str]) -> int:
        total = 0
        for digest in files.values():
            match = _DIGEST.match(digest)
            if match is not None:
                total += self.state.blobs.get(self._blob_key(match), 0)
        return total

    async def blob_head(self, request: web.Request) -> web.StreamResponse:
        responder, _ = _context(request)
        digest = request.match_info["digest"]
        match = _DIGEST.match(digest)
        if match is None:
            return await responder.error(400, "invalid digest format")
        if self._blob_key(match) not in self.state.blobs:
            return await responder.error(404, f"blob {go_quote(digest)} not found")
        return await responder.empty()

    async def blob_upload(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/blobs/:digest``: 201 created, 200 already there (Ollama answers
        that before reading the body), 400 when the body hashes to something else."""
        responder, raw = _context(request)
        digest = request.match_info["digest"]
        match = _DIGEST.match(digest)
        if match is None:
            return await responder.error(400, "invalid digest format")
        key = self._blob_key(match)
        if key in self.state.blobs:
            return await responder.empty(200)
        actual = "sha256:" + hashlib.sha256(raw).hexdigest()
        if actual != key:
            return await responder.error(
                400, f"digest mismatch, expected {go_quote(digest)}, got {go_quote(actual)}"
            )
        self.state.blobs[key] = len(raw)
        return await responder.empty(201)

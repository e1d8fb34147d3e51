"""The sync facade: the same surface as the async client, one loop thread, thread-safe."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ollama_core import ChatRequest, OllamaClient, SyncOllamaClient, SyncStream
from ollama_core.emulator import EmulatorThread
from ollama_core.ext import Handler, Request, Response, hookimpl

_ASYNC_ONLY = {"aclose", "send"}
_SYNC_ONLY = {"close", "async_client"}


def _public(cls: type) -> dict[str, object]:
    return {n: getattr(cls, n) for n in dir(cls) if not n.startswith("_")}


def test_surfaces_are_identical() -> None:
    a, s = _public(OllamaClient), _public(SyncOllamaClient)
    assert set(a) - _ASYNC_ONLY == set(s) - _SYNC_ONLY
    for name in set(a) - _ASYNC_ONLY:
        if isinstance(a[name], property):
            assert isinstance(s[name], property), name
            continue
        a_sig, s_sig = inspect.signature(a[name]), inspect.signature(s[name])  # type: ignore[arg-type]
        assert list(a_sig.parameters) == list(s_sig.parameters), name
        for param in a_sig.parameters:
            pa, ps = a_sig.parameters[param], s_sig.parameters[param]
            assert (pa.kind, pa.default) == (ps.kind, ps.default), f"{name}({param})"
        # Coroutine methods become blocking ones; stream factories stay plain methods.
        if inspect.iscoroutinefunction(a[name]):
            assert not inspect.iscoroutinefunction(s[name]), name


def test_stream_methods_return_sync_iterators() -> None:
    for name in ("chat_stream", "generate_stream", "pull_model_stream", "push_model_stream",
                 "create_model_stream"):
        ret = inspect.signature(getattr(SyncOllamaClient, name)).return_annotation
        assert "SyncStream" in str(ret), name
    assert SyncStream.__iter__ is not None


def test_one_loop_thread_one_connection_for_sequential_calls() -> None:
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[]) as client:
        before = {t.name for t in threading.enumerate()}
        for _ in range(5):
            client.list_models()
        assert {t.name for t in threading.enumerate()} == before
        assert len(emu.requests) == 5
        assert emu.open_connections == 1  # keep-alive reuse


def test_many_threads_share_one_client() -> None:
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[]) as client:
        def work(i: int) -> str:
            reply = client.chat(ChatRequest(model="llama3.2",
                                            messages=[{"role": "user", "content": f"n{i}"}]))
            return reply.message.content

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(work, range(40)))
        assert all(f"n{i}" in a for i, a in enumerate(answers))
        assert emu.hits("/api/chat") == 40


def test_usable_from_inside_a_running_event_loop() -> None:
    with EmulatorThread() as emu:
        async def main() -> str:
            with SyncOllamaClient(emu.url, plugins=[]) as client:
                return client.version()

        assert asyncio.run(main()) == "0.33.0"


def test_closed_client_refuses_calls_and_close_is_idempotent() -> None:
    with EmulatorThread() as emu:
        client = SyncOllamaClient(emu.url, plugins=[])
        client.close()
        client.close()
        assert client.closed
        with pytest.raises(RuntimeError, match="closed"):
            client.version()


def test_unclosed_client_warns() -> None:
    with EmulatorThread() as emu:
        client = SyncOllamaClient(emu.url, plugins=[])
        client.version()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del client
            gc.collect()
        assert any(issubclass(w.category, ResourceWarning) for w in caught)


def test_construction_errors_do_not_leak_the_loop_thread() -> None:
    before = threading.active_count()
    with pytest.raises(Exception, match="unknown plugin"):
        SyncOllamaClient("http://127.0.0.1:9", plugins=["no_such_plugin"])
    assert threading.active_count() == before


def test_ctrl_c_while_iterating_a_sync_stream_leaves_it_closable() -> None:
    import os
    import signal

    from ollama_core import GenerateRequest

    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[]) as client:
        emu.faults.add(path="/api/generate", chunk_delay=5)
        stream = client.generate_stream(GenerateRequest(model="llama3.2", prompt="x"))
        it = iter(stream)
        next(it)  # the first chunk comes at once; the second waits 5 s
        # A real SIGINT, as Ctrl-C sends: it interrupts the blocking wait in the main thread.
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            next(it)
        timer.join()
        it.close()  # the generator's finally closes the stream: no "already running" error
        assert emu.wait_for_connections(0)
        assert client.version() == "0.33.0"


# -- the calling thread's context variables reach the call -----------------------------------

_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


class _ContextProbe:
    """A middleware plugin recording the context variable each call sees, then changing it
    (a change that must stay inside the call)."""

    name = "context_probe"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        probe = self

        class Mw:
            name = "context_probe"
            order = 500

            async def __call__(self, request: Request, call_next: Handler) -> Response:
                probe.seen.append((request.endpoint, _REQUEST_ID.get()))
                _REQUEST_ID.set("changed by the call")
                return await call_next(request)

        self.middleware = Mw()

    @hookimpl
    def ollama_middlewares(self) -> list[Any]:
        return [self.middleware]


def test_a_context_variable_set_by_the_caller_is_seen_inside_the_call() -> None:
    probe = _ContextProbe()
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[probe]) as client:
        token = _REQUEST_ID.set("req-1")
        try:
            client.version()
            chunks = list(client.chat_stream(ChatRequest(
                model="llama3.2", messages=[{"role": "user", "content": "x"}])))
            assert chunks[-1].done is True
            assert _REQUEST_ID.get() == "req-1"  # the call's own change stayed in the call

            def in_thread(value: str) -> None:
                _REQUEST_ID.set(value)
                client.version()

            with ThreadPoolExecutor(4) as pool:
                list(pool.map(in_thread, [f"thread-{i}" for i in range(8)]))
        finally:
            _REQUEST_ID.reset(token)
    assert probe.seen[:2] == [("version", "req-1"), ("chat", "req-1")]
    assert sorted(value for _, value in probe.seen[2:]) == sorted(f"thread-{i}" for i in range(8))

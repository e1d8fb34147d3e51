"""Shutdown and lifecycle: exit never hangs, close ends calls in flight, nothing goes on the
wire after close, and a client used from a second event loop says so clearly.

Measured, not assumed: requests on the wire (a HostileServer records each one), open
client sockets (``open_sockets``), threads and asyncio tasks before and after.
"""

from __future__ import annotations

import asyncio
import gc
import glob
import os
import sys
import textwrap
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ollama_core import (
    ClientClosedError,
    Event,
    EventLoopMismatchError,
    FakeClock,
    GenerateRequest,
    OllamaClient,
    OllamaError,
    StreamCancelledError,
    SyncOllamaClient,
    Timeouts,
    hookimpl,
)
from tests.hostile import STREAM_HEAD, Conn, HostileServer, chunked, http_response, open_sockets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))

VERSION = http_response(200, {"version": "0.33.0"})
BUSY = http_response(503, {"error": "server busy, please try again."}, reason="Busy")
FIRST_CHUNK = b'{"model":"m","response":"a","done":false}\n'


def hang_forever() -> Awaitable[None]:
    return asyncio.get_running_loop().create_future()


class Server:
    """A HostileServer answering by path; ``seen`` is set when a request of ``watch`` arrives."""

    def __init__(self, routes: dict[str, str], watch: str = "") -> None:
        self.routes = routes  # path -> "version" | "busy" | "stall" | "stream" | "health"
        self.watch = watch
        self.seen = asyncio.Event()
        self.server = HostileServer(self._handle)

    async def _handle(self, conn: Conn) -> None:
        while True:
            request = await conn.read_request()
            if request is None:
                return
            if request.path == self.watch:
                self.seen.set()
            what = self.routes.get(request.path, "version")
            if what == "busy":
                await conn.send(BUSY)
            elif what == "stall":
                await hang_forever()
            elif what == "stream":
                await conn.send(STREAM_HEAD + chunked(FIRST_CHUNK)[:-5])  # no final chunk
                await hang_forever()
            elif what == "tags":
                await conn.send(http_response(200, {"models": []}))
            elif what == "health":
                await conn.send(http_response(200, "Ollama is running",
                                              headers={"Content-Type": "text/plain"}))
            else:
                await conn.send(VERSION)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.server.requests if r.path == path)

    async def __aenter__(self) -> Server:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()


@pytest.fixture
async def stalled() -> AsyncIterator[Server]:
    async with Server({"/": "health", "/api/version": "stall", "/api/generate": "stream",
                       "/api/tags": "tags"},
                      watch="/api/version") as server:
        yield server


@pytest.fixture
async def busy() -> AsyncIterator[Server]:
    async with Server({"/": "health", "/api/version": "busy"}, watch="/api/version") as server:
        yield server


class RetryWatch:
    """Sets an event when retry announces a backoff (emitted just before it sleeps)."""

    name = "retry_watch"

    def __init__(self, on_retry: Callable[[], None]) -> None:
        self.on_retry = on_retry
        self.retries = 0

    @hookimpl
    def ollama_event(self, client: object, event: Event) -> None:
        if event.name == "retry":
            self.retries += 1
            self.on_retry()


RETRY_SLOWLY = {"retry": {"max_attempts": 5, "base_delay": 60.0, "jitter": "none",
                          "budget_ratio": None}}


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of this loop other than the test itself and the hostile servers' handlers."""
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()
            and t.get_coro().__qualname__ != "HostileServer._serve"}  # type: ignore[union-attr]


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ollama-core-loop"]


# -- 1. an unclosed SyncOllamaClient never hangs interpreter exit ----------------------------

def interpreters() -> list[Any]:
    found: list[Any] = [pytest.param(sys.executable, id=f"{sys.version_info[0]}."
                                                        f"{sys.version_info[1]}")]
    for minor in ("3.12", "3.13"):
        paths = sorted(glob.glob(f"/root/.pyenv/versions/{minor}.*/bin/python{minor}"))
        if paths:
            found.append(pytest.param(paths[-1], id=minor))
        else:
            found.append(pytest.param(None, id=minor, marks=pytest.mark.skip(
                reason=f"no Python {minor} interpreter under /root/.pyenv/versions")))
    return found


# Each script leaves a client unclosed in a different way. The server stalls /api/version
# (the daemon-thread case) and sends one chunk of /api/generate, then nothing.
EXIT_SCRIPTS = {
    "one_line": "client = SyncOllamaClient(URL)",
    "after_a_call": """
        client = SyncOllamaClient(URL, plugins=[])
        client.list_models()
    """,
    "after_a_call_by_host_name": """
        client = SyncOllamaClient(URL.replace("127.0.0.1", "localhost"), plugins=[])
        client.list_models()  # the name is resolved on the loop's executor threads
    """,
    "exception_skipped_close": """
        def main():
            client = SyncOllamaClient(URL, plugins=[])
            client.list_models()
            raise LookupError("boom")
            client.close()

        try:
            main()
        except LookupError as exc:
            kept = exc  # its traceback keeps the client alive until exit
    """,
    "open_stream": """
        client = SyncOllamaClient(URL, plugins=[])
        stream = client.generate_stream({"model": "m", "prompt": "x"})
        it = iter(stream)
        assert next(it).response == "a"
    """,
    "full_plugins": """
        client = SyncOllamaClient(URL, plugins="full")
        client.list_models()
    """,
    "daemon_thread_inside_a_call": """
        import threading
        client = SyncOllamaClient(URL, plugins=["retry"])
        outcome = []
        def call():
            try:
                client.version()
            except BaseException as exc:
                outcome.append(exc)
        threading.Thread(target=call, daemon=True).start()
        import time
        while not SEEN():
            time.sleep(0.01)
    """,
}


@pytest.mark.parametrize("case", sorted(EXIT_SCRIPTS))
@pytest.mark.parametrize("python", interpreters())
async def test_an_unclosed_sync_client_never_delays_exit(python: str, case: str,
                                                         stalled: Server) -> None:
    marker = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lifecycle-{os.getpid()}-{case}")
    prelude = textwrap.dedent(f"""
        import os, site, sys, warnings
        site.addsitedir({SITE_PACKAGES!r})
        sys.path.insert(0, {ROOT!r})
        warnings.simplefilter("always", ResourceWarning)
        from ollama_core import SyncOllamaClient
        URL = {stalled.server.url!r}
        def SEEN():
            return os.path.exists({marker!r})
    """)
    script = prelude + textwrap.dedent(EXIT_SCRIPTS[case])
    proc = await asyncio.create_subprocess_exec(
        python, "-c", script, cwd="/", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": ""})
    try:
        if case == "daemon_thread_inside_a_call":
            await stalled.seen.wait()
            open(marker, "w").close()
        _, err = await asyncio.wait_for(proc.communicate(), timeout=45)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail(f"{case}: the interpreter did not exit ({python})")
    finally:
        if os.path.exists(marker):
            os.unlink(marker)
    stderr = err.decode()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    # The finalizer closed the client (it warns right before closing it).
    assert "ResourceWarning: unclosed SyncOllamaClient" in stderr, stderr
    assert stderr.count("Warning") == stderr.count("ResourceWarning"), stderr


def test_an_unclosed_client_is_closed_when_collected() -> None:
    before = len(loop_threads())
    client = SyncOllamaClient("http://127.0.0.1:9", plugins=[])
    inner = client.async_client
    assert len(loop_threads()) == before + 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del client
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == [
        "unclosed Sync" + repr(inner)]
    assert inner.closed
    assert len(loop_threads()) == before


# -- 2. close() from another thread ends a call in flight --------------------------------

@pytest.mark.parametrize("plugins", [[], ["retry"], "full"], ids=["none", "retry", "full"])
async def test_close_from_another_thread_ends_a_call_on_a_stalled_server(
        stalled: Server, plugins: Any) -> None:
    threads_before = len(loop_threads())
    client = SyncOllamaClient(stalled.server.url, plugins=plugins, timeout=300)
    call = asyncio.create_task(asyncio.to_thread(client.version))
    await stalled.seen.wait()
    await asyncio.to_thread(client.close)
    with pytest.raises(ClientClosedError, match="closed"):
        await call
    assert stalled.hits("/api/version") == 1
    assert open_sockets(stalled.server.port) == 0
    assert len(loop_threads()) == threads_before


async def test_close_from_another_thread_ends_a_retry_waiting_out_its_backoff(
        busy: Server) -> None:
    clock = FakeClock()  # never advanced: the backoff would last forever
    retrying = threading.Event()
    watch = RetryWatch(retrying.set)
    client = SyncOllamaClient(busy.server.url, plugins=["retry", watch], clock=clock,
                              plugin_config={**RETRY_SLOWLY, "retry_watch": {}})
    call = asyncio.create_task(asyncio.to_thread(client.version))
    await asyncio.to_thread(retrying.wait)
    await asyncio.to_thread(client.close)
    with pytest.raises(ClientClosedError, match="closed"):
        await call
    assert busy.hits("/api/version") == 1 and watch.retries == 1
    assert clock.pending == 0


async def test_close_from_another_thread_ends_a_stream_being_read(stalled: Server) -> None:
    client = SyncOllamaClient(stalled.server.url, plugins=["retry"])
    stream = client.generate_stream(GenerateRequest(model="m", prompt="x"))
    it = iter(stream)
    assert (await asyncio.to_thread(next, it)).response == "a"
    portal = client._portal
    assert portal is not None
    reader = asyncio.create_task(asyncio.to_thread(next, it))  # waits for a chunk never sent
    while not portal._pending:  # until the reading thread is blocked on the loop
        await asyncio.sleep(0.001)
    await asyncio.to_thread(client.close)
    with pytest.raises(StreamCancelledError, match="client was closed"):
        await reader
    assert open_sockets(stalled.server.port) == 0


async def test_calls_on_a_closed_sync_client_raise_client_closed_error(stalled: Server) -> None:
    client = SyncOllamaClient(stalled.server.url, plugins=[])
    client.close()
    client.close()
    with pytest.raises(ClientClosedError):
        client.list_models()
    with pytest.raises(ClientClosedError):
        client.generate_stream(GenerateRequest(model="m", prompt="x"))
    with pytest.raises(ClientClosedError):
        client.configure(timeout=3)
    assert stalled.server.connections == 0


# -- 3. aclose() with calls in flight ------------------------------------------------------

async def test_aclose_during_a_retry_backoff_sends_nothing_more(busy: Server) -> None:
    clock = FakeClock()
    retrying = asyncio.Event()
    watch = RetryWatch(retrying.set)
    baseline = client_tasks()
    client = OllamaClient(busy.server.url, plugins=["retry", watch], clock=clock,
                          plugin_config={**RETRY_SLOWLY, "retry_watch": {}})
    call = asyncio.create_task(client.version())
    await retrying.wait()
    assert clock.pending == 1  # the backoff sleep
    await client.aclose()
    with pytest.raises(ClientClosedError, match="version: the client was closed"):
        await call
    assert clock.pending == 0
    clock.advance(3600)  # a backoff that survived would now send its retries
    for _ in range(5):
        await asyncio.sleep(0)
    assert busy.hits("/api/version") == 1 and watch.retries == 1
    assert busy.server.connections == 1  # no new session was opened
    assert client._transport.session is None
    assert open_sockets(busy.server.port) == 0
    assert client_tasks() <= baseline


@pytest.mark.parametrize("plugins", [[], ["retry"], "full"], ids=["none", "retry", "full"])
async def test_aclose_ends_a_call_waiting_on_a_stalled_server(
        stalled: Server, plugins: Any) -> None:
    baseline = client_tasks()
    client = OllamaClient(stalled.server.url, plugins=plugins, timeout=300)
    call = asyncio.create_task(client.version())
    await stalled.seen.wait()
    await client.aclose()
    with pytest.raises(ClientClosedError, match="closed"):
        await call
    assert stalled.hits("/api/version") == 1
    assert open_sockets(stalled.server.port) == 0
    assert client_tasks() <= baseline


async def test_aclose_ends_a_call_under_a_deadline_with_client_closed_not_timeout(
        stalled: Server) -> None:
    client = OllamaClient(stalled.server.url, plugins=["retry"],
                          timeout=Timeouts(first_byte=300, idle=300, deadline=200))
    call = asyncio.create_task(client.version())
    await stalled.seen.wait()
    await client.aclose()
    with pytest.raises(ClientClosedError, match="version: the client was closed"):
        await call
    assert stalled.hits("/api/version") == 1


async def test_aclose_ends_open_streams_and_releases_their_connections(
        stalled: Server) -> None:
    client = OllamaClient(stalled.server.url, plugins=[])
    started = client.generate_stream(GenerateRequest(model="m", prompt="x"))
    assert (await started.__anext__()).response == "a"
    reader = asyncio.create_task(started.__anext__())
    never_read = client.generate_stream(GenerateRequest(model="m", prompt="y"))
    await asyncio.sleep(0)
    await client.aclose()
    with pytest.raises(StreamCancelledError, match="client was closed"):
        await reader
    with pytest.raises(StreamCancelledError, match="client was closed"):
        await never_read.__anext__()
    assert stalled.hits("/api/generate") == 1
    assert open_sockets(stalled.server.port) == 0


async def test_a_caller_cancelling_its_own_call_during_aclose_still_sees_cancellation(
        stalled: Server) -> None:
    client = OllamaClient(stalled.server.url, plugins=["retry"])
    call = asyncio.create_task(client.version())
    await stalled.seen.wait()
    call.cancel()
    await client.aclose()
    with pytest.raises(asyncio.CancelledError):
        await call


async def test_a_task_whose_call_was_ended_by_aclose_can_go_on(stalled: Server) -> None:
    client = OllamaClient(stalled.server.url, plugins=[])

    async def caller() -> str:
        try:
            await client.version()
        except ClientClosedError:
            pass
        await asyncio.sleep(0)  # not cancelled: the close took back its cancellation
        return "went on"

    task = asyncio.create_task(caller())
    await stalled.seen.wait()
    await client.aclose()
    assert await task == "went on"


async def test_every_way_in_refuses_a_closed_client(stalled: Server) -> None:
    client = OllamaClient(stalled.server.url, plugins=["retry"])
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.list_models()
    with pytest.raises(ClientClosedError):
        client.chat_stream({"model": "m", "messages": []})
    request = client._request("GET", "/api/tags", "tags")
    with pytest.raises(ClientClosedError):
        await client.send(request, through_middlewares=False)
    with pytest.raises(ClientClosedError):  # the transport never re-creates its session
        await client._transport.handle(request)
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert await client.is_available() is False
    assert stalled.server.connections == 0
    assert issubclass(ClientClosedError, OllamaError)


# -- 4. a second event loop -----------------------------------------------------------------

def test_a_client_used_from_a_second_event_loop_raises_a_clear_error() -> None:
    async def serve(ready: asyncio.Future[str], stop: asyncio.Event) -> None:
        async def answer(conn: Conn) -> None:
            while await conn.read_request() is not None:
                await conn.send(http_response(200, {"version": "0.33.0"},
                                              headers={"Connection": "close"}))
                return

        async with HostileServer(answer) as server:
            ready.set_result(server.url)
            await stop.wait()

    server_loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready: asyncio.Future[str] = server_loop.create_future()
    thread = threading.Thread(target=server_loop.run_until_complete, args=(serve(ready, stop),))
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(asyncio.wait_for(
            asyncio.shield(ready), 10), server_loop).result()
        client = OllamaClient(url, plugins=[])
        assert asyncio.run(client.version()) == "0.33.0"
        with pytest.raises(EventLoopMismatchError, match="another one") as info:
            asyncio.run(client.version())
        assert "Event loop is closed" not in str(info.value)
        assert isinstance(info.value, OllamaError)
        asyncio.run(client.aclose())  # from the second loop: no error, nothing left open
        assert client.closed and client._transport.session is None
        gc.collect()
        port = int(url.rsplit(":", 1)[1])
        assert open_sockets(port) == 0
    finally:
        server_loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        server_loop.close()


async def test_a_stream_keeps_its_unreferenced_sync_client_open(stalled: Server) -> None:
    stream = SyncOllamaClient(stalled.server.url, plugins=[]).generate_stream(
        GenerateRequest(model="m", prompt="x"))
    gc.collect()
    it = iter(stream)
    assert (await asyncio.to_thread(next, it)).response == "a"
    gc.collect()  # garbage left by earlier tests warns here, not in the window below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del it, stream
        gc.collect()
    # Only this client's warning counts: under load, garbage of earlier tests (an unclosed
    # transport of a test that ended a moment ago) can still be collected in the window.
    ours = [w for w in caught if "unclosed SyncOllamaClient" in str(w.message)]
    assert [w.category for w in ours] == [ResourceWarning]  # closed with the stream
    assert open_sockets(stalled.server.port) == 0


async def test_a_client_open_on_a_loop_in_another_thread_is_closed_there(
        stalled: Server) -> None:
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever)
    thread.start()
    try:
        client = OllamaClient(stalled.server.url, plugins=[])
        tags = asyncio.run_coroutine_threadsafe(client.list_models(), other)
        assert (await asyncio.wrap_future(tags)).models == []
        assert open_sockets(stalled.server.port) == 1  # kept alive in the other loop's pool
        with pytest.raises(EventLoopMismatchError):
            await client.list_models()
        await client.aclose()  # runs on the client's own loop, in the other thread
        assert client._transport.session is None
        assert open_sockets(stalled.server.port) == 0
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(10)
        other.close()

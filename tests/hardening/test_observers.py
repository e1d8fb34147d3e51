"""A plugin that raises never changes a call's outcome by accident.

Observer hooks (``ollama_response``, ``ollama_error``, ``ollama_event``,
``ollama_client_close``): the exception is logged on ``ollama_core.plugins`` with the
plugin's name, the other implementations still run, the call goes on. Transform hooks
(``ollama_prepare_request``, ``ollama_request``, ``ollama_stream_chunk``, and the setup
and contribution hooks): an ``OllamaError`` passes through unchanged, anything else fails
the call with ``PluginHookError`` naming the plugin, raised from the original. Real
plugins, the emulator over loopback, a fake clock.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Generator
from typing import Any

import pytest

from ollama_core import (
    Event,
    FakeClock,
    GenerateRequest,
    InvalidRequestError,
    NotFoundError,
    OllamaClient,
    PluginHookError,
    Request,
    Response,
    StreamState,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from tests.hostile import open_sockets

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello there"}]}
LOGGER = "ollama_core.plugins"
OBSERVERS = ("ollama_event", "ollama_response", "ollama_error", "ollama_client_close")


class Boom(Exception):
    """What a buggy plugin raises."""


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(autoadvance=True)  # retry's backoff passes at once


class Listener:
    """A well-behaved observer of every observer hook."""

    def __init__(self, name: str = "listener") -> None:
        self.name = name
        self.seen: list[str] = []

    @hookimpl
    def ollama_event(self, event: Event) -> None:  # a subset of the arguments
        self.seen.append(f"event:{event.name}")

    @hookimpl
    def ollama_response(self, response: Response) -> None:
        self.seen.append(f"response:{response.status}")

    @hookimpl
    def ollama_error(self, error: BaseException) -> None:
        self.seen.append(f"error:{type(error).__name__}")

    @hookimpl
    def ollama_client_close(self) -> None:
        self.seen.append("close")


class Raiser:
    """An observer of every observer hook that raises from each of them."""

    name = "raiser"

    def __init__(self) -> None:
        self.calls = 0

    def _boom(self, what: str) -> None:
        self.calls += 1
        raise Boom(f"{what} observer is broken")

    @hookimpl
    def ollama_event(self, client: OllamaClient, event: Event) -> None:
        self._boom("event")

    @hookimpl
    def ollama_response(self, request: Request, response: Response) -> None:
        self._boom("response")

    @hookimpl
    def ollama_error(self, request: Request, error: BaseException) -> None:
        self._boom("error")

    @hookimpl
    def ollama_client_close(self, client: OllamaClient) -> None:
        self._boom("close")


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


# -- observers -----------------------------------------------------------------------------


@pytest.mark.parametrize("raiser_first", [True, False], ids=["raiser-called-first",
                                                             "raiser-called-last"])
async def test_a_raising_event_observer_does_not_stop_retry_recovering_a_503(
        emu: OllamaEmulator, clock: FakeClock, caplog: pytest.LogCaptureFixture,
        raiser_first: bool) -> None:
    listener, raiser = Listener(), Raiser()
    # pluggy calls the last registered implementation first.
    observers: list[Any] = [listener, raiser] if raiser_first else [raiser, listener]
    emu.faults.add(path="/api/chat", status=503, times=1)
    caplog.set_level(logging.ERROR, logger=LOGGER)
    async with OllamaClient(emu.url, plugins=["retry", *observers], clock=clock) as client:
        answer = await client.chat(CHAT)
    assert answer.done is True
    assert emu.hits("/api/chat") == 2
    assert "event:retry" in listener.seen  # the other observer still heard it
    # The raiser was called for everything the listener heard (response x2, error, the
    # retry event, close), and each failure was logged once.
    assert raiser.calls == len(listener.seen) >= 5 and listener.seen[-1] == "close"
    records = failures(caplog)
    assert len(records) == raiser.calls
    assert all("'raiser'" in r.getMessage() for r in records)
    assert {"ollama_event", "ollama_response", "ollama_error", "ollama_client_close"} == {
        hook for r in records for hook in OBSERVERS if hook in r.getMessage()}
    assert all(r.exc_info is not None and r.exc_info[0] is Boom for r in records)


async def test_a_raising_error_observer_leaves_the_error_unchanged(
        emu: OllamaEmulator, caplog: pytest.LogCaptureFixture) -> None:
    listener = Listener()
    async with OllamaClient(emu.url, plugins=[listener, Raiser()]) as client:
        with pytest.raises(NotFoundError, match="not found") as caught:
            await client.model_info("nope")
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert "error:NotFoundError" in listener.seen
    assert any("ollama_error" in r.getMessage() for r in failures(caplog))


async def test_a_raising_close_observer_does_not_stop_the_close(
        emu: OllamaEmulator, caplog: pytest.LogCaptureFixture) -> None:
    listener = Listener()
    client = OllamaClient(emu.url, plugins=[listener, Raiser()])
    await client.version()
    session = client._transport.session
    assert session is not None
    await client.aclose()
    assert client.closed and session.closed
    assert listener.seen[-1] == "close"
    assert open_sockets(emu.port) == 0
    assert any("ollama_client_close" in r.getMessage() for r in failures(caplog))


async def test_removing_a_plugin_calls_its_close_through_the_guard(
        emu: OllamaEmulator, caplog: pytest.LogCaptureFixture) -> None:
    listener = Listener()
    async with OllamaClient(emu.url, plugins=[listener, Raiser()]) as client:
        await client.remove_plugin("raiser")  # its close raises: logged, still removed
        await client.remove_plugin("listener")  # close takes no argument at all
        assert client.plugins == []
    assert listener.seen == ["close"]
    assert [r.getMessage().split(" raised")[0] for r in failures(caplog)] == [
        "plugin 'raiser'"]


class RaisingEventWrapper:
    """Observer wrappers around ``ollama_event`` that fail in one of their halves."""

    def __init__(self, when: str) -> None:
        self.name = f"wrapper_{when}"
        self.when = when
        self.wrapped = 0

    @hookimpl(wrapper=True)
    def ollama_event(self, event: Event) -> Generator[None, None, None]:
        if self.when == "before":
            raise Boom("before the yield")
        result = yield
        self.wrapped += 1
        if self.when == "after":
            raise Boom("after the yield")
        return result


class OldStyleWrapper:
    name = "old_style"

    @hookimpl(hookwrapper=True)
    def ollama_event(self) -> Generator[None, Any, None]:
        outcome = yield
        outcome.get_result()
        raise Boom("old-style wrapper after the yield")


@pytest.mark.parametrize("wrapper", [RaisingEventWrapper("before"),
                                     RaisingEventWrapper("after"),
                                     RaisingEventWrapper("never"),
                                     OldStyleWrapper()],
                         ids=lambda w: str(w.name))
async def test_observer_wrappers_are_guarded_and_healthy_ones_still_wrap(
        emu: OllamaEmulator, caplog: pytest.LogCaptureFixture, wrapper: Any) -> None:
    listener = Listener()
    async with OllamaClient(emu.url, plugins=[listener, wrapper]) as client:
        client.emit(Event("custom", "test", client.clock.now(), {}))
    assert listener.seen[0] == "event:custom"
    logged = [r for r in failures(caplog) if "ollama_event" in r.getMessage()]
    if isinstance(wrapper, RaisingEventWrapper) and wrapper.when == "never":
        assert wrapper.wrapped == 1 and logged == []
    else:
        assert len(logged) == 1 and f"'{wrapper.name}'" in logged[0].getMessage()


# -- transforms ----------------------------------------------------------------------------


class Rejecter:
    name = "rejecter"

    def __init__(self) -> None:
        self.error = InvalidRequestError("no pirates here", field="messages.0.content")

    @hookimpl
    def ollama_prepare_request(self, body: dict[str, Any]) -> None:
        if "arr" in str(body):
            raise self.error


class BuggyPrepare:
    name = "buggy_prepare"

    @hookimpl
    def ollama_prepare_request(self, body: dict[str, Any]) -> None:
        body["options"]["temperature"] = 0  # KeyError: the body has no options


async def test_a_deliberate_invalid_request_error_passes_through_unchanged(
        emu: OllamaEmulator) -> None:
    rejecter = Rejecter()
    async with OllamaClient(emu.url, plugins=[rejecter]) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.chat({**CHAT, "messages": [{"role": "user", "content": "arr"}]})
    assert caught.value is rejecter.error
    assert caught.value.field == "messages.0.content"
    assert emu.hits() == 0


async def test_a_buggy_prepare_hook_fails_the_call_naming_the_plugin(
        emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[Listener(), BuggyPrepare()]) as client:
        with pytest.raises(PluginHookError, match="'buggy_prepare'.*KeyError") as caught:
            await client.chat(CHAT)
    error = caught.value
    assert error.plugin == "buggy_prepare" and error.hook == "ollama_prepare_request"
    assert isinstance(error.__cause__, KeyError)
    assert emu.hits() == 0


async def test_a_buggy_request_hook_fails_the_attempt_before_it_is_sent_and_is_not_retried(
        emu: OllamaEmulator, clock: FakeClock) -> None:
    class Signer:
        name = "signer"
        calls = 0

        @hookimpl
        def ollama_request(self, request: Request) -> None:
            Signer.calls += 1
            request.headers["X-Signature"] = request.headers["X-Key"]  # KeyError

    async with OllamaClient(emu.url, plugins=["retry", Signer()], clock=clock) as client:
        with pytest.raises(PluginHookError, match="'signer' failed in ollama_request"):
            await client.chat(CHAT)
    assert Signer.calls == 1
    assert emu.hits() == 0


async def test_a_buggy_chunk_hook_fails_the_stream_naming_the_plugin(
        emu: OllamaEmulator) -> None:
    class Censor:
        name = "censor"

        @hookimpl
        def ollama_stream_chunk(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
            if chunk.get("done"):
                raise Boom("cannot censor the final chunk")
            return None

    got = 0
    async with OllamaClient(emu.url, plugins=[Censor()]) as client:
        stream = client.generate_stream(GenerateRequest(model="llama3.2", prompt="abc"))
        with pytest.raises(PluginHookError, match="'censor' failed in ollama_stream_chunk"):
            async for _ in stream:
                got += 1
        assert got > 1 and stream.state is StreamState.FAILED
        assert open_sockets(emu.port) <= 1  # released or pooled, not leaked


async def test_a_buggy_setup_hook_fails_the_construction_naming_the_plugin(
        emu: OllamaEmulator) -> None:
    class Half:
        name = "half"

        @hookimpl
        def ollama_client_setup(self, client: OllamaClient) -> None:
            raise Boom("cannot read my settings")

    with pytest.raises(PluginHookError, match="'half' failed in ollama_client_setup") as caught:
        OllamaClient(emu.url, plugins=[Half()])
    assert isinstance(caught.value.__cause__, Boom)
    # Added to a live client: refused the same way, and the client is left as it was.
    async with OllamaClient(emu.url, plugins=[]) as client:
        with pytest.raises(PluginHookError, match="'half'"):
            client.add_plugin(Half())
        assert client.plugins == []
        assert (await client.version()) != ""


async def test_a_transform_wrapper_is_guarded_too(emu: OllamaEmulator) -> None:
    class Timing:
        name = "timing"

        @hookimpl(wrapper=True)
        def ollama_prepare_request(self) -> Generator[None, None, None]:
            result = yield
            raise Boom("timer not started")
            return result  # pragma: no cover

    async with OllamaClient(emu.url, plugins=[Timing(), Rejecter()]) as client:
        with pytest.raises(PluginHookError, match="'timing'"):
            await client.chat(CHAT)
        # The inner implementation's deliberate error still passes unchanged.
        with pytest.raises(InvalidRequestError, match="no pirates"):
            await client.chat({**CHAT, "messages": [{"role": "user", "content": "arr"}]})
    assert emu.hits() == 0

"""status, me, signout, model_recommendations, web_search, web_fetch and systemone, over
loopback against the emulator, async and sync; and the cloud path of the web calls."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

import pytest

from ollama_core import (
    AiohttpTransport,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ClientClosedError,
    ConnectError,
    DeadlineExceeded,
    FakeClock,
    InvalidConfigError,
    InvalidRequestError,
    NotFoundError,
    OllamaClient,
    PermissionDeniedError,
    RateLimitExceededError,
    Request,
    ServiceUnavailableError,
    SyncOllamaClient,
    Timeouts,
    TransportError,
    TransportRequest,
    TransportResponse,
    hookimpl,
)
from ollama_core._types import (
    ModelRecommendation,
    Options,
    StatusResponse,
    SystemOneChoiceAnswer,
    SystemOneChoiceQuestion,
    SystemOneNoulAnswer,
    SystemOneRequest,
    SystemOneResponse,
    SystemOneScoreAnswer,
    SystemOneScoreQuestion,
    UserResponse,
    WebFetchResponse,
    WebSearchResponse,
)
from ollama_core.emulator import EmulatorThread, OllamaEmulator

QUESTIONS: dict[str, Any] = {
    "team": {"type": "choice", "instructions": "Which team should handle this ticket?",
             "criteria": {"billing": "Payments and refunds", "technical": None}},
    "urgent": {"type": "noul", "instructions": "Is it urgent?"},
    "severity": {"type": "score", "instructions": "How bad is it?",
                 "criteria": ["minor", "major", "outage"]},
}
DECISION: dict[str, Any] = {"model": "nimble", "state": "Checkout has returned 500 errors since 9am.",
            "questions": QUESTIONS}
CLOUD_KEY = "sk-cloud-0123456789abcdef"


def check_systemone(answer: SystemOneResponse) -> None:
    assert isinstance(answer, SystemOneResponse) and answer.model == "nimble"
    team, urgent, severity = (answer.answers[k] for k in ("team", "urgent", "severity"))
    assert isinstance(team, SystemOneChoiceAnswer)
    assert team.choice in ("billing", "technical")
    assert list(team.probabilities) == ["billing", "technical"]
    assert math.isclose(sum(team.probabilities.values()), 1.0)
    assert 0.0 <= team.confidence <= 1.0
    assert isinstance(urgent, SystemOneNoulAnswer) and 0.0 < urgent.noul < 1.0
    assert isinstance(severity, SystemOneScoreAnswer)
    assert severity.legend == {"0": "minor", "1": "major", "2": "outage"}
    assert 0.0 <= severity.score <= 2.0
    assert math.isclose(sum(severity.probabilities.values()), 1.0)
    assert answer.usage.output_tokens == 3 and answer.usage.input_tokens > 0


def check_status(status: StatusResponse) -> None:
    assert isinstance(status, StatusResponse)
    assert (status.cloud.disabled, status.cloud.source) == (False, "none")


def check_me(user: UserResponse) -> None:
    assert isinstance(user, UserResponse)
    assert (user.name, user.email, user.plan) == ("emulator", "emulator@example.com", "free")
    assert user.id == "0e8f4f4c-6c1a-4b8e-9d7e-2f1d5a3c9b10" and user.bio is None


def check_recommendations(answer: Any) -> None:
    first = answer.recommendations[0]
    assert isinstance(first, ModelRecommendation)
    assert (first.model, first.context_length) == ("llama3.2", 131072)
    assert first.vram_bytes is not None and first.vram_bytes > 0
    assert "nimble" in [r.model for r in answer.recommendations]


def check_search(answer: WebSearchResponse) -> None:
    assert isinstance(answer, WebSearchResponse)
    assert [r.url for r in answer.results] == [
        "https://example.com/ollama-tips/1", "https://example.com/ollama-tips/2"]
    assert answer.results[0].title == "ollama tips (1)" and answer.results[0].content


def check_fetch(answer: WebFetchResponse) -> None:
    assert isinstance(answer, WebFetchResponse)
    assert answer.content == "The content of https://ollama.com/blog."
    assert answer.links == ["https://ollama.com/blog/about", "https://ollama.com/blog/contact"]
    assert answer.title.startswith("Page ")


#: method, positional arguments, keywords, check of the result. Every call of the table
#: runs async and sync, over loopback, in this order (signout comes after me).
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], Callable[[Any], None]]] = [
    ("status", (), {}, check_status),
    ("me", (), {}, check_me),
    ("model_recommendations", (), {}, check_recommendations),
    ("web_search", ("ollama tips",), {"max_results": 2}, check_search),
    ("web_fetch", ("https://ollama.com/blog",), {}, check_fetch),
    ("systemone", (DECISION,), {}, check_systemone),
    ("systemone", (SystemOneRequest.from_dict(DECISION),), {}, check_systemone),
    ("systemone", (), DECISION, check_systemone),
    ("signout", (), {}, lambda result: None if result is None else pytest.fail("not None")),
]
PATHS = ["/api/status", "/api/me", "/api/experimental/model-recommendations",
         "/api/experimental/web_search", "/api/experimental/web_fetch", "/v1/systemone",
         "/v1/systemone", "/v1/systemone", "/api/signout"]


@pytest.mark.ollama_emulator(models=["llama3.2", "nimble"])
async def test_every_new_endpoint_async(ollama_emulator: OllamaEmulator) -> None:
    async with OllamaClient(ollama_emulator.url, plugins=[]) as client:
        for name, args, kwargs, check in CALLS:
            check(await getattr(client, name)(*args, **kwargs))
    assert [r.path for r in ollama_emulator.requests] == PATHS
    assert ollama_emulator.requests[3].json == {"query": "ollama tips", "max_results": 2}
    assert ollama_emulator.requests[5].json == DECISION
    assert ollama_emulator.state.user is None  # signed out


def test_every_new_endpoint_sync() -> None:
    with EmulatorThread(models=["llama3.2", "nimble"]) as emu, \
            SyncOllamaClient(emu.url, plugins=[]) as client:
        for name, args, kwargs, check in CALLS:
            check(getattr(client, name)(*args, **kwargs))
        assert [r.path for r in emu.requests] == PATHS
        # the server's errors, typed
        with pytest.raises(AuthenticationError) as signed_out:
            client.me()
        assert signed_out.value.body["signin_url"].startswith("https://ollama.com/connect?")
        with pytest.raises(AuthenticationError, match="not currently signed in"):
            client.signout()


@pytest.mark.ollama_emulator(models=["llama3.2", "nimble"])
async def test_server_errors_are_typed(ollama_emulator: OllamaEmulator) -> None:
    async with OllamaClient(ollama_emulator.url, plugins=[]) as client:
        with pytest.raises(BadRequestError) as not_decision:
            await client.systemone(DECISION, model="llama3.2")
        assert not_decision.value.error == '"llama3.2" does not support decision'
        with pytest.raises(NotFoundError):
            await client.systemone(DECISION, model="nope")
        with pytest.raises(BadRequestError, match="criteria must have 2 to 26 choices"):
            await client.systemone(DECISION, questions={"q": {
                "type": "choice", "instructions": "?", "criteria": {"only": None}}})
        with pytest.raises(BadRequestError, match="invalid url"):
            await client.web_fetch("ftp://example.com")
        ollama_emulator.state.cloud_disabled = True
        assert (await client.status()).cloud.disabled is True
        with pytest.raises(PermissionDeniedError) as disabled:
            await client.web_search("q")
        assert disabled.value.status_code == 403
        assert disabled.value.error == "ollama cloud is disabled: web search is unavailable"


@pytest.mark.ollama_emulator(models=["nimble"])
async def test_fault_injected_failures_and_a_retry(ollama_emulator: OllamaEmulator) -> None:
    ollama_emulator.faults.add(path="/v1/systemone", status=503)
    ollama_emulator.faults.add(path="/api/status", reset_after=0)
    async with OllamaClient(ollama_emulator.url, plugins=[]) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.systemone(DECISION)
        with pytest.raises(TransportError):  # the connection dropped before any byte
            await client.status()
        check_status(await client.status())
    ollama_emulator.faults.script("/v1/systemone", [503, 503, None])
    async with OllamaClient(ollama_emulator.url, plugins=["retry"], plugin_config={
            "retry": {"base_delay": 0.001, "jitter": "none"}}) as client:
        check_systemone(await client.systemone(DECISION))
    assert ollama_emulator.hits("/v1/systemone") == 4


@pytest.mark.ollama_emulator(models=["nimble"])
async def test_bad_input_is_refused_naming_the_field_before_sending(
    ollama_emulator: OllamaEmulator
) -> None:
    bad: list[tuple[Callable[[OllamaClient], Any], str]] = [
        (lambda c: c.systemone(DECISION, questions={"q": {"type": "score",
                                                          "instructions": "?",
                                                          "criteria": "low"}}),
         "questions.q.criteria"),
        (lambda c: c.systemone(DECISION, questions={"q": {"type": "maybe",
                                                          "instructions": "?"}}),
         "questions.q.type"),
        (lambda c: c.systemone({"state": "s", "questions": QUESTIONS}), "model"),
        (lambda c: c.systemone(DECISION, keep_alive="soon"), "keep_alive"),
        (lambda c: c.systemone("nimble"), "request"),  # type: ignore[arg-type]
        (lambda c: c.web_search(""), "query"),
        (lambda c: c.web_search("q", max_results="3"), "max_results"),  # type: ignore[arg-type]
        (lambda c: c.web_search("q", cloud="yes"), "cloud"),  # type: ignore[arg-type]
        (lambda c: c.web_fetch(""), "url"),
    ]
    async with OllamaClient(ollama_emulator.url, plugins=[]) as client:
        for call, field in bad:
            with pytest.raises(InvalidRequestError) as refused:
                await call(client)
            assert refused.value.field == field, refused.value
    assert ollama_emulator.requests == []


@pytest.mark.ollama_emulator(models=["nimble"])
async def test_systemone_keywords_override_the_request_and_typed_questions_go_as_json(
    ollama_emulator: OllamaEmulator
) -> None:
    typed: dict[str, Any] = {"team": SystemOneChoiceQuestion(instructions="Which team?",
                                             criteria={"billing": None, "technical": "Bugs"}),
             "severity": SystemOneScoreQuestion(instructions="How bad?",
                                                criteria=["minor", "major"])}
    async with OllamaClient(ollama_emulator.url, plugins=[]) as client:
        answer = await client.systemone(DECISION, questions=typed, keep_alive="1m")
    assert list(answer.answers) == ["team", "severity"]
    sent = ollama_emulator.requests[-1].json
    assert sent["keep_alive"] == "1m" and sent["state"] == DECISION["state"]
    assert sent["questions"]["team"] == {"type": "choice", "instructions": "Which team?",
                                         "criteria": {"billing": None, "technical": "Bugs"}}


# ------------------------------------------------------------------------- the cloud path


class Watcher:
    """A plugin that sees every request the client's own path sends."""

    name = "watcher"

    def __init__(self) -> None:
        self.paths: list[str] = []

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        self.paths.append(request.path)


@pytest.fixture
def cloud() -> Any:
    with EmulatorThread() as emu:
        yield emu


@pytest.mark.ollama_emulator(models=["llama3.2"])
async def test_the_key_reaches_the_cloud_and_never_the_server(
    ollama_emulator: OllamaEmulator, cloud: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    watcher = Watcher()
    async with OllamaClient(ollama_emulator.url, plugins=[watcher], cloud_url=cloud.url,
                            cloud_api_key=CLOUD_KEY, api_key="local-key",
                            headers={"X-Proxy-Token": "for-the-server-only"}) as client:
        assert client.cloud_url == cloud.url
        check_search(await client.web_search("ollama tips", max_results=2, cloud=True))
        check_fetch(await client.web_fetch("https://ollama.com/blog", cloud=True))
        # the same calls through the server
        check_search(await client.web_search("ollama tips", max_results=2))
        check_fetch(await client.web_fetch("https://ollama.com/blog"))
    to_cloud = cloud.requests
    assert [r.path for r in to_cloud] == ["/api/web_search", "/api/web_fetch"]
    assert to_cloud[0].json == {"query": "ollama tips", "max_results": 2}
    for recorded in to_cloud:
        assert recorded.has_header("Authorization", f"Bearer {CLOUD_KEY}")
        assert "X-Proxy-Token" not in recorded.headers
    to_server = ollama_emulator.requests
    assert [r.path for r in to_server] == [
        "/api/experimental/web_search", "/api/experimental/web_fetch"]
    for recorded in to_server:
        assert not recorded.has_header("Authorization", f"Bearer {CLOUD_KEY}")
        assert recorded.has_header("Authorization", "Bearer local-key")
    # the client's plugins saw only the server's calls
    assert watcher.paths == ["/api/experimental/web_search", "/api/experimental/web_fetch"]


def test_the_cloud_key_comes_from_ollama_api_key_and_the_url_from_ollama_cloud_url(
    cloud: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", CLOUD_KEY)
    monkeypatch.setenv("OLLAMA_CLOUD_URL", cloud.url)
    with EmulatorThread() as local, SyncOllamaClient(local.url, plugins=[]) as client:
        assert client.cloud_url == cloud.url
        check_search(client.web_search("ollama tips", max_results=2, cloud=True))
        check_fetch(client.web_fetch("https://ollama.com/blog", cloud=True))
        assert local.requests == []
    assert all(r.has_header("Authorization", f"Bearer {CLOUD_KEY}") for r in cloud.requests)


async def test_no_key_is_a_configuration_error_before_sending(
    cloud: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    async with OllamaClient("http://127.0.0.1:9", plugins=[], cloud_url=cloud.url) as client:
        with pytest.raises(InvalidConfigError, match="cloud_api_key.*OLLAMA_API_KEY"):
            await client.web_search("q", cloud=True)
    assert cloud.requests == []
    with pytest.raises(InvalidConfigError, match="cloud_api_key"):
        OllamaClient(cloud_api_key="two\nlines")


@pytest.mark.ollama_emulator(models=["llama3.2"])
async def test_the_cloud_path_bypasses_limiter_breaker_and_failover(
    ollama_emulator: OllamaEmulator, cloud: EmulatorThread
) -> None:
    clock = FakeClock()
    # Retries, a limiter with one token that never refills (a fake clock), a breaker that
    # opens at one failure, and failover over the server and a dead one.
    async with OllamaClient(
        ollama_emulator.url, clock=clock, cloud_url=cloud.url, cloud_api_key=CLOUD_KEY,
        plugins=["retry", "rate_limiting", "circuit_breaker", "failover"],
        plugin_config={
            "retry": {"base_delay": 0.001, "jitter": "none"},
            "rate_limiting": {"rate": 0.001, "burst": 1, "max_wait": 0},
            "circuit_breaker": {"fail_max": 1},
            "failover": {"endpoints": [ollama_emulator.url, "http://127.0.0.1:9"]},
        },
    ) as client:
        ollama_emulator.faults.add(path="/api/experimental/web_search", status=500)
        with pytest.raises(Exception):
            await client.web_search("q")  # the one token; the 500 opens the breaker
        with pytest.raises((RateLimitExceededError, CircuitOpenError)):
            await client.web_search("q")
        for _ in range(3):
            check_search(await client.web_search("ollama tips", max_results=2, cloud=True))
        cloud.faults.add(path="/api/web_fetch", status=503)
        with pytest.raises(ServiceUnavailableError):
            await client.web_fetch("https://ollama.com/blog", cloud=True)  # not retried
    assert cloud.hits("/api/web_search") == 3 and cloud.hits("/api/web_fetch") == 1
    assert ollama_emulator.hits("/api/experimental/web_search") == 1


async def test_the_key_never_shows_in_repr_logs_or_errors(
    cloud: EmulatorThread, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    caplog.set_level(logging.DEBUG)
    cloud.faults.add(path="/api/web_search", status=401, error="bad key")
    seen: list[str] = []
    with EmulatorThread() as local:
        client = OllamaClient(local.url, plugins=["retry"], cloud_url=cloud.url,
                              cloud_api_key=CLOUD_KEY)
        async with client:
            seen += [repr(client), str(client), repr(client._cloud), repr(vars(client))]
            with pytest.raises(AuthenticationError) as refused:
                await client.web_search("q", cloud=True)
            seen += [str(refused.value), repr(refused.value), repr(refused.value.body)]
        async with OllamaClient(local.url, plugins=[], cloud_url="http://127.0.0.1:9",
                                cloud_api_key=CLOUD_KEY) as nowhere:
            with pytest.raises(ConnectError) as unreachable:
                await nowhere.web_fetch("https://x.org", cloud=True)
            seen += [str(unreachable.value), repr(unreachable.value)]
        sync = SyncOllamaClient(local.url, plugins=[], cloud_api_key=CLOUD_KEY)
        seen.append(repr(sync))
        sync.close()
    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(r) for r in cloud.requests]
    assert seen and not [text for text in seen if CLOUD_KEY in text]


# ------------------------------------------------------------------ model_info keywords


@pytest.mark.ollama_emulator(models=["llama3.2"])
async def test_model_info_sends_system_and_options(ollama_emulator: OllamaEmulator) -> None:
    async with OllamaClient(ollama_emulator.url, plugins=[]) as client:
        plain = await client.model_info("llama3.2")
        shown = await client.model_info("llama3.2", system="Answer in French.",
                                        options=Options(temperature=0.25))
        also = await client.model_info(model="llama3.2", options={"num_ctx": 2048})
        with pytest.raises(InvalidRequestError) as refused:
            await client.model_info("llama3.2", options={"temperature": "hot"})
        assert refused.value.field == "options.temperature"
    assert plain.system is None and "temperature" not in (plain.modelfile or "")
    assert shown.system == "Answer in French."
    assert 'SYSTEM """Answer in French."""' in (shown.modelfile or "")
    assert "PARAMETER temperature 0.25" in (shown.modelfile or "")
    assert shown.parameters == plain.parameters  # written before the options are merged
    assert "PARAMETER num_ctx 2048" in (also.modelfile or "")
    sent = [r.json for r in ollama_emulator.requests]
    assert sent == [{"model": "llama3.2"},
                    {"model": "llama3.2", "system": "Answer in French.",
                     "options": {"temperature": 0.25}},
                    {"model": "llama3.2", "options": {"num_ctx": 2048}}]


def test_model_info_keywords_sync() -> None:
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[]) as client:
        shown = client.model_info("llama3.2", system="Be brief.", options={"top_k": 5})
    assert shown.system == "Be brief." and "PARAMETER top_k 5" in (shown.modelfile or "")


class Signalling(AiohttpTransport):
    """The aiohttp transport, saying when a request reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = asyncio.Event()

    async def handle(self, request: TransportRequest) -> TransportResponse:
        self.sent.set()
        return await super().handle(request)


async def test_a_cloud_call_keeps_the_deadline_and_ends_with_the_client(
    cloud: EmulatorThread
) -> None:
    cloud.faults.add(path="/api/web_search", headers_delay=30.0, times=None)
    async with OllamaClient("http://127.0.0.1:9", plugins=[], cloud_url=cloud.url,
                            cloud_api_key=CLOUD_KEY) as client:
        with pytest.raises(DeadlineExceeded, match="web_search"):
            await client.web_search("q", cloud=True, timeout=Timeouts(deadline=0.05))
    transport = Signalling()
    client = OllamaClient("http://127.0.0.1:9", plugins=[], cloud_url=cloud.url,
                          cloud_api_key=CLOUD_KEY, transport=transport)
    call = asyncio.ensure_future(client.web_search("q", cloud=True))
    await transport.sent.wait()  # the cloud call is with the transport
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await call
    with pytest.raises(ClientClosedError):
        await client.web_fetch("https://x.org", cloud=True)


@pytest.mark.ollama_emulator(models=["nimble"])
async def test_systemone_takes_the_official_packages_request(
    ollama_emulator: OllamaEmulator
) -> None:
    import ollama

    official = ollama.SystemOneRequest(model="nimble", state=DECISION["state"],
                                       questions=QUESTIONS)
    async with OllamaClient(ollama_emulator.url, plugins=[]) as client:
        check_systemone(await client.systemone(official))  # type: ignore[arg-type]
    assert ollama_emulator.requests[0].json == DECISION


@pytest.mark.ollama_emulator(models=["llama3.2"])
async def test_through_the_server_the_callers_key_stays_with_the_server(
    ollama_emulator: OllamaEmulator, cloud: EmulatorThread
) -> None:
    """The server proxies the experimental routes to ollama.com with its own signature."""
    ollama_emulator.state.cloud_url = cloud.url
    async with OllamaClient(ollama_emulator.url, plugins=[], api_key="caller-key",
                            cloud_api_key=CLOUD_KEY) as client:
        check_search(await client.web_search("ollama tips", max_results=2))
        check_fetch(await client.web_fetch("https://ollama.com/blog"))
    assert all(r.has_header("Authorization", "Bearer caller-key")
               for r in ollama_emulator.requests)
    assert [r.path for r in cloud.requests] == ["/api/web_search", "/api/web_fetch"]
    for forwarded in cloud.requests:
        assert forwarded.has_header("Authorization", "Bearer emulator-server-signature")
        assert not forwarded.has_header("Authorization", "Bearer caller-key")
        assert not forwarded.has_header("Authorization", f"Bearer {CLOUD_KEY}")

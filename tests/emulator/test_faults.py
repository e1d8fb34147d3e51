"""Fault injection, the HTTP control API, restarts, connections and the thread runner."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from ollama_core.emulator import EmulatorThread, FaultRule, OllamaEmulator

GENERATE = {"model": "llama3.2", "prompt": "one two three four five six"}  # 7 content chunks
UNICODE = "ünïcödé wörds ☃ here"
CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": UNICODE}]}


async def read_stream(
    session: aiohttp.ClientSession, url: str, body: Any
) -> tuple[int | None, list[bytes], BaseException | None]:
    """(status, raw lines received, the exception that ended the read, if any)."""
    lines: list[bytes] = []
    status = None
    try:
        async with session.post(url, json=body) as resp:
            status = resp.status
            async for line in resp.content:
                lines.append(line)
    except (aiohttp.ClientError, ConnectionError) as exc:
        return status, lines, exc
    return status, lines, None


async def raw_exchange(
    emu: OllamaEmulator, body: dict[str, Any], path: str = "/api/generate"
) -> tuple[bytes, str]:
    """Send one ``Connection: close`` request over a bare socket; return what arrived and
    how the connection ended: ``"eof"`` (FIN) or ``"reset"`` (RST)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
    payload = json.dumps(body).encode()
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    received = b""
    ending = "eof"
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionResetError:
        ending = "reset"
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    return received, ending


# ------------------------------------------------------------- status faults


async def test_status_with_retry_after(api: Any) -> None:
    api.emulator.faults.add(path="/api/chat", status=503, retry_after=2, times=2)
    for _ in range(2):
        reply = await api.post("/api/chat", CHAT)
        assert reply.status == 503
        assert reply.headers["Retry-After"] == "2"
        assert reply.content_type == "application/json; charset=utf-8"
        assert reply.json() == {
            "error": "server busy, please try again.  maximum pending requests exceeded"
        }
    assert (await api.post("/api/chat", CHAT)).status == 200
    assert api.emulator.hits("/api/chat") == 3  # faulted requests are recorded too


@pytest.mark.parametrize(
    ("rule", "status", "body", "retry_after"),
    [
        ({"status": 429, "retry_after": 1.5}, 429,
         {"error": "too many requests, please slow down"}, "1.5"),
        ({"status": 500, "error": "boom"}, 500, {"error": "boom"}, None),
        ({"status": 404}, 404, {"error": "model 'llama3.2' not found"}, None),
        ({"status": 503, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 503, None,
         "Wed, 21 Oct 2015 07:28:00 GMT"),
    ],
)
async def test_status_variants(
    api: Any, rule: dict[str, Any], status: int, body: Any, retry_after: str | None
) -> None:
    api.emulator.faults.add(path="/api/generate", **rule)
    reply = await api.post("/api/generate", GENERATE)
    assert reply.status == status
    if body is not None:
        assert reply.json() == body
    assert reply.headers.get("Retry-After") == retry_after


async def test_status_401_has_signin_url_and_403_is_bare(api: Any) -> None:
    api.emulator.faults.add(path="/api/tags", status=401)
    api.emulator.faults.add(path="/api/tags", status=403)
    unauthorized = await api.get("/api/tags")
    assert unauthorized.status == 401
    assert unauthorized.json()["error"] == "unauthorized"
    assert unauthorized.json()["signin_url"].startswith("https://ollama.com/connect?")
    forbidden = await api.get("/api/tags")
    assert (forbidden.status, forbidden.raw) == (403, b"")


# -------------------------------------------------------------- delay faults


async def test_headers_delay(api: Any) -> None:
    api.emulator.faults.add(path="/api/version", headers_delay=0.2)
    start = time.perf_counter()
    reply = await api.get("/api/version")
    assert reply.status == 200
    assert time.perf_counter() - start >= 0.2


async def test_headers_delay_then_status(api: Any) -> None:
    api.emulator.faults.add(path="/api/version", headers_delay=0.1, status=502)
    start = time.perf_counter()
    assert (await api.get("/api/version")).status == 502
    assert time.perf_counter() - start >= 0.1


async def test_chunk_delay_rule(api: Any, http: aiohttp.ClientSession) -> None:
    api.emulator.faults.add(path="/api/generate", chunk_delay=0.03)
    start = time.perf_counter()
    arrivals = []
    async with http.post(api.emulator.url + "/api/generate", json=GENERATE) as resp:
        async for _ in resp.content:
            arrivals.append(time.perf_counter() - start)
    assert len(arrivals) == 8
    assert arrivals[-1] - arrivals[0] >= 7 * 0.03 * 0.9  # paced, not batched


@pytest.mark.ollama_emulator(chunk_delay=0.02)
async def test_chunk_delay_constructor(api: Any) -> None:
    start = time.perf_counter()
    reply = await api.post("/api/generate", GENERATE)
    assert len(reply.lines) == 8
    assert time.perf_counter() - start >= 7 * 0.02 * 0.9


# ------------------------------------------------------------- stream faults


async def test_reset_after_sends_lines_then_rst(api: Any, http: aiohttp.ClientSession) -> None:
    api.emulator.faults.add(path="/api/generate", reset_after=3)
    status, lines, exc = await read_stream(http, api.emulator.url + "/api/generate", GENERATE)
    assert status == 200
    assert len(lines) == 3 and all(json.loads(line)["done"] is False for line in lines)
    assert isinstance(exc, aiohttp.ClientPayloadError)
    api.emulator.faults.add(path="/api/generate", reset_after=3)
    received, ending = await raw_exchange(api.emulator, GENERATE)
    assert ending == "reset"
    assert received.startswith(b"HTTP/1.1 200")
    assert received.count(b'"done":false') == 3


async def test_reset_after_zero_drops_before_any_byte(
    api: Any, http: aiohttp.ClientSession
) -> None:
    api.emulator.faults.add(path="/api/chat", reset_after=0)
    status, lines, exc = await read_stream(http, api.emulator.url + "/api/chat", CHAT)
    assert status is None and lines == []
    assert isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError))
    api.emulator.faults.add(path="/api/chat", reset_after=0)
    assert await raw_exchange(api.emulator, CHAT, "/api/chat") == (b"", "reset")
    assert api.emulator.hits("/api/chat") == 2  # the request did reach the server


async def test_reset_after_zero_on_non_stream_endpoint(api: Any) -> None:
    api.emulator.faults.add(path="/api/show", reset_after=0)
    with pytest.raises(aiohttp.ClientConnectionError):  # ECONNRESET
        await api.post("/api/show", {"model": "llama3.2"})
    # aiohttp quietly retries an idempotent GET once after a disconnect: two attempts arrive
    api.emulator.faults.add(path="/api/tags", reset_after=0)
    assert (await api.get("/api/tags")).status == 200
    assert api.emulator.hits("/api/tags") == 2


async def test_malformed_after(api: Any) -> None:
    api.emulator.faults.add(path="/api/generate", malformed_after=2)
    reply = await api.post("/api/generate", GENERATE)
    raw_lines = reply.raw.splitlines()
    assert raw_lines[2] == b'{"model": broken'
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw_lines[2])
    rest = [json.loads(line) for line in raw_lines[:2] + raw_lines[3:]]
    assert len(rest) == 8 and rest[-1]["done"] is True  # the stream carries on


async def test_error_after(api: Any) -> None:
    api.emulator.faults.add(path="/api/chat", error_after=2)
    reply = await api.post("/api/chat", CHAT)
    assert reply.status == 200
    lines = reply.lines
    assert len(lines) == 3
    assert [line["done"] for line in lines[:2]] == [False, False]
    assert lines[2] == {"error": "an error was encountered while running the model"}
    api.emulator.faults.add(path="/api/chat", error_after=0, error="out of memory")
    first = await api.post("/api/chat", CHAT)
    assert (first.status, first.lines) == (200, [{"error": "out of memory"}])
    assert first.content_type == "application/x-ndjson"


async def test_truncate_after(api: Any) -> None:
    api.emulator.faults.add(path="/api/generate", truncate_after=4)
    reply = await api.post("/api/generate", GENERATE)
    assert reply.status == 200
    assert len(reply.lines) == 4
    assert not any(line["done"] for line in reply.lines)
    # longer than the stream: it is the final line that goes missing
    api.emulator.faults.add(path="/api/generate", truncate_after=1000)
    lines = (await api.post("/api/generate", GENERATE)).lines
    assert len(lines) == 7 and not any(line["done"] for line in lines)
    # ended cleanly: a FIN after a complete chunked body, not a reset
    api.emulator.faults.add(path="/api/generate", truncate_after=2)
    received, ending = await raw_exchange(api.emulator, GENERATE)
    assert ending == "eof" and received.endswith(b"0\r\n\r\n")


async def test_truncate_pull_stream(api: Any) -> None:
    api.emulator.faults.add(path="/api/pull", truncate_after=5)
    lines = (await api.post("/api/pull", {"model": "mistral"})).lines
    assert len(lines) == 5 and lines[-1]["status"] != "success"
    assert "mistral:latest" not in api.emulator.models  # never got to "writing manifest"


async def test_blank_lines(api: Any) -> None:
    api.emulator.faults.add(path="/api/generate", blank_lines=True)
    reply = await api.post("/api/generate", GENERATE)
    raw_lines = reply.raw.split(b"\n")[:-1]
    assert raw_lines[1::2] == [b""] * 7
    assert [json.loads(line)["done"] for line in raw_lines[0::2]] == [False] * 7 + [True]


async def test_split_writes_cut_inside_characters(api: Any, http: aiohttp.ClientSession) -> None:
    api.emulator.faults.add(path="/api/chat", split_writes=True)
    pieces = []
    async with http.post(api.emulator.url + "/api/chat", json=CHAT) as resp:
        async for piece in resp.content.iter_any():
            pieces.append(piece)
    data = b"".join(pieces)
    lines = [json.loads(line) for line in data.splitlines()]
    assert "".join(line["message"]["content"] for line in lines) == f"Echo: {UNICODE}"
    assert len(pieces) > len(lines)  # lines arrived in several reads

    def decodable(piece: bytes) -> bool:
        try:
            piece.decode()
            return True
        except UnicodeDecodeError:
            return False

    assert not all(decodable(piece) for piece in pieces)  # some read ended mid-character


async def test_fault_combinations(api: Any) -> None:
    api.emulator.faults.add(path="/api/generate", blank_lines=True, error_after=3)
    raw = (await api.post("/api/generate", GENERATE)).raw
    objects = [json.loads(line) for line in raw.splitlines() if line]
    assert len(objects) == 4 and objects[-1]["error"]
    assert b"\n\n" in raw


# ------------------------------------------------------- non-streamed bodies


async def test_non_stream_body_faults(api: Any, http: aiohttp.ClientSession) -> None:
    body = {**GENERATE, "stream": False}
    faults = api.emulator.faults
    faults.add(path="/api/generate", error_after=0)
    failed = await api.post("/api/generate", body)
    assert (failed.status, failed.json()) == (
        500, {"error": "an error was encountered while running the model"}
    )
    faults.add(path="/api/generate", malformed_after=0)
    assert (await api.post("/api/generate", body)).raw == b'{"model": broken'
    for rule in ({"reset_after": 1}, {"truncate_after": 1}):
        faults.add(path="/api/generate", **rule)
        with pytest.raises(aiohttp.ClientPayloadError):
            await api.post("/api/generate", body)
    faults.add(path="/api/show", split_writes=True)
    shown = await api.post("/api/show", {"model": "llama3.2"})
    assert shown.json()["details"]["family"] == "llama"


# ------------------------------------------------------------------ matching


async def test_times_none_is_forever_and_clear(api: Any) -> None:
    api.emulator.faults.add(path="/api/tags", status=500, times=None)
    for _ in range(3):
        assert (await api.get("/api/tags")).status == 500
    assert len(api.emulator.faults) == 1
    api.emulator.faults.clear()
    assert (await api.get("/api/tags")).status == 200


async def test_rules_match_in_order_and_by_method_and_path(api: Any) -> None:
    faults = api.emulator.faults
    faults.add(FaultRule(path="/api/tags", method="POST", status=500))  # never matches a GET
    faults.add(FaultRule(path="/api/blobs/*", status=507))
    faults.add(FaultRule(status=502))  # any /api path
    faults.add(FaultRule(status=504))
    assert (await api.get("/")).status == 200  # "/" is not an /api path
    assert (await api.get("/api/tags")).status == 502
    assert (await api.call("HEAD", "/api/blobs/sha256:" + "1" * 64)).status == 507
    assert (await api.get("/api/version")).status == 504
    assert [rule.method for rule in faults.rules] == ["POST"]


async def test_script(api: Any) -> None:
    rules = api.emulator.faults.script("/api/chat", [503, 503, 200], retry_after=1)
    assert [rule.status for rule in rules] == [503, 503, None]
    assert rules[2].passthrough
    results = [(await api.post("/api/chat", CHAT)).status for _ in range(4)]
    assert results == [503, 503, 200, 200]
    assert len(api.emulator.faults) == 0


async def test_add_with_rule_and_overrides(api: Any) -> None:
    base = FaultRule(path="/api/tags", status=500)
    added = api.emulator.faults.add(base, status=418)
    assert added.status == 418 and base.status == 500
    reply = await api.get("/api/tags")
    assert (reply.status, reply.json()) == (418, {"error": "i'm a teapot"})


def test_fault_rule_validation() -> None:
    with pytest.raises(ValueError):
        FaultRule(times=0)
    with pytest.raises(ValueError):
        FaultRule(status=42)
    with pytest.raises(ValueError):
        FaultRule(reset_after=-1)
    with pytest.raises(ValueError, match="unknown FaultRule field"):
        FaultRule.from_dict({"stauts": 503})
    assert FaultRule(method="post").method == "POST"
    rule = FaultRule(path="/x", status=503, retry_after=2)
    assert FaultRule.from_dict(rule.to_dict()) == rule


# --------------------------------------------------------------- control API


async def test_http_control_api(api: Any, http: aiohttp.ClientSession) -> None:
    url = api.emulator.url
    async with http.post(url + "/_emulator/faults", json={"path": "/api/tags", "status": 503,
                                                        "retry_after": 3}) as resp:
        assert resp.status == 201
        assert (await resp.json())["fault"]["status"] == 503
    async with http.get(url + "/_emulator/faults") as resp:
        assert [f["path"] for f in (await resp.json())["faults"]] == ["/api/tags"]
    reply = await api.get("/api/tags")
    assert (reply.status, reply.headers["Retry-After"]) == (503, "3")

    async with http.post(url + "/_emulator/faults/script",
                         json={"path": "/api/ps", "statuses": [500, None]}) as resp:
        assert resp.status == 201
    assert [(await api.get("/api/ps")).status for _ in range(3)] == [500, 200, 200]

    async with http.post(url + "/_emulator/faults", json={"path": "/api/ps", "status": 500,
                                                        "times": None}) as resp:
        assert resp.status == 201
    async with http.delete(url + "/_emulator/faults") as resp:
        assert resp.status == 200
    assert (await api.get("/api/ps")).status == 200

    async with http.get(url + "/_emulator/requests") as resp:
        recorded = (await resp.json())["requests"]
    assert [r["path"] for r in recorded] == ["/api/tags"] + ["/api/ps"] * 4
    assert all(not r.path.startswith("/_emulator") for r in api.emulator.requests)
    async with http.delete(url + "/_emulator/requests") as resp:
        assert resp.status == 200
    assert api.emulator.requests == []


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/_emulator/faults", {"stauts": 503}),
        ("/_emulator/faults", {"status": 1000}),
        ("/_emulator/faults", [1, 2]),
        ("/_emulator/faults/script", {"path": "/api/ps", "statuses": "503"}),
        ("/_emulator/faults/script", {"path": "/api/ps", "statuses": [503], "bogus": 1}),
    ],
)
async def test_http_control_api_rejects_bad_rules(
    api: Any, http: aiohttp.ClientSession, path: str, payload: Any
) -> None:
    async with http.post(api.emulator.url + path, json=payload) as resp:
        assert resp.status == 400
        assert "error" in await resp.json()
    assert len(api.emulator.faults) == 0


# ------------------------------------------------- lifecycle and connections


async def test_restart_on_same_port() -> None:
    emu = OllamaEmulator()
    await emu.start()
    url = emu.url
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/api/version") as resp:
            assert resp.status == 200
        await emu.stop()
        assert not emu.running and emu.open_connections == 0
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(url + "/api/version"):
                pass
        await emu.start()
        try:
            assert emu.url == url
            async with session.get(url + "/api/version") as resp:
                assert resp.status == 200
        finally:
            await emu.stop()


async def test_stop_cuts_streams_in_progress(http: aiohttp.ClientSession) -> None:
    async with OllamaEmulator(chunk_delay=0.05) as emu:
        body = {**GENERATE, "options": {"num_predict": 100}}  # 5 s of stream
        async with http.post(emu.url + "/api/generate", json=body) as resp:
            first = await resp.content.readline()
            assert json.loads(first)["done"] is False
            await emu.stop()
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()


async def test_start_twice_is_an_error(ollama_emulator: OllamaEmulator) -> None:
    with pytest.raises(RuntimeError):
        await ollama_emulator.start()


async def test_open_connections(ollama_emulator: OllamaEmulator) -> None:
    assert ollama_emulator.open_connections == 0
    async with aiohttp.ClientSession() as session:
        async with session.get(ollama_emulator.url + "/api/tags") as resp:
            await resp.read()
        assert ollama_emulator.open_connections == 1  # kept alive in the pool
    assert await ollama_emulator.wait_for_connections(0)
    assert ollama_emulator.open_connections == 0


async def test_open_connections_counts_responses_in_flight(
    ollama_emulator: OllamaEmulator,
) -> None:
    ollama_emulator.faults.add(path="/api/generate", chunk_delay=0.05, times=None)
    async with aiohttp.ClientSession() as session:
        responses = [
            await session.post(ollama_emulator.url + "/api/generate", json=GENERATE)
            for _ in range(3)
        ]
        assert ollama_emulator.open_connections == 3  # three unfinished streams
        for resp in responses:
            resp.close()
        assert await ollama_emulator.wait_for_connections(0)


@pytest.mark.ollama_emulator(models=["tinyllama"], version="1.2.3")
async def test_marker_configures_fixture(ollama_emulator: OllamaEmulator) -> None:
    assert set(ollama_emulator.models) == {"tinyllama:latest"}
    assert ollama_emulator.state.version == "1.2.3"


# ----------------------------------------------------------------- the thread


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_emulator_thread_from_sync_code(ollama_emulator_thread: EmulatorThread) -> None:
    emu = ollama_emulator_thread
    assert _get(emu.url + "/api/version") == (200, b'{"version":"0.33.0"}')
    emu.faults.add(path="/api/version", status=503)
    status, body = _get(emu.url + "/api/version")
    assert status == 503 and b"server busy" in body
    emu.faults.script("/api/tags", [500, 200])
    assert [_get(emu.url + "/api/tags")[0] for _ in range(2)] == [500, 200]
    assert emu.hits("/api/version") == 2
    assert emu.wait_for_connections(0)
    assert emu.open_connections == 0


def test_emulator_thread_stop_and_restart() -> None:
    thread = EmulatorThread(models=["llama3.2"])
    with thread:
        url = thread.url
        assert _get(url + "/")[0] == 200
        thread.call(thread.emulator.stop())  # take the server down, keep the thread
        with pytest.raises(urllib.error.URLError):
            _get(url + "/")
        thread.call(thread.emulator.start())
        assert _get(url + "/") == (200, b"Ollama is running")
    with pytest.raises(RuntimeError):
        thread.call(asyncio.sleep(0))
    thread.start()  # a stopped thread can be started again, on the same port
    try:
        assert thread.url == url and _get(url + "/")[0] == 200
    finally:
        thread.stop()


def test_emulator_thread_reports_start_failure() -> None:
    with EmulatorThread() as first:
        clash = EmulatorThread(port=first.port)
        with pytest.raises(OSError):
            clash.start()

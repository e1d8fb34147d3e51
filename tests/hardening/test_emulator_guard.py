"""The emulator is a test server, not an open door.

Requests are written by hand on raw sockets, as a hostile web page would have a browser
send them: forged ``Host`` headers (DNS rebinding, 0.0.0.0), ``text/plain`` and form bodies
(cross-site "simple" requests that need no CORS preflight), duplicated headers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest

from ollama_core import OllamaClient
from ollama_core.emulator import (
    BeyondLoopbackWarning,
    EmulatorThread,
    FaultRule,
    OllamaEmulator,
)

ROOT = Path(__file__).resolve().parents[2]
RULE = json.dumps({"path": "/api/tags", "status": 503}).encode()
JSON = "application/json"


async def raw_request(
    port: int,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    *,
    host: str = "127.0.0.1",
    version: str = "1.1",
) -> tuple[int, bytes]:
    """Send exactly these headers (plus Content-Length and Connection: close); the status
    and body of the answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [f"{method} {path} HTTP/{version}", *(f"{k}: {v}" for k, v in headers)]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def host_of(emu: OllamaEmulator) -> str:
    return f"127.0.0.1:{emu.port}"


# ------------------------------------------------------------------ Host header


@pytest.mark.parametrize(
    "forged",
    [
        "evil.example:{port}",          # DNS rebinding: the page's own name, now 127.0.0.1
        "evil.example",
        "localhost.evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "0.0.0.0:{port}",               # browsers connect to 0.0.0.0 as a foreign site
        "127.0.0.1:{other}",            # right address, another port
        "127.0.0.1",                    # no port means 80
        "[::2]:{port}",
        "127.0.0.1:{port}@evil.example",
        "",
    ],
)
async def test_control_api_refuses_a_forged_host(ollama_emulator: OllamaEmulator,
                                                 forged: str) -> None:
    emu = ollama_emulator
    host = forged.format(port=emu.port, other=emu.port + 1 if emu.port < 65535 else 1)
    status, body = await raw_request(
        emu.port, "POST", "/_emulator/faults", [("Host", host), ("Content-Type", JSON)], RULE)
    assert status == 403
    assert "error" in json.loads(body)
    assert len(emu.faults) == 0
    for method, path in [("GET", "/_emulator/requests"), ("GET", "/_emulator/faults"),
                         ("DELETE", "/_emulator/requests")]:
        status, body = await raw_request(emu.port, method, path, [("Host", host)])
        assert (method, path, status) == (method, path, 403)
        assert b"requests\"" not in body and b"faults\"" not in body


async def test_control_api_refuses_a_missing_or_doubled_host(
        ollama_emulator: OllamaEmulator) -> None:
    emu = ollama_emulator
    emu.faults.add(path="/api/ps", status=500, times=None)
    # HTTP/1.0 needs no Host: the request reaches the guard, which wants a name.
    status, body = await raw_request(emu.port, "DELETE", "/_emulator/faults", [],
                                     version="1.0")
    assert status == 403 and "Host" in json.loads(body)["error"]
    # HTTP/1.1 without Host, or with two, is malformed: aiohttp's parser refuses it first.
    status, _ = await raw_request(emu.port, "DELETE", "/_emulator/faults", [])
    assert status == 400
    for doubled in ([("Host", host_of(emu)), ("Host", "evil.example")],
                    [("Host", "evil.example"), ("Host", host_of(emu))]):
        status, _ = await raw_request(emu.port, "DELETE", "/_emulator/faults", doubled)
        assert status == 400
    assert len(emu.faults) == 1


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost", "[::1]", "[0:0::1]"])
async def test_control_api_answers_the_names_of_the_emulator(
        ollama_emulator: OllamaEmulator, name: str) -> None:
    emu = ollama_emulator
    host = f"{name}:{emu.port}"
    status, body = await raw_request(
        emu.port, "POST", "/_emulator/faults", [("Host", host), ("Content-Type", JSON)], RULE)
    assert status == 201, body
    assert [r.path for r in emu.faults.rules] == ["/api/tags"]
    status, body = await raw_request(emu.port, "GET", "/_emulator/faults", [("Host", host)])
    assert status == 200 and json.loads(body)["faults"][0]["status"] == 503


async def test_the_bound_address_is_a_name_of_the_emulator() -> None:
    async with OllamaEmulator("127.0.0.2") as emu:
        headers = [("Host", f"127.0.0.2:{emu.port}"), ("Content-Type", JSON)]
        status, _ = await raw_request(emu.port, "POST", "/_emulator/faults", headers, RULE,
                                      host="127.0.0.2")
        assert status == 201
        headers = [("Host", f"127.0.0.3:{emu.port}"), ("Content-Type", JSON)]
        status, _ = await raw_request(emu.port, "POST", "/_emulator/faults", headers, RULE,
                                      host="127.0.0.2")
        assert status == 403
        assert len(emu.faults) == 1


# ------------------------------------------------------------------ content type


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=x", "text/json", "application/jsonp", ""],
)
@pytest.mark.parametrize("path", ["/_emulator/faults", "/_emulator/faults/script"])
async def test_control_api_refuses_bodies_that_are_not_declared_json(
        ollama_emulator: OllamaEmulator, content_type: str | None, path: str) -> None:
    emu = ollama_emulator
    headers = [("Host", host_of(emu))]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    body = RULE if path.endswith("faults") else json.dumps(
        {"path": "/api/tags", "statuses": [503]}).encode()
    status, answer = await raw_request(emu.port, "POST", path, headers, body)
    assert status == 415
    assert "application/json" in json.loads(answer)["error"]
    assert len(emu.faults) == 0


async def test_a_delete_with_a_plain_text_body_is_refused(
        ollama_emulator: OllamaEmulator) -> None:
    emu = ollama_emulator
    emu.faults.add(path="/api/ps", status=500, times=None)
    headers = [("Host", host_of(emu)), ("Content-Type", "text/plain")]
    status, _ = await raw_request(emu.port, "DELETE", "/_emulator/faults", headers, b"x")
    assert status == 415
    assert len(emu.faults) == 1
    # without a body, a DELETE needs no content type
    status, _ = await raw_request(emu.port, "DELETE", "/_emulator/faults",
                                  [("Host", host_of(emu))])
    assert status == 200
    assert len(emu.faults) == 0


async def test_a_post_must_declare_json_even_when_empty(ollama_emulator: OllamaEmulator) -> None:
    emu = ollama_emulator
    for headers in ([("Host", host_of(emu))], [("Host", host_of(emu)), ("Content-Type", "")]):
        status, _ = await raw_request(emu.port, "POST", "/_emulator/faults", headers)
        assert status == 415
    headers = [("Host", host_of(emu)), ("Content-Type", JSON)]
    status, body = await raw_request(emu.port, "POST", "/_emulator/faults", headers)
    assert status == 400 and "JSON" in json.loads(body)["error"]  # declared, but empty


@pytest.mark.parametrize("content_type",
                         ["application/json", "application/json; charset=utf-8",
                          "Application/JSON", "application/merge-patch+json"])
async def test_control_api_takes_json_types(ollama_emulator: OllamaEmulator,
                                            content_type: str) -> None:
    emu = ollama_emulator
    headers = [("Host", host_of(emu)), ("Content-Type", content_type)]
    status, _ = await raw_request(emu.port, "POST", "/_emulator/faults", headers, RULE)
    assert status == 201
    assert len(emu.faults) == 1


# --------------------------------------------------- the Ollama API stays open


async def test_the_ollama_api_is_as_permissive_as_the_real_server(
        ollama_emulator: OllamaEmulator) -> None:
    emu = ollama_emulator
    body = json.dumps({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}],
                       "stream": False}).encode()
    headers = [("Host", "evil.example"), ("Content-Type", "text/plain")]
    status, answer = await raw_request(emu.port, "POST", "/api/chat", headers, body)
    assert status == 200
    assert json.loads(answer)["done"] is True
    status, answer = await raw_request(emu.port, "GET", "/api/version",
                                       [("Host", "0.0.0.0:1")])
    assert (status, json.loads(answer)) == (200, {"version": emu.state.version})


# ------------------------------------------------------------- recorded secrets


SECRET_HEADERS = ["Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "api-key",
                  "X-Auth-Token", "X-Session-Id", "X-Client-Secret", "X-Password", "Token"]


async def test_recorded_requests_mask_secret_headers(ollama_emulator: OllamaEmulator) -> None:
    emu = ollama_emulator
    headers = [("Host", host_of(emu)), ("X-Request-Source", "test-run")]
    headers += [(name, f"Bearer value-{i}-hunter2") for i, name in enumerate(SECRET_HEADERS)]
    status, _ = await raw_request(emu.port, "GET", "/api/version", headers)
    assert status == 200

    (recorded,) = emu.requests
    assert recorded.headers["X-Request-Source"] == "test-run"
    assert recorded.headers["Authorization"] == "Bearer ***"
    assert recorded.headers["Proxy-Authorization"] == "Bearer ***"
    for name in SECRET_HEADERS[2:]:  # elsewhere the first word may be the secret itself
        assert recorded.headers[name] == "***", name
    assert "hunter2" not in repr(emu.requests) and "hunter2" not in str(recorded.headers)
    # what was sent can still be checked here, without the record holding it
    assert recorded.has_header("x-api-key", "Bearer value-3-hunter2")
    assert not recorded.has_header("X-Api-Key", "Bearer value-0-hunter2")
    assert not recorded.has_header("X-Api-Key", "Bearer ***")
    assert recorded.has_header("x-request-source", "test-run")
    assert not recorded.has_header("X-Missing", "")

    status, body = await raw_request(emu.port, "GET", "/_emulator/requests",
                                     [("Host", host_of(emu))])
    assert status == 200
    assert b"hunter2" not in body
    served = json.loads(body)["requests"][0]["headers"]
    assert served["Authorization"] == "Bearer ***" and served["X-Request-Source"] == "test-run"


async def test_a_client_api_key_never_comes_back_from_the_control_api(
        ollama_emulator: OllamaEmulator) -> None:
    emu = ollama_emulator
    url = emu.url.replace("http://", "http://alice:pa55word@")
    async with OllamaClient(url, plugins=[]) as client:
        await client.version()
    async with OllamaClient(emu.url, plugins=[], api_key="sk-live-abcdef") as client:
        await client.version()
    status, body = await raw_request(emu.port, "GET", "/_emulator/requests",
                                     [("Host", host_of(emu))])
    assert status == 200
    assert b"sk-live-abcdef" not in body and b"YWxpY2U6cGE1NXdvcmQ" not in body
    assert [r["headers"]["Authorization"] for r in json.loads(body)["requests"]] == [
        "Basic ***", "Bearer ***"]
    assert emu.requests[1].has_header("Authorization", "Bearer sk-live-abcdef")


@pytest.mark.parametrize("value", ["sk-no-scheme", "", "Bearer", "a=b; c=d", "=x y"])
async def test_a_secret_without_a_scheme_is_masked_whole(ollama_emulator: OllamaEmulator,
                                                         value: str) -> None:
    emu = ollama_emulator
    headers = [("Host", host_of(emu)), ("Authorization", value), ("X-Api-Key", "sk-1 sk-2")]
    status, _ = await raw_request(emu.port, "GET", "/api/version", headers)
    assert status == 200
    assert emu.requests[0].headers["Authorization"] == "***"
    assert emu.requests[0].headers["X-Api-Key"] == "***"
    assert emu.requests[0].has_header("Authorization", value)


# ------------------------------------------------------------ binding warnings


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "example.com"])
def test_binding_beyond_loopback_warns(host: str) -> None:
    with pytest.warns(BeyondLoopbackWarning, match="beyond loopback"):
        OllamaEmulator(host)
    with pytest.warns(BeyondLoopbackWarning):
        EmulatorThread(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_binding_loopback_is_quiet(host: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OllamaEmulator(host)


async def test_bound_to_every_interface_the_wildcard_is_not_a_name() -> None:
    with pytest.warns(BeyondLoopbackWarning):
        emu = OllamaEmulator("0.0.0.0")
    async with emu:
        headers = [("Content-Type", JSON)]
        status, _ = await raw_request(emu.port, "POST", "/_emulator/faults",
                                      [("Host", f"0.0.0.0:{emu.port}"), *headers], RULE)
        assert status == 403
        status, _ = await raw_request(emu.port, "POST", "/_emulator/faults",
                                      [("Host", f"localhost:{emu.port}"), *headers], RULE)
        assert status == 201


def test_the_command_warns_on_stderr_when_bound_beyond_loopback() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with subprocess.Popen(
        [sys.executable, "-m", "ollama_core.emulator", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()
            assert banner.startswith("Ollama emulator listening on http://0.0.0.0:")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "WARNING: listening on '0.0.0.0', beyond loopback" in stderr
    assert "BeyondLoopbackWarning" in stderr


# --------------------------------------------- the emulator's own helpers still work


def test_emulator_thread_faults_from_python_and_over_http() -> None:
    with EmulatorThread() as emu:
        emu.faults.add(FaultRule(path="/api/ps", status=500))
        request = urllib.request.Request(emu.url + "/_emulator/faults", data=RULE,
                                         method="POST", headers={"Content-Type": JSON})
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 201
        assert sorted(r.path for r in emu.faults.rules) == ["/api/ps", "/api/tags"]
        with urllib.request.urlopen(emu.url + "/_emulator/requests", timeout=5) as resp:
            assert json.load(resp) == {"requests": []}


def test_the_sync_fixture_serves_its_control_api(ollama_emulator_thread: EmulatorThread) -> None:
    emu = ollama_emulator_thread
    request = urllib.request.Request(emu.url + "/_emulator/faults", data=RULE, method="POST",
                                     headers={"Content-Type": JSON})
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 201
    plain = urllib.request.Request(emu.url + "/_emulator/faults", data=RULE, method="POST",
                                   headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(plain, timeout=5)
    refused.value.close()
    assert refused.value.code == 415
    assert len(emu.faults) == 1


async def test_the_async_fixture_serves_its_control_api(ollama_emulator: OllamaEmulator) -> None:
    import aiohttp

    emu = ollama_emulator
    async with aiohttp.ClientSession() as http:
        async with http.post(emu.url + "/_emulator/faults",
                             json={"path": "/api/tags", "status": 503}) as resp:
            assert resp.status == 201
        async with http.post(emu.url + "/_emulator/faults", data=RULE) as resp:
            assert resp.status == 415  # aiohttp sends bytes as application/octet-stream
        async with http.get(emu.url + "/api/tags") as resp:
            assert resp.status == 503
    assert len(emu.faults) == 0

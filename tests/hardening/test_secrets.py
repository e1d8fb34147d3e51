"""Secrets never shown, mistyped URLs never downgrade, bad header values refused up front.

Every host setting below carries the same password written in one of the ways that broke
the old masking (``@``, ``/``, ``:``, ``%`` raw or percent-encoded, quoted as ``.env``
files write it). Each test looks for the password's fragments anywhere in what the user
can see: exception text (with its whole cause chain), warnings, ``repr``, logs, CLI
stdout and stderr of a real subprocess.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ollama_core import (
    AllEndpointsFailedError,
    ConnectError,
    InvalidConfigError,
    OllamaClient,
    Request,
    SyncOllamaClient,
    parse_host,
)
from ollama_core._host import basic_auth_header, check_headers
from ollama_core._envelope import redact_headers
from ollama_core._redact import is_secret_header, mask_url
from tests.hostile import Conn, HostileServer, http_response
from tests.ports import refused_port

# Fragments of the password: neither may appear, whatever was masked around them.
FRAGMENTS = ("Sup3r", "Zecret")

#: user-info as written -> the password the server must receive.
USERINFO = {
    "alice:Sup3r@Zecret": "Sup3r@Zecret",
    "alice:Sup3r/Zecret": "Sup3r/Zecret",
    "alice:Sup3r:Zecret": "Sup3r:Zecret",
    "alice:Sup3r%40Zecret": "Sup3r@Zecret",  # percent-encoded "@"
    "alice:Sup3r%2FZecret": "Sup3r/Zecret",  # percent-encoded "/"
    "alice:Sup3r%Zecret": "Sup3r%Zecret",  # a "%" that is not an escape
    "alice:Sup3r%25Zecret": "Sup3r%Zecret",  # an escaped "%"
    "alice:Sup3r?#Zecret": "Sup3r?#Zecret",
}


def quoted(text: str) -> list[str]:
    """``text`` as written in a shell, in a .env file with double or single quotes."""
    return [text, f'"{text}"', f"'{text}'", f'  "{text}"  ']


def assert_hidden(*texts: object) -> None:
    for text in texts:
        shown = str(text)
        for fragment in FRAGMENTS:
            assert fragment not in shown, shown
        # Neither may the Basic value that carries it.
        assert "YWxpY2U6" not in shown, shown


def everything_about(exc: BaseException) -> str:
    """What a traceback says about the error: every message of the chain, causes and
    contexts included (the source lines it quotes are the caller's own code)."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 20:
        seen.extend(traceback.format_exception_only(current))
        seen.append(repr(current))
        current = current.__cause__ or current.__context__
    return "".join(seen)


# ------------------------------------------------------------------------------------------
# One masking rule
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("userinfo", USERINFO)
@pytest.mark.parametrize("form", [
    "http://{u}@127.0.0.1:11434", "https://{u}@example.com/ollama", "{u}@example.com:8080",
    "https:{u}@example.com", "http:/{u}@example.com", "https//{u}@example.com",
    "htps://{u}@example.com", "ftp://{u}@example.com", "HTTP://{u}@h:99999",
    "http://{u}@ho st", "http://{u}@[::1",
])
def test_mask_url_hides_the_password_however_the_host_is_written(userinfo: str,
                                                                  form: str) -> None:
    text = form.format(u=userinfo)
    for variant in quoted(text):
        masked = mask_url(variant)
        assert_hidden(masked)
        assert "***@" in masked
        assert text.rpartition("@")[2] in masked  # the host part is still there to read


def test_mask_url_keeps_what_is_not_a_secret() -> None:
    assert mask_url("http://127.0.0.1:11434/x") == "http://127.0.0.1:11434/x"
    assert mask_url("https://alice:pw@example.com:8080/p") == "https://***@example.com:8080/p"
    assert mask_url(parse_host("https://alice:pw@example.com/p")) == "https://example.com/p"
    assert mask_url("alice:pw@example.com") == "***@example.com"


@pytest.mark.parametrize("userinfo", USERINFO)
def test_the_password_is_parsed_as_written(userinfo: str) -> None:
    for text in quoted(f"http://{userinfo}@127.0.0.1:8080/ollama"):
        url = parse_host(text)
        assert (url.user, url.password) == ("alice", USERINFO[userinfo])
        assert (url.host, url.port, url.path) == ("127.0.0.1", 8080, "/ollama")
        token = base64.b64encode(f"alice:{USERINFO[userinfo]}".encode()).decode()
        assert basic_auth_header(url) == f"Basic {token}"
        assert_hidden(mask_url(url), repr(OllamaClient(text, plugins=[])))


# ------------------------------------------------------------------------------------------
# Errors, warnings, repr and logs of the library
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("userinfo", USERINFO)
def test_the_bad_port_warning_hides_the_password(userinfo: str) -> None:
    for text in quoted(f"http://{userinfo}@127.0.0.1:99999"):
        with pytest.warns(UserWarning, match="invalid port") as caught:
            parse_host(text)
        assert_hidden(*(w.message for w in caught))


TYPOS = {
    "https:{u}@example.com": "'://'",  # no "//": would have been user "https" over http
    "http:/{u}@example.com": "'://'",
    "https//{u}@example.com": "'://'",
    "http:\\\\{u}@example.com": "'://'",
    "htps://{u}@example.com": "htps",
    "htps:{u}@example.com": "htps",
    "hhttps://{u}@example.com": "hhttps",
    "ftp://{u}@example.com": "ftp",
    "https:///{u}@example.com": "too many '/'",
    "http://https://{u}@example.com": "two URL schemes",
    "http://{u}@exa mple.com": "not a valid host",
}


@pytest.mark.parametrize("userinfo", USERINFO)
@pytest.mark.parametrize("typo", TYPOS)
def test_mistyped_schemes_are_refused_without_the_password(typo: str, userinfo: str) -> None:
    for text in quoted(typo.format(u=userinfo)):
        with pytest.raises(InvalidConfigError, match=TYPOS[typo]) as info:
            OllamaClient(text, plugins=[])
        assert_hidden(everything_about(info.value))


@pytest.mark.parametrize("text", ["localhost:11434", "example.com:1234/ollama", "http:8080",
                                  "alice:pw@example.com", "[::1]:8080", ":1234"])
def test_scheme_less_hosts_still_parse_as_ollama_does(text: str) -> None:
    url = parse_host(text)
    assert url.scheme == "http"


async def test_a_mistyped_https_never_sends_the_password_in_clear() -> None:
    """``https:user:pw@host`` used to be user ``https``, password ``user:pw``, over plain
    http. Now it is refused, and nothing reaches the server; the explicit form works."""
    async def tags(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(http_response(200, {"models": []}))

    async with HostileServer(tags) as server:
        for typo in ("https:alice:Sup3r%40Zecret@127.0.0.1:{p}",
                     "http:/alice:Sup3r@Zecret@127.0.0.1:{p}",
                     "htps://alice:Sup3r/Zecret@127.0.0.1:{p}"):
            with pytest.raises(InvalidConfigError) as info:
                OllamaClient(typo.format(p=server.port), plugins=[])
            assert_hidden(everything_about(info.value))
        assert server.connections == 0 and server.requests == []
        # The control: the same password in a well-formed URL is sent, decoded, as Basic.
        async with OllamaClient(f"http://alice:Sup3r%40Zecret@127.0.0.1:{server.port}",
                                plugins=[]) as client:
            await client.list_models()
            assert_hidden(repr(client), client.base_url)
        (sent,) = server.requests
        assert base64.b64decode(sent.headers["authorization"].split()[1]) == \
            b"alice:Sup3r@Zecret"


@pytest.mark.parametrize("userinfo", ["alice:Sup3r@Zecret", "alice:Sup3r%2FZecret"])
async def test_connection_errors_repr_and_logs_hide_the_password(
        userinfo: str, caplog: pytest.LogCaptureFixture) -> None:
    port = refused_port()
    caplog.set_level(logging.DEBUG)
    url = f'"http://{userinfo}@127.0.0.1:{port}"'
    async with OllamaClient(url, plugins=["retry"], headers={"X-Api-Key": "Sup3rZecret"},
                            plugin_config={"retry": {"max_attempts": 2,
                                                     "base_delay": 0.001}}) as client:
        with pytest.raises(ConnectError) as info:
            await client.list_models()
        assert_hidden(everything_about(info.value), repr(client), client.base_url,
                      repr(client.upstreams), caplog.text)
        assert f"127.0.0.1:{port}" in str(info.value)


async def test_failover_endpoints_hide_their_passwords(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    a, b = refused_port(), refused_port()
    endpoints = [f"'http://alice:Sup3r@Zecret@127.0.0.1:{a}'",
                 {"url": f"http://alice:Sup3r%2FZecret@127.0.0.1:{b}",
                  "api_key": "Sup3r-Zecret-key"}]
    async with OllamaClient(f"http://alice:Sup3r:Zecret@127.0.0.1:{a}",
                            plugins=["failover", "health_checks"],
                            plugin_config={"failover": {"endpoints": endpoints},
                                           "health_checks": {"interval": 3600}}) as client:
        with pytest.raises(AllEndpointsFailedError) as info:
            await client.list_models()
        health = client.plugin("health_checks")
        await health.check_now()
        assert_hidden(everything_about(info.value), repr(client), caplog.text,
                      client.plugin("failover").stats(), health.report(),
                      repr(client.plugin("failover")))
        assert f"127.0.0.1:{a}" in str(info.value) and f"127.0.0.1:{b}" in str(info.value)
    for typo in TYPOS:
        with pytest.raises(InvalidConfigError) as bad:
            OllamaClient("http://127.0.0.1:1", plugins=["failover"], plugin_config={
                "failover": {"endpoints": [typo.format(u="alice:Sup3r@Zecret")]}})
        assert_hidden(everything_about(bad.value))


# ------------------------------------------------------------------------------------------
# Secret headers: one pattern
# ------------------------------------------------------------------------------------------

SECRET_NAMES = ["Authorization", "proxy-authorization", "X-API-Key", "api-key", "Api_Key",
                "X-Auth-Token", "X-Access-Token", "Cookie", "Set-Cookie", "X-Session-Id",
                "X-Client-Secret", "X-Password", "Private-Key", "X-Goog-Credentials",
                "X-Amz-Security-Token", "OpenAI-Key"]
PLAIN_NAMES = ["Accept", "User-Agent", "Content-Type", "X-Request-Id", "Keep-Alive", "Host"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_headers_whose_name_suggests_a_secret_are_masked(name: str) -> None:
    assert is_secret_header(name)
    shown = redact_headers({name: "Bearer Sup3rZecret", "Accept": "application/json"})
    assert shown["Accept"] == "application/json"
    assert_hidden(shown)
    assert shown[name] == ("Bearer ***" if name.lower().endswith("authorization") else "***")


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_ordinary_headers_are_shown(name: str) -> None:
    assert not is_secret_header(name)
    assert redact_headers({name: "v"}) == {name: "v"}


def test_secret_headers_are_masked_in_client_and_request_repr() -> None:
    headers = {name: f"Basic Sup3rZecret-{i}" for i, name in enumerate(SECRET_NAMES)}
    client = OllamaClient("http://127.0.0.1:1", plugins=[], headers=headers,
                          api_key="Sup3rZecret-key")
    request = Request("POST", "/api/chat", "chat", headers=dict(headers))
    assert_hidden(repr(client), repr(request))
    assert client.headers == headers  # masked for showing, not for sending


# ------------------------------------------------------------------------------------------
# CR/LF and other bad characters: InvalidConfigError when built or configured
# ------------------------------------------------------------------------------------------

BAD_VALUES = {
    "Sup3rZecret\n": "line feed",  # read from a file with its newline
    "Sup3r\r\nX-Injected: Zecret": "carriage return",
    "Sup3r\0Zecret": "NUL",
    "Sup3r\x1bZecret": r"U\+001B",
    "Sup3r\x7fZecret": r"U\+007F",
    "Sup3r\ud800Zecret": "surrogate",
}
BAD_NAMES = {
    "Authorization: Bearer Sup3rZecret": "':'",
    "X-Key\r\nInjected": "carriage return",
    "Bad Name Sup3rZecret": "space",
    "": "empty",
    "X-K\u00e9y-Sup3rZecret": "'é'",
}


@pytest.mark.parametrize("value", BAD_VALUES)
def test_bad_api_keys_and_header_values_are_refused_when_built(value: str) -> None:
    with pytest.raises(InvalidConfigError, match=BAD_VALUES[value]) as info:
        OllamaClient("http://127.0.0.1:1", plugins=[], api_key=value)
    assert "api_key" in str(info.value)
    assert_hidden(everything_about(info.value))
    with pytest.raises(InvalidConfigError, match=BAD_VALUES[value]) as info:
        OllamaClient("http://127.0.0.1:1", plugins=[], headers={"X-Api-Key": value})
    assert "X-Api-Key" in str(info.value)
    assert_hidden(everything_about(info.value))


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_header_names_are_refused_without_what_follows_the_bad_character(
        name: str) -> None:
    with pytest.raises(InvalidConfigError, match=BAD_NAMES[name]) as info:
        OllamaClient("http://127.0.0.1:1", plugins=[], headers={name: "v"})
    assert_hidden(everything_about(info.value))


def test_non_string_headers_are_refused() -> None:
    with pytest.raises(InvalidConfigError, match="must be a string"):
        check_headers({"X-Retries": 3})
    with pytest.raises(InvalidConfigError, match="names must be strings"):
        check_headers({b"X-A": "v"})
    with pytest.raises(InvalidConfigError, match="mapping"):
        check_headers([("X-A", "v")])
    with pytest.raises(InvalidConfigError, match="api_key must be a string"):
        OllamaClient("http://127.0.0.1:1", plugins=[], api_key=b"k")  # type: ignore[arg-type]


def test_a_key_from_the_environment_is_checked_by_its_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "Sup3rZecret\n")
    with pytest.raises(InvalidConfigError, match="OLLAMA_API_KEY.*trailing newline") as info:
        OllamaClient("http://127.0.0.1:1", plugins=[])
    assert_hidden(everything_about(info.value))


def test_the_sync_client_refuses_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidConfigError, match="line feed") as info:
        SyncOllamaClient("http://127.0.0.1:1", plugins=[], api_key="Sup3rZecret\n")
    assert_hidden(everything_about(info.value))
    with SyncOllamaClient("http://127.0.0.1:1", plugins=[]) as client:
        with pytest.raises(InvalidConfigError, match="carriage return"):
            client.configure(headers={"X-A": "a\rb"})


async def test_configure_checks_everything_before_changing_anything() -> None:
    async def record(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(http_response(200, {"models": []}))

    async with HostileServer(record) as server, \
            OllamaClient(server.url, plugins=[], headers={"X-Old": "1"},
                         api_key="old-key") as client:
        attempts: list[dict[str, Any]] = [
            {"api_key": "Sup3rZecret\r\n"},
            {"headers": {"X-New": "Sup3r\nZecret"}},
            {"headers": {"X New": "2"}},
            {"timeout": 5, "headers": {"X-New": "2"}, "api_key": "Sup3r\0Zecret"},
            {"timeout": -1, "headers": {"X-New": "2"}},
        ]
        for settings in attempts:
            with pytest.raises(InvalidConfigError) as info:
                client.configure(**settings)
            assert_hidden(everything_about(info.value))
        assert client.headers == {"X-Old": "1"}
        await client.list_models()
        (sent,) = server.requests
        assert sent.headers["x-old"] == "1" and "x-new" not in sent.headers
        assert sent.headers["authorization"] == "Bearer old-key"
        client.configure(api_key="", headers={"X-New": "2"})
        await client.list_models()
        assert "authorization" not in server.requests[-1].headers
        assert server.requests[-1].headers["x-new"] == "2"


@pytest.mark.parametrize("value", ["Sup3rZecret\n", "Sup3r\r\nZecret", "Sup3r\0Zecret",
                                   "Sup3r\x1bZecret", " Sup3rZecret"])
def test_failover_endpoint_keys_are_checked_the_same_way(value: str) -> None:
    with pytest.raises(InvalidConfigError, match=r"endpoints\[1\]\.api_key") as info:
        OllamaClient("http://127.0.0.1:1", plugins=["failover"], plugin_config={
            "failover": {"endpoints": ["http://127.0.0.1:1",
                                       {"url": "http://127.0.0.1:2", "api_key": value}]}})
    assert_hidden(everything_about(info.value))


# ------------------------------------------------------------------------------------------
# The command line, as a real subprocess
# ------------------------------------------------------------------------------------------

CLI = str(Path(sys.executable).parent / "ollama-core")


def _cli(args: list[str], env_host: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OLLAMA_HOST", "OLLAMA_CORE_", "OLLAMA_API_KEY"))}
    if env_host is not None:
        env["OLLAMA_HOST"] = env_host
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=30, env=env,
                          stdin=subprocess.DEVNULL)


def test_cli_output_never_shows_the_password() -> None:
    port = refused_port()
    unreachable = [f"http://{u}@127.0.0.1:{port}" for u in USERINFO]
    others = [f"http://{u}@127.0.0.1:{refused_port()}" for u in list(USERINFO)[:2]]
    runs: list[tuple[list[str], str | None, int, str]] = [
        # (arguments, OLLAMA_HOST, exit code, text expected on stderr)
        *((["--host", unreachable[i], "list"], None, 1,
           f"cannot connect to http://127.0.0.1:{port}") for i in (0, 1, 6)),
        (["list"], f'"{unreachable[0]}"', 1, f"cannot connect to http://127.0.0.1:{port}"),
        (["list"], f"'{unreachable[1]}'", 1, f"cannot connect to http://127.0.0.1:{port}"),
        (["--host", f"http://alice:Sup3r%40Zecret@127.0.0.1:{port}99", "list"], None, 1,
         "invalid port in host 'http://***@127.0.0.1:"),
        (["--host", "https:alice:Sup3r@Zecret@127.0.0.1:1", "list"], None, 2, "'://'"),
        (["list"], "'htps://alice:Sup3r/Zecret@127.0.0.1:1'", 2, "'htps'"),
        (["--host", "http:/alice:Sup3r%Zecret@127.0.0.1:1", "version"], None, 2, "'://'"),
        (["--host", unreachable[2], "version"], None, 0, "could not connect"),
        (["--host", unreachable[3], "--json", "health"], None, 1, "cannot connect"),
        (["--host", unreachable[4], "--plugins", "failover", "--config",
          f'failover.endpoints=["{unreachable[5]}", "{others[0]}", "{others[1]}"]', "list"],
         None, 1, "all 3 endpoints failed"),
        (["--host", f"http://127.0.0.1:{port}", "--plugins", "failover", "--config",
          'failover.endpoints=[{"url": "http://127.0.0.1:1", "api_key": "Sup3rZecret\\n"}]',
          "list"], None, 2, "endpoints[0].api_key: contains a line feed"),
    ]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda r: _cli(r[0], r[1]), runs))
    for (args, _, code, expected), result in zip(runs, results, strict=True):
        assert result.returncode == code, (args, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert_hidden(result.stdout, result.stderr)

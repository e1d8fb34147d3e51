"""OLLAMA_HOST parsing follows Ollama's own rules (design notes, fact F22)."""

from __future__ import annotations

import pytest
import yarl

from ollama_core import InvalidConfigError
from ollama_core._host import basic_auth_header, parse_host, resolve_base_url


@pytest.mark.parametrize(("value", "expected"), [
    ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"),
    ("example.com:1234", "http://example.com:1234"),
    ("http://1.2.3.4", "http://1.2.3.4:80"),
    ("https://1.2.3.4", "https://1.2.3.4:443"),
    ("https://example.com/ollama", "https://example.com:443/ollama"),
    ("https://example.com/ollama/", "https://example.com:443/ollama"),
    ("::1", "http://[::1]:11434"),
    ("[::1]:8080", "http://[::1]:8080"),
    ("'1.2.3.4'", "http://1.2.3.4:11434"),
    ('"1.2.3.4"', "http://1.2.3.4:11434"),
    ("  1.2.3.4  ", "http://1.2.3.4:11434"),
    ("ollama.com", "https://ollama.com:443"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:9999", "http://127.0.0.1:9999"),
    ("::", "http://[::1]:11434"),
    (":1234", "http://127.0.0.1:1234"),
    ("localhost", "http://localhost:11434"),
])
def test_parse_host(value: str, expected: str) -> None:
    url, want = parse_host(value), yarl.URL(expected)
    # yarl prints default ports (80/443) without the number, so compare the parts.
    assert (url.scheme, url.host, url.port, url.path.rstrip("/")) == \
        (want.scheme, want.host, want.port, want.path.rstrip("/"))


def test_out_of_range_port_falls_back_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="invalid port"):
        assert str(parse_host(":66000")) == "http://127.0.0.1:11434"


def test_unsupported_scheme_is_a_config_error() -> None:
    with pytest.raises(InvalidConfigError, match="ftp"):
        parse_host("ftp://example.com")


def test_credentials_are_kept_for_basic_auth() -> None:
    url = parse_host("http://alice:s3cret@proxy.local:8080/ollama")
    assert url.user == "alice" and url.password == "s3cret"
    assert str(url.with_user(None)) == "http://proxy.local:8080/ollama"
    assert basic_auth_header(url) == "Basic YWxpY2U6czNjcmV0"
    assert basic_auth_header(parse_host("localhost")) is None


def test_resolve_prefers_argument_then_env_then_default() -> None:
    env = {"OLLAMA_HOST": "10.0.0.5"}
    assert str(resolve_base_url("1.2.3.4", env)) == "http://1.2.3.4:11434"
    assert str(resolve_base_url(None, env)) == "http://10.0.0.5:11434"
    assert str(resolve_base_url(None, {})) == "http://localhost:11434"


def test_errors_about_a_host_never_show_its_credentials() -> None:
    with pytest.raises(InvalidConfigError) as info:
        parse_host("ftp://bob:hunter2@example.com")
    assert "hunter2" not in str(info.value)
    with pytest.warns(UserWarning) as caught:
        parse_host("bob:hunter2@example.com:99999")
    assert all("hunter2" not in str(w.message) for w in caught)

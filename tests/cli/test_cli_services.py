"""``status``, ``web-search`` and ``web-fetch`` run for real as subprocesses against
emulators serving from this process (started together, then checked one by one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from ollama_core.emulator import EmulatorThread

CLI = [sys.executable, "-m", "ollama_core"]
TIMEOUT = 30
KEY = "sk-cli-cloud-key-0123456789"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OLLAMA_HOST", "OLLAMA_CORE_", "OLLAMA_API_KEY",
                                "OLLAMA_CLOUD_URL"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Runs:
    local: EmulatorThread
    cloud: EmulatorThread
    disabled: EmulatorThread
    futures: dict[str, Future[subprocess.CompletedProcess[str]]]

    def __getitem__(self, name: str) -> subprocess.CompletedProcess[str]:
        return self.futures[name].result(timeout=TIMEOUT * 2)


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    with EmulatorThread() as local, EmulatorThread() as cloud, EmulatorThread() as disabled:
        disabled.state.cloud_disabled = True
        with_key = {"OLLAMA_CLOUD_URL": cloud.url, "OLLAMA_API_KEY": KEY}
        cases: dict[str, tuple[list[str], dict[str, str]]] = {
            "status": (["--host", local.url, "status"], {}),
            "status_json": (["--host", local.url, "--json", "status"], {}),
            "status_disabled": (["--host", disabled.url, "status"], {}),
            "search": (["--host", local.url, "web-search", "ollama", "tips",
                        "--max-results", "2"], {}),
            "search_json": (["--host", local.url, "web-search", "ollama tips", "--json"], {}),
            "fetch": (["--host", local.url, "web-fetch", "https://ollama.com/blog"], {}),
            "fetch_json": (["--host", local.url, "--json", "web-fetch",
                            "https://ollama.com/blog"], {}),
            "search_cloud": (["--host", local.url, "--json", "web-search", "cloud", "query",
                              "--cloud"], with_key),
            "fetch_cloud": (["--host", local.url, "web-fetch", "--cloud",
                             "https://ollama.com/blog"], with_key),
            "cloud_without_key": (["--host", local.url, "web-search", "q", "--cloud"],
                                  {"OLLAMA_CLOUD_URL": cloud.url}),
            "bad_url": (["--host", local.url, "web-fetch", "ftp://example.com"], {}),
            "bad_max": (["--host", local.url, "--json", "web-search", "q", "--max-results",
                         "0"], {}),
            "disabled_search": (["--host", disabled.url, "--json", "web-search", "q"], {}),
        }

        def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*CLI, *args], capture_output=True, text=True,
                                  timeout=TIMEOUT, env=_env(**env), stdin=subprocess.DEVNULL)

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {name: pool.submit(run, args, env)
                       for name, (args, env) in cases.items()}
            yield Runs(local, cloud, disabled, futures)


def test_status(runs: Runs) -> None:
    text, as_json, disabled = runs["status"], runs["status_json"], runs["status_disabled"]
    assert text.returncode == 0, text.stderr
    assert text.stdout == (f"server   {runs.local.url}\n"
                           "cloud    enabled (source: none)\n")
    assert json.loads(as_json.stdout) == {"cloud": {"disabled": False, "source": "none"}}
    assert disabled.stdout.splitlines()[1] == "cloud    disabled (source: env)"


def test_web_search_through_the_server(runs: Runs) -> None:
    text, as_json = runs["search"], runs["search_json"]
    assert text.returncode == 0, text.stderr
    assert text.stdout == (
        "1. ollama tips (1)\n   https://example.com/ollama-tips/1\n"
        "   Result 1 for ollama tips: a page that mentions ollama tips.\n\n"
        "2. ollama tips (2)\n   https://example.com/ollama-tips/2\n"
        "   Result 2 for ollama tips: a page that mentions ollama tips.\n")
    results = json.loads(as_json.stdout)["results"]
    assert len(results) == 3  # the client's default, as ollama-python's
    assert set(results[0]) == {"title", "url", "content"}


def test_web_fetch_through_the_server(runs: Runs) -> None:
    text, as_json = runs["fetch"], runs["fetch_json"]
    assert text.returncode == 0, text.stderr
    title, content, links = text.stdout.rstrip("\n").split("\n\n")
    assert title.startswith("Page ") and content == "The content of https://ollama.com/blog."
    assert links == ("links:\n  https://ollama.com/blog/about\n"
                     "  https://ollama.com/blog/contact")
    assert json.loads(as_json.stdout)["links"] == ["https://ollama.com/blog/about",
                                                   "https://ollama.com/blog/contact"]


def test_cloud_commands_send_the_key_to_the_cloud_only(runs: Runs) -> None:
    search, fetch = runs["search_cloud"], runs["fetch_cloud"]
    assert search.returncode == 0, search.stderr
    assert fetch.returncode == 0, fetch.stderr
    assert json.loads(search.stdout)["results"][0]["title"] == "cloud query (1)"
    assert "The content of https://ollama.com/blog." in fetch.stdout
    cloud_paths = sorted(r.path for r in runs.cloud.requests)
    assert cloud_paths == ["/api/web_fetch", "/api/web_search"]
    assert all(r.has_header("Authorization", f"Bearer {KEY}") for r in runs.cloud.requests)
    assert not any(r.has_header("Authorization", f"Bearer {KEY}")
                   for r in runs.local.requests)
    assert not any(r.path.endswith("cloud") for r in runs.local.requests)
    for result in (search, fetch):
        assert KEY not in result.stdout + result.stderr


def test_errors_are_one_line(runs: Runs) -> None:
    no_key = runs["cloud_without_key"]
    assert no_key.returncode == 2
    assert no_key.stderr.startswith("error: invalid configuration: web_search(cloud=True) "
                                    "needs an ollama.com API key")
    assert "OLLAMA_API_KEY" in no_key.stderr and no_key.stdout == ""
    bad_url = runs["bad_url"]
    assert (bad_url.returncode, bad_url.stderr) == (1, "error: invalid url: ftp://example.com\n")
    bad_max = runs["bad_max"]
    assert bad_max.returncode == 2
    assert json.loads(bad_max.stderr)["error"].endswith("must be at least 1, got 0")
    disabled = runs["disabled_search"]
    assert disabled.returncode == 1
    assert json.loads(disabled.stderr) == {
        "error": "ollama cloud is disabled: web search is unavailable", "exit_code": 1,
        "status_code": 403}

"""The ``ollama-core`` command line, run for real as a subprocess.

Every test runs ``python -m ollama_core ...`` (once the ``ollama-core`` console script)
against an :class:`EmulatorThread` serving from this process, or with ``--emulator``.

Starting the interpreter costs about half a second, so the commands whose output is
simply checked afterwards are started all at once by the module fixture ``runs`` (a
thread pool; the emulators keep serving from their own threads meanwhile) and each test
then asserts on its own results. Tests that must interact with a live process (Ctrl-C,
a pseudo-terminal, the ``emulator`` server) run on their own.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ollama_core import SyncOllamaClient, __version__
from ollama_core.emulator import EmulatorThread
from tests.ports import refused_port

CLI = [sys.executable, "-m", "ollama_core"]
TIMEOUT = 30


def _env() -> dict[str, str]:
    """The environment without the settings the CLI would pick up from the developer's
    shell (a real OLLAMA_HOST, plugins enabled by environment)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OLLAMA_HOST", "OLLAMA_CORE_", "OLLAMA_API_KEY"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(args: Sequence[str], input: str | None = None,
        command: Sequence[str] = CLI) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *args], input=input, capture_output=True, text=True,
                          timeout=TIMEOUT, env=_env(),
                          stdin=subprocess.DEVNULL if input is None else None)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


def ndjson(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------
# The batch: commands started together, checked by the tests below
# ------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One command of a case. ``target`` picks the emulator it talks to (by name), or
    ``"embedded"`` (``--emulator``) or ``None`` (no target option at all)."""

    args: list[str]
    input: str | None = None
    target: str | None = "shared"


@dataclass
class Batch:
    emulators: dict[str, EmulatorThread]
    futures: dict[str, Future[list[subprocess.CompletedProcess[str]]]] = field(
        default_factory=dict)

    def __getitem__(self, name: str) -> list[subprocess.CompletedProcess[str]]:
        return self.futures[name].result(timeout=TIMEOUT * 2)

    def one(self, name: str) -> subprocess.CompletedProcess[str]:
        (result,) = self[name]
        return result


UNREACHABLE = f"http://127.0.0.1:{refused_port()}"

#: name -> the commands of the case, run in order in one worker.
CASES: dict[str, list[Step]] = {
    "list": [Step(["list"])],
    "list_json_embedded": [Step(["--json", "ls"], target="embedded")],
    "show": [Step(["show", "llama3.2"])],
    "show_json_verbose": [Step(["show", "llama3.2", "--verbose", "--json"])],
    "chat_then_ps": [Step(["chat", "llama3.2", "hello", "world"], target="ps"),
                     Step(["ps"], target="ps")],
    "chat_json": [Step(["--json", "chat", "llama3.2", "hi"])],
    "chat_no_stream_json": [Step(["--json", "chat", "--no-stream", "llama3.2", "hi"])],
    "chat_stdin": [Step(["chat", "llama3.2"], input="from a pipe\n")],
    "chat_interactive": [Step(["chat", "-i", "llama3.2"],
                              input="first turn\n\n/clear\nsecond turn\nthird turn\n/bye\n"
                                    "never sent\n", target="repl")],
    "chat_image": [Step(["chat", "llava", "--image", "{png}", "what is this?"])],
    "embed_stdin": [Step(["--json", "embed", "all-minilm"], input="first\n\nsecond\n")],
    "pull_missing": [Step(["pull", "nope"])],
    "chat_think": [Step(["chat", "qwen3", "--think", "why", "is", "the", "sky", "blue"])],
    "generate": [Step(["generate", "llama3.2", "--verbose", "Why", "is", "the", "sky", "blue?"]),
                 Step(["--json", "generate", "llama3.2", "hi"])],
    "pull": [Step(["pull", "tinyllama"]), Step(["--json", "pull", "mistral"])],
    "push": [Step(["push", "llama3.2"])],
    "create": [Step(["create", "cli-created", "--from", "llama3.2", "--system", "Be brief.",
                     "-p", "temperature=0.1"]),
               Step(["show", "cli-created", "--system"])],
    "cp_rm": [Step(["cp", "llama3.2", "cli-copy"], target="copies"),
              Step(["rm", "cli-copy", "nope"], target="copies")],
    "embed": [Step(["embed", "all-minilm", "first text", "second text"]),
              Step(["--json", "embed", "nomic-embed-text", "--dimensions", "8", "hello"])],
    "health": [Step(["health"]),
               Step(["--json", "--plugins", "health_checks", "health"])],
    "version": [Step(["version"])],
    "version_offline": [Step(["--host", UNREACHABLE, "version"], target=None)],
    "missing_model": [Step(["chat", "nope", "hi"]), Step(["show", "nope"])],
    "unreachable": [Step(["--host", UNREACHABLE, "list"], target=None),
                    Step(["--host", UNREACHABLE, "health"], target=None)],
    # Usage and configuration errors, one case each so they run side by side.
    **{f"usage_{i}": [step] for i, step in enumerate([
        Step(["--config", "max_attempts", "list"]),
        Step(["--config", "retry.max_attempts=5", "list"]),
        Step(["--plugins", "retry", "--config", "retry.max_attempts=0", "list"]),
        Step(["--plugins", "nosuch", "list"]),
        Step(["chat", "llama3.2", "-o", "temperature=hot", "hi"]),
        Step([], target=None)])},
    "retry_plugin": [Step(["--plugins", "retry", "--config", "retry.base_delay=0.01",
                           "--config", "retry.jitter=none", "list"], target="faulty"),
                     Step(["list"], target="faulty")],
    "help": [Step(["--help"], target=None)],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    # An image for --image; the emulator counts images, it does not decode them.
    png = tmp_path_factory.mktemp("cli") / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    # Cases that check server state get an emulator of their own.
    names = ("shared", "ps", "repl", "faulty", "copies")
    with contextlib.ExitStack() as stack:
        emulators = {name: stack.enter_context(EmulatorThread()) for name in names}
        faulty = emulators["faulty"]
        # Two 503s and a normal answer for the call with retries, then a 500 for the call
        # without.
        faulty.faults.script("/api/tags", [503, 503, None, 500])
        batch = Batch(emulators)

        def run_case(steps: list[Step]) -> list[subprocess.CompletedProcess[str]]:
            results = []
            for step in steps:
                if step.target is None:
                    prefix: list[str] = []
                elif step.target == "embedded":
                    prefix = ["--emulator"]
                else:
                    prefix = ["--host", emulators[step.target].url]
                args = [arg.replace("{png}", str(png)) for arg in step.args]
                results.append(run([*prefix, *args], input=step.input))
            return results

        # The "faulty" case must run alone on its emulator, in order; every case does.
        with ThreadPoolExecutor(max_workers=4) as pool:
            for name, steps in CASES.items():
                batch.futures[name] = pool.submit(run_case, steps)
            yield batch


# ------------------------------------------------------------------------------------------
# Reading: list, show, ps
# ------------------------------------------------------------------------------------------


def test_list_prints_a_table_of_models(runs: Batch) -> None:
    result = runs.one("list")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "ID", "SIZE", "MODIFIED"]
    names = [row.split()[0] for row in rows]
    assert names[:3] == ["llama3.2:latest", "qwen3:latest", "llava:latest"]
    assert "GB" in rows[0] and "ago" in rows[0]


def test_list_json_with_the_embedded_emulator(runs: Batch) -> None:
    result = runs.one("list_json_embedded")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {m["name"] for m in document["models"]} >= {"llama3.2:latest", "all-minilm:latest"}
    assert all("details" in m and "digest" in m for m in document["models"])


def test_show_summarises_a_model(runs: Batch) -> None:
    result = runs.one("show")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("Model", "architecture", "llama", "3.2B", "context length",
                     "Capabilities", "tools", "Parameters", "License"):
        assert expected in out


def test_show_json_verbose_is_the_full_model_info(runs: Batch) -> None:
    result = runs.one("show_json_verbose")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["details"]["family"] == "llama"
    assert "tools" in info["capabilities"]
    assert info["model_info"]["tokenizer.ggml.tokens"]  # only filled in with --verbose


def test_ps_lists_the_model_a_chat_loaded(runs: Batch) -> None:
    chat, ps = runs["chat_then_ps"]
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout == "Echo: hello world\n"
    assert ps.returncode == 0, ps.stderr
    header, row = ps.stdout.splitlines()
    assert header.split() == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    assert row.startswith("llama3.2:latest") and "from now" in row and "GPU" in row


# ------------------------------------------------------------------------------------------
# Generation: chat, generate
# ------------------------------------------------------------------------------------------


def test_chat_json_is_ndjson_of_chunks(runs: Batch) -> None:
    result = runs.one("chat_json")
    assert result.returncode == 0, result.stderr
    chunks = ndjson(result.stdout)
    assert len(chunks) >= 2
    assert "".join(c["message"]["content"] for c in chunks) == "Echo: hi"  # type: ignore[index]
    assert chunks[-1]["done"] is True and all(c["done"] is False for c in chunks[:-1])
    assert "eval_count" in chunks[-1]


def test_chat_no_stream_json_is_one_document(runs: Batch) -> None:
    result = runs.one("chat_no_stream_json")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["done"] is True and reply["message"]["content"] == "Echo: hi"


def test_chat_reads_the_prompt_from_piped_stdin(runs: Batch) -> None:
    result = runs.one("chat_stdin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Echo: from a pipe"


def test_interactive_chat_keeps_history_until_bye(runs: Batch) -> None:
    result = runs.one("chat_interactive")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n\n")[:3] == [
        "Echo: first turn", "Echo: second turn", "Echo: third turn"]
    assert "never sent" not in result.stdout
    assert "Cleared session context" in result.stderr
    chats = [r.json for r in runs.emulators["repl"].requests if r.path == "/api/chat"]
    sent = [[m["content"] for m in body["messages"]] for body in chats]
    # /clear forgot the first turn; the third turn carries the second one as history.
    assert sent == [["first turn"], ["second turn"],
                    ["second turn", "Echo: second turn", "third turn"]]


def test_chat_attaches_images(runs: Batch) -> None:
    result = runs.one("chat_image")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "I see 1 image. Echo: what is this?\n"


def test_embed_reads_one_text_per_line_from_stdin(runs: Batch) -> None:
    result = runs.one("embed_stdin")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["embeddings"]) == 2  # the blank line is skipped


def test_chat_prints_thinking_apart_from_the_answer(runs: Batch) -> None:
    result = runs.one("chat_think")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Thinking...\n")
    thinking, answer = out.split("...done thinking.\n\n")
    assert thinking.strip() and answer == "Echo: why is the sky blue\n"


def test_generate_streams_and_reports_metrics(runs: Batch) -> None:
    text, as_json = runs["generate"]
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip()
    assert "eval rate:" in text.stderr and "tokens/s" in text.stderr
    chunks = ndjson(as_json.stdout)
    assert chunks[-1]["done"] is True
    assert "".join(str(c["response"]) for c in chunks).strip()


# ------------------------------------------------------------------------------------------
# Model management: pull, push, create, cp, rm
# ------------------------------------------------------------------------------------------


def test_pull_prints_progress_lines_when_not_a_terminal(runs: Batch) -> None:
    text, as_json = runs["pull"]
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "pulling manifest" and lines[-1] == "success"
    assert "\r" not in text.stdout
    percents = [line for line in lines if "%" in line]
    assert any(line.endswith("(638 MB/638 MB)") and "100%" in line for line in percents)
    assert any(" 50%" in line for line in percents)
    statuses = [p["status"] for p in ndjson(as_json.stdout)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"


def test_push_reports_progress(runs: Batch) -> None:
    result = runs.one("push")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "retrieving manifest"
    assert lines[-2:] == ["pushing manifest", "success"]


def test_create_from_a_base_model(runs: Batch) -> None:
    create, show = runs["create"]
    assert create.returncode == 0, create.stderr
    assert create.stdout.splitlines()[-1] == "success"
    assert "using existing layer" in create.stdout
    assert show.returncode == 0, show.stderr
    assert show.stdout == "Be brief.\n"


def test_cp_and_rm_with_one_missing_model(runs: Batch) -> None:
    cp, rm = runs["cp_rm"]
    assert cp.returncode == 0 and cp.stdout == "copied 'llama3.2' to 'cli-copy'\n"
    # The existing model is deleted even though the other one is missing.
    assert rm.returncode == 1
    assert rm.stdout == "deleted 'cli-copy'\n"
    assert rm.stderr == "error: model 'nope' not found\n"
    emulator = runs.emulators["copies"]
    assert emulator.hits("/api/copy") == 1 and emulator.hits("/api/delete") == 2
    assert "cli-copy:latest" not in emulator.models


def test_embed_prints_one_vector_per_text(runs: Batch) -> None:
    text, as_json = runs["embed"]
    assert text.returncode == 0, text.stderr
    vectors = [json.loads(line) for line in text.stdout.splitlines()]
    assert len(vectors) == 2 and len(vectors[0]) == 384 and vectors[0] != vectors[1]
    document = json.loads(as_json.stdout)
    assert [len(v) for v in document["embeddings"]] == [8]


# ------------------------------------------------------------------------------------------
# Server: health, version
# ------------------------------------------------------------------------------------------


def test_health(runs: Batch) -> None:
    text, as_json = runs["health"]
    url = runs.emulators["shared"].url
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [f"server   {url}", "status   available",
                                        "version  0.33.0"]
    report = json.loads(as_json.stdout)
    assert report["available"] is True and report["version"] == "0.33.0"
    assert report["upstreams"][url]["status"] in ("healthy", "unknown")
    assert report["upstreams"][url]["checks"] >= 1


def test_version(runs: Batch) -> None:
    text, offline = runs.one("version"), runs.one("version_offline")
    assert text.returncode == 0
    assert text.stdout.splitlines()[0] == f"ollama-core version {__version__}"
    assert "server version 0.33.0" in text.stdout
    # No server is not an error for `version`: it says so and still prints its own.
    assert offline.returncode == 0
    assert offline.stdout == f"ollama-core version {__version__}\n"
    assert "could not connect" in offline.stderr


# ------------------------------------------------------------------------------------------
# Errors and exit codes
# ------------------------------------------------------------------------------------------


def test_missing_model_is_one_line_and_exit_1(runs: Batch) -> None:
    # show names the model as the server does: model.Name.DisplayShortest()
    for result, shown in zip(runs["missing_model"], ("nope", "nope:latest"), strict=True):
        assert result.returncode == 1
        assert result.stderr == f"error: model '{shown}' not found\n"
        assert result.stdout == ""


def test_error_line_in_a_progress_stream_is_exit_1(runs: Batch) -> None:
    result = runs.one("pull_missing")
    assert result.returncode == 1
    assert result.stdout == "pulling manifest\n"
    assert result.stderr == "error: pull model manifest: file does not exist\n"


def test_unreachable_host_names_the_url_and_exit_1(runs: Batch) -> None:
    for result in runs["unreachable"]:
        assert result.returncode == 1
        no_traceback(result)
        error = result.stderr.splitlines()[-1]
        assert error.startswith(f"error: cannot connect to {UNREACHABLE}")
        assert "OLLAMA_HOST" in error and "--host" in error


@pytest.mark.parametrize(("index", "expected"), [
    (0, "argument --config: expected PLUGIN.KEY=VALUE"),
    (1, "error: invalid configuration: plugin_config given for plugins that are not "
        "enabled: ['retry']"),
    (2, "max_attempts"),
    (3, "unknown plugin 'nosuch'"),
    (4, "error: invalid request: options.temperature"),
    (5, "a command is required"),
], ids=["config-syntax", "config-not-enabled", "config-value", "unknown-plugin",
        "bad-option", "no-command"])
def test_invalid_usage_or_config_is_exit_2(runs: Batch, index: int, expected: str) -> None:
    result = runs.one(f"usage_{index}")
    assert result.returncode == 2
    no_traceback(result)
    assert expected in result.stderr


def test_plugins_and_config_reach_the_client(runs: Batch) -> None:
    with_retry, without = runs["retry_plugin"]
    assert with_retry.returncode == 0, with_retry.stderr
    assert "llama3.2:latest" in with_retry.stdout
    assert without.returncode == 1
    assert without.stderr.startswith("error: server error 500: ")


# ------------------------------------------------------------------------------------------
# Live processes: a terminal, Ctrl-C, the emulator server, the console script
# ------------------------------------------------------------------------------------------


def _read_pty(fd: int, proc: subprocess.Popen[bytes]) -> str:
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], TIMEOUT)
        if not ready:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    proc.wait(timeout=TIMEOUT)
    return out.decode()


def test_pull_redraws_one_line_per_step_on_a_terminal() -> None:
    with EmulatorThread() as emu:
        leader, follower = pty.openpty()
        with subprocess.Popen([*CLI, "--host", emu.url, "pull", "tinyllama"],
                              stdout=follower, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=_env()) as proc:
            os.close(follower)
            out = _read_pty(leader, proc)
            os.close(leader)
            assert proc.stderr is not None
            err = proc.stderr.read()
    assert proc.returncode == 0, err
    lines = out.split("\r\n")  # the terminal turns "\n" into "\r\n"
    layers = [line for line in lines if line.startswith("\rpulling ") and "%" in line]
    assert len(layers) == 4  # one line per layer, however many updates it had
    for line in layers:
        redraws = line.split("\r")[1:]
        assert redraws[-1].split()[2] == "100%" and "▕████████████████████▏" in redraws[-1]
    assert lines[-2] == "\rsuccess"


def test_ctrl_c_cancels_the_stream_and_exits_130() -> None:
    delay = 0.05
    with EmulatorThread(chunk_delay=delay) as emu:
        with subprocess.Popen(
                [*CLI, "--host", emu.url, "chat", "llama3.2", *["word"] * 200],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                env=_env()) as proc:
            assert proc.stdout is not None
            first = proc.stdout.read(6)  # the answer has started streaming
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 130
        assert first == b"Echo: " and out.count(b"word") < 200
        assert b"Traceback" not in err
        # The CLI dropped its connection, so the server stopped generating.
        assert emu.wait_for_connections(0, timeout=2.0)
        # The emulator's handler only notices at its next write; let it end before the
        # emulator stops, or its task is destroyed while pending.
        time.sleep(3 * delay)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_emulator_command_serves_until_signalled(stop_signal: signal.Signals) -> None:
    with subprocess.Popen([*CLI, "emulator", "--port", "0"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                          env=_env()) as proc:
        out, err = _serve_and_stop(proc, stop_signal)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "emulator stopped" in err


def _serve_and_stop(proc: subprocess.Popen[str],
                    stop_signal: signal.Signals) -> tuple[str, str]:
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with SyncOllamaClient(url, plugins=[]) as client:
            assert client.version() == "0.33.0"
            assert "llama3.2:latest" in [m.name for m in client.list_models().models]
        proc.send_signal(stop_signal)
        return proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_console_script_and_embedded_emulator() -> None:
    script = Path(sys.executable).parent / "ollama-core"
    if not script.exists():
        pytest.skip("the ollama-core console script is not installed next to this Python")
    result = run(["--emulator", "--json", "embed", "all-minilm", "hi"], command=[str(script)])
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["embeddings"][0]) == 384


def test_help_lists_every_command(runs: Batch) -> None:
    result = runs.one("help")
    assert result.returncode == 0
    for command in ("chat", "generate", "list", "show", "ps", "pull", "push", "create", "cp",
                    "rm", "embed", "health", "emulator", "version"):
        assert f"    {command}" in result.stdout


def test_interactive_chat_on_a_terminal_prompts() -> None:
    with EmulatorThread() as emu:
        leader, follower = pty.openpty()
        with subprocess.Popen([*CLI, "--host", emu.url, "chat", "llama3.2"], stdin=follower,
                              stdout=follower, stderr=follower, env=_env()) as proc:
            os.close(follower)
            os.write(leader, b"hello there\n/bye\n")
            out = _read_pty(leader, proc)
            os.close(leader)
    assert proc.returncode == 0, out
    assert ">>> " in out and "/? for help" in out
    assert "Echo: hello there" in out


# ------------------------------------------------------------------------------------------
# Helpers, in-process
# ------------------------------------------------------------------------------------------


def test_config_items_nest_and_parse_json_values() -> None:
    from ollama_core.cli.parser import config_item as _config_item
    from ollama_core.cli.session import plugin_config as _plugin_config

    items = [_config_item("retry.max_attempts=5"), _config_item("retry.jitter=none"),
             _config_item('failover.endpoints=["a", "b"]'),
             _config_item("rate_limiting.endpoints.chat.rate=2.5")]
    assert _plugin_config(items) == {
        "retry": {"max_attempts": 5, "jitter": "none"},
        "failover": {"endpoints": ["a", "b"]},
        "rate_limiting": {"endpoints": {"chat": {"rate": 2.5}}},
    }


def test_sizes_and_relative_times() -> None:
    import datetime as dt

    from ollama_core.cli.output.humanize import human_bytes as _human_bytes
    from ollama_core.cli.output.humanize import relative_time as _relative

    assert [_human_bytes(n) for n in (512, 45_600_000, 2_019_393_189)] == [
        "512 B", "46 MB", "2.0 GB"]
    now = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert _relative("2025-01-01T11:56:59.123456789Z", now) == "3 minutes ago"
    assert _relative("2025-01-01T13:00:00+01:00", now) == "Just now"
    assert _relative("2025-01-01T12:04:30Z", now) == "4 minutes from now"
    assert _relative("2318-01-01T00:00:00Z", now) == "Forever"
    assert _relative("not a time", now) == "not a time"

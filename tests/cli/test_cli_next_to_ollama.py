"""The command line next to ``ollama``: ``run``, ``stop``, ``create -f Modelfile``, pull bars
with speed and time left, Ctrl-C at the prompt, JSON errors, ``demo`` as a subcommand,
``--image`` checks, ``health``'s exit code, usage messages, the demo's wording.

Every command runs for real as a subprocess against an :class:`EmulatorThread` serving from
this process. As in ``test_cli.py``, the commands whose output is only checked afterwards
start together from the module fixture ``runs``; the terminal tests run on their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import pty
import select
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ollama_core import SyncOllamaClient
from ollama_core.emulator import EmulatorThread
from tests.ports import refused_port

from .test_cli import CLI, TIMEOUT, _env, ndjson

Result = subprocess.CompletedProcess[str]
UNREACHABLE = f"http://127.0.0.1:{refused_port()}"

WEIGHTS = b"GGUF\x03\x00\x00\x00" + bytes(range(64))
ADAPTER = b"GGUF\x03\x00\x00\x00lora"
MODELFILE = '''\
# weights from a local file, an adapter next to it
FROM ./weights.gguf
ADAPTER lora/adapter.gguf
PARAMETER temperature 0.3
PARAMETER num_ctx 8192
PARAMETER stop "<|end|>"
PARAMETER stop </s>
TEMPLATE """{{ .System }}
{{ .Prompt }}"""
SYSTEM """You are
terse."""
MESSAGE user Hello there
MESSAGE assistant Hi.
LICENSE MIT
'''


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def run(args: list[str], input: str | None = None, cwd: Path | None = None) -> Result:
    return subprocess.run([*CLI, *args], input=input, capture_output=True, text=True,
                          timeout=TIMEOUT, env=_env(), cwd=cwd,
                          stdin=subprocess.DEVNULL if input is None else None)


@dataclass
class Batch:
    emulators: dict[str, EmulatorThread]
    files: Path
    futures: dict[str, Future[list[Result]]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> list[Result]:
        return self.futures[name].result(timeout=TIMEOUT * 4)

    def one(self, name: str) -> Result:
        (result,) = self[name]
        return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    files = tmp_path_factory.mktemp("next_to_ollama")
    (files / "weights.gguf").write_bytes(WEIGHTS)
    (files / "lora").mkdir()
    (files / "lora" / "adapter.gguf").write_bytes(ADAPTER)
    (files / "Modelfile").write_text(MODELFILE)
    (files / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (files / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(32))
    bad = files / "bad"
    bad.mkdir()
    (bad / "Modelfile").write_text("FROM llama3.2\nPARAMETER temperature hot\n")
    names = ("shared", "stop", "create", "image", "slow", "demo", "json")
    with contextlib.ExitStack() as stack:
        emulators = {name: stack.enter_context(
            EmulatorThread(chunk_delay=0.02 if name == "slow" else 0.0)) for name in names}
        url = {name: emu.url for name, emu in emulators.items()}
        batch = Batch(emulators, files)
        cases: dict[str, Callable[[], list[Result]]] = {
            "run": lambda: [run(["--host", url["shared"], "run", "llama3.2", "hi"])],
            "stop": lambda: [run(["--host", url["stop"], "chat", "llama3.2", "hi"]),
                             run(["--host", url["stop"], "ps"]),
                             run(["--host", url["stop"], "stop", "llama3.2"]),
                             run(["--host", url["stop"], "ps"]),
                             run(["--host", url["stop"], "stop", "nope"]),
                             run(["--host", url["stop"], "--json", "stop", "llama3.2"])],
            "create": lambda: [
                run(["--host", url["create"], "create", "local", "-f",
                     str(files / "Modelfile")]),
                run(["--host", url["create"], "show", "local", "--system"]),
                # ./Modelfile by default, as `ollama create` reads it
                run(["--host", url["create"], "--json", "create", "again", "-q", "q8_0"],
                    cwd=files),
                run(["--host", url["create"], "create", "broken", "-f",
                     str(bad / "Modelfile")]),
                run(["--host", url["create"], "create", "nothing"], cwd=bad.parent / "lora")],
            "pull_slow": lambda: [run(["--host", url["slow"], "pull", "tinyllama"])],
            "image": lambda: [
                run(["--host", url["image"], "chat", "llava", "--image",
                     str(files / "passwd"), "what is this?"]),
                run(["--host", url["image"], "--json", "generate", "llava", "--image",
                     str(files / "passwd"), "hi"]),
                run(["--host", url["image"], "chat", "llava", "--image",
                     str(files / "photo.jpg"), "and this?"])],
            "json_errors": lambda: [
                run(["--host", url["json"], "--json", "chat", "nope", "hi"]),
                run(["--json", "chat"]),
                run(["--host", UNREACHABLE, "list", "--json"]),
                run(["--host", url["json"], "--json", "rm", "nope"]),
                run(["--host", url["json"], "--json", "pull", "nope"])],
            "usage": lambda: [run(["chat"]), run(["run"]), run(["embed"])],
            "health": lambda: [
                run(["--host", UNREACHABLE, "--plugins", "failover,health_checks",
                     "--config", f'failover.endpoints=["{UNREACHABLE}", "{url["shared"]}"]',
                     "health"]),
                run(["--host", url["shared"], "--plugins", "failover,health_checks",
                     "--config", f'failover.endpoints=["{url["shared"]}", "{UNREACHABLE}"]',
                     "--json", "health"]),
                run(["--host", url["shared"], "--plugins", "health_checks", "health"])],
            "demo_host": lambda: [run(["--host", url["demo"], "demo", "--no-reliability"]),
                                  run(["demo", "--host", url["demo"], "--no-reliability"])],
            "demo_full": lambda: [run(["demo"])],
            "help": lambda: [run(["--help"]), run(["demo", "--help"])],
        }
        with ThreadPoolExecutor(max_workers=4) as pool:
            # The slowest first, so it overlaps the rest.
            for name in ("demo_full", *[n for n in cases if n != "demo_full"]):
                batch.futures[name] = pool.submit(cases[name])
            yield batch


def json_line(text: str) -> dict[str, object]:
    (line,) = text.splitlines()
    document = json.loads(line)
    assert isinstance(document, dict)
    return document


# ------------------------------------------------------------------------------------------
# run, stop
# ------------------------------------------------------------------------------------------


def test_run_is_chat(runs: Batch) -> None:
    result = runs.one("run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: hi\n"


def test_stop_unloads_with_keep_alive_0(runs: Batch) -> None:
    chat, ps_before, stop, ps_after, missing, as_json = runs["stop"]
    assert chat.returncode == 0, chat.stderr
    assert "llama3.2:latest" in ps_before.stdout
    assert stop.returncode == 0 and stop.stdout == "" and stop.stderr == ""
    assert ps_after.stdout.splitlines()[1:] == []
    assert missing.returncode == 1
    assert missing.stderr == 'error: couldn\'t find model "nope" to stop\n'
    assert as_json.returncode == 0, as_json.stderr
    assert json_line(as_json.stdout) == {"status": "success", "model": "llama3.2",
                                         "done_reason": "unload"}
    generates = [r.json for r in runs.emulators["stop"].requests if r.path == "/api/generate"]
    assert [(body["model"], body["keep_alive"], "prompt" in body)
            for body in generates] == [("llama3.2", 0, False), ("nope", 0, False),
                                       ("llama3.2", 0, False)]


# ------------------------------------------------------------------------------------------
# create -f Modelfile
# ------------------------------------------------------------------------------------------


def test_create_reads_a_modelfile_and_uploads_its_files(runs: Batch) -> None:
    create, show, again, broken, nothing = runs["create"]
    emulator = runs.emulators["create"]
    assert create.returncode == 0, create.stderr
    lines = create.stdout.splitlines()
    assert lines[:2] == [f"uploaded weights.gguf {sha(WEIGHTS)[7:19]}",
                         f"uploaded adapter.gguf {sha(ADAPTER)[7:19]}"]
    assert lines[-1] == "success"
    assert set(emulator.emulator.blobs) == {sha(WEIGHTS), sha(ADAPTER)}
    bodies = [r.json for r in emulator.requests if r.path == "/api/create"]
    assert bodies[0] == {
        "model": "local",
        "files": {"weights.gguf": sha(WEIGHTS)},
        "adapters": {"adapter.gguf": sha(ADAPTER)},
        "template": "{{ .System }}\n{{ .Prompt }}",
        "license": ["MIT"],
        "system": "You are\nterse.",
        "parameters": {"temperature": 0.3, "num_ctx": 8192, "stop": ["<|end|>", "</s>"]},
        "messages": [{"role": "user", "content": "Hello there"},
                     {"role": "assistant", "content": "Hi."}],
        "stream": True,
    }
    assert show.stdout == "You are\nterse.\n"
    # ./Modelfile in the working directory; blobs the server has are not sent again.
    assert again.returncode == 0, again.stderr
    statuses = [line.get("status") for line in ndjson(again.stdout)]
    assert statuses[:2] == ["uploaded", "uploaded"] and statuses[-1] == "success"
    assert bodies[1]["quantize"] == "q8_0"
    assert len([r for r in emulator.requests if r.method == "POST"
                and r.path.startswith("/api/blobs/")]) == 2
    # A bad Modelfile is a usage error naming the line; nothing is created.
    assert broken.returncode == 2
    assert broken.stderr.endswith("Modelfile: line 2: PARAMETER temperature: expected a "
                                  "number, got 'hot'\n")
    assert nothing.returncode == 2
    assert "create needs -f MODELFILE or --from BASE" in nothing.stderr
    assert len(bodies) == 2


# ------------------------------------------------------------------------------------------
# Pull bars: speed and time left
# ------------------------------------------------------------------------------------------


def test_pull_prints_speed_and_time_left_while_a_layer_moves(runs: Batch) -> None:
    result = runs.one("pull_slow")
    assert result.returncode == 0, result.stderr
    moving = [line for line in result.stdout.splitlines()
              if "%" in line and "100%" not in line]
    # The first update of a layer (0%) has no speed yet; the next ones have.
    with_speed = [line for line in moving if line.endswith(" left)")]
    assert len(with_speed) == 12, result.stdout  # 4 layers x (25%, 50%, 75%)
    for line in with_speed:
        sizes, rate, left = line.split("(")[1].rstrip(")").split(", ")
        assert rate.endswith("B/s") and left.endswith("s left")
    finished = [line for line in result.stdout.splitlines() if "100%" in line]
    # A finished layer shows its size alone.
    assert len(finished) == 4 and all(line.endswith("B)") and "/s" not in line
                                      for line in finished)


def _progress(completed: int, total: int = 1_000_000_000, digest: str = "sha256:" + "a" * 64
              ) -> object:
    from ollama_core._types import ProgressResponse

    return ProgressResponse(status=f"pulling {digest[7:19]}", digest=digest,
                            total=total, completed=completed)


def test_progress_speed_and_eta_on_a_fake_clock() -> None:
    from ollama_core.cli.output.progress import ProgressPrinter

    times = iter([0.0, 2.0, 4.0, 6.0, 6.5])
    out = io.StringIO()
    printer = ProgressPrinter(out, tty=False, clock=lambda: next(times))
    for completed in (0, 100_000_000, 200_000_000, 1_000_000_000):
        printer.update(_progress(completed))  # type: ignore[arg-type]
    printer.update(_progress(0, digest="sha256:" + "b" * 64))  # type: ignore[arg-type]
    assert out.getvalue().splitlines() == [
        "pulling aaaaaaaaaaaa:   0% (0 B/1.0 GB)",
        "pulling aaaaaaaaaaaa:  10% (100 MB/1.0 GB, 50 MB/s, 18s left)",
        "pulling aaaaaaaaaaaa:  20% (200 MB/1.0 GB, 50 MB/s, 16s left)",
        "pulling aaaaaaaaaaaa: 100% (1.0 GB/1.0 GB)",
        "pulling bbbbbbbbbbbb:   0% (0 B/1.0 GB)",  # a new layer starts without a speed
    ]


def test_progress_bar_on_a_terminal_shows_speed_and_eta() -> None:
    from ollama_core.cli.output.progress import ProgressPrinter

    class Terminal(io.StringIO):
        encoding = "utf-8"

    times = iter([0.0, 10.0, 20.0, 21.0])
    out = Terminal()
    printer = ProgressPrinter(out, tty=True, clock=lambda: next(times))
    for completed in (0, 1_000_000, 2_000_000, 120_000_000):
        printer.update(_progress(completed))  # type: ignore[arg-type]
    draws = out.getvalue().split("\r")[1:]
    assert draws[1].rstrip() == ("pulling aaaaaaaaaaaa   0% ▕                    ▏ "
                                 "1.0 MB/1.0 GB  100 KB/s  2h46m")
    # The speed is that of the last seconds' updates (119 MB in 11 s), not of the whole
    # layer (120 MB in 21 s).
    assert draws[3].rstrip() == ("pulling aaaaaaaaaaaa  12% ▕██                  ▏ "
                                 "120 MB/1.0 GB  11 MB/s  1m21s")


def test_human_durations_and_plurals() -> None:
    from ollama_core.cli.output.humanize import human_duration, human_rate, plural

    assert [human_duration(s) for s in (0, 8.4, 84, 3600 * 2 + 300)] == [
        "0s", "8s", "1m24s", "2h5m"]
    assert human_rate(55_300_000) == "55 MB/s"
    assert [f"{n} {plural(n, 'request')}" for n in (0, 1, 2)] == [
        "0 requests", "1 request", "2 requests"]


# ------------------------------------------------------------------------------------------
# Ctrl-C at the prompt
# ------------------------------------------------------------------------------------------


def _controlling_terminal() -> None:
    """In the child: make the pseudo-terminal on stdin its controlling terminal, so that
    Ctrl-C typed there becomes SIGINT for it, as in a shell."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_until(fd: int, marker: bytes, seen: bytearray, count: int = 1) -> None:
    while seen.count(marker) < count:
        ready, _, _ = select.select([fd], [], [], TIMEOUT)
        assert ready, f"timed out waiting for {marker!r}; got {bytes(seen)!r}"
        seen += os.read(fd, 4096)


def _interrupt(fd: int, marker: bytes, seen: bytearray, count: int) -> None:
    """Type Ctrl-C until ``marker`` has been seen ``count`` times.

    CPython's readline loop checks for a signal only when its ``select()`` is interrupted,
    so a SIGINT landing between drawing the prompt and entering ``select()`` waits for the
    next one (a person never types that fast). Typing Ctrl-C again then delivers exactly
    one KeyboardInterrupt: the first is pending, the second wakes the loop."""
    deadline = time.monotonic() + TIMEOUT
    while seen.count(marker) < count:
        assert time.monotonic() < deadline, f"no {marker!r} after Ctrl-C; got {bytes(seen)!r}"
        os.write(fd, b"\x03")
        ready, _, _ = select.select([fd], [], [], 2.0)
        while ready and seen.count(marker) < count:
            seen += os.read(fd, 4096)
            ready, _, _ = select.select([fd], [], [], 0.2)


def test_ctrl_c_at_the_prompt_keeps_the_session() -> None:
    with EmulatorThread() as emu:
        leader, follower = pty.openpty()
        with subprocess.Popen([*CLI, "--host", emu.url, "chat", "llama3.2"], stdin=follower,
                              stdout=follower, stderr=follower, env=_env(),
                              start_new_session=True,
                              preexec_fn=_controlling_terminal) as proc:
            os.close(follower)
            seen = bytearray()
            try:
                _read_until(leader, b">>> ", seen)
                _interrupt(leader, b"Use Ctrl + d or /bye to exit.", seen, 1)  # empty prompt
                _read_until(leader, b">>> ", seen, count=2)  # the session goes on
                os.write(leader, b"half a line")
                _read_until(leader, b"half a line", seen)  # echoed: readline has it
                _interrupt(leader, b"Use Ctrl + d or /bye to exit.", seen, 2)  # drops it
                _read_until(leader, b">>> ", seen, count=3)
                os.write(leader, b"still here\n")
                _read_until(leader, b"Echo: still here", seen)
                os.write(leader, b"/bye\n")
                assert proc.wait(timeout=TIMEOUT) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                os.close(leader)
        sent = [r.json for r in emu.requests if r.path == "/api/chat"]
    assert [[m["content"] for m in body["messages"]] for body in sent] == [
        ["still here"]]
    assert seen.count(b"Use Ctrl + d or /bye to exit.") == 2
    assert b"Traceback" not in seen


# ------------------------------------------------------------------------------------------
# --json errors
# ------------------------------------------------------------------------------------------


def test_json_errors_are_json_objects_on_stderr(runs: Batch) -> None:
    missing, usage, unreachable, rm, pull = runs["json_errors"]
    assert missing.returncode == 1 and missing.stdout == ""
    assert json_line(missing.stderr) == {"error": "model 'nope' not found", "exit_code": 1,
                                         "status_code": 404}
    assert usage.returncode == 2 and usage.stdout == ""
    assert json_line(usage.stderr) == {
        "error": "the following arguments are required: MODEL", "exit_code": 2}
    assert unreachable.returncode == 1
    error = json_line(unreachable.stderr)
    assert str(error["error"]).startswith(f"cannot connect to {UNREACHABLE}")
    assert rm.returncode == 1
    assert json_line(rm.stderr) == {"error": "model 'nope' not found", "exit_code": 1,
                                    "model": "nope", "status_code": 404}
    assert json_line(rm.stdout) == {"deleted": [], "errors": {"nope": "model 'nope' not found"}}
    # An error line in the middle of a stream: the chunks so far on stdout, the error apart.
    assert pull.returncode == 1
    assert [c["status"] for c in ndjson(pull.stdout)] == ["pulling manifest"]
    assert json_line(pull.stderr)["error"] == "pull model manifest: file does not exist"


# ------------------------------------------------------------------------------------------
# --image, health, usage
# ------------------------------------------------------------------------------------------


def test_image_files_are_checked_before_anything_is_sent(runs: Batch) -> None:
    chat, generate, jpeg = runs["image"]
    path = runs.files / "passwd"
    assert chat.returncode == 2 and chat.stdout == ""
    assert chat.stderr == (f"error: --image {path}: not an image (expected PNG, JPEG, GIF, "
                           "WEBP, BMP or TIFF)\n")
    assert generate.returncode == 2
    assert json_line(generate.stderr)["exit_code"] == 2
    assert jpeg.returncode == 0, jpeg.stderr
    assert jpeg.stdout == "I see 1 image. Echo: and this?\n"
    assert [r.path for r in runs.emulators["image"].requests] == ["/api/chat"]


def test_image_kinds_by_magic_bytes() -> None:
    from ollama_core.cli.commands.generation import image_kind

    assert [image_kind(data) for data in (
        b"\x89PNG\r\n\x1a\n....", b"\xff\xd8\xff\xdb", b"GIF89a..", b"RIFF\0\0\0\0WEBPVP8 ",
        b"BM" + bytes(30), b"II*\x00....", b"root:x:0:0", b"", b"BM", b"RIFF\0\0\0\0WAVE")] == [
        "PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", None, None, None, None]


def test_health_exits_1_when_it_reports_a_server_down(runs: Batch) -> None:
    primary_down, secondary_down, fine = runs["health"]
    # The primary is down; a healthy secondary serves, but `health` says so and exits 1.
    assert "status   unavailable" in primary_down.stdout
    assert primary_down.returncode == 1
    assert primary_down.stderr.startswith(f"error: cannot connect to {UNREACHABLE}")
    # The primary is up, the secondary is down.
    report = json.loads(secondary_down.stdout)
    assert report["available"] is True
    assert report["upstreams"][UNREACHABLE]["consecutive_failures"] >= 1
    assert secondary_down.returncode == 1
    assert json_line(secondary_down.stderr) == {
        "error": f"1 upstream unavailable: {UNREACHABLE}", "exit_code": 1}
    assert fine.returncode == 0, fine.stderr


def test_chat_without_arguments_names_only_model(runs: Batch) -> None:
    for result in runs["usage"]:
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1].endswith(
            "error: the following arguments are required: MODEL")


# ------------------------------------------------------------------------------------------
# demo
# ------------------------------------------------------------------------------------------


def test_demo_is_a_subcommand_listed_in_help(runs: Batch) -> None:
    top, demo_help = runs["help"]
    assert top.returncode == 0 and demo_help.returncode == 0
    assert "    demo " in top.stdout and "--no-reliability" in demo_help.stdout
    for result in runs["demo_host"]:
        assert result.returncode == 0, result.stderr
        assert f"== server {runs.emulators['demo'].url}" in result.stdout
        assert result.stdout.endswith("demo finished\n")
    assert runs.emulators["demo"].hits("/api/chat") == 2


def test_demo_prints_relative_times_and_right_plurals(runs: Batch) -> None:
    result = runs.one("demo_full")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(1 request sent)" in out and "(0 requests sent)" in out
    assert "request sent)" not in out.replace("(1 request sent)", "")
    assert "after 3 attempts" in out
    opened = next(line for line in out.splitlines() if "new=open" in line)
    assert opened.endswith(", retry in 0.300s")
    assert "retry_at" not in out


def test_demo_event_text_tells_clock_readings_from_the_event() -> None:
    from ollama_core._events import CircuitStateChanged
    from ollama_core.cli.commands.demo import event_text

    opened = CircuitStateChanged(time=5000.0, key="k", upstream="u", endpoint="chat",
                                 old="closed", new="open", retry_at=5000.25)
    assert event_text(opened) == ("[circuit_breaker] circuit_state: key=k, upstream=u, "
                                  "endpoint=chat, old=closed, new=open, retry in 0.250s")


def test_the_created_model_has_the_modelfile_settings(runs: Batch) -> None:
    """What the CLI created is a model the client sees, with the Modelfile's settings."""
    runs["create"]
    with SyncOllamaClient(runs.emulators["create"].url, plugins=[]) as client:
        info = client.model_info("local")
    assert info.system == "You are\nterse."
    assert info.parameters is not None and "temperature" in info.parameters

"""`make demo` runs the main job: the API tour and the reliability scenes, end to end."""

from __future__ import annotations

import io
import subprocess
import sys

from ollama_core.cli.commands.demo import run_demo


async def test_demo_walks_the_api_and_shows_the_plugins_acting() -> None:
    out = io.StringIO()
    await run_demo(out=out)
    text = out.getvalue()
    for expected in [
        "== list models", "llama3.2:latest",
        "== streamed chat", "chunks", "tokens/s",
        "== generate", "done_reason=length",
        "== embed", "384 dims",
        "== pull tinyllama", "100.0%", "success",
        "event  [retry] retry: attempt=1", "after 3 attempts",
        "old=closed, new=open", "refused at once", "old=half_open, new=closed",
        "[failover] failover:", "went to the primary again: True",
        "call 6 at", "cache_hit", "1 reached the server",
        "demo finished",
    ]:
        assert expected in text, f"{expected!r} missing from the demo output"


def test_demo_command_line_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "ollama_core", "demo", "--no-reliability"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "demo finished" in done.stdout

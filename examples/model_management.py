"""Model management: pull with a progress bar, show, copy, create, push, ps, delete, blobs.

Everything ``ollama pull/show/cp/create/ps/rm`` does, from Python. Pulls and pushes
stream one progress line per step; the percentage of a layer is ``completed / total``
for its digest (``ProgressResponse.fraction``).

    python examples/model_management.py [--host URL] [--pull-model NAME]

Against a real server this really pulls ``--pull-model`` (tinyllama: about 640 MB), and
creates, copies and deletes models named ``ollama-core-example*``; the create-from-blob
step runs on the emulator only (it needs a real GGUF file).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys

from ollama_core import CreateRequest, NotFoundError, OllamaClient, ProgressResponse, Stream
from ollama_core.emulator import ollama_server


async def show_progress(stream: Stream[ProgressResponse]) -> None:
    """One line per step; on a terminal the line of a layer is redrawn as it advances."""
    tty = sys.stdout.isatty()
    step: tuple[str, str | None] | None = None
    async with stream:
        async for line in stream:
            key = (line.status, line.digest)
            fraction = line.fraction
            if fraction is None:
                text = line.status
            else:
                bar = "#" * int(fraction * 20)
                text = f"{line.status:<28} {fraction:6.1%} [{bar:<20}] {line.total:,} bytes"
            if tty:
                print(("\n" if step not in (None, key) else "\r") + text, end="", flush=True)
            elif key != step or fraction in (None, 1.0):
                print(text)  # in a log: each step once, and each layer when complete
            step = key
    if tty:
        print()


async def main(host: str | None, pull_model: str, base_model: str) -> None:
    name = "ollama-core-example"
    async with ollama_server(host) as url, OllamaClient(url, plugins=[]) as client:
        print(f"== pull {pull_model}")
        await show_progress(client.pull_model_stream(pull_model))

        print(f"\n== show {pull_model}")
        info = await client.model_info(pull_model)
        details = info.details
        print(f"family {details.family if details else '?'}, "
              f"{details.parameter_size if details else '?'} parameters, "
              f"{details.quantization_level if details else '?'}, "
              f"capabilities {info.capabilities}")

        print(f"\n== create {name} from {base_model}, with its own system prompt")
        await show_progress(client.create_model_stream(
            CreateRequest(model=name, from_=base_model, system="Answer like a pirate.",
                          parameters={"temperature": 0.3})))
        print(f"system prompt of {name}: {(await client.model_info(name)).system!r}")

        print(f"\n== copy {name} -> {name}-copy")
        await client.copy_model(name, f"{name}-copy")
        names = [m.name for m in (await client.list_models()).models]
        print("models now:", ", ".join(n for n in names if n.startswith(name)))

        print("\n== ps (after a chat loads the model)")
        await client.chat({"model": name, "messages": [{"role": "user", "content": "hi"}]})
        for entry in (await client.list_running()).models:
            print(f"{entry.name}: {entry.size_vram or 0:,} bytes in VRAM, "
                  f"unloads at {entry.expires_at}")

        if host is None:
            print("\n== blobs: upload a file's bytes, then create a model from them")
            weights = b"GGUF" + bytes(range(256)) * 64  # stands in for a real GGUF file
            digest = "sha256:" + hashlib.sha256(weights).hexdigest()
            print(f"blob exists before upload: {await client.blob_exists(digest)}")
            assert await client.push_blob(weights) == digest
            print(f"blob exists after upload:  {await client.blob_exists(digest)}")
            await show_progress(client.create_model_stream(
                CreateRequest(model=f"{name}-from-blob", files={"model.gguf": digest})))

            print(f"\n== push {name}")
            await show_progress(client.push_model_stream(name))

        print("\n== delete the example models")
        for model in (name, f"{name}-copy", f"{name}-from-blob"):
            try:
                await client.delete_model(model)
                print(f"deleted {model}")
            except NotFoundError as exc:
                print(f"{model}: {exc.error}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--pull-model", default="tinyllama")
    parser.add_argument("--base-model", default="llama3.2")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.pull_model, args.base_model))

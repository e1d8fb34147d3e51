"""The blocking API: ``SyncOllamaClient``, for scripts, notebooks and threaded code.

Same methods as the async client; streams are plain iterators. One client may be shared
by several threads: the calls run concurrently on the client's own event loop thread.

    python examples/sync_api.py [--host URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

from ollama_core import GenerateRequest, SyncOllamaClient
from ollama_core.emulator import ollama_server_sync as ollama_server


def main(host: str | None, model: str) -> None:
    with ollama_server(host) as url, SyncOllamaClient(url, plugins=[]) as client:
        print(f"available: {client.is_available()}, version {client.version()}")
        print("models:", ", ".join(m.name for m in client.list_models().models))

        reply = client.chat({"model": model,
                             "messages": [{"role": "user", "content": "Hello!"}]})
        print(f"chat: {reply.message.content}")

        print("stream: ", end="", flush=True)
        with client.generate_stream(GenerateRequest(model=model,
                                                    prompt="count from one to ten")) as stream:
            for chunk in stream:
                print(chunk.response, end="", flush=True)
        print(f"\n  ({stream.metrics.chunks} chunks, state={stream.state})")

        # Leaving a for loop early releases the connection too.
        chat_stream = client.chat_stream({"model": model, "messages": [
            {"role": "user", "content": "a long answer that we will not wait for"}]})
        for i, _ in enumerate(chat_stream):
            if i == 2:
                break
        print(f"stopped early: state={chat_stream.state}")

        # Eight questions from four threads, sharing the one client.
        questions = [f"question number {i}" for i in range(8)]

        def ask(question: str) -> str:
            answer = client.chat({"model": model,
                                  "messages": [{"role": "user", "content": question}]})
            return answer.message.content

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(ask, questions))
        print(f"{len(answers)} answers from 4 threads in "
              f"{time.perf_counter() - started:.2f}s; last: {answers[-1]!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llama3.2")
    args = parser.parse_args()
    main(args.host, args.model)
